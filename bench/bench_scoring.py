"""Scoring latency at the demo's load: `python -m bench.bench_scoring` (part of `make bench`).

The headline (section "scoring": p50_ms, p95_ms) is the demo itself: the 7 sample calls
replayed in real time, 4 s apart, through the real pipeline (Whisper ASR on the same 2 cores,
the text classifier, rules, the store), exactly as `callmon demo` runs them. Latency is
measured inside the ScoringService for every final utterance: from ``score()`` to its
result, so it includes waiting for a batch and for the model thread, and for a customer's
partial transcript being scored for an early alert (those are scored only when the service
is idle, so a final waits for at most one of them). The demo loops, and so
does this: 3 rounds by default (about 3 minutes each), pooled, with each round's p95 beside
the pooled one, because on this shared 2-core VM one round's p95 moved by several ms from one
run to the next.

Beside it ("variants"), loads without ASR: whole script turns as single utterances (the
heaviest text the monitor may be given, e.g. a recognizer that never endpoints), 5x that,
short utterances, the model alone, and the other backends for comparison (the other ONNX
precision: fp32 beside int8 weights, or int8 weights beside fp32 on a CPU without an int8 dot
product; PyTorch fp32; PyTorch int8 dynamic — not used: not batch-invariant).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import tomllib
from typing import Any

from bench.gcwatch import GcWatch
from bench.results import BENCH_FILE, ROOT, percentile, update_results
from monitor import heap
from monitor.events import FinalUtterance
from monitor.scoring.classifier import TextClassifier, normalize
from monitor.scoring.data.calls import heldout_utterances
from monitor.scoring.service import ScoringService

SCRIPTS = ROOT / "samples" / "scripts"


def demo_texts() -> list[str]:
    """The sample calls' turns (what the demo scores), else the held-out utterances."""
    texts: list[str] = []
    for script in sorted(SCRIPTS.glob("*.toml")):
        texts += [t["text"] for t in tomllib.loads(script.read_text()).get("turns", [])]
    return texts or [u.text for u in heldout_utterances()]


def service_figures(service: ScoringService) -> dict[str, Any]:
    """Latency (score() call to result, as the service records it) and batch sizes."""
    latencies = list(service.latencies_ms)
    sizes = service.batch_sizes
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "max_ms": round(max(latencies), 2),
        "utterances": len(latencies),
        "mean_batch": round(statistics.fmean(sizes), 2) if sizes else 0.0,
        "max_batch_seen": max(sizes) if sizes else 0,
        # customers' partial transcripts scored for early alerts while the service was idle
        # (their latency is not in the figures above), and those shed because it was busy
        "partials_scored": service.partials_scored,
        "partials_shed": service.partials_shed,
    }


async def run_load(
    classifier: TextClassifier,
    calls: int,
    per_call: int,
    gap_s: tuple[float, float],
    threads: int,
    max_batch: int,
    seed: int = 7,
    long_turns: bool = True,
) -> dict[str, Any]:
    texts = demo_texts() if long_turns else [u.text for u in heldout_utterances()]
    rng = random.Random(seed)
    service = ScoringService(classifier, max_batch=max_batch, threads=threads)
    await service.start()

    async def one_call(index: int) -> None:
        await asyncio.sleep(rng.uniform(0, gap_s[1]))  # calls do not start in lockstep
        for seq in range(per_call):
            text = rng.choice(texts)
            utt = FinalUtterance(f"call-{index}", "customer", seq, text, seq * 2.0, seq * 2.0 + 1.5)
            await service.score(utt, "en")
            await asyncio.sleep(rng.uniform(*gap_s))

    try:
        # warm up the model (first calls allocate)
        for i in range(3):
            await service.score(FinalUtterance("warm", "customer", i, texts[i], 0.0, 1.0))
        service.batch_sizes.clear()
        service.latencies_ms.clear()
        async with asyncio.TaskGroup() as tg:
            for i in range(calls):
                tg.create_task(one_call(i))
    finally:
        await service.aclose()
    return service_figures(service)


async def demo_load(classifier: TextClassifier, rounds: int) -> dict[str, Any]:
    """The 7 sample calls in real time through the real pipeline, as `callmon demo` runs them
    (round after round, like the demo): the figures pool every round's utterances, and
    ``p95_ms_per_round`` shows how much one round varies from the next on this machine."""
    import tempfile
    from pathlib import Path

    from monitor.bus import EventBus
    from monitor.config import MonitorConfig
    from monitor.pipeline import Monitor
    from monitor.samples import DEMO_STAGGER_S, demo_calls

    per_round: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = MonitorConfig().with_(store_path=Path(tmp) / "bench.db")
        bus = EventBus()
        texts: list[str] = []
        bus.add_sink(lambda e: texts.append(e.text) if isinstance(e, FinalUtterance) else None)
        monitor = await Monitor.create(config, bus, classifier=classifier)
        heap.freeze()  # as the runtime does once the models are loaded (monitor/heap.py)
        watch = GcWatch().start()
        try:
            started = time.perf_counter()
            for r in range(1, rounds + 1):
                calls = demo_calls(realtime=True, progress=print if r == 1 else None)
                print(
                    f"round {r}/{rounds}: replaying {len(calls)} sample calls in real time, "
                    f"{DEMO_STAGGER_S:g} s apart (about 3 minutes)",
                    flush=True,
                )
                done = len(monitor.scoring.latencies_ms)
                await monitor.run_calls(calls, stagger_s=DEMO_STAGGER_S)
                this_round = list(monitor.scoring.latencies_ms)[done:]
                per_round.append(round(percentile(this_round, 95), 2))
                print(f"round {r}: p95 {per_round[-1]} ms", flush=True)
            wall = time.perf_counter() - started
            figures = service_figures(monitor.scoring)
            engine = monitor.engine.name
            max_wait_ms = monitor.scoring.max_wait * 1000
            niceness = config.asr_niceness
        finally:
            watch.stop()
            heap.thaw()
            await monitor.aclose()
    words = [len(normalize(t).split()) for t in texts]
    return {
        **figures,
        "rounds": rounds,
        "p95_ms_per_round": per_round,
        "utterances_per_s": round(figures["utterances"] / wall, 2),
        "words_per_utterance_p50_p95": [percentile(words, 50), percentile(words, 95)]
        if words
        else None,
        "wall_s": round(wall, 1),
        "asr_engine": engine,
        "asr_niceness": niceness,
        "max_wait_ms": max_wait_ms,
        "gc_pauses": watch.figures(),
    }


