"""Soak: a long run of many short calls through the whole runtime, watching memory and rate.

    python -m bench.bench_soak                 # 20 minutes at 3x the demo's load
    python -m bench.bench_soak --minutes 60 --load 1
    python -m bench.bench_soak --no-freeze     # the same with the heap left to the collector

The demo's load is its 7 sample calls at once, in real time. Here ``--load`` times that many
calls run at once (21 by default), each a short clip (``--clip-s``, 30 s) cut from the sample
calls, in real time; as soon as one ends the next starts, so a 20-minute run is several
hundred calls. They go through the real runtime (monitor/runtime.py): Whisper, the text
classifier, the playbook, the SQLite store (in a temporary folder), the server with one board
client reading every message.

Every ``--sample-s`` seconds it prints and records the process's resident memory (RSS), the
events published per second, calls done and in flight, and the sizes of the structures that
must stay bounded (Monitor.calls, Monitor.recent, the scorer's history). Issue #11 defect 8:
``Monitor.calls`` and ``ScoringService.batch_sizes`` used to grow with every call.

Writes the ``soak`` section of bench/results.json: RSS at the start (after the first calls
ended, one per slot: models, caches and pools warm) and at the end, its slope over the rest of
the run, events/s in the first and last quarter of it, every garbage collection by generation
(``gc_pauses``), and the whole series. The runtime freezes the models' objects out of the
collector's walks (monitor/heap.py); ``--no-freeze`` leaves them in, to measure what the freeze
costs in memory, and is saved as ``soak_without_freeze`` beside ``soak``. Give it time: the
first minutes are warm-up, and on a busy machine the calls run slower than real time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import soundfile as sf

from bench.gcwatch import GcWatch
from bench.results import ROOT, update_results

DEMO_CALLS = 7  # `callmon demo` runs the 7 sample calls at once
TOKEN = "bench-soak-supervisor-token"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Resident memory of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        resident = int(f.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_clips(dest: Path, clip_s: float) -> list[Path]:
    """Short calls: consecutive ``clip_s`` pieces of every sample call (both parties)."""
    from monitor.samples import render_all

    clips: list[Path] = []
    for call in render_all(ROOT / "samples" / "audio", progress=say):
        data, rate = sf.read(call.wav_path, dtype="float32", always_2d=True)
        step = int(clip_s * rate)
        for i, start in enumerate(range(0, len(data) - step // 2, step)):
            path = dest / f"{call.name}-{i}.wav"
            sf.write(path, data[start : start + step], rate, subtype="PCM_16")
            clips.append(path)
    return clips


async def board_client(url: str, counter: dict[str, int]) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        async for _ in ws:
            counter["messages"] += 1


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    concurrent = max(1, round(DEMO_CALLS * args.load))
    duration = args.minutes * 60
    tmp = Path(tempfile.mkdtemp(prefix="callmon-soak-"))
    try:
        return await _soak(args, tmp, concurrent, duration)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the clips, the store and its recordings


async def _soak(
    args: argparse.Namespace, tmp: Path, concurrent: int, duration: float
) -> dict[str, Any]:
    from monitor.config import MonitorConfig
    from monitor.pipeline import CallMeta
    from monitor.runtime import Runtime, RuntimeConfig
    from monitor.server import ServerConfig
    from monitor.sources import FileSource

    clips = make_clips(tmp, args.clip_s)
    say(
        f"{len(clips)} clips of {args.clip_s:g} s;"
        f" {concurrent} calls at once for {args.minutes:g} min"
    )
    config = RuntimeConfig(
        monitor=MonitorConfig(store_path=tmp / "soak.db"),
        server=ServerConfig(port=0, tokens={TOKEN: "supervisor"}),
        freeze_heap=not args.no_freeze,
    )
    series: list[dict[str, Any]] = []
    collections = GcWatch()  # every collection's pause, by generation, while the calls run
    done = {"calls": 0, "failed": 0}
    board = {"messages": 0}

    async def work(rt: Runtime) -> int:
        monitor = rt.monitor
        assert monitor is not None and rt.server is not None
        scoring: Any = monitor.scoring
        ws_url = f"ws://127.0.0.1:{rt.server.port}/ws?token={TOKEN}"
        client = asyncio.create_task(board_client(ws_url, board))
        order = itertools.count()
        started = time.monotonic()
        deadline = started + duration

        async def slot(i: int) -> None:
            await asyncio.sleep(i * args.clip_s / concurrent)  # calls end at different times
            while time.monotonic() < deadline:
                n = next(order)
                clip = clips[n % len(clips)]
                meta = CallMeta(f"soak-{n}", agent_id=f"agent-{i % DEMO_CALLS}")
                summary = await monitor.run_call(FileSource(clip, realtime=True), meta)
                done["calls"] += 1
                done["failed"] += summary.ended != "completed"

        async def sampler() -> None:
            last_t, last_events = time.monotonic(), rt.bus.published
            while True:
                await asyncio.sleep(args.sample_s)
                now, events = time.monotonic(), rt.bus.published
                point = {
                    "t_s": round(now - started, 1),
                    "rss_mb": round(rss_mb(), 1),
                    "events_per_s": round((events - last_events) / (now - last_t), 1),
                    "calls_done": done["calls"],
                    "calls_live": len(monitor.calls),
                    "recent_kept": len(monitor.recent),
                    "scorer_history": len(scoring.batch_sizes),
                    "board_messages": board["messages"],
                }
                series.append(point)
                last_t, last_events = now, events
                mins, secs = divmod(int(point["t_s"]), 60)
                say(
                    f"[{mins:3d}:{secs:02d} / {args.minutes:g} min] rss {point['rss_mb']:7.1f} MB"
                    f"  {point['events_per_s']:6.1f} events/s  {done['calls']:5d} calls done"
                    f"  {point['calls_live']:3d} live  board {board['messages']} msgs"
                )

        async def closer() -> None:
            # after the deadline no call starts; those in flight get 2 clips' time to end
            await asyncio.sleep(max(0.0, deadline - time.monotonic()) + 2 * args.clip_s)
            if monitor.calls:
                say(f"interrupting {len(monitor.calls)} call(s) still running after the run")
                monitor.interrupt_calls()

        watch = asyncio.create_task(sampler())
        close = asyncio.create_task(closer())
        try:
            # the calls' collections only: not the models' loading, the freeze or the shutdown
            with collections:
                async with asyncio.TaskGroup() as tg:
                    for i in range(concurrent):
                        tg.create_task(slot(i))
        finally:
            for task in (watch, close, client):
                task.cancel()
        return 0

    say("loading the models and starting the runtime")
    code = await Runtime(config, progress=say).run(work)
    if code != 0:
        raise SystemExit(code)
    result = summarise(series, args, concurrent, done)
    result["heap_frozen"] = not args.no_freeze
    result["gc_pauses"] = collections.figures()
    return result


def summarise(
    series: list[dict[str, Any]], args: argparse.Namespace, concurrent: int, done: dict[str, int]
) -> dict[str, Any]:
    # "start": once as many calls have ended as run at once (every slot has been through a
    # whole call: models, caches, thread pools and the store are warm)
    warm = [p for p in series if p["calls_done"] >= concurrent] or series
    quarter = max(1, len(warm) // 4)

    def slope(points: list[dict[str, Any]]) -> float:
        """RSS growth (MB per hour) fitted over ``points``; 0 with too few of them."""
        if len(points) < 3:
            return 0.0
        t = [p["t_s"] / 3600 for p in points]
        return round(statistics.linear_regression(t, [p["rss_mb"] for p in points]).slope, 1)

    return {
        "minutes": args.minutes,
        "load": f"{args.load:g}x the demo's ({concurrent} real-time calls at once, "
        f"{args.clip_s:g} s clips of the sample calls)",
        "concurrent_calls": concurrent,
        "calls_completed": done["calls"] - done["failed"],
        "calls_not_completed": done["failed"],
        "rss_mb_start": warm[0]["rss_mb"],
        "rss_mb_end": warm[-1]["rss_mb"],
        "rss_mb_max": max(p["rss_mb"] for p in warm),
        "rss_slope_mb_per_hour": slope(warm),
        # allocator arenas and model caches settle during the first half: the second half
        # says whether memory keeps growing
        "rss_slope_mb_per_hour_second_half": slope(warm[len(warm) // 2 :]),
        "events_per_s_first_quarter": round(
            statistics.fmean(p["events_per_s"] for p in warm[:quarter]), 1
        ),
        "events_per_s_last_quarter": round(
            statistics.fmean(p["events_per_s"] for p in warm[-quarter:]), 1
        ),
        "recent_kept_end": warm[-1]["recent_kept"],
        "scorer_history_end": warm[-1]["scorer_history"],
        "series": series,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_soak", description=__doc__)
    p.add_argument("--minutes", type=float, default=20.0, help="how long (default 20)")
    p.add_argument("--load", type=float, default=3.0, help="times the demo's 7 calls (default 3)")
    p.add_argument("--clip-s", type=float, default=30.0, help="length of each call (default 30)")
    p.add_argument("--sample-s", type=float, default=10.0, help="sampling period (default 10)")
    p.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the models' objects under the garbage collector (the runtime freezes them);"
        " saved as soak_without_freeze, beside soak",
    )
    p.add_argument("--no-save", action="store_true", help="print only, leave results.json")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = asyncio.run(soak(args))
    brief = {k: v for k, v in result.items() if k != "series"}
    for k, v in brief.items():
        print(f"{k:28s} {v}")
    if not args.no_save:
        update_results("soak_without_freeze" if args.no_freeze else "soak", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
