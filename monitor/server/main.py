"""``serve_main``: run the server alone (an empty board fed by ``ingest`` clients), through the
same runtime as ``callmon serve`` (monitor/runtime.py) without the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from pathlib import Path
from typing import TextIO

from monitor.server.app import MonitorServer
from monitor.server.config import ConfigError, ServerConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callmon serve", description=__doc__)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8765; 0 = any free port)")
    p.add_argument("--config", type=Path, help="TOML file with [server] and [tokens]")
    p.add_argument(
        "--agents",
        default="agent-1,agent-2",
        help="comma-separated agent ids that get a generated token when the config has none",
    )
    return p


def load_config(args: argparse.Namespace) -> ServerConfig:
    config = ServerConfig.load(args.config)
    changes: dict[str, object] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    config = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    return config.with_generated_tokens(agents)


def print_urls(server: MonitorServer, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    for name, url in server.urls().items():
        print(f"  {name:<16} {url}", file=stream)


async def run_server(
    config: ServerConfig, out: TextIO | None = None, config_file: Path | None = None
) -> int:
    """Serve until SIGINT/SIGTERM through the one runtime (no pipeline: an empty board fed by
    ``ingest`` clients); returns the exit code (130 after Ctrl-C)."""
    from monitor.runtime import Runtime, RuntimeConfig

    async def announce(rt: Runtime) -> int:
        assert rt.server is not None
        stream = out or sys.stdout
        print(f"callmon server on port {rt.server.port}; open:", file=stream, flush=True)
        print_urls(rt.server, stream)
        stream.flush()
        await asyncio.Event().wait()  # until a signal: the runtime then stops the server
        return 0

    runtime = Runtime(RuntimeConfig(monitor=None, server=config, config_file=config_file))
    return await runtime.run(announce)


def serve_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"callmon serve: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run_server(config, config_file=args.config))
    except OSError as exc:
        print(f"callmon serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(serve_main(sys.argv[1:]))
