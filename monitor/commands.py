"""The work of the long-running commands, each run by the one runtime (monitor/runtime.py):
``demo`` (the sample calls as if live), ``replay`` (recordings), ``serve`` (until stopped),
and what they print. The command line (monitor/cli.py) parses the arguments, builds the
:class:`~monitor.runtime.RuntimeConfig` and calls one of these."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.sources.base import SourceError

if TYPE_CHECKING:
    from monitor.runtime import RuntimeConfig

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}


def say(msg: str) -> None:
    """Progress for people: always on stderr, so stdout stays clean for --json."""
    print(msg, file=sys.stderr, flush=True)


def print_urls(server: Any, with_qa: bool = False) -> None:
    say("")
    urls = dict(server.urls())
    if with_qa and "board" in urls:
        urls["QA page"] = urls["board"].replace("/?token=", "/qa.html?token=", 1)
    for label, url in urls.items():
        say(f"  {label:<22} {url}")
    say("")


# ---------------------------------------------------------------- demo


def sample_calls(fast: bool) -> list[tuple[Any, Any]]:
    from monitor.samples import demo_calls

    return demo_calls(realtime=not fast, progress=say)


def print_summary(summaries: Sequence[Any]) -> None:
    print(
        f"{'call':<22} {'utts':>4} {'alerts':>6} {'cards':>5} {'max risk':>8}  "
        f"{'level':<10} {'sentiment':<9} ended"
    )
    for s in summaries:
        d = s.to_dict()
        print(
            f"{d['name']:<22} {d['utterances']:>4} {d['alerts']:>6} {d['cards']:>5} "
            f"{d['max_risk']:>8.1f}  {d['final_level']:<10} {d['final_sentiment']:<9} "
            f"{d['ended']}{(': ' + d['error']) if d['error'] else ''}"
        )


async def demo(
    args: argparse.Namespace, config: RuntimeConfig, calls: list[tuple[Any, Any]]
) -> int:
    """Replay the sample calls as if live, round after round (or once), through the runtime."""
    from monitor.runtime import Runtime
    from monitor.samples import DEMO_STAGGER_S

    async def rounds(rt: Runtime) -> int:
        assert rt.monitor is not None
        if rt.server is not None:
            say("callmon demo: open the supervisor board and the agent panels:")
            print_urls(rt.server, with_qa=rt.store is not None)
        say(
            f"replaying {len(calls)} sample calls "
            + ("as fast as possible" if args.fast else "in real time")
            + ("" if args.once else " (looping; Ctrl-C to stop)")
        )
        batch = calls
        while True:
            summaries = await rt.monitor.run_calls(
                batch, stagger_s=0.0 if args.fast else DEMO_STAGGER_S
            )
            if rt.stopping:  # interrupted: the runtime says so with the exit code
                return 0
            if args.once and args.json:
                print(json.dumps([s.to_dict() for s in summaries], indent=2))
            else:
                print_summary(summaries)
            if args.once:
                return 0
            say("round finished; replaying again in 5 s")
            await asyncio.sleep(5)
            batch = sample_calls(args.fast)[: args.calls or None]

    return await Runtime(config, progress=say).run(rounds)


# ---------------------------------------------------------------- replay


def collect_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise SourceError(f"{p}: no audio files (.wav, .flac, .ogg, .mp3) in this folder")
            files.extend(found)
        else:
            files.append(p)
    return files


class ReplayProgress:
    """A one-line progress bar on stderr for batch replays."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.tty = sys.stderr.isatty()

    def step(self, name: str, ok: bool) -> None:
        self.done += 1
        self.failed += not ok
        width = 30
        filled = int(width * self.done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
            f"{f' ({self.failed} failed)' if self.failed else ''} {name}"
        )
        print(
            ("\r" + line + "\033[K") if self.tty else line,
            file=sys.stderr,
            end="" if self.tty else "\n",
            flush=True,
        )
        if self.tty and self.done == self.total:
            print(file=sys.stderr)


