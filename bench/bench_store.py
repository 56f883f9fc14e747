"""Call store figures: persist cost per event (WAL, synchronous NORMAL vs FULL; one event
waited for at a time, and many calls publishing at once through the bus sink, where the
writer thread batches), search and call-load latency over many stored calls, report
rendering, redaction cost.

    python -m bench.bench_store [--calls 300]

Writes the ``store`` section of bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import update_results
from monitor import events as ev
from monitor.qa.example import example_call
from monitor.qa.report import build_report, render_html
from monitor.redact.pii import redact_event, redact_text
from monitor.store.db import CallStore


def _persist_rate(path: Path, synchronous: str, calls: int) -> dict[str, float]:
    store = CallStore(path, synchronous=synchronous)  # type: ignore[arg-type]
    events = [redact_event(e) for e in example_call("x")]
    n = 0
    lat: list[float] = []
    t0 = time.perf_counter()
    for i in range(calls):
        cid = f"call-{i:05d}"
        for e in example_call(cid, agent_id=f"agent-{i % 20}", name=f"refund {cid}"):
            e = redact_event(e)
            t = time.perf_counter()
            store.persist(e)
            lat.append(time.perf_counter() - t)
            n += 1
    total = time.perf_counter() - t0
    store.close()
    lat.sort()
    return {
        "events": n,
        "events_per_call": len(events),
        "events_per_s": round(n / total, 1),
        "persist_p50_ms": round(1000 * lat[len(lat) // 2], 3),
        "persist_p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 3),
    }


def _concurrent_rate(path: Path, synchronous: str, calls: int) -> dict[str, float]:
    """``calls`` calls publishing at once, each event awaited through the bus sink (what the
    pipeline does): the writer thread commits whatever queued meanwhile in one transaction."""
    store = CallStore(path, synchronous=synchronous)  # type: ignore[arg-type]
    lat: list[float] = []

    async def one(cid: str) -> None:
        for e in example_call(cid, agent_id="agent-1"):
            t = time.perf_counter()
            pending = store.sink(redact_event(e))
            if pending is not None:
                await pending
            lat.append(time.perf_counter() - t)

    async def run() -> float:
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i in range(calls):
                tg.create_task(one(f"conc-{i:05d}"))
        return time.perf_counter() - t0

    store.start()
    batches0 = store.batches
    total = asyncio.run(run())
    batches = store.batches - batches0
    store.close()
    lat.sort()
    return {
        "calls_at_once": calls,
        "events": len(lat),
        "events_per_s": round(len(lat) / total, 1),
        "events_per_transaction": round(len(lat) / max(1, batches), 1),
        "persist_p50_ms": round(1000 * lat[len(lat) // 2], 3),
        "persist_p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 3),
    }


def _timed(fn: Any, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"calls": args.calls}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for mode in ("NORMAL", "FULL"):
            results[f"persist_{mode.lower()}"] = _persist_rate(d / f"{mode}.db", mode, args.calls)
            results[f"persist_{mode.lower()}_concurrent"] = _concurrent_rate(
                d / f"{mode}-concurrent.db", mode, min(args.calls, 50)
            )
        store = CallStore(d / "NORMAL.db")
        results["search_phrase_ms"] = _timed(lambda: store.search(q="speak to your manager"))
        # a phrase said in ONE call: what the full-text index is for
        assert [c["call_id"] for c in store.search(q="call-00042")] == ["call-00042"]
        results["search_rare_phrase_ms"] = _timed(lambda: store.search(q="call-00042"))
        results["search_filters_ms"] = _timed(
            lambda: store.search(agent="agent-3", max_sentiment=-0.5, alert="abuse")
        )
        results["list_100_ms"] = _timed(lambda: store.list_calls(limit=100))
        results["get_call_ms"] = _timed(lambda: store.get_call("call-00042"))
        call = store.get_call("call-00042")
        results["report_html_ms"] = _timed(lambda: render_html(build_report(call)))
        store.close()
    text = "my card is four five seven two three four five six seven eight nine zero one two three"
    results["redact_text_us"] = round(1000 * _timed(lambda: redact_text(text), 200), 1)
    plain = ev.FinalUtterance("c", "customer", 1, "I want to speak to your manager now", 0, 2)
    results["redact_clean_event_us"] = round(1000 * _timed(lambda: redact_event(plain), 200), 1)
    for k, v in results.items():
        print(f"{k:24s} {v}")
    update_results("store", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
