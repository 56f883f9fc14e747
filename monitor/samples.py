"""The bundled sample calls: load the scripts, render them to stereo WAVs with offline TTS.

A script (``samples/scripts/<name>.toml``) is a two-party call written turn by turn, each turn with
the customer's mood. Rendering speaks every turn with a local TTS engine (hibari-tts, or Debian
``espeak-ng``), shapes it by mood (angrier = louder, faster, higher), lays the turns out on a call
timeline (pauses, holds, a little talk-over) and writes

- ``<name>.wav``: stereo 16-bit PCM, channel 0 = customer, channel 1 = agent (contact-centre norm);
- ``<name>.timeline.json``: each turn's speaker, text, start, end, mood and blow-up flag, in
  seconds of call audio time, so the ASR benchmark and the early-warning evaluation know the truth.

Rendering is deterministic: the TTS noise is seeded per turn and the layout jitter per call, so the
same script, renderer version and sample rate give the same bytes. ``render_all`` skips calls whose
sidecar already carries the current render key.

    python -m monitor.samples render [--dest DIR] [--rate 8000|16000] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from monitor import sample_script, sample_tts
from monitor.events import SPEAKERS, Speaker
from monitor.sample_script import (
    MOODS,
    ROOT,
    CallScript,
    Mood,
    ScriptError,
    ScriptTurn,
    Voice,
    list_scripts,
    load_script,
)
from monitor.sample_tts import SpeechEngine, engine_for

__all__ = [
    "MOODS",
    "CallScript",
    "Mood",
    "RenderedCall",
    "ScriptError",
    "ScriptTurn",
    "SpeechEngine",
    "TimelineTurn",
    "Voice",
    "list_scripts",
    "load_rendered",
    "load_script",
    "main",
    "render",
    "render_all",
]

# Part of the render key, with a digest of the renderer's source: render_all re-renders stale files.
RENDERER_VERSION = "1"

AUDIO_DIR = ROOT / "samples" / "audio"
SAMPLE_RATES: tuple[int, ...] = (8000, 16000)
CHANNELS: tuple[Speaker, Speaker] = ("customer", "agent")  # channel index = position

LEAD_IN_S = 0.6  # the agent's greeting does not start on sample 0
TAIL_S = 0.8
NOISE_FLOOR_DBFS = -72.0  # a faint line hiss: "silence" is quiet, not digital zero


@dataclass(frozen=True, slots=True)
class Prosody:
    """How a mood changes a voice: speech level, rate and pitch factors, and the usual gap."""

    level_dbfs: float  # active speech level the turn is normalised to
    rate: float
    pitch: float
    gap_s: float  # pause before a turn spoken in this mood, unless the script says otherwise


MOOD_PROSODY: dict[str, Prosody] = {
    "calm": Prosody(-26.0, 1.00, 1.00, 0.70),
    "happy": Prosody(-24.5, 1.04, 1.07, 0.60),
    "annoyed": Prosody(-22.0, 1.10, 1.06, 0.45),
    "angry": Prosody(-18.5, 1.22, 1.13, 0.30),
    "furious": Prosody(-15.5, 1.32, 1.21, 0.20),
}


@dataclass(frozen=True, slots=True)
class TimelineTurn:
    index: int
    speaker: Speaker
    text: str
    mood: str
    start: float
    end: float
    blowup: bool
    hold_before: float
    direction: str


@dataclass(frozen=True, slots=True)
class RenderedCall:
    name: str
    wav_path: Path
    timeline_path: Path
    sample_rate: int
    duration: float
    agent_id: str
    expected: str
    expected_intents: tuple[str, ...]
    turns: tuple[TimelineTurn, ...]
    holds: tuple[tuple[float, float], ...]  # (start, end) of each hold silence
    render_key: str
    skipped: bool = False  # render_all found it up to date and did not render it again

    @property
    def blowups(self) -> tuple[float, ...]:
        """Start times of the blow-up turns, earliest first."""
        return tuple(t.start for t in self.turns if t.blowup)

    @property
    def first_blowup(self) -> float | None:
        return self.blowups[0] if self.blowups else None


# -------------------------------------------------------------------------------- rendering


def render_key(script: CallScript, sample_rate: int) -> str:
    """Changes whenever the bytes could: the script, the renderer, the engines, the rate."""
    engines = sorted({engine_for(script.voice_for(s))[0].identity for s in SPEAKERS})
    blob = f"{script.digest}|{_renderer_digest()}|{sample_rate}|{','.join(engines)}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _renderer_digest() -> str:
    """RENDERER_VERSION plus the renderer's source: any edit re-renders (cheap, and never stale)."""
    digest = hashlib.sha256()
    for module in (__file__, sample_script.__file__, sample_tts.__file__):
        digest.update(Path(module).read_bytes())
    return f"{RENDERER_VERSION}-{digest.hexdigest()[:12]}"


