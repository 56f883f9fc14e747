"""`callmon`: the command line.

callmon demo [--once] [--json] [--fast]   serve the board and replay the sample calls live
callmon replay FILE|DIR ...               run recordings through the pipeline, print/store
callmon serve                             the live server (board, agent panel, websockets)
callmon models list|fetch|train           speech and text models
callmon samples render                    render the bundled sample calls to WAV
callmon report CALL_ID                    a QA report of a stored call
callmon calls list|delete CALL_ID|audit   stored calls; erasure on request, its audit trail
callmon devices                           audio input devices (agent desktop mode)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import __version__, commands
from monitor.commands import say
from monitor.config import DEFAULT_STORE, REPO_ROOT, ConfigError, MonitorConfig
from monitor.ingest.settings import IngestConfigError
from monitor.languages import AUTO, LANGUAGE_CODES
from monitor.server.config import ConfigError as ServerConfigError
from monitor.server.config import ServerConfig
from monitor.sources.base import SourceError

if TYPE_CHECKING:
    from monitor.runtime import RuntimeConfig


# ---------------------------------------------------------------- config


def monitor_config(args: argparse.Namespace) -> MonitorConfig:
    """The loaded config, whole, with only what the command line overrides replaced."""
    cfg = MonitorConfig.load(getattr(args, "config", None), default_store=DEFAULT_STORE)
    cfg = cfg.with_(
        engine=getattr(args, "engine", None), vosk_model=getattr(args, "vosk_model", None)
    )
    if getattr(args, "store", None):
        cfg = dataclasses.replace(cfg, store_path=Path(args.store))
    if getattr(args, "no_store", False):
        cfg = dataclasses.replace(cfg, store_path=None)
    if getattr(args, "no_redact", False):
        cfg = dataclasses.replace(cfg, redact=False)
    return cfg


def server_config(args: argparse.Namespace) -> ServerConfig:
    cfg = ServerConfig.load(Path(args.config) if getattr(args, "config", None) else None)
    overrides = {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def runtime_config(
    args: argparse.Namespace, *, serve: bool, agents: Sequence[str] = ()
) -> RuntimeConfig:
    """What a command runs: the pipeline's config, the server's (when it serves), defaults
    for live calls from the ingests."""
    from monitor.ingest import CallDefaults
    from monitor.runtime import RuntimeConfig

    return RuntimeConfig(
        monitor=monitor_config(args),
        server=server_config(args) if serve else None,
        agent_ids=tuple(agents),
        call_defaults=CallDefaults(
            agent_id=getattr(args, "agent", None) or "agent-1",
            language=getattr(args, "language", None) or "en",
        ),
    )


# ---------------------------------------------------------------- small commands


def _models(args: argparse.Namespace, rest: list[str]) -> int:
    if args.action in ("list", "fetch"):
        from monitor.asr.models import models_main

        return models_main([args.action, *rest])
    from monitor.scoring.train import main as train_main

    return train_main(rest)


def _devices(_args: argparse.Namespace) -> int:
    from monitor.sources.mic import list_input_devices

    devices = list_input_devices()
    if not devices:
        say("no audio input devices found")
        return 1
    for d in devices:
        print(f"{d['index']:>3}  {d['name']}  ({d['channels']} ch)")
    return 0


def _add_common(p: argparse.ArgumentParser, server: bool = False) -> None:
    p.add_argument("--config", help="TOML config file (see README: Configuration)")
    p.add_argument("--engine", choices=["auto", "vosk", "whisper"], help="speech engine")
    p.add_argument("--vosk-model", help="path to an unpacked Vosk model folder")
    p.add_argument(
        "--store", help=f"SQLite store path (default {DEFAULT_STORE.relative_to(REPO_ROOT)})"
    )
    p.add_argument("--no-store", action="store_true", help="do not keep calls")
    p.add_argument(
        "--no-redact", action="store_true", help="keep card/phone numbers in transcripts"
    )
    if server:
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callmon", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"callmon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="serve the board and replay the sample calls as if live")
    _add_common(p, server=True)
    p.add_argument("--once", action="store_true", help="exit when the calls end, print a summary")
    p.add_argument("--json", action="store_true", help="with --once: the summary as JSON")
    p.add_argument("--fast", action="store_true", help="replay as fast as possible, not real time")
    p.add_argument("--calls", type=int, help="replay only the first N sample calls")
    p.add_argument("--no-server", action="store_true", help="no board, just the pipeline")

    p = sub.add_parser("replay", help="run recorded calls through the pipeline")
    _add_common(p)
    p.add_argument("files", nargs="+", help="WAV/FLAC files or folders of them")
    p.add_argument("--realtime", action="store_true", help="pace like a live call")
    p.add_argument("--customer-channel", type=int, default=0, help="customer's channel (default 0)")
    p.add_argument("--agent-channel", type=int, help="agent's channel (default: the other one)")
    p.add_argument(
        "--language",
        default="en",
        choices=(*LANGUAGE_CODES, AUTO),
        help="the call's language for speech, cues and cards (default en); auto: detect it "
        "from the customer's first seconds, among [asr] detect_languages",
    )
    p.add_argument("--agent", default="agent-1", help="agent id recorded with the call")
    p.add_argument("--jobs", "-j", type=int, default=2, help="calls processed at once (default 2)")
    p.add_argument("--json", action="store_true", help="print the per-call summaries as JSON")
    p.add_argument(
        "--every-partial",
        action="store_true",
        help="decode and score every partial transcript, waiting for each, as make eval does: "
        "the same recording gives the same early alerts every time (default: as a live call, "
        "partials only on a spare decoder)",
    )

    p = sub.add_parser("serve", help="run the live server (board, agent panel, websockets)")
    _add_common(p, server=True)
    p.add_argument("--replay", nargs="*", default=[], help="also replay these files live")
    p.add_argument(
        "--mic",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="agent desktop mode: a live call from this input (see `callmon devices`)",
    )
    p.add_argument(
        "--mic-channels",
        type=int,
        default=1,
        choices=[1, 2],
        help="1: the agent's voice only; 2: customer on 0, agent on 1",
    )
    p.add_argument("--agent", default="agent-1", help="agent id for --replay/--mic calls")
    p.add_argument(
        "--language",
        default="en",
        choices=(*LANGUAGE_CODES, AUTO),
        help="the call's language for speech, cues and cards (default en); auto: detect it "
        "from the customer's first seconds, among [asr] detect_languages",
    )

    p = sub.add_parser("models", help="speech and text models: list | fetch vosk-en | train")
    p.add_argument("action", choices=["list", "fetch", "train"])

    p = sub.add_parser("playbook", help="validate a playbook: playbook check [FILE]")
    p.add_argument("action", choices=["check"])

    p = sub.add_parser("samples", help="render the bundled sample calls: samples render")
    p.add_argument("action", choices=["render"])

    sub.add_parser("report", help="QA report of a stored call: report CALL_ID [--format ...]")
    sub.add_parser("calls", help="stored calls: calls list | delete CALL_ID | audit")

    sub.add_parser("devices", help="list audio input devices")
    # cluster mode (docs/scaling.md): each has its own parser, see `callmon worker --help`
    sub.add_parser("ingest", help="cluster: stream calls into Redis (an ingest node)")
    sub.add_parser("worker", help="cluster: take calls from Redis through the pipeline")
    sub.add_parser("board", help="cluster: serve the board from the Redis events stream")
    return parser


def _exit_after_signal(code: int) -> int:
    """After SIGINT/SIGTERM (code 130) the runtime has already shut down in order and
    closed the store. Exit at once: the interpreter's teardown of the loaded models takes
    seconds more, and a person (or a supervisor process) waiting on Ctrl-C should not."""
    if code > 128:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:  # its own parser, options and --help included
        from monitor.qa.report import report_main

        return report_main(argv[1:])
    if argv[:1] in (["ingest"], ["worker"], ["board"]):  # cluster mode: docs/scaling.md
        from monitor.cluster.cli import main as cluster_main

        return cluster_main(argv)
    if argv[:1] == ["calls"]:  # its own parser too: list, delete (erasure), audit
        from monitor.qa.calls_cmd import calls_main

        return calls_main(argv[1:])
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("models", "samples", "playbook"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        if args.command == "demo":
            calls = commands.sample_calls(args.fast)[: args.calls or None]
            agents = sorted({m.agent_id for _, m in calls})
            config = runtime_config(args, serve=not args.no_server, agents=agents)
            return _exit_after_signal(asyncio.run(commands.demo(args, config, calls)))
        if args.command == "replay":
            config = runtime_config(args, serve=False)
            return _exit_after_signal(asyncio.run(commands.replay(args, config)))
        if args.command == "serve":
            config = runtime_config(args, serve=True, agents=[args.agent])
            return _exit_after_signal(asyncio.run(commands.serve(args, config)))
        if args.command == "models":
            return _models(args, rest)
        if args.command == "playbook":
            from monitor.rules.__main__ import main as rules_main

            return rules_main(["check", *rest])
        if args.command == "samples":
            from monitor.samples import main as samples_main

            return int(samples_main(["render", *rest]))
        if args.command == "devices":
            return _devices(args)
    # OSError: e.g. the port is taken (the message names it and suggests --port 0)
    except (SourceError, ConfigError, ServerConfigError, IngestConfigError, OSError) as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
