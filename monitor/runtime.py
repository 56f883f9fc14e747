"""One runtime: the bus, the Monitor (models, scorer, store), the server, the ingests and any
extra services, started in one fixed order and stopped in the reverse one.

Every command that runs the pipeline or the server (``callmon demo``, ``replay``, ``serve``,
``python -m monitor.server.main``) builds a :class:`RuntimeConfig` and calls
:meth:`Runtime.run` with its *work* (the coroutine that feeds calls, or nothing: serve until
stopped).

Start, in order:

1. the bus;
2. the Monitor: speech and text models, the scorer, the playbook, the store (skipped when
   ``RuntimeConfig.monitor`` is None: a server alone, fed by ``ingest`` clients);
3. when serving: the built-in routes (Twilio Media Streams ingest, the QA API), then every
   :data:`EXTENSIONS` entry, which registers websocket routes, HTTP handlers, ingests and
   services on the runtime;
4. the server (one port: pages, ``/ws``, every registered route and handler);
5. the registered services, in registration order (e.g. a TCP ingest on its own port);
6. the work.

Stop, after the work returns or on SIGINT/SIGTERM (modelled on uvicorn's ``server.py``):

- the signal handler only sets a flag; a second signal *forces* the exit: every wait below
  is cut short, and if the forced shutdown still hangs for ``FORCE_EXIT_GRACE_S`` the
  process exits at once;
1. stop intake: the Monitor takes no new call;
2. flush the calls in flight: each stops reading its source, its stages flush what was read
   and it ends ``interrupted``; ingests and services refuse new streams, hang up and flush,
   all within ``flush_timeout_s``;
3. cancel what is left (the work, calls still running; a cancelled call is still ended
   ``interrupted`` and stored);
4. stop the server: the boards get the last events, then close code 1001;
5. stop the scorer and close the store, last.

The exit code after a stop signal is 130 (interrupted), for SIGINT and SIGTERM alike: both mean
"stopped from outside", so a supervisor script checks one code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor import heap
from monitor.bus import EventBus
from monitor.config import MonitorConfig

# the extensions' modules are light: what they start is imported when they run
from monitor.ingest.register import audiohook_ingest, audiosocket_ingest, pcm_ingest
from monitor.ingest.twilio import CallDefaults
from monitor.metrics import operator_metrics

if TYPE_CHECKING:
    from monitor.pipeline import Monitor
    from monitor.server import MonitorServer, ServerConfig
    from monitor.server.app import WsRoute
    from monitor.server.config import Role
    from monitor.server.http import HttpHandler
    from monitor.store.db import CallStore

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 5.0  # calls in flight, ingests and services flush within this at shutdown
FORCE_EXIT_GRACE_S = 3.0  # after a second signal, a shutdown still hanging this long is cut
SERVER_STOP_TIMEOUT_S = 5.0  # the boards get the last events, then 1001 (0.5 s when forced)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED_EXIT = 130  # after SIGINT or SIGTERM: calls in flight were stored `interrupted`


class Ingest(Protocol):
    """A websocket ingest (e.g. ``monitor.ingest.TwilioIngest``): a route plus its shutdown.

    ``aclose`` refuses new streams, lets live calls flush for at most ``timeout`` seconds,
    then cancels the rest.
    """

    path: str

    async def handle(self, ws: Any, role: Role | None) -> None: ...

    async def aclose(self, timeout: float | None = None) -> None: ...


class Service(Protocol):
    """Anything else with a lifecycle, e.g. a TCP ingest server on its own port.

    Started after the server, in registration order; stopped before it, in reverse order,
    with the same contract as :meth:`Ingest.aclose`.
    """

    name: str

    async def start(self) -> None: ...

    async def aclose(self, timeout: float | None = None) -> None: ...


Extension = Callable[["Runtime"], None]
Work = Callable[["Runtime"], Coroutine[Any, Any, int]]


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Everything a command decided; built by the CLI, read-only here."""

    monitor: MonitorConfig | None = field(default_factory=MonitorConfig)  # None: no pipeline
    server: ServerConfig | None = None  # None: no server (and no ingest routes)
    agent_ids: tuple[str, ...] = ()  # agents that get a generated token if the config has none
    call_defaults: CallDefaults = field(default_factory=CallDefaults)  # for live-call ingests
    flush_timeout_s: float = FLUSH_TIMEOUT_S
    config_file: Path | None = None  # the TOML file, when there is no MonitorConfig to say so
    # freeze the models' objects out of the collector's walks while running (monitor/heap.py);
    # False only to measure what the freeze changes (bench.bench_soak --no-freeze)
    freeze_heap: bool = True


# ---------------------------------------------------------------- built-in extensions


def twilio_ingest(rt: Runtime) -> None:
    """Twilio Media Streams at /ingest/twilio (settings: ``[ingest.twilio]``)."""
    if rt.monitor is None:
        return
    from monitor.ingest import TwilioConfig, TwilioIngest
    from monitor.ingest.settings import read_toml

    twilio = TwilioConfig.from_toml(read_toml(rt.config_file))
    rt.add_ingest(
        TwilioIngest(rt.monitor, rt.role_of, defaults=rt.config.call_defaults, config=twilio)
    )