async def replay(args: argparse.Namespace, config: RuntimeConfig) -> int:
    """Recordings through the pipeline: a live transcript for one, a progress bar for many."""
    from monitor.console import ConsolePrinter
    from monitor.pipeline import CallMeta, CallSummary, MonitorStoppingError
    from monitor.runtime import Runtime
    from monitor.sources import FileSource

    if args.every_partial and args.realtime:
        say("error: --every-partial waits for every decode, so it cannot keep --realtime pace")
        return 2
    files = collect_files(args.files)
    # check every file before loading models: a bad file is reported at once, clearly
    sources: list[tuple[Any, Any]] = []
    errors: list[str] = []
    for f in files:
        try:
            src = FileSource(
                f,
                realtime=args.realtime,
                customer_channel=args.customer_channel,
                agent_channel=args.agent_channel,
            )
        except SourceError as exc:
            errors.append(str(exc))
            continue
        meta = CallMeta(name=f.stem, agent_id=args.agent, language=args.language)
        sources.append((src, meta))
    for e in errors:
        say(f"error: {e}")
    if not sources:
        return 2
    single = len(sources) == 1

    async def replay_files(rt: Runtime) -> int:
        monitor = rt.monitor
        assert monitor is not None
        monitor.decode_every_partial = args.every_partial
        printer = None
        if not args.json and (single or args.verbose):
            printer = ConsolePrinter(rt.bus, show_call=not single)
            printer_task = asyncio.create_task(printer.run())
        progress = None if single or args.json else ReplayProgress(len(sources))
        sem = asyncio.Semaphore(max(1, args.jobs))

        async def one(src: Any, meta: Any) -> CallSummary | None:
            async with sem:
                try:
                    s = await monitor.run_call(src, meta)
                except MonitorStoppingError:
                    return None  # stopped before this file's turn came
            if progress:
                progress.step(meta.name, not s.error)
            return s

        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(one(s, m)) for s, m in sources]
        finally:
            if printer is not None:
                printer.sub.close()
                await printer_task
        summaries = [s for t in tasks if (s := t.result()) is not None]
        if rt.stopping:
            return 0  # interrupted: the runtime's exit code says so
        if args.json:
            print(json.dumps([s.to_dict() for s in summaries], indent=2))
        elif not single:
            print_summary(summaries)
        if monitor.store is not None and not args.json:
            say(f"stored in {monitor.config.store_path}")
        return 1 if errors or any(s.error for s in summaries) else 0

    return await Runtime(config, progress=say if not args.json else None).run(replay_files)


# ---------------------------------------------------------------- serve


async def serve(args: argparse.Namespace, config: RuntimeConfig) -> int:
    """Serve the board and the ingests until a signal; plus --replay files and --mic."""
    from monitor.pipeline import CallMeta
    from monitor.runtime import Runtime
    from monitor.sources import FileSource

    calls: list[tuple[Any, CallMeta]] = [
        (FileSource(f, realtime=True), CallMeta(f.stem, args.agent, language=args.language))
        for f in collect_files(args.replay)
    ]
    if args.mic is not None:
        from monitor.sources.mic import MicSource

        device = int(args.mic) if args.mic.isdigit() else (args.mic or None)
        mic = MicSource(device, channels=args.mic_channels)
        # agent desktop mode: one channel is the agent's own voice; two are one party each
        who: Any = "agent" if args.mic_channels == 1 else "customer"
        calls.append(
            (mic, CallMeta("live call", args.agent, language=args.language, mono_speaker=who))
        )
        say(f"listening on {mic.name} as {args.agent}")

    async def serve_forever(rt: Runtime) -> int:
        assert rt.monitor is not None and rt.server is not None
        print_urls(rt.server, with_qa=rt.store is not None)
        say("  Twilio <Stream> url: the 'ingest /ingest/twilio' one, as wss:// behind a TLS proxy")
        if calls:
            await rt.monitor.run_calls(calls, stagger_s=2.0)
        await asyncio.Event().wait()  # serve until a signal: the runtime then shuts down
        return 0

    return await Runtime(config, progress=say).run(serve_forever)
