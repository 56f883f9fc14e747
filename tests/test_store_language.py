"""A call's language as the SQLite store keeps it (issue #12): a call in "auto" is announced
detecting (placeholder "en"), then detected; the store keeps the final language with how it
was known and the detector's confidence, and the QA API hands them to the QA page."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.server import ServerConfig
from monitor.store.db import CallStore
from monitor.store.schema import SCHEMA_VERSION, migrate
from tests.auto_language import auto_call
from tests.qa_server import serve_qa

SUP = "store-language-supervisor-0123"

DETECTING, DETECTED = auto_call(source="pcm:stream")


def language_of(row: dict[str, object]) -> tuple[object, object, object]:
    return row["language"], row["language_source"], row["language_probability"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    s = CallStore(tmp_path / "calls.db")
    yield s
    s.close()


async def test_the_second_call_started_updates_the_language_through_the_bus(
    store: CallStore,
) -> None:
    bus = EventBus()
    bus.add_sink(store.sink)
    await bus.publish(DETECTING)
    assert language_of(store.get_call("auto-1")["call"]) == ("en", "detecting", None)
    await bus.publish(DETECTED)
    await bus.publish(ev.FinalUtterance("auto-1", "customer", 0, "saya mau komplain", 0.5, 2.0))
    await bus.publish(ev.CallEnded("auto-1", 3.0))
    call = store.get_call("auto-1")["call"]
    assert language_of(call) == ("id", "detected", 0.7143)
    assert (call["name"], call["agent_id"], call["source"]) == (
        "auto call",
        "agent-7",
        "pcm:stream",
    )
    (listed,) = store.search(agent="agent-7")
    assert language_of(listed) == ("id", "detected", 0.7143)
    # a replay of the first announcement does not undo the detection
    store.persist(DETECTING)
    assert language_of(store.get_call("auto-1")["call"]) == ("id", "detected", 0.7143)


def test_a_given_language_stays_given(store: CallStore) -> None:
    store.persist(ev.CallStarted("ro-1", "ro call", "agent-2", language="ro"))
    assert language_of(store.get_call("ro-1")["call"]) == ("ro", "given", None)
    # the export compares two replays: the language fields are content, kept
    assert store.export_call("ro-1")["call"]["language_source"] == "given"


def test_a_version_3_store_migrates_its_calls_to_given(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=3)
    conn.execute(
        "INSERT INTO calls (call_id, name, language, started_at) VALUES ('old', 'old', 'ms', 1.0)"
    )
    conn.close()
    with CallStore(path) as s:
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert language_of(s.get_call("old")["call"]) == ("ms", "given", None)
        s.persist(DETECTING)
        s.persist(DETECTED)
        assert language_of(s.get_call("auto-1")["call"]) == ("id", "detected", 0.7143)


@pytest.fixture
async def qa_api(store: CallStore) -> AsyncIterator[str]:
    store.persist(DETECTING)
    store.persist(DETECTED)
    store.persist(ev.CallEnded("auto-1", 3.0))
    async with serve_qa(store, ServerConfig(port=0, tokens={SUP: "supervisor"})) as url:
        yield url


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body: dict[str, object] = json.loads(resp.read())
        return body


async def test_the_qa_api_returns_the_detected_language(qa_api: str) -> None:
    call = await asyncio.to_thread(get_json, qa_api + "/api/calls/auto-1")
    assert language_of(call["call"]) == ("id", "detected", 0.7143)  # type: ignore[arg-type]
    listed: Any = await asyncio.to_thread(get_json, qa_api + "/api/calls")
    (row,) = listed["calls"]
    assert language_of(row) == ("id", "detected", 0.7143)


@pytest.mark.parametrize(
    ("reviewer", "shown"),
    [("en", "id (detected 71%)"), ("id", "id (terdeteksi 71%)"), ("ro", "id (detectată 71%)")],
)
async def test_the_qa_report_says_the_language_was_detected(
    store: CallStore, reviewer: str, shown: str
) -> None:
    from monitor.qa.report import build_report, render_html

    bus = EventBus()
    bus.add_sink(store.sink)
    for event in (DETECTING, DETECTED, ev.CallEnded("auto-1", 3.0)):
        await bus.publish(event)
    html = render_html(build_report(store.get_call("auto-1")), reviewer)
    assert f"/ {shown}<" in html, html


async def test_callmon_calls_list_shows_each_calls_language_and_how_it_is_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main as callmon

    db = tmp_path / "listed.db"
    with CallStore(db) as store:
        bus = EventBus()
        bus.add_sink(store.sink)
        await bus.publish(DETECTING)
        await bus.publish(DETECTED)
        await bus.publish(ev.CallStarted("given-1", "plain call", "agent-8", language="ro"))
    assert callmon(["calls", "list", "--store", str(db)]) == 0
    rows = {line.split("\t")[0]: line.split("\t") for line in capsys.readouterr().out.splitlines()}
    assert rows["auto-1"][3] == "id (detected 71%)"
    assert rows["given-1"][3] == "ro"