def qa_api(rt: Runtime) -> None:
    """The QA page's API over the store; transcripts and recordings are for supervisors."""
    if rt.store is None:
        return
    from monitor.qa.http import make_handler

    rt.add_http_handler(make_handler(rt.store, authorize=rt.is_supervisor))


# Installed, in this order, on every runtime that serves. Add yours here: a function that
# takes the Runtime (its monitor, bus, store, server_config, config.call_defaults) and calls
# add_ingest / add_ws_route / add_http_handler / add_service. See docs/architecture.md.
EXTENSIONS: tuple[Extension, ...] = (
    twilio_ingest,
    qa_api,
    audiohook_ingest,  # monitor/ingest/register.py: [ingest.audiohook], [ingest.pcm],
    pcm_ingest,  # [ingest.audiosocket]
    audiosocket_ingest,
    operator_metrics,  # monitor/metrics.py: GET /metrics (Prometheus), supervisor token
)


# ---------------------------------------------------------------- the runtime


class Runtime:
    def __init__(
        self,
        config: RuntimeConfig,
        *,
        progress: Callable[[str], None] | None = None,
        extensions: Sequence[Extension] | None = None,
        monitor_factory: Callable[[MonitorConfig, EventBus], Awaitable[Monitor]] | None = None,
    ) -> None:
        self.config = config
        self.progress = progress or (lambda _msg: None)
        self.extensions = tuple(EXTENSIONS if extensions is None else extensions)
        # tests and benchmarks pass models already loaded (see tests/conftest.py)
        self._monitor_factory = monitor_factory
        self.bus = EventBus()
        self.monitor: Monitor | None = None
        self.server: MonitorServer | None = None
        self.server_config: ServerConfig | None = None
        self.ingests: list[Ingest] = []
        self.services: list[Service] = []
        self._ws_routes: dict[str, WsRoute] = {}
        self._http_handlers: list[HttpHandler] = []
        self._started: list[Service] = []
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self.stop_signal: int | None = None  # the first signal received
        self._closed = False
        self._running = False  # start() has finished
        self._watchdog: asyncio.TimerHandle | None = None  # the forced exit's last resort

    # ---- registration (extensions call these before the server starts) ---------------------
    def add_ws_route(self, path: str, handler: WsRoute) -> None:
        if self.server is not None:
            raise RuntimeError("routes are registered before the server starts (EXTENSIONS)")
        if path in self._ws_routes:
            raise ValueError(f"websocket route {path} is registered twice")
        self._ws_routes[path] = handler

    def add_ingest(self, ingest: Ingest) -> None:
        """A websocket route that runs calls: closed at shutdown before the server stops."""
        self.add_ws_route(ingest.path, ingest.handle)
        self.ingests.append(ingest)

    def add_http_handler(self, handler: HttpHandler) -> None:
        """An HTTP handler (monitor/server/http.py ``HttpHandler``: method, path, query ->
        a result, an awaitable of one, or None for "not mine"), tried in registration order
        before the static pages."""
        if self.server is not None:
            raise RuntimeError("HTTP handlers are registered before the server starts")
        self._http_handlers.append(handler)

    def add_service(self, service: Service) -> None:
        """Started after the server (registration order), stopped before it (reverse)."""
        if self.server is not None:
            raise RuntimeError("services are registered before the server starts (EXTENSIONS)")
        self.services.append(service)

    # ---- what extensions read ----------------------------------------------------------------
    @property
    def config_file(self) -> Path | None:
        """The TOML file the settings came from: extensions read their own tables from it
        (``[ingest.<name>]``)."""
        cfg = self.config.monitor
        return cfg.source_path if cfg is not None else self.config.config_file

    @property
    def store(self) -> CallStore | None:
        return self.monitor.store if self.monitor is not None else None

    def role_of(self, token: str | None) -> Role | None:
        return self.server_config.role_of(token) if self.server_config is not None else None

    def is_supervisor(self, token: str | None) -> bool:
        role = self.role_of(token)
        return role is not None and role.kind == "supervisor"

    @property
    def stopping(self) -> bool:
        """True once a stop was requested (a signal, or request_stop())."""
        return self._stop.is_set()

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Steps 2-5 of the start order (the bus exists from construction)."""
        cfg = self.config
        if cfg.monitor is not None:
            if self._monitor_factory is not None:
                self.monitor = await self._monitor_factory(cfg.monitor, self.bus)
            else:
                from monitor.pipeline import Monitor

                self.monitor = await Monitor.create(cfg.monitor, self.bus, progress=self.progress)
            # the models' objects live as long as the runtime: out of the collector's walks
            # (monitor/heap.py), back in at shutdown (step 5)
            if cfg.freeze_heap:
                heap.freeze()
        if cfg.server is None:
            return
        from monitor.server import MonitorServer

        server_cfg = cfg.server
        if not server_cfg.tokens:
            server_cfg = server_cfg.with_generated_tokens(cfg.agent_ids)
        self.server_config = server_cfg
        for install in self.extensions:
            install(self)
        self.server = MonitorServer(
            self.bus, server_cfg, http_handlers=self._http_handlers, ws_routes=self._ws_routes
        )
        await self.server.start()
        for service in self.services:
            await service.start()
            self._started.append(service)

    def request_stop(self, sig: int = signal.SIGINT) -> None:
        """What a signal handler does: set a flag (a second request forces the exit)."""
        if self._stop.is_set():
            if not self._force.is_set():
                self._force.set()
                say = self.progress
                say("second signal: forcing the exit")
                code = INTERRUPTED_EXIT
                loop = asyncio.get_running_loop()
                self._watchdog = loop.call_later(FORCE_EXIT_GRACE_S, _hard_exit, code)
            return
        self.stop_signal = sig
        self._stop.set()
        if not self._running:
            self.progress("stopping once the models are loaded (again to exit now)")

    async def run(self, work: Work | None = None, *, handle_signals: bool = True) -> int:
        """Start, run ``work`` (None: until a signal), shut down; returns the exit code."""
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        if handle_signals:
            for sig in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self.request_stop, sig)
                    installed.append(sig)
        task: asyncio.Task[int] | None = None
        try:
            # models load in threads that cannot be interrupted: a signal during start is
            # acted on once start is done (a second one forces the exit)
            await self.start()
            self._running = True
            if work is not None and not self.stopping:
                task = asyncio.create_task(work(self), name="callmon-work")
                stop = asyncio.create_task(self._stop.wait())
                try:
                    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                if task.done() and not self.stopping:
                    return task.result()  # the work's own failure propagates, after shutdown
            else:
                await self._stop.wait()
            return INTERRUPTED_EXIT
        finally:
            # the work, when a signal came first, keeps running while its calls flush
            await self.shutdown(task)
            if self._watchdog is not None:  # the forced shutdown finished in time
                self._watchdog.cancel()
            for signum in installed:
                loop.remove_signal_handler(signum)
                if self.stop_signal is not None:
                    # the interpreter still has to exit (seconds with the models loaded):
                    # another signal meanwhile exits at once, with the same code
                    signal.signal(signum, _exit_on_signal(INTERRUPTED_EXIT))

    async def shutdown(self, work: asyncio.Task[Any] | None = None) -> None:
        """Steps 1-5 of the stop order; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        m = self.monitor
        timeout = self.config.flush_timeout_s
        # 1. stop intake; 2. flush the calls in flight, ingests and services (bounded)
        if m is not None:
            m.stop_intake()
            if m.interrupt_calls():
                self.progress("stopping: flushing the calls in flight")
        closers: list[Awaitable[Any]] = [i.aclose(timeout) for i in self.ingests]
        closers += [s.aclose(timeout) for s in reversed(self._started)]
        if m is not None:
            closers.append(m.wait_calls(timeout))
        if closers:
            await self._bounded(asyncio.gather(*closers, return_exceptions=True), timeout + 1)
        # 3. cancel what is left
        if work is not None and not work.done():
            work.cancel()
            await self._bounded(asyncio.wait({work}), 2.0)
        if m is not None:
            await self._bounded(m.cancel_calls(timeout=2.0), 3.0)
        # 4. the server: boards get the last events (the calls' ends), then 1001
        if self.server is not None:
            stop_timeout = 0.5 if self._force.is_set() else SERVER_STOP_TIMEOUT_S
            await self._bounded(self.server.stop(stop_timeout), stop_timeout + 1)
        # 5. the scorer, then the store: last
        if m is not None:
            await m.aclose()
            if self.config.freeze_heap:
                heap.thaw()  # start() froze the heap once the monitor existed

    async def _bounded(self, aw: Awaitable[Any], timeout: float) -> None:
        """Wait for ``aw`` at most ``timeout`` s, or until a second signal forces the exit."""
        job = asyncio.ensure_future(aw)
        force = asyncio.ensure_future(self._force.wait())
        try:
            await asyncio.wait({job, force}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            force.cancel()
        if not job.done():
            if not self._force.is_set():
                log.warning("shutdown: a step did not finish within %.1f s; cancelling it", timeout)
            job.cancel()
            await asyncio.wait({job}, timeout=1.0)
            if job.done() and not job.cancelled():
                job.exception()  # retrieved: a gather cancelled here ends with CancelledError
        elif not job.cancelled() and job.exception() is not None:
            log.error("shutdown: a step failed", exc_info=job.exception())


def _exit_on_signal(code: int) -> Callable[[int, Any], None]:
    def handler(_signum: int, _frame: Any) -> None:
        _hard_exit(code)

    return handler


def _hard_exit(code: int) -> None:
    """The forced shutdown itself hung (e.g. a thread that ignores cancellation)."""
    with contextlib.suppress(Exception):
        sys.stderr.write("callmon: shutdown did not finish; exiting now\n")
        sys.stderr.flush()
        sys.stdout.flush()
    os._exit(code)