def model_only(classifier: TextClassifier, n: int = 200) -> dict[str, Any]:
    """predict() on one held-out utterance at a time, no service: the model's own cost."""
    import torch

    torch.set_num_threads(1)
    texts = [u.text for u in heldout_utterances()][:n]
    classifier.predict(texts[:4])
    times = []
    for text in texts:
        started = time.perf_counter()
        classifier.predict([text])
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_scoring",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=8, help="calls in the 5x stress load")
    parser.add_argument("--per-call", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="the demo's load only")
    parser.add_argument(
        "--rounds", type=int, default=3, help="demo rounds, about 3 minutes each (default 3)"
    )
    args = parser.parse_args(argv)

    # what the service runs on this CPU: ONNX Runtime, int8 weights and per-token int8
    # activations where the CPU has an int8 dot product, else fp32 (both batch-invariant;
    # onnx_backend.default_precision); TextClassifier.load says why not PyTorch's dynamic int8
    clf = TextClassifier.load()
    precision = clf.backend.removeprefix("onnxruntime-")
    other = "w8" if precision == "fp32" else "fp32"  # the other ONNX precision, for comparison
    demo = asyncio.run(demo_load(clf, args.rounds))
    result: dict[str, Any] = {
        **demo,
        "batch": 32,
        "threads": 1,
        "backend": clf.backend,
        "load": f"the demo, {args.rounds} rounds: the 7 sample calls replayed in real time, "
        "4 s apart, through the real pipeline (Whisper ASR on the same 2 cores, classifier, "
        "rules, store); latency = score() call to result, every final utterance of every round",
    }
    print(
        f"demo load ({demo['rounds']} rounds, {demo['utterances']} utterances, "
        f"{demo['utterances_per_s']}/s, ASR running): p50 {demo['p50_ms']} ms, p95 "
        f"{demo['p95_ms']} ms (per round {demo['p95_ms_per_round']}), max {demo['max_ms']} ms"
    )
    if not args.quick:
        variants: dict[str, Any] = {}
        turns_gap = (1.5, 3.1)  # 7 calls, one whole script turn each per 1.5-3.1 s: ~3/s
        turns = asyncio.run(run_load(clf, 7, 20, turns_gap, threads=1, max_batch=32))
        variants["whole_turns_no_asr"] = {
            **turns,
            "load": "no ASR; 7 calls, one whole sample-script turn each (up to 46 words, "
            "scored as windows) per 1.5-3.1 s",
        }
        print(f"whole turns, no ASR: p50 {turns['p50_ms']} ms, p95 {turns['p95_ms']} ms")
        gap = (0.2, 0.8)
        stress = asyncio.run(run_load(clf, args.calls, args.per_call, gap, threads=1, max_batch=32))
        variants["whole_turns_5x"] = {
            **stress,
            "load": f"no ASR; {args.calls} calls, one whole turn each per {gap[0]}-{gap[1]} s "
            f"(about {args.calls / sum(gap) * 2:.0f} utterances/s)",
        }
        print(f"whole turns 5x: p50 {stress['p50_ms']} ms, p95 {stress['p95_ms']} ms")
        short = asyncio.run(
            run_load(clf, args.calls, args.per_call, gap, threads=1, max_batch=32, long_turns=False)
        )
        variants["short_utterances_5x"] = {**short, "load": "as whole_turns_5x, held-out texts"}
        print(f"short utterances 5x: p50 {short['p50_ms']} ms, p95 {short['p95_ms']} ms")
        beside = TextClassifier.load(precision=other)
        b = asyncio.run(run_load(beside, 7, 20, turns_gap, threads=1, max_batch=32))
        variants[f"onnx_{other}_whole_turns_no_asr"] = b
        print(f"ONNX {other}, whole turns: p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms")
        torch32 = TextClassifier.load(onnx=False)
        t32 = asyncio.run(run_load(torch32, 7, 20, turns_gap, threads=1, max_batch=32))
        variants["torch_fp32_whole_turns_no_asr"] = t32
        print(f"PyTorch fp32, whole turns: p50 {t32['p50_ms']} ms, p95 {t32['p95_ms']} ms")
        q = TextClassifier.load(quantize=True)
        q8 = asyncio.run(run_load(q, 7, 20, turns_gap, threads=1, max_batch=32))
        variants["torch_int8_dynamic_not_batch_invariant"] = q8
        print(f"PyTorch int8 dynamic (not used): p50 {q8['p50_ms']} ms, p95 {q8['p95_ms']} ms")
        for name, model in ((precision, clf), (f"onnx_{other}", beside), ("torch_fp32", torch32)):
            alone = model_only(model)
            variants[f"{name}_model_only_back_to_back"] = alone
            print(f"{name} model alone, back to back: p50 {alone['p50_ms']} ms")
        result["variants"] = variants
    update_results("scoring", result, path=BENCH_FILE)
    print(f"wrote section scoring of {BENCH_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
