"""Real-time capacity of the whole pipeline, on calls of continuous conversation.

    .venv/bin/python -m bench.bench_pipeline [--steps 4,8,12,16,20,24,28,32] [--seconds 90]
                                             [--budget-s 660] [--no-write]

What a contact centre sees, not the recognizer alone:

- **Calls**: 8 kHz stereo G.711 mu-law WAVs of continuous conversation, rendered once into
  ``var/cache/pipeline-bench/`` from the sample scripts' turns with the same offline TTS as
  ``callmon samples render``, but laid out with 0.4-1.2 s between turns (no holds, no long
  pauses): about 90 s each, both parties talking most of the time. Each script is laid out
  twice with different gaps, so 14 distinct calls; call ``k`` of a trial plays render ``k % 14``.
- **Load**: N calls at once through ``Monitor.run_calls`` (ASR, redaction, scoring, rules, bus,
  SQLite store), each read by a real-time ``FileSource`` (a frame is released when its audio has
  been spoken), started 0.37 s apart, with a real ``MonitorServer`` and one supervisor board
  client on a websocket.
- **Latency** of an utterance: the wall time its ``utterance_score`` reaches the board client
  minus the wall time the end of its speech (``FinalUtterance.end``) was spoken, i.e. the
  source's clock origin plus that audio time. ``final_share`` is the part of it spent until the
  final text was published (endpointing + decoding), the rest is scoring, rules and delivery.
- **Capacity**: N grows until the p95 passes 1.5 s or the lag keeps growing (the median latency
  of the trial's last 20 s is more than 1 s above that of its first 20 s); the largest N that
  kept up is ``max_concurrent_calls``. A trial whose p95 passes 4 s after 40 s is stopped
  there (it has failed); no trial starts that would not fit in ``--budget-s``. CPU is the
  process's CPU seconds per wall second (all threads). ``calls_marked_delayed``: calls the
  pipeline itself marked delayed (``call_lag`` events, monitor/capacity.py).

Writes section ``pipeline`` of bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from websockets.asyncio.client import connect

from bench.bench_scoring import model_only
from bench.gcwatch import GcWatch
from bench.results import ROOT, percentile, update_results
from monitor import events as ev
from monitor import heap
from monitor.bus import EventBus
from monitor.sample_script import list_scripts, load_script
from monitor.sample_tts import engine_for
from monitor.samples import MOOD_PROSODY, active_level_dbfs

RATE = 8000
CACHE = ROOT / "var" / "cache" / "pipeline-bench"
LAYOUT_VERSION = "1"
LAYOUTS = 2  # layouts per script
GAP_S = (0.4, 1.2)
CALL_S = 90.0
STAGGER_S = 0.37
LATENCY_LIMIT_S = 1.5
GROWTH_LIMIT_S = 1.0
ABORT_P95_S = 4.0  # a trial this far behind is stopped early (it has failed already)
WINDOW_S = 20.0  # head / tail windows for the lag-growth test
STEPS = (4, 8, 12, 16, 20, 24, 28, 32)
SUP = "bench-pipeline-token-0123456789"


def say(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------ the calls


@dataclass(frozen=True, slots=True)
class BenchCall:
    name: str
    wav: Path
    duration: float
    turns: int


def _clip(text: str, mood: str, voice: Any, seed: int) -> np.ndarray:
    engine, voice = engine_for(voice)
    prosody = MOOD_PROSODY[mood]
    audio, rate = engine.synthesize(
        text, voice, rate=voice.rate * prosody.rate, pitch=voice.pitch * prosody.pitch, seed=seed
    )
    g = math.gcd(rate, RATE)
    audio = resample_poly(audio, RATE // g, rate // g).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 0.01)
    audio = audio[max(0, loud[0] - 160) : loud[-1] + 160]
    audio *= np.float32(10 ** ((prosody.level_dbfs - active_level_dbfs(audio, RATE)) / 20))
    return (0.97 * np.tanh(audio / 0.97)).astype(np.float32)


def render_calls() -> list[BenchCall]:
    """The continuous-conversation calls, rendered once and then read from the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out: list[BenchCall] = []
    for n, path in enumerate(list_scripts()):
        script = load_script(path)
        key = f"{LAYOUT_VERSION}|{script.digest}|{CALL_S}|{GAP_S}"
        names = [f"{script.name}-{k}" for k in range(LAYOUTS)]
        metas = [CACHE / f"{name}.json" for name in names]
        if all(m.exists() and json.loads(m.read_text()).get("key") == key for m in metas):
            for name, m in zip(names, metas, strict=True):
                doc = json.loads(m.read_text())
                out.append(BenchCall(name, CACHE / f"{name}.wav", doc["duration"], doc["turns"]))
            continue
        say(f"  rendering {script.name} ({len(script.turns)} turns, TTS at {RATE} Hz)")
        clips = [
            _clip(t.text, t.mood, script.voice_for(t.speaker), seed=1000 * n + i)
            for i, t in enumerate(script.turns)
        ]
        for k, (name, meta) in enumerate(zip(names, metas, strict=True)):
            rng = np.random.default_rng(7919 * n + k)
            mix = np.zeros((int((CALL_S + 1) * RATE), 2), dtype=np.float32)
            mix += rng.standard_normal(mix.shape).astype(np.float32) * 10 ** (-72 / 20)
            at, i, turns = 0.6, k * 3, 0  # the second layout starts a few turns later
            while True:
                turn = script.turns[i % len(script.turns)]
                clip = clips[i % len(script.turns)]
                if at + clip.size / RATE > CALL_S:
                    break
                lo = round(at * RATE)
                mix[lo : lo + clip.size, 0 if turn.speaker == "customer" else 1] += clip
                at += clip.size / RATE + float(rng.uniform(*GAP_S))
                i, turns = i + 1, turns + 1
            end = min(mix.shape[0], round((at + 0.5) * RATE))
            wav = CACHE / f"{name}.wav"
            sf.write(wav, np.clip(mix[:end], -1, 1), RATE, subtype="ULAW", format="WAV")
            meta.write_text(json.dumps({"key": key, "duration": end / RATE, "turns": turns}))
            out.append(BenchCall(name, wav, end / RATE, turns))
    return out


