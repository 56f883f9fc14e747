"""The multilingual Whisper (id, ms, ro) alone: real-time factor and concurrent calls.

    .venv/bin/python -m bench.bench_multilingual [--seconds 40] [--steps 1,2,4,6,8]

The language sample calls (samples/scripts/languages/, espeak-ng at 8 kHz, G.711 mu-law coded)
go through ``CallTranscriber`` on the engine an Indonesian, Malay or Romanian call gets
(monitor/asr/multilingual.py: Whisper base with beam search, one model for all three):

- **RTF**: processing time / call time, each call fed as fast as possible, per language;
- **concurrency**: N calls of all three languages at once in real time, exactly as
  bench/bench_asr.py measures tiny.en (100 ms chunks paced by the clock, staggered starts);
  the largest N whose end-of-speech -> final p95 stays within 1.5 s and whose feed never falls
  1.5 s behind is ``max_concurrent_calls``.

Writes section ``multilingual`` of bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from bench.bench_asr import SR, _r, concurrency, load_call, say, transcribe_fast
from bench.results import update_results
from monitor.asr import load_engine
from monitor.asr.multilingual import engine_for_language
from monitor.config import REPO_ROOT
from monitor.samples import render_all

SCRIPTS_DIR = REPO_ROOT / "samples" / "scripts" / "languages"
AUDIO_DIR = REPO_ROOT / "samples" / "audio" / "languages-8k"
LANGS = ("id", "ms", "ro")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    calls = render_all(AUDIO_DIR, 8000, progress=say, scripts_dir=SCRIPTS_DIR)
    base = load_engine("whisper")
    out: dict[str, Any] = {"rtf": {}}
    engines = {lang: engine_for_language(base, lang, 0) for lang in LANGS}
    out["model"] = str(engines["id"].path)
    out["beam_size"] = engines["id"].beam_size
    for lang, engine in engines.items():
        busy = audio_s = 0.0
        for call in (c for c in calls if c.name.startswith(f"{lang}_")):
            audio = load_call(call, telephone=True)
            t0 = time.perf_counter()
            await transcribe_fast(engine, audio, call.name)
            busy += time.perf_counter() - t0
            audio_s += audio.shape[0] / SR
        out["rtf"][lang] = round(busy / audio_s, 4)
        say(f"  {lang}: RTF {busy / audio_s:.3f} over {audio_s:.0f} s")
    # one pool of calls of every language; each call runs on its own language's engine
    # (concurrency() takes one engine: the model and its decoders are shared, so use id's)
    pool = [load_call(c, telephone=True) for c in calls]
    say(f"  concurrent real-time calls ({args.seconds:.0f} s each)")
    best, tried = await concurrency(engines["id"], pool, args.seconds, args.steps)
    out["max_concurrent_calls"] = best.calls if best else 0
    out["final_latency_p50_s"] = _r(best.p(50)) if best else None
    out["final_latency_p95_s"] = _r(best.p(95)) if best else None
    out["concurrency_trials"] = tried
    out["scope"] = (
        "ASR only (CallTranscriber), 8 kHz mu-law espeak-ng calls in id/ms/ro, the Indonesian "
        "prompt for the concurrency trials (one shared model: the language changes only the "
        "prompt, not the cost)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_multilingual")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each call")
    parser.add_argument(
        "--steps",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 2, 4, 6, 8, 12],
        help="numbers of concurrent calls to try, ascending",
    )
    args = parser.parse_args(argv)
    section = asyncio.run(main_async(args))
    update_results("multilingual", section)
    print(
        f"multilingual whisper: RTF {section['rtf']}, "
        f"{section['max_concurrent_calls']} concurrent real-time calls",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
