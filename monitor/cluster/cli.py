"""``callmon ingest | worker | board``: the three roles of cluster mode (docs/scaling.md).

All three read the ``[cluster]`` section of ``--config`` (Redis URL, PostgreSQL DSN, lease
times); ``--redis`` and ``--postgres`` override it. Each prints one ``ready`` line when it
has started (scripts and tests wait for it) and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, cast

import redis.exceptions

from monitor import heap
from monitor.cluster.config import ClusterConfig
from monitor.config import ConfigError
from monitor.languages import LANGUAGE_CODES
from monitor.store.postgres import PgStoreError

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callmon", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, text in (
        ("ingest", "stream recordings into Redis as calls (an ingest node)"),
        ("worker", "take calls from Redis and run them through the pipeline"),
        ("board", "serve the board from the events stream"),
    ):
        p = sub.add_parser(role, help=text)
        p.add_argument("--config", type=Path, help="TOML file with a [cluster] section")
        p.add_argument("--redis", help="Redis URL (overrides [cluster] redis_url)")
        p.add_argument("--postgres", help="PostgreSQL DSN (overrides [cluster] postgres_dsn)")
        p.add_argument("-v", "--verbose", action="store_true")
        if role == "ingest":
            p.add_argument("files", nargs="+", type=Path, help="WAV/FLAC recordings")
            p.add_argument("--realtime", action="store_true", help="pace like live calls")
            p.add_argument("--agent", default="agent-1")
            p.add_argument("--queue", default="default")
            p.add_argument("--language", default="en", choices=LANGUAGE_CODES)
            p.add_argument("--stagger", type=float, default=0.0, help="seconds between calls")
        elif role == "worker":
            p.add_argument("--name", help="consumer name (default host-pid-random)")
            p.add_argument("--max-calls", type=int, default=4, help="calls at once (default 4)")
            p.add_argument("--engine", choices=["auto", "vosk", "whisper"])
        else:
            p.add_argument("--host")
            p.add_argument("--port", type=int)
            p.add_argument("--agents", default="agent-1,agent-2")
    return parser


def load(args: argparse.Namespace) -> ClusterConfig:
    cfg = ClusterConfig.load(args.config)
    changes = {k: v for k, v in (("redis_url", args.redis), ("postgres_dsn", args.postgres)) if v}
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def _ready(**fields: Any) -> None:
    print(json.dumps({"ready": True, **fields}), flush=True)


async def run_ingest(args: argparse.Namespace, cfg: ClusterConfig) -> int:
    from redis.asyncio import Redis

    from monitor.cluster.ingest import IngestNode

    r = Redis.from_url(cfg.redis_url)
    node = IngestNode(r, cfg)
    _ready(role="ingest")

    async def one(i: int, path: Path) -> dict[str, Any]:
        await asyncio.sleep(i * args.stagger)
        rep = await node.send_file(path, agent_id=args.agent, queue=args.queue,
                                   language=args.language, realtime=args.realtime)  # fmt: skip
        return dataclasses.asdict(rep)

    try:
        reports = await asyncio.gather(*(one(i, p) for i, p in enumerate(args.files)))
    finally:
        await r.aclose()
    for rep in reports:
        print(json.dumps({"sent": rep}), flush=True)
    return 0


async def run_worker(args: argparse.Namespace, cfg: ClusterConfig) -> int:
    from redis.asyncio import Redis

    from monitor.cluster.bus import WorkerBus
    from monitor.cluster.streams import Keys
    from monitor.cluster.worker import Worker
    from monitor.config import MonitorConfig
    from monitor.pipeline import Monitor
    from monitor.store.postgres import PgStore

    mcfg = MonitorConfig.load(args.config).with_(engine=args.engine)
    mcfg = dataclasses.replace(mcfg, store_path=None)  # the shared store is PostgreSQL
    r = Redis.from_url(cfg.redis_url)
    await cast(Awaitable[bool], r.ping())
    store = await PgStore.connect(cfg.postgres_dsn) if cfg.postgres_dsn else None
    bus = WorkerBus(r, Keys(cfg.prefix), store, cfg.events_maxlen)
    monitor = await Monitor.create(mcfg, bus)
    heap.freeze()  # the models' objects outlive every call (monitor/heap.py)
    worker = Worker(r, monitor, bus, cfg, name=args.name, max_calls=args.max_calls)
    stop = asyncio.Event()
    _on_signals(stop)
    task = asyncio.create_task(worker.run())
    _ready(role="worker", name=worker.name)
    await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED")
    worker.stop()
    await worker.hand_over()  # calls in flight move to another worker after the lease
    await task
    await monitor.aclose()
    if store is not None:
        await store.aclose()
    await r.aclose()
    print(json.dumps({"stats": worker.stats()}), flush=True)
    return 0


async def run_board(args: argparse.Namespace, cfg: ClusterConfig) -> int:
    from redis.asyncio import Redis

    from monitor.cluster.board import BoardBus, EventsReader
    from monitor.cluster.streams import Keys
    from monitor.server import MonitorServer, ServerConfig
    from monitor.store.postgres import PgStore

    scfg = ServerConfig.load(args.config)
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    scfg = dataclasses.replace(scfg, **changes)
    scfg = scfg.with_generated_tokens([a for a in args.agents.split(",") if a])
    r = Redis.from_url(cfg.redis_url)
    await cast(
        Awaitable[bool], r.ping()
    )  # a wrong URL fails here, not as a board that never shows a call
    store = await PgStore.connect(cfg.postgres_dsn) if cfg.postgres_dsn else None
    keys = Keys(cfg.prefix)
    bus = BoardBus(r, keys, store, cfg.events_maxlen)
    server = MonitorServer(bus, scfg)
    await server.start()
    reader = EventsReader(r, keys, bus)
    task = asyncio.create_task(reader.run())
    stop = asyncio.Event()
    _on_signals(stop)
    _ready(role="board", port=server.port, urls=server.urls())
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await server.stop()
    if store is not None:
        await store.aclose()
    await r.aclose()
    print(json.dumps({"stats": reader.stats()}), flush=True)
    return 0


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = load(args)
        runner = {"ingest": run_ingest, "worker": run_worker, "board": run_board}[args.role]
        return asyncio.run(runner(args, cfg))
    except ConfigError as exc:
        print(f"callmon {args.role}: {exc}", file=sys.stderr)
        return 2
    except redis.exceptions.ConnectionError as exc:
        print(f"callmon {args.role}: cannot reach Redis ({exc}); check [cluster] redis_url",
              file=sys.stderr)  # fmt: skip
        return 1
    except PgStoreError as exc:
        print(f"callmon {args.role}: {exc}; check [cluster] postgres_dsn", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