# ------------------------------------------------------------------------------ one trial


@dataclass
class Trial:
    calls: int
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (wall at, latency)
    final_parts: list[float] = field(default_factory=list)  # speech end -> final published
    cpu_cores: float = 0.0
    wall_s: float = 0.0
    lag_end_s: float = 0.0  # worst: call ended (bus) - its audio end spoken
    utterances: int = 0
    decodes: dict[str, int] = field(default_factory=dict)
    delayed_calls: set[str] = field(default_factory=set)  # calls marked delayed (CallLag)
    aborted: bool = False  # stopped early: hopelessly behind
    gc: dict[str, Any] = field(default_factory=dict)  # collector pauses (bench/gcwatch.py)

    def p(self, q: float) -> float | None:
        values = [lat for _, lat in self.latencies]
        return percentile(values, q) if values else None

    @property
    def growth(self) -> float:
        """Median latency of the last WINDOW_S of finals minus that of the first."""
        if len(self.latencies) < 10:
            return 0.0
        ordered = sorted(self.latencies)
        t0, t1 = ordered[0][0], ordered[-1][0]
        head = [lat for at, lat in ordered if at <= t0 + WINDOW_S]
        tail = [lat for at, lat in ordered if at >= t1 - WINDOW_S]
        return statistics.median(tail) - statistics.median(head)

    @property
    def kept_up(self) -> bool:
        p95 = self.p(95)
        return (
            not self.aborted
            and p95 is not None
            and p95 <= LATENCY_LIMIT_S
            and self.growth <= GROWTH_LIMIT_S
        )

    def row(self) -> dict[str, Any]:
        total = sum(lat for _, lat in self.latencies)
        return {
            "calls": self.calls,
            "latency_p50_s": _r(self.p(50)),
            "latency_p95_s": _r(self.p(95)),
            "latency_max_s": _r(self.p(100)),
            "final_share": _r(sum(self.final_parts) / total) if total > 0 else None,
            "final_text_p50_s": _r(percentile(self.final_parts, 50)) if self.final_parts else None,
            "lag_growth_s": _r(self.growth),
            "lag_at_end_s": _r(self.lag_end_s),
            "cpu_cores_used": _r(self.cpu_cores),
            "utterances": len(self.latencies),
            "wall_s": _r(self.wall_s),
            "decodes": self.decodes,
            "calls_marked_delayed": len(self.delayed_calls),
            "aborted": self.aborted,
            "kept_up": self.kept_up,
            "gc_pauses": self.gc,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


async def run_trial(n: int, pool: Sequence[BenchCall], engine: Any, classifier: Any) -> Trial:
    from monitor.config import MonitorConfig
    from monitor.pipeline import CallMeta, Monitor
    from monitor.server import MonitorServer, ServerConfig
    from monitor.sources import FileSource

    trial = Trial(n)
    sources: dict[str, FileSource] = {}
    speech_end: dict[tuple[str, int], float] = {}  # (call, seq) -> final.end
    final_at: dict[tuple[str, int], float] = {}  # (call, seq) -> wall when published
    ended_at: dict[str, float] = {}

    def stamp(event: ev.Event) -> None:  # a sink: runs at publish time
        if isinstance(event, ev.FinalUtterance):
            speech_end[(event.call_id, event.seq)] = event.end
            final_at[(event.call_id, event.seq)] = time.monotonic()
        elif isinstance(event, ev.CallEnded):
            ended_at[event.call_id] = time.monotonic()
        elif isinstance(event, ev.CallLag) and event.delayed:
            trial.delayed_calls.add(event.call_id)

    bus = EventBus()
    bus.add_sink(stamp)
    before = dict(getattr(engine, "decodes", {}))
    scheduler = getattr(engine, "scheduler", None)
    if scheduler is not None:
        before["partial_shed"] = scheduler.counts["partial_shed"]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        config = MonitorConfig(store_path=Path(tmp) / "callmon.db")
        monitor = await Monitor.create(config, bus, engine=engine, classifier=classifier)
        server = MonitorServer(bus, ServerConfig(port=0, tokens={SUP: "supervisor"}))
        await server.start()
        heap.freeze()  # as the runtime does once the models are loaded (monitor/heap.py)
        watch = GcWatch().start()
        calls = []
        for k in range(n):
            call = pool[k % len(pool)]
            src = FileSource(call.wav, realtime=True)
            sources[f"c{k:02d}"] = src
            calls.append((src, CallMeta(name=call.name, call_id=f"c{k:02d}")))
        try:
            async with connect(f"ws://127.0.0.1:{server.port}/ws?token={SUP}", max_size=None) as ws:
                await ws.recv()  # the snapshot

                async def board() -> None:
                    async for raw in ws:
                        now = time.monotonic()
                        msg = json.loads(raw)
                        if msg.get("type") != "utterance_score":
                            continue
                        key = (msg["call_id"], msg["seq"])
                        origin = sources[key[0]].clock_origin
                        if key not in speech_end or origin is None:
                            continue
                        spoken = origin + speech_end[key]
                        trial.latencies.append((now, now - spoken))
                        trial.final_parts.append(final_at[key] - spoken)

                async def progress() -> None:
                    t0 = time.monotonic()
                    while True:
                        await asyncio.sleep(15)
                        p95 = trial.p(95)
                        say(
                            f"      {time.monotonic() - t0:5.0f} s: {len(trial.latencies)} "
                            f"utterances scored, p95 so far "
                            f"{'-' if p95 is None else f'{p95:.2f}'} s, "
                            f"{len(trial.delayed_calls)} calls marked delayed"
                        )
                        if p95 is not None and p95 > ABORT_P95_S and time.monotonic() - t0 > 40:
                            # hopelessly behind: stop here instead of waiting out the backlog
                            say("      far behind: stopping this trial")
                            trial.aborted = True
                            monitor.interrupt_calls()
                            return

                reader = asyncio.create_task(board())
                ticker = asyncio.create_task(progress())
                cpu0, wall0 = time.process_time(), time.monotonic()
                await monitor.run_calls(calls, stagger_s=STAGGER_S)
                trial.wall_s = time.monotonic() - wall0
                trial.cpu_cores = (time.process_time() - cpu0) / trial.wall_s
                await asyncio.sleep(1.0)  # the last scores on their way to the board
                ticker.cancel()
                reader.cancel()
        finally:
            watch.stop()
            heap.thaw()
            await server.stop()
            await monitor.aclose()
    trial.gc = watch.figures()
    for call_id, src in sources.items():
        if src.clock_origin is not None and call_id in ended_at:
            lag = ended_at[call_id] - (src.clock_origin + src.duration)
            trial.lag_end_s = max(trial.lag_end_s, lag)
    after = dict(getattr(engine, "decodes", {}))
    scheduler = getattr(engine, "scheduler", None)
    if scheduler is not None:
        after["partial_shed"] = scheduler.counts["partial_shed"]
    trial.decodes = {k: after[k] - before.get(k, 0) for k in after}
    return trial


# ------------------------------------------------------------------------------ main


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.asr import load_engine
    from monitor.config import MonitorConfig
    from monitor.scoring.classifier import TextClassifier

    began = time.monotonic()
    say(f"rendering continuous-conversation calls into {CACHE} (cached)")
    pool = render_calls()
    say(f"  {len(pool)} calls, {sum(c.duration for c in pool):.0f} s, {RATE} Hz mu-law stereo")
    if args.seconds < CALL_S:
        pool = [_shortened(c, args.seconds) for c in pool]
    config = MonitorConfig()
    engine = await asyncio.to_thread(load_engine, config.engine, None, config.asr_niceness)
    classifier = await asyncio.to_thread(TextClassifier.load, config.classifier_path)
    if args.no_partials:
        engine.partial_interval = None
    say(f"speech engine {engine.name}; scorer {classifier.backend}; {os.cpu_count()} cores")
    # the shared VM's speed moves by the hour (issue 10, twenty-sixth round: the model alone
    # 1.55 ms, then 3.3-4.2 ms on the same CPU): the same probe before and after the trials
    probe = [model_only(classifier, 100)["p50_ms"]]
    tried: list[dict[str, Any]] = []
    best: Trial | None = None
    stopped_by_budget: int | None = None
    longest = max(c.duration for c in pool)
    for n in args.steps:
        need = longest + n * STAGGER_S + 15
        left = args.budget_s - (time.monotonic() - began)
        if need > left:
            say(f"  {n} calls: skipped, the trial ({need:.0f} s) does not fit the budget")
            stopped_by_budget = n
            break
        say(f"  {n} calls in real time ({longest:.0f} s each) ...")
        trial = await run_trial(n, pool, engine, classifier)
        row = trial.row()
        tried.append(row)
        say(
            f"  {n:3d} calls: p50 {row['latency_p50_s']} s, p95 {row['latency_p95_s']} s, "
            f"max {row['latency_max_s']} s, final share {row['final_share']}, "
            f"growth {row['lag_growth_s']} s, CPU {row['cpu_cores_used']} cores, "
            f"decodes {row['decodes']} -> "
            f"{'ok' if trial.kept_up else 'FALLS BEHIND'}"
        )
        if not trial.kept_up:
            break
        best = trial
    probe.append(model_only(classifier, 100)["p50_ms"])
    section: dict[str, Any] = {
        "what": (
            "whole pipeline (ASR, redaction, scoring, rules, bus, SQLite store, websocket "
            "board client), N 8 kHz mu-law stereo calls of continuous conversation (0.4-1.2 s "
            "gaps) in real time, started 0.37 s apart; latency = utterance_score on the board "
            "client - end of the utterance's speech"
        ),
        "cores": os.cpu_count(),
        "scorer_backend": classifier.backend,  # chosen by the CPU (onnx_backend.py)
        "call_seconds": round(longest, 1),
        "calls_rendered": len(pool),
        "latency_limit_s": LATENCY_LIMIT_S,
        "max_concurrent_calls": best.calls if best else 0,
        "latency_p50_s_at_max": _r(best.p(50)) if best else None,
        "latency_p95_s_at_max": _r(best.p(95)) if best else None,
        "trials": tried,
        # the scorer's model alone, one short utterance back to back, p50 ms, before and after
        # the trials (bench_scoring's model_only): how fast the machine was during this run
        "model_alone_p50_ms_before_after": probe,
    }
    if best is not None and best.calls == tried[-1]["calls"]:
        section["note"] = f"kept up at the largest N tried ({best.calls}); the limit is higher"
        if stopped_by_budget is not None:
            section["note"] += f" ({stopped_by_budget} calls did not fit the time budget)"
    return section


def _shortened(call: BenchCall, seconds: float) -> BenchCall:
    """A prefix of the call (for quick runs), cached beside it."""
    wav = CACHE / f"{call.name}-{seconds:.0f}s.wav"
    if not wav.exists():
        audio, rate = sf.read(call.wav, dtype="float32", always_2d=True)
        sf.write(wav, audio[: int(seconds * rate)], rate, subtype="ULAW", format="WAV")
    return BenchCall(call.name, wav, min(seconds, call.duration), call.turns)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_pipeline")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)), help="N calls to try")
    parser.add_argument("--seconds", type=float, default=CALL_S, help="call time per trial")
    parser.add_argument(
        "--budget-s", type=float, default=660.0, help="stop growing N past this much wall time"
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--no-partials", action="store_true", help="no interim text at all (a comparison)"
    )
    args = parser.parse_args(argv)
    args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    section = asyncio.run(main_async(args))
    say(
        f"pipeline: max {section['max_concurrent_calls']} concurrent calls, "
        f"p95 {section['latency_p95_s_at_max']} s at that load"
    )
    if not args.no_write:
        update_results("pipeline", section)
        say("wrote section 'pipeline' of bench/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
