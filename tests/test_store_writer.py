"""The store's writer thread: the bus broadcasts an event only once it is committed, while the
event loop stays free; events queued together commit in one transaction; a failing write
fails alone; close() commits what is queued. Real SQLite files, a real bus."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.store.db import CallStore
from monitor.store.writer import StoreClosedError


def stored_calls(db: Path) -> list[str]:
    """What another process would see: a fresh connection of its own."""
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT call_id FROM calls ORDER BY call_id")]
    finally:
        conn.close()


def hold_writer(store: CallStore) -> threading.Event:
    """Keep the writer thread busy in a job until the returned event is set."""
    gate = threading.Event()
    entered = threading.Event()

    def job(_c: sqlite3.Connection) -> None:
        entered.set()
        gate.wait(timeout=30)

    store._writer.submit(job)
    assert entered.wait(timeout=10)
    return gate


async def test_broadcast_waits_for_the_commit_and_the_loop_stays_free(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    store = CallStore(db)
    bus = EventBus()
    bus.add_sink(store.sink)
    sub = bus.subscribe("board", overflow="wait")
    try:
        gate = hold_writer(store)
        publishing = asyncio.create_task(bus.publish(ev.CallStarted("c1", "first", "agent-1")))
        ticks = 0
        for _ in range(20):  # the loop keeps running other work while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not publishing.done()
        assert sub.qsize() == 0, "broadcast before the event was stored"
        assert stored_calls(db) == []
        gate.set()
        await asyncio.wait_for(publishing, timeout=10)
        assert stored_calls(db) == ["c1"], "committed before the subscriber got it"
        got = sub.get_nowait()
        assert isinstance(got, ev.CallStarted) and got.call_id == "c1"
    finally:
        sub.close()
        store.close()


async def test_a_cancelled_publish_still_stores_its_event(tmp_path: Path) -> None:
    """Shutdown cancels calls mid-publish: what was handed to the store is still stored."""
    db = tmp_path / "calls.db"
    store = CallStore(db)
    bus = EventBus()
    bus.add_sink(store.sink)
    try:
        gate = hold_writer(store)
        publishing = asyncio.create_task(bus.publish(ev.CallStarted("c1", "first", "agent-1")))
        await asyncio.sleep(0.05)
        publishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await publishing
        gate.set()
        store.flush()
        assert stored_calls(db) == ["c1"]
    finally:
        store.close()


def test_events_queued_together_commit_in_one_transaction(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "calls.db")
    try:
        gate = hold_writer(store)
        before = store.batches
        futures = [store.submit(ev.CallStarted(f"c{i:03d}", "x", "agent-1")) for i in range(100)]
        gate.set()
        for f in futures:
            assert f is not None
            f.result(timeout=10)
        # the held job's batch, then one batch for all 100 events queued behind it
        assert store.batches - before == 2
        assert len(stored_calls(store.path)) == 100
    finally:
        store.close()


def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = CallStore(tmp_path / "calls.db")
    try:
        gate = hold_writer(store)
        ok1 = store.submit(ev.CallStarted("a", "x", "agent-1"))

        def broken(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO calls (call_id, name, started_at) VALUES ('b', 'x', 0)")
            c.execute("INSERT INTO no_such_table VALUES (1)")

        bad = store._writer.submit(broken)
        ok2 = store.submit(ev.CallStarted("c", "x", "agent-1"))
        gate.set()
        assert ok1 is not None and ok2 is not None
        ok1.result(timeout=10)
        ok2.result(timeout=10)
        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            bad.result(timeout=10)
        assert stored_calls(store.path) == ["a", "c"], "the failed job's first insert rolled back"
    finally:
        store.close()


def test_close_commits_what_is_queued_then_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    store = CallStore(db)
    gate = hold_writer(store)
    for i in range(50):
        store.submit(ev.CallStarted(f"c{i:02d}", "x", "agent-1"))
    threading.Timer(0.2, gate.set).start()
    store.close()  # waits for the held job, then commits the 50 queued behind it
    assert len(stored_calls(db)) == 50
    with pytest.raises(StoreClosedError):
        store.persist(ev.CallStarted("late", "x", "agent-1"))
    store.close()  # idempotent


def test_partial_utterances_are_not_queued(tmp_path: Path) -> None:
    with CallStore(tmp_path / "calls.db") as store:
        assert store.sink(ev.PartialUtterance("c1", "customer", 0, "hel", 0.0, 0.4)) is None
        assert store.submit(ev.PartialUtterance("c1", "customer", 0, "hel", 0.0, 0.4)) is None


def test_a_store_whose_writer_cannot_open_refuses_writes_instead_of_hanging(
    tmp_path: Path,
) -> None:
    store = CallStore(tmp_path / "calls.db")
    store.path = tmp_path / "gone" / "calls.db"  # the writer's own connection cannot open
    try:
        with pytest.raises(sqlite3.OperationalError):
            store.start()
        with pytest.raises(StoreClosedError):
            store.persist(ev.CallStarted("c1", "x", "agent-1"))
    finally:
        store.close()
