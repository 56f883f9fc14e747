"""The one runtime (monitor/runtime.py): start order, extensions, stop order, exit codes.

A real server on a free port, real HTTP and websocket clients, the session's real models,
and a small real TCP service registered the way an ingest on its own port is.
"""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from monitor import events as ev
from monitor.config import MonitorConfig
from monitor.runtime import EXTENSIONS, Runtime, RuntimeConfig
from monitor.server import ServerConfig

TOKEN = "runtime-test-supervisor-token"


class EchoService:
    """A TCP echo server on its own port: what an AudioSocket-like ingest looks like to the
    runtime. It records what the runtime had done when it was started and closed."""

    name = "echo"

    def __init__(self, rt: Runtime, log: list[str]) -> None:
        self.rt, self.log = rt, log
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        assert self.rt.server is not None  # started after the websocket server
        self.log.append(f"start echo (server on {self.rt.server.port})")
        self.server = await asyncio.start_server(self._echo, "127.0.0.1", 0)

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def aclose(self, timeout: float | None = None) -> None:
        store = self.rt.store
        # closed before the store: anything it still flushes can be persisted
        self.log.append(f"close echo (store open: {store is not None and not _closed(store)})")
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _closed(store: Any) -> bool:
    return bool(getattr(store, "_closed", False) or getattr(store, "closed", False))


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read()


@pytest.fixture
def factory(asr_engine: Any, text_classifier: Any) -> Any:
    from monitor.pipeline import Monitor

    async def make(cfg: MonitorConfig, bus: Any) -> Monitor:
        return await Monitor.create(cfg, bus, engine=asr_engine, classifier=text_classifier)

    return make


async def test_extensions_register_routes_handlers_and_services_started_in_order(
    factory: Any, tmp_path: Path
) -> None:
    log: list[str] = []

    def metrics(method: str, path: str, query: dict[str, list[str]]) -> Any:
        if path != "/test-metrics":
            return None
        return 200, "text/plain", f"published {rt.bus.published}\n".encode()

    def install(rt: Runtime) -> None:
        assert rt.monitor is not None and rt.server is None  # after the models, before serving
        rt.add_http_handler(metrics)
        rt.add_service(EchoService(rt, log))

    config = RuntimeConfig(
        monitor=MonitorConfig(store_path=tmp_path / "c.db"),
        server=ServerConfig(port=0, tokens={TOKEN: "supervisor"}),
    )
    rt = Runtime(config, extensions=[*EXTENSIONS, install], monitor_factory=factory)
    try:
        await rt.start()
        assert rt.server is not None
        port = rt.server.port
        base = f"http://127.0.0.1:{port}"
        status, body = await asyncio.to_thread(_get, f"{base}/test-metrics")
        assert status == 200 and body.startswith(b"published ")
        # the built-in extensions: the Twilio ingest route, the QA API over the store
        assert "/ingest/twilio" in {i.path for i in rt.ingests}
        status, _ = await asyncio.to_thread(_get, f"{base}/api/calls?token={TOKEN}")
        assert status == 200
        echo = next(s for s in rt.services if isinstance(s, EchoService))
        reader, writer = await asyncio.open_connection("127.0.0.1", echo.port)
        writer.write(b"ping\n")
        assert await reader.readline() == b"ping\n"
        writer.close()
        with pytest.raises(RuntimeError, match="before the server starts"):
            rt.add_http_handler(metrics)
    finally:
        await rt.shutdown()
    assert log == [
        f"start echo (server on {port})",
        "close echo (store open: True)",
    ]
    assert rt.store is not None and _closed(rt.store)


async def test_a_server_alone_skips_what_needs_the_pipeline() -> None:
    config = RuntimeConfig(monitor=None, server=ServerConfig(port=0, tokens={TOKEN: "supervisor"}))
    rt = Runtime(config)

    async def board(rt: Runtime) -> int:
        assert rt.server is not None and rt.monitor is None and rt.ingests == []
        async with connect(f"ws://127.0.0.1:{rt.server.port}/ws?token={TOKEN}") as ws:
            assert '"snapshot"' in str(await ws.recv())
        return 7

    assert await rt.run(board, handle_signals=False) == 7  # the work's own exit code


