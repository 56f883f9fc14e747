"""Board figures: how long an utterance's score takes to reach a supervisor's board, and how
many events a second the server fans out to many board clients.

    python -m bench.bench_board              # prints the figures, writes the "board" section
    python -m bench.bench_board --clients 200 --events 500

latency: a real sample call replayed in real time (as live; ``--fast``: as fast as possible)
through the real pipeline (ASR, text classifier, playbook) with one board client connected;
for every utterance, from the moment its final text is published on the bus to the moment its
score arrives on the board client (same process, same clock); ``latency_delivery_*`` is the
server's share: from the score's publication on the bus to the board client.

fan-out: N board clients in a separate process (so they don't share the server's event
loop); E transcript events published as fast as the server takes them; the figure is
E / (time until the slowest client has received the last one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from websockets.asyncio.client import connect

from bench.results import ROOT, percentile, update_results
from monitor import events as ev
from monitor.bus import EventBus
from monitor.server import MonitorServer, ServerConfig

SUP = "bench-board-token-0123456789"


async def measure_latency(sample: str, realtime: bool) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.pipeline import CallMeta, Monitor
    from monitor.samples import render_all
    from monitor.scoring.classifier import ModelNotFoundError
    from monitor.sources import FileSource

    calls = {c.name: c for c in render_all(ROOT / "samples" / "audio")}
    call = calls[sample]
    bus = EventBus()
    published: dict[tuple[str, int], float] = {}
    scored: dict[tuple[str, int], float] = {}

    def stamp(event: ev.Event) -> None:  # a sink runs at publish time, before any subscriber
        if isinstance(event, ev.FinalUtterance):
            published[(event.call_id, event.seq)] = time.perf_counter()
        elif isinstance(event, ev.UtteranceScore):
            scored[(event.call_id, event.seq)] = time.perf_counter()

    bus.add_sink(stamp)
    try:
        monitor = await Monitor.create(None, bus)
    except ModelNotFoundError as exc:
        return {"latency_skipped": f"text classifier missing: {exc}"}
    server = MonitorServer(bus, ServerConfig(port=0, tokens={SUP: "supervisor"}))
    await server.start()
    latencies: list[float] = []
    delivery: list[float] = []  # score published on the bus -> on the board client
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/ws?token={SUP}", max_size=None) as ws:
            await ws.recv()  # snapshot

            async def read() -> None:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg["type"] == "utterance_score":
                        now = time.perf_counter()
                        key = (msg["call_id"], msg["seq"])
                        if key in published:
                            latencies.append((now - published[key]) * 1000)
                        if key in scored:
                            delivery.append((now - scored[key]) * 1000)
                    elif msg["type"] == "call_ended":
                        return

            reader = asyncio.create_task(read())
            meta = CallMeta(name=call.name, agent_id=call.agent_id)
            await monitor.run_call(FileSource(call.wav_path, realtime=realtime), meta)
            await asyncio.wait_for(reader, 30)
    finally:
        await server.stop()
        await monitor.aclose()
    return {
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
        "latency_utterances": len(latencies),
        "latency_delivery_p50_ms": round(statistics.median(delivery), 2),
        "latency_delivery_p95_ms": round(percentile(delivery, 95), 2),
        "latency_call": sample,
        "latency_replay": "realtime" if realtime else "as fast as possible",
        "latency_engine": monitor.engine.name,
    }


# ---- fan-out: the client side runs in its own process ---------------------------------------


async def _clients_worker(url: str, n: int, events: int) -> None:
    conns = await asyncio.gather(*(connect(url, max_size=None) for _ in range(n)))
    for ws in conns:
        await ws.recv()  # snapshot
    print("ready", flush=True)

    async def count(ws: Any) -> tuple[int, float]:
        got = 0
        async for raw in ws:
            if '"type":"final"' in raw:
                got += 1
                if got == events:
                    return got, time.time()
        return got, time.time()

    results = await asyncio.gather(*(count(ws) for ws in conns))
    print(json.dumps({"received": [r[0] for r in results], "done": max(r[1] for r in results)}))
    await asyncio.gather(*(ws.close() for ws in conns))


async def measure_fanout(clients: int, events: int) -> dict[str, Any]:
    bus = EventBus()
    config = ServerConfig(
        port=0, tokens={SUP: "supervisor"}, max_connections=clients + 10, outbox_size=4096
    )
    server = MonitorServer(bus, config)
    await server.start()
    url = f"ws://127.0.0.1:{server.port}/ws?token={SUP}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_board",
        "--worker",
        url,
        str(clients),
        str(events),
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise RuntimeError(f"client worker failed to start: {line!r}")
        await bus.publish(ev.CallStarted("fan", "fan-out", "a1"))
        text = "the customer says something about the invoice again"
        t0 = time.time()
        for i in range(events):
            await bus.publish(ev.FinalUtterance("fan", "customer", i, text, i, i + 1.0))
            await asyncio.sleep(0)  # a pipeline yields between events
        publish_s = time.time() - t0
        out = json.loads(await asyncio.wait_for(proc.stdout.readline(), 300))
        stats = server.stats()
    finally:
        await proc.wait()
        await server.stop()
    elapsed = out["done"] - t0
    return {
        "fanout_clients": clients,
        "fanout_events": events,
        "fanout_events_per_s": round(events / elapsed, 1),
        "fanout_deliveries_per_s": round(events * clients / elapsed, 1),
        "fanout_all_received": all(r == events for r in out["received"]),
        "fanout_publish_s": round(publish_s, 3),
        "fanout_resyncs": stats["resyncs"],
        "fanout_outbox_high_water": stats["outbox_high_water"],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result.update(await measure_fanout(args.clients, args.events))
    print(json.dumps(result, indent=2), flush=True)
    if not args.no_latency:
        result.update(await measure_latency(args.sample, realtime=not args.fast))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_board", description=__doc__)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--events", type=int, default=500)
    p.add_argument("--sample", default="legal_threat")
    p.add_argument("--no-latency", action="store_true", help="fan-out only (no models)")
    p.add_argument(
        "--fast",
        action="store_true",
        help="replay the call as fast as possible (a burst: measures queueing, not live)",
    )
    p.add_argument("--no-write", action="store_true", help="print, don't write results.json")
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        url, n, e = args.worker
        asyncio.run(_clients_worker(url, int(n), int(e)))
        return 0
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    if not args.no_write:
        update_results("board", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
