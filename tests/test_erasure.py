"""Erasure on request: `callmon calls delete` and DELETE /api/calls/<id> (supervisors only)
remove a call's text, audio and derived records, full-text entries included, from the files
themselves; an audit entry without content stays. A real store, a real server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from monitor import events as ev
from monitor.cli import main as callmon
from monitor.qa.example import example_audio, example_call
from monitor.redact import redact_event
from monitor.server import ServerConfig
from monitor.store.db import CallStore
from tests.qa_server import serve_qa, supervisors_only

RATE = 8_000
SUP = "erase-supervisor-token-0123"
AGENT = "erase-agent-token-0123456789"
TOKENS = {SUP: "supervisor", AGENT: "agent:agent-7"}
SECRET_PHRASES = ("third time I call about my refund", "you useless idiot", "refund escalation")


def fill(store: CallStore, call_id: str, name: str = "refund escalation") -> None:
    writer = store.open_audio(call_id, RATE, 2)
    writer.write(example_audio(RATE))
    for e in example_call(call_id, name=name):
        store.persist(redact_event(e))


def keep_other(store: CallStore) -> None:
    store.persist(ev.CallStarted("calm-1", "calm billing", "agent-2"))
    store.persist(ev.FinalUtterance("calm-1", "customer", 0, "thanks, all sorted", 0.5, 2.0))
    store.persist(ev.CallEnded("calm-1", 3.0))


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    s = CallStore(tmp_path / "calls.db")
    fill(s, "call-1")
    keep_other(s)
    yield s
    s.close()


def test_erasure_removes_text_audio_index_and_leaves_an_audit_entry(store: CallStore) -> None:
    wav = store.audio_path("call-1")
    assert wav is not None and wav.exists()
    assert [c["call_id"] for c in store.search(q="useless idiot")] == ["call-1"]
    assert any(p.encode() in raw_bytes(store.path) for p in SECRET_PHRASES)

    erasure = store.delete_call("call-1", by="dpo@example.com")
    assert erasure.audio_removed and erasure.rows_removed > 20

    with pytest.raises(KeyError, match="already erased"):
        store.delete_call("call-1", by="again")
    with pytest.raises(KeyError):
        store.get_call("call-1")
    assert not wav.exists() and store.audio_path("call-1") is None
    assert store.search(q="useless idiot") == [] and store.search(q="refund escalation") == []
    assert [c["call_id"] for c in store.search(q="all sorted")] == ["calm-1"]  # others stay
    conn = sqlite3.connect(store.path)
    try:
        for table in ("utterances", "scores", "risks", "alerts", "cards", "talk_overs",
                      "muted_audio", "calls"):  # fmt: skip
            n = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE call_id='call-1'").fetchone()
            assert n[0] == 0, table
        fts = conn.execute(
            "SELECT COUNT(*) FROM utterances_fts WHERE utterances_fts MATCH '\"useless\"'"
        ).fetchone()
        assert fts[0] == 0
    finally:
        conn.close()
    # nothing of the call's text is left anywhere in the files (WAL included)
    data = raw_bytes(store.path)
    for phrase in SECRET_PHRASES:
        assert phrase.encode() not in data, phrase

    (audit,) = store.erasures()
    assert audit["call_id"] == "call-1" and audit["erased_by"] == "dpo@example.com"
    assert audit["audio_removed"] and audit["erased_at"] > 0
    assert set(audit) == {"call_id", "erased_by", "erased_at", "audio_removed", "rows_removed"}
    assert store.integrity_check() == "ok"


def test_a_live_call_cannot_be_erased_until_it_ends(tmp_path: Path) -> None:
    with CallStore(tmp_path / "calls.db") as store:
        store.open_audio("live-1", RATE, 1)
        store.persist(ev.CallStarted("live-1", "live", "agent-1", channels=1))
        with pytest.raises(ValueError, match="still live"):
            store.delete_call("live-1", by="qa")
        store.persist(ev.CallEnded("live-1", 1.0))
        assert store.delete_call("live-1", by="qa").call_id == "live-1"
        with pytest.raises(KeyError, match="no call 'nope'"):
            store.delete_call("nope", by="qa")
    # another process's call, still marked live (that monitor may have crashed)
    db = tmp_path / "calls.db"
    with CallStore(db) as other:
        other.persist(ev.CallStarted("left-live", "live elsewhere", "agent-1"))
    with CallStore(db) as store:
        with pytest.raises(ValueError, match="--force"):
            store.delete_call("left-live", by="qa")
        assert store.delete_call("left-live", by="qa", force=True).call_id == "left-live"


def test_callmon_calls_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "calls.db"
    with CallStore(db) as store:
        fill(store, "call-1")
        keep_other(store)
    assert callmon(["calls", "list", "--store", str(db)]) == 0
    assert "call-1" in capsys.readouterr().out
    # not a terminal and no --yes: refused, nothing erased
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "calls", "delete", "call-1", "--store", str(db)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--yes" in done.stderr
    assert callmon(["calls", "delete", "nope", "--store", str(db), "--yes"]) == 2
    assert "no call 'nope'" in capsys.readouterr().err
    rc = callmon(["calls", "delete", "call-1", "--store", str(db), "--yes", "--by", "ticket-42"])
    assert rc == 0 and "erased call call-1" in capsys.readouterr().out
    assert callmon(["calls", "audit", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "call-1" in out and "by ticket-42" in out and "audio removed" in out
    with CallStore(db) as store:
        assert [c["call_id"] for c in store.list_calls()] == ["calm-1"]
    assert not any(p.encode() in raw_bytes(db) for p in SECRET_PHRASES)


@pytest.fixture
async def server(store: CallStore) -> AsyncIterator[str]:
    cfg = ServerConfig(port=0, tokens=TOKENS)
    async with serve_qa(store, cfg, authorize=supervisors_only(cfg)) as url:
        yield url


def request(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_delete_api_is_for_supervisors_only(server: str, store: CallStore) -> None:
    url = server + "/api/calls/call-1"
    status, body = await asyncio.to_thread(request, f"{url}?token={AGENT}", "DELETE")
    assert status == 401 and "supervisor token" in json.loads(body)["error"]
    status, _ = await asyncio.to_thread(request, url, "DELETE")
    assert status == 401
    assert store.get_call("call-1")["utterances"], "nothing erased by a refused request"

    status, body = await asyncio.to_thread(request, f"{url}?token={SUP}", "DELETE")
    assert status == 200, body
    erased = json.loads(body)["erased"]
    assert erased["call_id"] == "call-1" and erased["audio_removed"]
    assert erased["erased_by"].startswith("api:token-sha256:") and SUP not in erased["erased_by"]
    status, body = await asyncio.to_thread(request, f"{url}?token={SUP}")
    assert status == 404
    status, body = await asyncio.to_thread(request, f"{url}/audio.wav?token={SUP}")
    assert status == 404
    status, body = await asyncio.to_thread(request, f"{url}?token={SUP}", "DELETE")
    assert status == 404 and "already erased" in json.loads(body)["error"]
    assert [e["call_id"] for e in store.erasures()] == ["call-1"]


async def test_qa_reads_do_not_block_the_event_loop(server: str, store: CallStore) -> None:
    """A QA read that waits on the database leaves the server free: the page itself is
    served meanwhile. (Before, the API ran its SQL on the event loop: everything waited.)"""
    lock = store._read_lock  # stands for a slow query: reads wait while the test holds it
    lock.acquire()
    safety = threading.Timer(20.0, lock.release)  # never leave a broken build hanging
    safety.start()
    try:
        slow = asyncio.ensure_future(asyncio.to_thread(request, f"{server}/api/calls?token={SUP}"))
        status, body = await asyncio.to_thread(request, f"{server}/qa.html")
        assert status == 200 and b"<html" in body
        assert not slow.done(), "the API answered without reading the store?"
    finally:
        if safety.is_alive():
            safety.cancel()
            lock.release()
    status, body = await slow
    assert status == 200 and json.loads(body)["count"] == 2