async def test_a_stop_request_interrupts_calls_in_flight_and_exits_130(
    factory: Any, sample_calls: dict[str, Any], tmp_path: Path
) -> None:
    from monitor.pipeline import CallMeta
    from monitor.sources import FileSource

    config = RuntimeConfig(monitor=MonitorConfig(store_path=tmp_path / "c.db"))
    rt = Runtime(config, monitor_factory=factory)
    seen: list[ev.Event] = []
    wav = sample_calls["escalates_manager"].wav_path

    async def work(rt: Runtime) -> int:
        assert rt.monitor is not None
        sub = rt.bus.subscribe("test", maxsize=100_000)
        rt.bus.add_sink(seen.append)
        calls = [(FileSource(wav, realtime=True), CallMeta(f"c{i}")) for i in range(2)]
        task = asyncio.create_task(rt.monitor.run_calls(calls))
        while sum(isinstance(e, ev.FinalUtterance) for e in seen) < 2:
            await asyncio.sleep(0.05)
        rt.request_stop(signal.SIGINT)  # what the signal handler does
        await task
        sub.close()
        return 0

    assert await rt.run(work, handle_signals=False) == 130
    ended = [e for e in seen if isinstance(e, ev.CallEnded)]
    assert sorted(e.reason for e in ended) == ["interrupted", "interrupted"]
    assert rt.store is not None and _closed(rt.store)
    from monitor.store.db import CallStore

    store = CallStore(tmp_path / "c.db")
    try:
        assert {c["status"] for c in store.list_calls()} == {"interrupted"}
    finally:
        store.close()


async def test_the_models_heap_is_frozen_while_the_runtime_runs_and_thawed_after(
    factory: Any, tmp_path: Path
) -> None:
    """The objects alive once the models are loaded leave the collector's full walks
    (monitor/heap.py), what the calls allocate afterwards is still collected, and shutdown
    gives the frozen objects back."""
    import gc
    import weakref

    class Node:
        pass

    assert gc.get_freeze_count() == 0
    config = RuntimeConfig(monitor=MonitorConfig(store_path=tmp_path / "c.db"))
    rt = Runtime(config, monitor_factory=factory)

    async def work(rt: Runtime) -> int:
        assert rt.monitor is not None
        assert gc.get_freeze_count() > 10_000  # the models' modules, tensors' wrappers, ...
        assert not any(obj is rt.monitor for obj in gc.get_objects())  # frozen: not walked
        cycle = Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        alive = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert alive() is None  # a cycle made after the freeze is still collected
        return 0

    assert await rt.run(work, handle_signals=False) == 0
    assert gc.get_freeze_count() == 0


async def test_a_runtime_told_not_to_freeze_leaves_the_heap_to_the_collector(
    factory: Any, tmp_path: Path
) -> None:
    """``freeze_heap=False`` (the soak bench's comparison) neither freezes nor, at shutdown,
    thaws what another holder froze."""
    import gc

    from monitor import heap

    config = RuntimeConfig(monitor=MonitorConfig(store_path=tmp_path / "c.db"), freeze_heap=False)

    async def work(rt: Runtime) -> int:
        assert rt.monitor is not None
        assert any(obj is rt.monitor for obj in gc.get_objects())  # walked as any object
        return 0

    assert gc.get_freeze_count() == 0
    assert await Runtime(config, monitor_factory=factory).run(work, handle_signals=False) == 0
    assert gc.get_freeze_count() == 0
    heap.freeze()  # another runtime in the process holds the heap frozen
    try:
        assert await Runtime(config, monitor_factory=factory).run(work, handle_signals=False) == 0
        assert gc.get_freeze_count() > 0  # still frozen for the other holder
    finally:
        heap.thaw()
    assert gc.get_freeze_count() == 0


def test_heap_thaws_only_when_the_last_holder_lets_go() -> None:
    import gc

    from monitor import heap

    assert gc.get_freeze_count() == 0
    heap.freeze()
    heap.freeze()  # a second runtime in the same process
    heap.thaw()
    assert gc.get_freeze_count() > 0  # the first still runs
    heap.thaw()
    assert gc.get_freeze_count() == 0
    heap.thaw()  # one too many: nothing to give back, no error
    assert gc.get_freeze_count() == 0
