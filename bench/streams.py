"""What the ingest benches share: how N live streams are judged, and how N is searched.

``bench_ingest`` (Twilio) and ``bench_ingest_telephony`` (AudioHook, AudioSocket) differ in
how a client plays a call and which server takes it; the rest is here:

- ``Watch``, a bus sink that notes when each call started, how late its finals came and when
  it ended;
- ``run_clients``, the client process: started with the bench's own ``--worker`` arguments,
  told to go once it is ready, and read for what each stream reported (its wall-clock end,
  ``end_at``, and how far its sender fell behind, ``send_behind_s``);
- ``summary`` and ``held``: N streams are *held* when every call came, every final was
  published within the lag limit of its audio's end, and every call ended within it of its
  end of stream;
- ``largest_held``: N by doubling from 1, then bisection between the last held and the first
  not held.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.results import ROOT, percentile
from monitor import events as ev


@dataclass
class Watch:
    """Bus sink: per call, when it started (wall), how late its finals came, when it ended."""

    started: dict[str, float] = field(default_factory=dict)
    lags: dict[str, list[float]] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: ev.Event) -> None:
        now = time.time()
        if isinstance(event, ev.CallStarted):
            self.started[event.call_id] = now
            self.lags[event.call_id] = []
        elif isinstance(event, ev.FinalUtterance) and event.call_id in self.started:
            self.lags[event.call_id].append(now - self.started[event.call_id] - event.end)
        elif isinstance(event, ev.CallEnded):
            self.ended[event.call_id] = now


async def run_clients(module: str, worker_args: Sequence[str], seconds: float) -> list[dict]:
    """Start ``python -m module --worker *worker_args``, wait for its "ready", say go, and
    return what each of its streams reported (one JSON line)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--worker", *worker_args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if (await asyncio.wait_for(proc.stdout.readline(), 300)).strip() != b"ready":
            raise RuntimeError("the stream client process failed to start")
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), seconds * 20 + 120)
        played: list[dict] = json.loads(line)
        return played
    finally:
        await proc.wait()


def summary(watch: Watch, before: set[str], played: list[dict], n: int) -> dict[str, Any]:
    """One trial's figures: the calls that started since ``before``, their finals' lag, and how
    long after the last stream's end the last call ended."""
    calls = [c for c in watch.started if c not in before]
    lags = [lag for c in calls for lag in watch.lags[c]]
    end_at = max(p["end_at"] for p in played)
    end_lag = max((watch.ended.get(c, float("inf")) - end_at for c in calls), default=0.0)
    return {
        "streams": n,
        "calls": len(calls),
        "final_lag_p95_s": round(percentile(lags, 95), 2) if lags else None,
        "final_lag_max_s": round(max(lags), 2) if lags else None,
        "end_lag_s": round(end_lag, 2),
        "client_send_behind_s": round(max(p["send_behind_s"] for p in played), 3),
    }


def held(result: dict[str, Any], lag_s: float) -> bool:
    return (
        result["calls"] == result["streams"]
        and result["final_lag_max_s"] is not None
        and result["final_lag_max_s"] <= lag_s
        and result["end_lag_s"] <= lag_s
    )


async def largest_held(run: Callable[[int], Awaitable[bool]], max_streams: int) -> int:
    """The largest N (up to ``max_streams``) for which ``run(N)`` holds: doubling from 1, then
    bisection between the last N held and the first not held."""
    good, n = 0, 1
    while n <= max_streams and await run(n):
        good, n = n, n * 2
    bad = min(max_streams + 1, n)
    while bad - good > 1:
        mid = (good + bad) // 2
        if await run(mid):
            good = mid
        else:
            bad = mid
    return good