def _seed(*parts: object) -> int:
    """A stable seed (Python's hash() is salted per process, so it cannot be used)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _trim(audio: np.ndarray, rate: int) -> np.ndarray:
    """Cut the engine's leading and trailing silence so timeline start/end are the speech."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) > peak * 0.01)
    pad = int(0.02 * rate)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad + 1]


def active_level_dbfs(audio: np.ndarray, rate: int) -> float:
    """Speech level in dBFS over 20 ms frames within 35 dB of the loudest (skips the gaps)."""
    frame = max(1, int(0.02 * rate))
    n = audio.size // frame
    if n == 0:
        return -math.inf
    power = np.mean(audio[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)
    active = power[power > power.max() * 10 ** (-35 / 10)]
    return 10 * math.log10(float(np.mean(active))) if active.size else -math.inf


def _speak(turn: ScriptTurn, script: CallScript, index: int, sample_rate: int) -> np.ndarray:
    prosody = MOOD_PROSODY[turn.mood]
    try:
        engine, voice = engine_for(script.voice_for(turn.speaker))
        audio, rate = engine.synthesize(
            turn.text,
            voice,
            rate=voice.rate * prosody.rate,
            pitch=voice.pitch * prosody.pitch,
            seed=_seed(script.name, index),
        )
    except (ScriptError, RuntimeError) as exc:
        raise ScriptError(f"{script.path}: voices.{turn.speaker}: {exc}") from exc
    if rate != sample_rate:
        g = math.gcd(rate, sample_rate)
        audio = resample_poly(audio, sample_rate // g, rate // g).astype(np.float32)
    audio = _trim(audio, sample_rate)
    level = active_level_dbfs(audio, sample_rate)
    if not math.isfinite(level):
        raise RuntimeError(f"{script.path}: turns[{index}] rendered as silence: {turn.text!r}")
    audio = audio * np.float32(10 ** ((prosody.level_dbfs - level) / 20))
    # A soft limiter instead of hard clipping: furious speech peaks above full scale.
    return (0.97 * np.tanh(audio / 0.97)).astype(np.float32)


def _layout(script: CallScript, clips: Sequence[np.ndarray], sample_rate: int) -> list[float]:
    """Start time of each turn: mood-dependent gaps with a little jitter, holds and overlaps."""
    jitter = np.random.default_rng(_seed(script.name, "layout")).uniform(-0.12, 0.12, len(clips))
    starts: list[float] = []
    last_end = 0.0
    for i, (turn, clip) in enumerate(zip(script.turns, clips, strict=True)):
        if i == 0:
            start = LEAD_IN_S
        elif turn.hold:
            start = last_end + turn.hold
        elif turn.overlap and script.turns[i - 1].speaker != turn.speaker:
            # never before the previous turn's own start: talk-over, not a duet
            start = max(starts[-1] + 0.5, last_end - turn.overlap)
        elif turn.pause_before is not None:
            start = last_end + turn.pause_before
        else:
            start = last_end + max(0.1, MOOD_PROSODY[turn.mood].gap_s + float(jitter[i]))
        start = round(start * sample_rate) / sample_rate
        starts.append(start)
        last_end = max(last_end, start + clip.size / sample_rate)
    return starts


def render(script: CallScript, out_wav: Path, sample_rate: int = 16000) -> RenderedCall:
    """Speak every turn and write the stereo WAV plus ``<name>.timeline.json`` beside it."""
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(f"sample_rate {sample_rate}: use one of {SAMPLE_RATES} (telephony rates)")
    out_wav = Path(out_wav)
    clips = [_speak(t, script, i, sample_rate) for i, t in enumerate(script.turns)]
    starts = _layout(script, clips, sample_rate)
    total = max(s + c.size / sample_rate for s, c in zip(starts, clips, strict=True)) + TAIL_S
    n = math.ceil(total * sample_rate)
    noise = np.random.default_rng(_seed(script.name, "noise")).standard_normal((n, 2))
    mix = (noise * 10 ** (NOISE_FLOOR_DBFS / 20)).astype(np.float32)
    turns, holds = [], []
    for i, (turn, clip, start) in enumerate(zip(script.turns, clips, starts, strict=True)):
        at = round(start * sample_rate)
        mix[at : at + clip.size, CHANNELS.index(turn.speaker)] += clip
        end = start + clip.size / sample_rate
        if turn.hold:
            holds.append((round(start - turn.hold, 3), round(start, 3)))
        turns.append(
            TimelineTurn(
                i, turn.speaker, turn.text, turn.mood, round(start, 3), round(end, 3),
                turn.blowup, turn.hold, turn.direction,
            )
        )  # fmt: skip
    pcm = np.round(np.clip(mix, -1.0, 1.0) * 32767.0).astype("<i2")
    rendered = RenderedCall(
        name=script.name,
        wav_path=out_wav,
        timeline_path=timeline_path_for(out_wav),
        sample_rate=sample_rate,
        duration=round(n / sample_rate, 3),
        agent_id=script.agent_id,
        expected=script.expected,
        expected_intents=script.expected_intents,
        turns=tuple(turns),
        holds=tuple(holds),
        render_key=render_key(script, sample_rate),
    )
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sf.write(buf, pcm, sample_rate, subtype="PCM_16", format="WAV")
    _write_atomically(out_wav, buf.getvalue())
    _write_timeline(rendered, script)
    return rendered


def timeline_path_for(wav: Path) -> Path:
    return wav.with_name(wav.stem + ".timeline.json")


def _write_timeline(call: RenderedCall, script: CallScript) -> None:
    doc = {
        "name": call.name,
        "title": script.title,
        "description": script.description,
        "agent_id": call.agent_id,
        "language": script.language,
        "queue": script.queue,
        "expected": call.expected,
        "expected_intents": list(call.expected_intents),
        "wav": call.wav_path.name,
        "sample_rate": call.sample_rate,
        "channels": list(CHANNELS),
        "duration": call.duration,
        "render_key": call.render_key,
        "renderer_version": RENDERER_VERSION,
        "holds": [list(h) for h in call.holds],
        "blowups": list(call.blowups),
        "turns": [
            {
                "index": t.index,
                "speaker": t.speaker,
                "text": t.text,
                "mood": t.mood,
                "start": t.start,
                "end": t.end,
                "blowup": t.blowup,
                "hold_before": t.hold_before,
                "direction": t.direction,
            }
            for t in call.turns
        ],
    }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    _write_atomically(call.timeline_path, text.encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers never see half a file, and two renders at once never write into the same temp."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_rendered(timeline_path: Path, skipped: bool = False) -> RenderedCall:
    """Read a ``<name>.timeline.json`` sidecar back (the WAV is beside it)."""
    timeline_path = Path(timeline_path)
    try:
        doc = json.loads(timeline_path.read_text(encoding="utf-8"))
        turns = tuple(
            TimelineTurn(
                int(t["index"]), t["speaker"], t["text"], t["mood"], float(t["start"]),
                float(t["end"]), bool(t["blowup"]), float(t["hold_before"]), t["direction"],
            )
            for t in doc["turns"]
        )  # fmt: skip
        return RenderedCall(
            name=doc["name"],
            wav_path=timeline_path.with_name(doc["wav"]),
            timeline_path=timeline_path,
            sample_rate=int(doc["sample_rate"]),
            duration=float(doc["duration"]),
            agent_id=doc["agent_id"],
            expected=doc["expected"],
            expected_intents=tuple(doc["expected_intents"]),
            turns=turns,
            holds=tuple((float(a), float(b)) for a, b in doc["holds"]),
            render_key=doc["render_key"],
            skipped=skipped,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{timeline_path}: not a readable sample timeline ({exc}); "
            "re-render with: python -m monitor.samples render --force"
        ) from exc


def render_all(
    dest_dir: Path = AUDIO_DIR,
    sample_rate: int = 16000,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    scripts_dir: Path | None = None,
) -> list[RenderedCall]:
    """Render every bundled script into ``dest_dir``, skipping those already up to date."""
    say = progress or (lambda _msg: None)
    dest_dir = Path(dest_dir)
    paths = list_scripts(scripts_dir)
    out: list[RenderedCall] = []
    for i, path in enumerate(paths, 1):
        script = load_script(path)
        if script.name != path.stem:  # one WAV per script: two names alike would overwrite
            raise ScriptError(
                f"{path}: name {script.name!r} must match the file name {path.stem!r}"
            )
        wav = dest_dir / f"{script.name}.wav"
        sidecar = timeline_path_for(wav)
        key = render_key(script, sample_rate)
        if not force and wav.exists() and sidecar.exists():
            try:
                existing = load_rendered(sidecar, skipped=True)
            except ValueError:
                existing = None
            if existing is not None and existing.render_key == key:
                say(f"[{i}/{len(paths)}] {script.name}: up to date")
                out.append(existing)
                continue
        call = render(script, wav, sample_rate)
        say(f"[{i}/{len(paths)}] {script.name}: {call.duration:.1f} s -> {wav}")
        out.append(call)
    return out


DEMO_STAGGER_S = 4.0  # in real time, `callmon demo` starts its calls this far apart


def demo_calls(
    realtime: bool = True,
    progress: Callable[[str], None] | None = None,
    dest_dir: Path = AUDIO_DIR,
    rendered: Sequence[RenderedCall] | None = None,
    scripts_dir: Path | None = None,
) -> list[tuple[Any, Any]]:
    """The bundled sample calls as `callmon demo` runs them: (FileSource, CallMeta) pairs.

    Renders what is missing first, unless ``rendered`` (from :func:`render_all`) is given.
    ``realtime`` paces each file like a live call. ``scripts_dir``: other scripts than the
    bundled ones (the rendered calls must come from there too).
    """
    from monitor.pipeline import CallMeta
    from monitor.sources import FileSource

    scripts = {s.name: s for s in map(load_script, list_scripts(scripts_dir))}
    calls = []
    if rendered is None:
        rendered = render_all(dest_dir, progress=progress, scripts_dir=scripts_dir)
    for r in rendered:
        s = scripts[r.name]
        meta = CallMeta(name=s.name, agent_id=s.agent_id, queue=s.queue, language=s.language)
        calls.append((FileSource(r.wav_path, realtime=realtime), meta))
    return calls


# -------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m monitor.samples", description="The bundled sample calls."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rend = sub.add_parser("render", help="render every script to a stereo WAV + timeline")
    rend.add_argument("--dest", type=Path, default=AUDIO_DIR, help=f"default: {AUDIO_DIR}")
    rend.add_argument("--rate", type=int, choices=SAMPLE_RATES, default=16000)
    rend.add_argument("--force", action="store_true", help="render even if up to date")
    rend.add_argument("--scripts", type=Path, default=None, help="another folder of scripts")
    lst = sub.add_parser("list", help="list the scripts")
    lst.add_argument("--scripts", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for path in list_scripts(args.scripts):
                s = load_script(path)
                print(f"{s.name:20s} {s.expected:12s} {s.agent_id:12s} {len(s.turns):3d} turns")
            return 0
        calls = render_all(args.dest, args.rate, args.force, print, args.scripts)
    except (ScriptError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{len(calls)} sample calls in {args.dest} ({sum(c.duration for c in calls):.0f} s audio)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
