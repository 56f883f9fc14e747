"""Scoring latency at the demo's load: `python -m bench.bench_scoring` (part of `make bench`).

Several simulated calls submit final utterances concurrently through ONE ScoringService (the
way the pipeline does); the time from ``score()`` to its result is measured per utterance, so
it includes waiting for the batch to fill (``max_wait_ms``) and queueing behind other batches.
Writes section "scoring" of bench/results.json: p50_ms, p95_ms, batch, threads, quantized, and
the same figures for other settings (threads 1/2, fp32, a single utterance at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import tomllib
from typing import Any

from bench.results import BENCH_FILE, ROOT, update_results
from monitor.events import FinalUtterance
from monitor.scoring.classifier import TextClassifier
from monitor.scoring.data.calls import heldout_utterances
from monitor.scoring.service import ScoringService

SCRIPTS = ROOT / "samples" / "scripts"


def demo_texts() -> list[str]:
    """The sample calls' turns (what the demo scores), else the held-out utterances."""
    texts: list[str] = []
    for script in sorted(SCRIPTS.glob("*.toml")):
        texts += [t["text"] for t in tomllib.loads(script.read_text()).get("turns", [])]
    return texts or [u.text for u in heldout_utterances()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


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
    latencies: list[float] = []

    async def one_call(index: int) -> None:
        await asyncio.sleep(rng.uniform(0, gap_s[1]))  # calls do not start in lockstep
        for seq in range(per_call):
            text = rng.choice(texts)
            utt = FinalUtterance(f"call-{index}", "customer", seq, text, seq * 2.0, seq * 2.0 + 1.5)
            started = time.perf_counter()
            await service.score(utt, "en")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(rng.uniform(*gap_s))

    try:
        # warm up the model (first calls allocate)
        for i in range(3):
            await service.score(FinalUtterance("warm", "customer", i, texts[i], 0.0, 1.0))
        service.batch_sizes.clear()
        async with asyncio.TaskGroup() as tg:
            for i in range(calls):
                tg.create_task(one_call(i))
    finally:
        await service.aclose()
    sizes = service.batch_sizes
    return {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "utterances": len(latencies),
        "mean_batch": round(statistics.fmean(sizes), 2) if sizes else 0.0,
        "max_batch_seen": max(sizes) if sizes else 0,
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
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scoring", description=__doc__)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--per-call", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="main setting only")
    args = parser.parse_args(argv)

    gap = (0.2, 0.8)  # seconds between one call's utterances: ~16 utt/s over 8 calls
    load = (
        f"{args.calls} calls submitting concurrently, one utterance each per "
        f"{gap[0]}-{gap[1]} s (about {args.calls / sum(gap) * 2:.0f} utterances/s; the "
        "7-call demo produces about 3/s); texts: the sample calls' turns; "
        "latency = score() call to result"
    )
    # fp32 is what the service runs: int8 dynamic quantisation is not batch-invariant
    fp = TextClassifier.load(quantize=False)
    # the headline is the demo's load: 7 calls in real time, about 3 utterances/s in all
    demo_gap = (1.5, 3.1)
    main_fig = asyncio.run(run_load(fp, 7, 20, demo_gap, threads=1, max_batch=32))
    stress = asyncio.run(run_load(fp, args.calls, args.per_call, gap, threads=1, max_batch=32))
    result: dict[str, Any] = {
        **main_fig,
        "batch": 32,
        "max_wait_ms": 10.0,
        "threads": 1,
        "quantized": False,
        "backend": "onnxruntime" if getattr(fp, "_onnx", None) is not None else "torch",
        "load": "the demo's load: 7 calls, one whole sample turn each per 1.5-3.1 s "
        "(about 3 utterances/s); latency = score() call to result",
        "stress_5x_demo": {**stress, "load": load},
    }
    print(
        f"demo load (7 calls, ~3 utt/s): p50 {main_fig['p50_ms']} ms, "
        f"p95 {main_fig['p95_ms']} ms, mean batch {main_fig['mean_batch']}"
    )
    print(f"5x the demo ({load}): p50 {stress['p50_ms']} ms, p95 {stress['p95_ms']} ms")
    if not args.quick:
        variants: dict[str, Any] = {}
        short = asyncio.run(
            run_load(fp, args.calls, args.per_call, gap, threads=1, max_batch=32, long_turns=False)
        )
        variants["fp32_short_utterances"] = short
        print(
            f"fp32, held-out utterances (~8 words): p50 {short['p50_ms']} ms, "
            f"p95 {short['p95_ms']} ms"
        )
        fp1 = asyncio.run(run_load(fp, 1, 40, (0.05, 0.1), threads=1, max_batch=1))
        variants["fp32_single_call_batch1"] = fp1
        print(f"fp32, one call, batch 1: p50 {fp1['p50_ms']} ms, p95 {fp1['p95_ms']} ms")
        q = TextClassifier.load(quantize=True)
        q8 = asyncio.run(run_load(q, args.calls, args.per_call, gap, threads=1, max_batch=32))
        variants["int8_not_batch_invariant"] = q8
        print(
            f"int8 (not used: scores depend on the batch): p50 {q8['p50_ms']} ms, "
            f"p95 {q8['p95_ms']} ms"
        )
        alone = model_only(fp)
        variants["fp32_model_only_batch1_short"] = alone
        print(f"fp32 model alone, batch 1: p50 {alone['p50_ms']} ms, p95 {alone['p95_ms']} ms")
        result["variants"] = variants
    update_results("scoring", result, path=BENCH_FILE)
    print(f"wrote section scoring of {BENCH_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
