"""Render the bundled sample calls and measure them: render speed and, per customer mood, the
active speech level, speaking rate and pitch that the escalation scorer is meant to pick up.

    python -m bench.bench_samples        # prints a table, writes the "samples" section
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.results import takes_no_options, update_results
from monitor.samples import MOODS, active_level_dbfs, list_scripts, load_script, render_all


def median_f0(x: np.ndarray, rate: int) -> float:
    """Autocorrelation pitch over loud 40 ms frames, 70-400 Hz (nan if nothing voiced)."""
    frame, lo, hi = int(0.04 * rate), int(rate / 400), int(rate / 70)
    floor = float(np.max(np.abs(x))) * 0.2
    f0s = []
    for i in range(0, x.size - frame, frame):
        seg = x[i : i + frame] - np.mean(x[i : i + frame])
        if np.max(np.abs(seg)) < floor:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.4 * ac[0]:
            f0s.append(rate / lag)
    return float(np.median(f0s)) if f0s else float("nan")


def main(argv: list[str] | None = None) -> None:
    takes_no_options("python -m bench.bench_samples", __doc__, argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        calls = render_all(Path(tmp), force=True)
        wall = time.perf_counter() - t0
        per_mood: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        voice_pitch = {s.name: s.customer_voice.pitch for s in map(load_script, list_scripts())}
        for call in calls:
            audio, rate = sf.read(str(call.wav_path), dtype="float32")
            for t in call.turns:
                if t.speaker != "customer":
                    continue
                seg = audio[int(t.start * rate) : int(t.end * rate), 0]
                words = len(t.text.split())
                per_mood[t.mood].append(
                    (
                        active_level_dbfs(seg, rate),
                        words / (t.end - t.start),
                        # each script pitches its customer voice; take that out to compare moods
                        median_f0(seg, rate) / voice_pitch[call.name],
                    )
                )
    audio_s = sum(c.duration for c in calls)
    moods = {}
    print(f"{'mood':<8} {'turns':>5} {'level dBFS':>10} {'words/s':>8} {'f0 Hz*':>6}")
    for mood in MOODS:
        rows = per_mood.get(mood, [])
        if not rows:
            continue
        level, wps, f0 = (statistics.fmean(r[i] for r in rows) for i in range(3))
        moods[mood] = {
            "turns": len(rows),
            "level_dbfs": round(level, 1),
            "words_per_s": round(wps, 2),
            "f0_hz_at_voice_pitch_1": round(f0, 1),
        }
        print(f"{mood:<8} {len(rows):>5} {level:>10.1f} {wps:>8.2f} {f0:>6.0f}")
    print(f"{len(calls)} calls, {audio_s:.0f} s of audio rendered in {wall:.1f} s "
          f"({audio_s / wall:.0f}x real time)")  # fmt: skip
    print("* f0 divided by the script's customer voice pitch factor")
    update_results(
        "samples",
        {
            "calls": {c.name: round(c.duration, 1) for c in calls},
            "audio_s": round(audio_s, 1),
            "render_wall_s": round(wall, 2),
            "x_realtime": round(audio_s / wall, 1),
            "customer_turns_by_mood": moods,
        },
    )


if __name__ == "__main__":
    main()
