"""Telephony ingest: how many live streams one process holds in real time, with the pipeline.

    python -m bench.bench_ingest                       # writes the "ingest" section
    python -m bench.bench_ingest --seconds 20 --max-streams 16 --no-write

For N streams at once, a client process (so the clients do not share the server's event loop)
plays a bundled sample call as Twilio Media Streams send it: 8 kHz µ-law per track, one JSON
message per track per 20 ms, paced by the wall clock, `start` ... `stop`. The server is the
real one (MonitorServer + TwilioIngest) over a real Monitor (ASR, text classifier, playbook).

N streams are *held in real time* when every call's final utterances are published within
``--lag-s`` of the moment their audio ended (wall time since the stream started minus the
utterance's end in call time), and every call has ended within ``--lag-s`` of its ``stop``.
Kernel socket buffers hide a server that reads late, but not a transcript that comes late.
N is searched by doubling from 1, then bisection; the result is the largest N held.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bench.results import ROOT, update_results
from bench.streams import Watch, held, largest_held, run_clients, summary
from monitor.bus import EventBus

INGEST = "bench-ingest-token-0123456789"
PACKET = 160  # 20 ms of 8 kHz µ-law


# ---- the client side (its own process) ------------------------------------------------------


def mulaw_track(samples: np.ndarray) -> bytes:
    """float mono at 8 kHz -> G.711 µ-law bytes (libsndfile's codec)."""
    buf = io.BytesIO()
    sf.write(buf, samples.astype(np.float32), 8000, format="RAW", subtype="ULAW")
    return buf.getvalue()


def twilio_messages(wav: Path, seconds: float, stream: int) -> list[dict[str, Any]]:
    """start, media (both tracks, numbered as Twilio numbers them), stop."""
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    phone = np.clip(resample_poly(data[: int(seconds * rate)], 8000, rate, axis=0), -1, 1)
    tracks = [mulaw_track(phone[:, 0]), mulaw_track(phone[:, 1])]
    sid = f"MZbench{stream:04d}"
    out: list[dict[str, Any]] = [
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "streamSid": sid,
                "callSid": f"CAbench{stream:04d}",
                "accountSid": "AC" + "0" * 32,
                "tracks": ["inbound", "outbound"],
                "customParameters": {"token": INGEST, "agent_id": f"agent-{stream}"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    ]
    for off in range(0, len(phone), PACKET):
        for track, data_ in zip(("inbound", "outbound"), tracks, strict=True):
            payload = base64.b64encode(data_[off : off + PACKET]).decode()
            media = {"track": track, "timestamp": str(off // 8), "payload": payload}
            out.append({"event": "media", "streamSid": sid, "media": media})
    out.append({"event": "stop", "streamSid": sid, "stop": {}})
    for i, m in enumerate(out[1:], 2):
        m["sequenceNumber"] = str(i)
    return out


async def _play(url: str, messages: list[dict[str, Any]]) -> dict[str, float]:
    from websockets.asyncio.client import connect

    texts = [json.dumps(m) for m in messages]
    behind = 0.0
    async with connect(url) as ws:
        t0 = time.perf_counter()
        await ws.send(texts[0])
        for i, text in enumerate(texts[1:-1]):
            due = t0 + (i // 2) * 0.02  # two tracks per 20 ms
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = max(behind, -delay)
            await ws.send(text)
        await ws.send(texts[-1])
        end_at = time.time()
        with contextlib.suppress(TimeoutError):  # the server closes 1000 after the flush
            await asyncio.wait_for(ws.wait_closed(), 600)
    return {"end_at": end_at, "send_behind_s": behind}


async def _clients_worker(url: str, wav: str, seconds: float, n: int) -> None:
    streams = [twilio_messages(Path(wav), seconds, i) for i in range(n)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # go
    results = await asyncio.gather(*(_play(url, s) for s in streams))
    print(json.dumps(results), flush=True)


# ---- the server side ------------------------------------------------------------------------


async def trial(monitor: Any, watch: Watch, wav: Path, seconds: float, n: int) -> dict[str, Any]:
    """N streams at once through a fresh server on the shared Monitor."""
    from monitor.ingest import TWILIO_PATH, CallDefaults, TwilioConfig, TwilioIngest
    from monitor.server import MonitorServer, ServerConfig

    cfg = ServerConfig(port=0, tokens={INGEST: "ingest"}, max_connections=n + 10)
    ingest = TwilioIngest(
        monitor,
        cfg.role_of,
        defaults=CallDefaults(),
        config=TwilioConfig(max_calls=n, start_timeout_s=60.0, idle_timeout_s=60.0),
    )
    server = MonitorServer(monitor.bus, cfg, ws_routes={TWILIO_PATH: ingest})
    await server.start()
    url = f"ws://127.0.0.1:{server.port}{TWILIO_PATH}"
    before = set(watch.started)
    try:
        played = await run_clients(
            "bench.bench_ingest", (url, str(wav), str(seconds), str(n)), seconds
        )
    finally:
        await ingest.aclose(timeout=5.0)
        await server.stop(timeout=2.0)
    return summary(watch, before, played, n)


async def max_concurrent_streams(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.pipeline import Monitor
    from monitor.samples import render_all

    calls = {c.name: c for c in render_all(ROOT / "samples" / "audio")}
    wav = calls[args.sample].wav_path
    bus = EventBus()
    watch = Watch()
    bus.add_sink(watch)
    monitor = await Monitor.create(None, bus)
    trials: list[dict[str, Any]] = []
    try:

        async def run(n: int) -> bool:
            result = await trial(monitor, watch, wav, args.seconds, n)
            result["held"] = held(result, args.lag_s)
            trials.append(result)
            print(json.dumps(result), flush=True)
            return bool(result["held"])

        good = await largest_held(run, args.max_streams)
    finally:
        await monitor.aclose()
    return {
        "twilio": {
            "max_concurrent_streams": good,
            "capped": good == args.max_streams,
            "call": args.sample,
            "seconds": args.seconds,
            "lag_limit_s": args.lag_s,
            "engine": monitor.engine.name,
            "trials": trials,
        }
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ingest", description=__doc__)
    p.add_argument("--sample", default="legal_threat")
    p.add_argument("--seconds", type=float, default=20.0, help="of the call each stream plays")
    p.add_argument("--max-streams", type=int, default=32)
    p.add_argument("--lag-s", type=float, default=5.0, help="the most a final may come late")
    p.add_argument("--no-write", action="store_true", help="print, don't write results.json")
    p.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        url, wav, seconds, n = args.worker
        asyncio.run(_clients_worker(url, wav, float(seconds), int(n)))
        return 0
    result = asyncio.run(max_concurrent_streams(args))
    print(json.dumps(result, indent=2))
    if not args.no_write:
        update_results("ingest", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
