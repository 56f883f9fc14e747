"""Genesys AudioHook and Asterisk AudioSocket: live streams one process holds in real time.

    python -m bench.bench_ingest_telephony                     # both; writes ingest.audiohook
                                                               #   and ingest.audiosocket
    python -m bench.bench_ingest_telephony --protocol audiosocket --seconds 10 --no-write

The same method as ``bench/bench_ingest.py`` (Twilio): for N streams at once, a client
process plays a bundled sample call in real time the way the platform sends it, into the real
server and pipeline; N is *held* when every final utterance is published within ``--lag-s``
of the moment its audio ended, and every call has ended within ``--lag-s`` of its end of
stream. N is searched by doubling from 1, then bisection.

- AudioHook: one websocket per call, signed upgrade (RFC 9421), ``open``, stereo L16 frames
  of 100 ms (as Genesys sends them), a ``ping`` every 5 s, ``close``.
- AudioSocket: two TCP connections per call (customer leg ``...0``, agent leg ``...1``),
  UUID frame, 20 ms slin frames, hang-up.

The results are merged into the ``ingest`` section of bench/results.json next to Twilio's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bench.results import BENCH_FILE, ROOT, update_results
from bench.streams import Watch, held, largest_held, run_clients, summary
from monitor.bus import EventBus

API_KEY = "bench-audiohook-api-key-0001"
SECRET = b"bench shared client secret 32 by"
ORG = "d7934305-0972-4844-938e-9060eef73d05"
SIGNED = ("@request-target", "@authority", "audiohook-organization-id",
          "audiohook-session-id", "audiohook-correlation-id", "x-api-key")  # fmt: skip


def phone_pcm(wav: Path, seconds: float) -> np.ndarray:
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    down = resample_poly(data[: int(seconds * rate)], 8000, rate, axis=0)
    return (np.clip(down, -1, 1) * 32767).astype("<i2")


# ---- clients (their own process) ---------------------------------------------------------------


def _signed(host: str, path: str, session: str) -> dict[str, str]:
    h = {"Audiohook-Organization-Id": ORG, "Audiohook-Correlation-Id": str(uuid.uuid4()),
         "Audiohook-Session-Id": session, "X-API-KEY": API_KEY}  # fmt: skip
    values = {"@request-target": path, "@authority": host, **{k.lower(): v for k, v in h.items()}}
    params = (
        "(" + " ".join(f'"{c}"' for c in SIGNED) + f");created={int(time.time())}"
        f';keyid="{API_KEY}";nonce="{secrets.token_urlsafe(24)}";alg="hmac-sha256"'
    )
    base = "".join(f'"{c}": {values[c]}\n' for c in SIGNED) + f'"@signature-params": {params}'
    mac = hmac.new(SECRET, base.encode(), hashlib.sha256).digest()
    return h | {"Signature-Input": f"sig1={params}",
                "Signature": f"sig1=:{base64.b64encode(mac).decode()}:"}  # fmt: skip


async def _play_audiohook(target: str, pcm: np.ndarray) -> dict[str, float]:
    from websockets.asyncio.client import connect

    host, path = target.split("/", 1)
    sid = str(uuid.uuid4())
    seq, behind, sent = 0, 0.0, 0

    def msg(type_: str, **params: Any) -> str:
        nonlocal seq
        seq += 1
        return json.dumps({"version": "2", "id": sid, "type": type_, "seq": seq,
                           "serverseq": seq - 1 if seq > 1 else 0,
                           "position": f"PT{sent / 8000:.3f}S", "parameters": params})  # fmt: skip

    # serverseq: the server answers open and every ping, one message each, in order
    async with connect(f"ws://{target}", additional_headers=_signed(host, "/" + path, sid)) as ws:
        await ws.send(msg("open", organizationId=ORG, conversationId=str(uuid.uuid4()),
                          participant={"id": "p", "ani": "tel:+15550100", "aniName": "",
                                       "dnis": ""},
                          media=[{"type": "audio", "format": "L16", "rate": 8000,
                                  "channels": ["external", "internal"]}]))  # fmt: skip
        await ws.recv()
        t0 = time.perf_counter()
        for i in range(0, len(pcm), 800):
            delay = t0 + i / 8000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = max(behind, -delay)
            await ws.send(pcm[i : i + 800].tobytes())
            sent += len(pcm[i : i + 800])
            if i and i % 40_000 == 0:  # a ping every 5 s
                await ws.send(msg("ping"))
                await ws.recv()
        await ws.send(msg("close", reason="end"))
        end_at = time.time()
        await asyncio.wait_for(ws.recv(), 600)  # closed
    return {"end_at": end_at, "send_behind_s": behind}


async def _play_audiosocket(target: str, pcm: np.ndarray) -> dict[str, float]:
    host, port = target.rsplit(":", 1)
    base = str(uuid.uuid4())[:-1]
    legs = [await asyncio.open_connection(host, int(port)) for _ in range(2)]
    for (_, w), digit in zip(legs, "01", strict=True):
        w.write(b"\x01\x00\x10" + uuid.UUID(base + digit).bytes)
    behind = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(pcm), 160):
        delay = t0 + i / 8000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            behind = max(behind, -delay)
        for col, (_, w) in enumerate(legs):
            payload = np.ascontiguousarray(pcm[i : i + 160, col]).tobytes()
            w.write(b"\x10" + len(payload).to_bytes(2, "big") + payload)
    for _, w in legs:
        w.write(b"\x00\x00\x00")
        await w.drain()
    end_at = time.time()
    for r, w in legs:
        await r.read()
        w.close()
    return {"end_at": end_at, "send_behind_s": behind}


async def _clients_worker(protocol: str, target: str, wav: str, seconds: float, n: int) -> None:
    pcm = phone_pcm(Path(wav), seconds)
    play = _play_audiohook if protocol == "audiohook" else _play_audiosocket
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # go
    results = await asyncio.gather(*(play(target, pcm) for _ in range(n)))
    print(json.dumps(results), flush=True)


# ---- the server side ---------------------------------------------------------------------------


async def _serve(protocol: str, monitor: Any, n: int) -> tuple[str, Any]:
    """A fresh ingest for one trial: (the clients' target, an object with aclose())."""
    if protocol == "audiosocket":
        from monitor.ingest.audiosocket_server import AudioSocketConfig, AudioSocketIngest

        sock = AudioSocketIngest(
            monitor, AudioSocketConfig(enabled=True, port=0, max_calls=n, idle_timeout_s=60.0)
        )
        await sock.start()
        return f"127.0.0.1:{sock.port}", sock
    from monitor.ingest.audiohook_ws import AUDIOHOOK_PATH, AudioHookConfig, AudioHookIngest
    from monitor.server import MonitorServer, ServerConfig

    hook = AudioHookIngest(monitor, AudioHookConfig(
        api_key=API_KEY, client_secret=base64.b64encode(SECRET).decode(), max_calls=n,
        open_timeout_s=60.0, idle_timeout_s=60.0))  # fmt: skip
    server = MonitorServer(monitor.bus, ServerConfig(port=0, max_connections=n + 10),
                           ws_routes={AUDIOHOOK_PATH: hook.handle})  # fmt: skip
    await server.start()

    class _Both:
        async def aclose(self, timeout: float) -> None:
            await hook.aclose(timeout=timeout)
            await server.stop(timeout=2.0)

    return f"127.0.0.1:{server.port}{AUDIOHOOK_PATH}", _Both()


async def trial(
    protocol: str, monitor: Any, watch: Watch, wav: Path, seconds: float, n: int
) -> dict[str, Any]:
    target, ingest = await _serve(protocol, monitor, n)
    before = set(watch.started)
    worker = (protocol, target, str(wav), str(seconds), str(n))
    try:
        played = await run_clients("bench.bench_ingest_telephony", worker, seconds)
    finally:
        await ingest.aclose(timeout=5.0)
    return summary(watch, before, played, n)


async def max_concurrent_streams(args: argparse.Namespace, protocol: str) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.pipeline import Monitor
    from monitor.samples import render_all

    wav = {c.name: c for c in render_all(ROOT / "samples" / "audio")}[args.sample].wav_path
    bus = EventBus()
    watch = Watch()
    bus.add_sink(watch)
    monitor = await Monitor.create(None, bus)
    trials: list[dict[str, Any]] = []
    try:

        async def run(n: int) -> bool:
            result = await trial(protocol, monitor, watch, wav, args.seconds, n)
            result["held"] = held(result, args.lag_s)
            trials.append(result)
            print(protocol, json.dumps(result), flush=True)
            return bool(result["held"])

        good = await largest_held(run, args.max_streams)
    finally:
        await monitor.aclose()
    return {
        "max_concurrent_streams": good,
        "capped": good == args.max_streams,
        "call": args.sample,
        "seconds": args.seconds,
        "lag_limit_s": args.lag_s,
        "engine": monitor.engine.name,
        "trials": trials,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ingest_telephony", description=__doc__)
    p.add_argument("--protocol", choices=("audiohook", "audiosocket", "all"), default="all")
    p.add_argument("--sample", default="legal_threat")
    p.add_argument("--seconds", type=float, default=20.0, help="of the call each stream plays")
    p.add_argument("--max-streams", type=int, default=32)
    p.add_argument("--lag-s", type=float, default=5.0, help="the most a final may come late")
    p.add_argument("--no-write", action="store_true", help="print, don't write results.json")
    p.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        protocol, target, wav, seconds, n = args.worker
        asyncio.run(_clients_worker(protocol, target, wav, float(seconds), int(n)))
        return 0
    protocols = ("audiohook", "audiosocket") if args.protocol == "all" else (args.protocol,)
    results = {p_: asyncio.run(max_concurrent_streams(args, p_)) for p_ in protocols}
    print(json.dumps(results, indent=2))
    if not args.no_write:
        current = json.loads(BENCH_FILE.read_text()) if BENCH_FILE.exists() else {}
        update_results("ingest", {**current.get("ingest", {}), **results})  # keeps twilio's
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
