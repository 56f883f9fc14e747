"""Cluster mode against real servers (Debian redis-server and PostgreSQL, started per module):
the PostgreSQL store, the fenced and idempotent publish, Redis restarted mid-call, and
backpressure. The whole-pipeline cases (many processes, failover) are in test_cluster_e2e.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor import events as ev
from tests import cluster_servers
from tests.auto_language import auto_call

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(bool(cluster_servers.missing()), reason=cluster_servers.missing()),
]


@pytest.fixture(scope="module")
def srv() -> Iterator[tuple[cluster_servers.RedisServer, cluster_servers.PostgresServer]]:
    with cluster_servers.servers() as pair:
        yield pair


@pytest.fixture
async def redis_client(srv: Any) -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    r = Redis.from_url(srv[0].url)
    yield r
    await r.aclose()


@pytest.fixture
async def store(srv: Any) -> AsyncIterator[Any]:
    from monitor.store.postgres import PgStore

    s = await PgStore.connect(srv[1].dsn)
    yield s
    await s.aclose()


def cfg(**kw: Any) -> Any:
    from monitor.cluster.config import ClusterConfig

    return ClusterConfig(prefix=f"t{uuid.uuid4().hex[:8]}", **kw)


def tone_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A stereo test recording: a different tone per party (no speech needed here)."""
    t = np.arange(int(seconds * rate)) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], 1)
    sf.write(path, audio.astype(np.float32), rate, subtype="PCM_16")
    return path


# ---- the PostgreSQL store ----------------------------------------------------------------------
async def test_store_upserts_by_event_id_and_searches_words(store: Any, srv: Any) -> None:
    from monitor.store.postgres import PgStore, migrate
    from monitor.store.postgres_schema import MIGRATIONS

    cid = f"call-{uuid.uuid4().hex[:6]}"
    evs = [
        ev.CallStarted(cid, "billing", "agent-7"),
        ev.FinalUtterance(cid, "customer", 1, "I will cancel my contract today", 0.5, 2.5),
        ev.Alert(cid, f"{cid}-a1", 2.5, "warning", "cancel_threat", "churn risk"),
        ev.CallRisk(cid, 2.5, 40.0, "watch", -0.6),
        ev.CallRisk(cid, 3.5, 20.0, "calm", 0.1),
        ev.CallEnded(cid, 4.0),
    ]
    before = await store.counts()
    for _ in range(2):  # a worker that replays after a failover writes each event again
        for i, e in enumerate(evs, 1):
            await store.persist(f"{cid}:{i:07d}", e)
    after = await store.counts()
    assert after["events"] - before["events"] == 6
    assert after["utterances"] - before["utterances"] == 1
    assert after["alerts"] - before["alerts"] == 1
    call = await store.get_call(cid)
    assert call["status"] == "completed" and call["end_at"] == 4.0
    assert [u["text"] for u in call["utterances"]] == ["I will cancel my contract today"]
    assert [c["call_id"] for c in await store.search(q="cancel")] == [cid]
    assert await store.search(q="canc") == []  # words, not substrings (tsvector)
    assert [c["call_id"] for c in await store.search(agent="agent-7", alert="cancel_threat")] == [
        cid
    ]
    # the SQLite store's filters, with the same meaning (sentiment: the lowest of the call)
    ids = lambda rows: [r["call_id"] for r in rows]  # noqa: E731
    assert cid in ids(
        await store.search(max_sentiment=-0.5, alert="warning", date_from="2000-01-01")
    )
    assert cid not in ids(await store.search(min_sentiment=0.0))
    assert cid not in ids(await store.search(alert="critical"))
    assert cid not in ids(await store.search(date_to="2000-01-01"))
    assert cid in ids(await store.search(alert="any"))
    with pytest.raises(KeyError):
        await store.get_call("no-such-call")
    # migrations are versioned: running them again changes nothing; a newer schema is refused
    assert await migrate(store._conn) == len(MIGRATIONS)
    await store._conn.execute("UPDATE callmon_schema SET version = 99")
    try:
        with pytest.raises(Exception, match="newer than this callmon"):
            await PgStore.connect(srv[1].dsn)
    finally:
        await store._conn.execute("UPDATE callmon_schema SET version = %s", (len(MIGRATIONS),))


async def test_store_keeps_the_detected_language_of_an_auto_call(store: Any, srv: Any) -> None:
    """A call in "auto" is announced detecting (placeholder "en"), then detected (issue #12):
    the second CallStarted updates the language; a replayed first one does not undo it."""
    import dataclasses

    import psycopg

    from monitor.store.postgres import PgStore
    from monitor.store.postgres_schema import MIGRATIONS

    cid = f"auto-{uuid.uuid4().hex[:6]}"
    detecting, detected = auto_call(cid, "agent-9", source="pcm:stream")
    lang = lambda row: (row["language"], row["language_source"], row["language_probability"])  # noqa: E731
    await store.persist(f"{cid}:0000001", detecting)
    assert lang(await store.get_call(cid)) == ("en", "detecting", None)
    await store.persist(f"{cid}:0000002", detected)
    await store.persist(f"{cid}:0000003", ev.CallEnded(cid, 3.0))
    call = await store.get_call(cid)
    assert lang(call) == ("id", "detected", 0.7143)
    assert (call["name"], call["agent_id"], call["status"]) == ("auto call", "agent-9", "completed")
    assert [lang(c) for c in await store.search(agent="agent-9")] == [("id", "detected", 0.7143)]
    await store.persist(f"{cid}:0000001", detecting)  # a worker replaying after a failover
    assert lang(await store.get_call(cid)) == ("id", "detected", 0.7143)
    given = ev.CallStarted(f"{cid}-ro", "ro call", "agent-9", language="ro")
    await store.persist(f"{cid}-ro:0000001", given)
    assert lang(await store.get_call(f"{cid}-ro")) == ("ro", "given", None)

    # a database at schema version 3 (before this) migrates: its calls' language was given
    db = f"v3_{uuid.uuid4().hex[:6]}"
    await store._conn.execute(f"CREATE DATABASE {db}".encode())
    dsn = srv[1].dsn.rsplit("/", 1)[0] + "/" + db
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as old:
        await old.execute("CREATE TABLE callmon_schema (version INTEGER NOT NULL)")
        for script in MIGRATIONS[:3]:
            await old.execute(script.encode())
        await old.execute("INSERT INTO callmon_schema VALUES (3)")
        await old.execute("INSERT INTO calls (call_id, language) VALUES ('old', 'ms')")
    upgraded = await PgStore.connect(dsn)
    try:
        assert lang(await upgraded.get_call("old")) == ("ms", "given", None)
        await upgraded.persist("x:0000001", dataclasses.replace(detecting, call_id="x"))
        await upgraded.persist("x:0000002", dataclasses.replace(detected, call_id="x"))
        assert lang(await upgraded.get_call("x")) == ("id", "detected", 0.7143)
    finally:
        await upgraded.aclose()


# ---- the fenced publish ------------------------------------------------------------------------
async def test_publish_is_idempotent_and_fenced_by_the_lease(redis_client: Any) -> None:
    from monitor.cluster import streams
    from monitor.cluster.bus import LeaseLost, WorkerBus

    c = cfg()
    keys = streams.Keys(c.prefix)
    take = redis_client.register_script(streams.TAKE_LUA)
    cid = "call-fence"
    await take(keys=[keys.ckpt(cid)], args=["w1:1"])
    bus = WorkerBus(redis_client, keys)
    evs = [
        ev.CallStarted(cid, "n", "a"),
        ev.TalkOver(cid, "agent", 1.0, 2.0),
        ev.CallEnded(cid, 3.0),
    ]
    bus.register(cid, "w1:1", skip=0)
    for e in evs[:2]:
        await bus.publish(e)
    # the same worker replays the call from the start (as a new worker would): nothing twice
    bus.register(cid, "w1:1", skip=0)
    for e in evs:
        await bus.publish(e)
    entries = await redis_client.xrange(keys.events)
    assert [f[b"id"].decode() for _, f in entries] == [streams.event_id(cid, n) for n in (1, 2, 3)]
    moved = ev.Alert(cid, "m1", 3.0, "info", "call_moved", "moved")
    await bus.publish_side(cid, "moved-1", moved)
    await bus.publish_side(cid, "moved-1", moved)
    assert len(await redis_client.xrange(keys.events)) == 4
    # another worker takes the call over: this one may not publish any more
    prev, moves, published = await take(keys=[keys.ckpt(cid)], args=["w2:1"])
    assert (prev.decode(), moves, published) == ("w1:1", 1, 3)
    bus.register(cid, "w1:1", skip=0, base=3)  # (still running its own copy of the call)
    with pytest.raises(LeaseLost):
        await bus.publish(ev.TalkOver(cid, "agent", 5.0, 6.0))
    assert len(await redis_client.xrange(keys.events)) == 4


# ---- Redis restarted mid-call ------------------------------------------------------------------
async def test_redis_restart_mid_call_buffers_then_reports_the_gap(
    srv: Any, redis_client: Any, tmp_path: Path
) -> None:
    from monitor.cluster.ingest import IngestNode
    from monitor.cluster.source import StreamSource
    from monitor.cluster.streams import CallInfo, Keys

    redis_server = srv[0]
    c = cfg(ingest_buffer_s=0.6, chunk_s=0.2)
    wav = tone_wav(tmp_path / "live.wav", 6.0)
    node = IngestNode(redis_client, c)
    send = asyncio.create_task(node.send_file(wav, realtime=True, call_id="live-1"))
    await asyncio.sleep(1.5)
    await asyncio.to_thread(redis_server.stop)  # the restart: down for about 2 s
    await asyncio.sleep(2.0)
    await asyncio.to_thread(redis_server.start)
    report = await asyncio.wait_for(send, 30)
    assert report.chunks == 30
    assert report.retries > 0 and report.lost_chunks > 0  # bounded buffer: the oldest went
    gaps: list[tuple[int, int, str]] = []

    async def on_gap(chunk: int, lost: int, at: float, why: str) -> None:
        gaps.append((chunk, lost, why))

    info = CallInfo("live-1", "live", "a", "default", "en", 16000, 2)
    src = StreamSource(redis_client, Keys(c.prefix).audio("live-1"), info, 0.2, on_gap)
    frames = [f async for f in src.frames("live-1")]
    assert len(gaps) == 1, gaps
    assert gaps[0][1] == report.lost_chunks and "Redis was unreachable" in gaps[0][2]
    # the lost audio became silence of the same length: call time stays true
    assert sum(f.samples.shape[0] for f in frames) == 6 * 16000
    assert src.chunks == report.chunks - report.lost_chunks


# ---- backpressure --------------------------------------------------------------------------------
async def test_a_slow_worker_cannot_grow_redis_without_bound(
    redis_client: Any, tmp_path: Path
) -> None:
    from monitor.cluster.ingest import IngestNode
    from monitor.cluster.source import TRIMMED, StreamSource
    from monitor.cluster.streams import CallInfo, Keys

    c = cfg(audio_maxlen=100, chunk_s=0.2)
    wav = tone_wav(tmp_path / "long.wav", 80.0)  # 400 chunks, nobody reading
    report = await IngestNode(redis_client, c).send_file(wav, call_id="slow-1")
    key = Keys(c.prefix).audio("slow-1")
    chunk_bytes = 0.2 * 16000 * 2 * 2
    length = await redis_client.xlen(key)
    memory = await redis_client.memory_usage(key)
    assert report.chunks == 400 and length < 250  # MAXLEN ~100 (trimmed by whole nodes)
    assert memory < 250 * chunk_bytes * 1.5
    await asyncio.sleep(0.3)
    gaps: list[tuple[int, int, str]] = []

    async def on_gap(chunk: int, lost: int, at: float, why: str) -> None:
        gaps.append((chunk, lost, why))

    info = CallInfo("slow-1", "slow", "a", "default", "en", 16000, 2)
    src = StreamSource(redis_client, key, info, 0.2, on_gap)
    total = sum([f.samples.shape[0] async for f in src.frames("slow-1")])
    assert gaps and gaps[0][0] == 0 and gaps[0][2] == TRIMMED  # reported, never silent
    assert total == 80 * 16000
    assert src.lag_ms >= 300  # the lag metric: how old the audio was when the worker read it


async def test_concurrent_calls_on_one_store_lose_no_row(store: Any) -> None:
    """A worker's calls publish concurrently through one connection; interleaved
    transactions used to nest into each other and rows went missing."""
    calls = [f"conc-{uuid.uuid4().hex[:6]}" for _ in range(3)]

    async def one(cid: str) -> None:
        await store.persist(f"{cid}:0000001", ev.CallStarted(cid, "n", "a"))
        for seq in range(1, 31):
            utt = ev.FinalUtterance(cid, "customer", seq, f"words number {seq}", seq, seq + 0.5)
            await store.persist(f"{cid}:{seq + 1:07d}", utt)

    await asyncio.gather(*(one(c) for c in calls))
    for cid in calls:
        assert [u["seq"] for u in (await store.get_call(cid))["utterances"]] == list(range(1, 31))


async def test_recording_on_the_shared_path_has_redacted_speech_muted(
    redis_client: Any, tmp_path: Path
) -> None:
    from monitor.cluster.ingest import IngestNode
    from monitor.cluster.recording import save_recording
    from monitor.cluster.streams import CallInfo, Keys

    c = cfg(chunk_s=0.2)
    wav = tone_wav(tmp_path / "card.wav", 4.0)
    await IngestNode(redis_client, c).send_file(wav, call_id="card-1")
    said = ev.FinalUtterance(
        "card-1", "customer", 1, "my card is [card]", 0.5, 2.5,
        words=(ev.Word("my", 0.5, 0.7), ev.Word("[card]", 1.0, 2.0)),
    )  # fmt: skip
    info = CallInfo("card-1", "card", "a", "default", "en", 16000, 2)
    path, spans = await save_recording(
        redis_client, Keys(c.prefix).audio("card-1"), info, [said], tmp_path / "shared", 0.2
    )
    audio, rate = sf.read(path, dtype="float32")
    assert audio.shape == (4 * 16000, 2) and len(spans) == 1
    lo, hi = int(spans[0].start * rate), int(spans[0].end * rate)
    assert spans[0].start <= 1.0 and spans[0].end >= 2.0
    assert not audio[lo:hi, 0].any()  # the customer's channel is silent where the card was said
    assert np.abs(audio[lo:hi, 1]).max() > 0.1  # the agent's is not
    assert np.abs(audio[: int(0.5 * rate), 0]).max() > 0.1
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize(
    ("toml", "args", "code", "says"),
    [
        ("[cluster]\nlease_s = 0.1\n", [], 2, "lease_s must be above 0.5 s"),
        ("[cluster]\nleese_s = 3.0\n", [], 2, "unknown key 'leese_s'"),
        ("[cluster]\naudio_maxlen = '9'\n", [], 2, "audio_maxlen must be a whole number"),
        ("", ["--redis", "redis://127.0.0.1:1/0"], 1, "cannot reach Redis"),
        ("", ["--redis", "http://x"], 2, "use redis://host:port/db"),
    ],
)
def test_cluster_roles_refuse_bad_config_with_a_clear_error(
    tmp_path: Path, toml: str, args: list[str], code: int, says: str
) -> None:
    import subprocess
    import sys

    conf = tmp_path / "c.toml"
    conf.write_text(toml)
    cmd = [sys.executable, "-m", "monitor.cluster", "board", "--config", str(conf), "--port", "0"]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


async def test_renewing_a_lease_never_takes_a_call_back_from_its_new_owner(
    redis_client: Any,
) -> None:
    from monitor.cluster import streams

    keys = streams.Keys(cfg().prefix)
    await redis_client.xgroup_create(keys.calls, streams.GROUP, id="0", mkstream=True)
    entry = await redis_client.xadd(keys.calls, {"call_id": "c"})
    await redis_client.xreadgroup(streams.GROUP, "w1", {keys.calls: ">"}, count=1)
    take = redis_client.register_script(streams.TAKE_LUA)
    renew = redis_client.register_script(streams.RENEW_LUA)
    await take(keys=[keys.ckpt("c")], args=["w1:1"])
    args = [streams.GROUP, "w1", entry, 5, 1]
    assert await renew(keys=[keys.ckpt("c"), keys.calls], args=["w1:1", *args]) == 1
    # w2 takes the call over (after the lease); w1 wakes up and tries to renew
    await redis_client.xclaim(keys.calls, streams.GROUP, "w2", 0, [entry], justid=True)
    await take(keys=[keys.ckpt("c")], args=["w2:1"])
    assert await renew(keys=[keys.ckpt("c"), keys.calls], args=["w1:1", *args]) == 0
    pending = await redis_client.xpending_range(keys.calls, streams.GROUP, "-", "+", 10)
    assert [p["consumer"] for p in pending] == [b"w2"]


async def test_an_ack_on_one_board_reaches_every_board_and_the_store(
    redis_client: Any, store: Any
) -> None:
    import json

    import websockets

    from monitor.cluster import streams
    from monitor.cluster.board import BoardBus, EventsReader
    from monitor.cluster.bus import WorkerBus
    from monitor.server import MonitorServer, ServerConfig

    c = cfg()
    keys = streams.Keys(c.prefix)
    cid = f"ack-{uuid.uuid4().hex[:6]}"
    await redis_client.register_script(streams.TAKE_LUA)(keys=[keys.ckpt(cid)], args=["w:1"])
    worker = WorkerBus(redis_client, keys, store)
    worker.register(cid, "w:1", skip=0)
    alert = ev.Alert(cid, f"{cid}-a1", 2.0, "critical", "legal_threat", "legal threat")
    for e in (ev.CallStarted(cid, "n", "agent-1"), alert):
        await worker.publish(e)
    token = "supervisor-token-0123456789"
    boards: list[tuple[MonitorServer, EventsReader]] = []
    readers = []
    for _ in range(2):
        bus = BoardBus(redis_client, keys, store, c.events_maxlen)
        server = MonitorServer(bus, ServerConfig(port=0, tokens={token: "supervisor"}))
        await server.start()
        reader = EventsReader(redis_client, keys, bus)
        readers.append(asyncio.create_task(reader.run()))
        boards.append((server, reader))
    try:
        async with asyncio.timeout(10):  # both boards have read the call so far
            while any(r.delivered < 2 for _, r in boards):
                await asyncio.sleep(0.05)
        url = f"ws://127.0.0.1:{boards[0][0].port}/ws?token={token}"
        other = f"ws://127.0.0.1:{boards[1][0].port}/ws?token={token}"
        async with websockets.connect(url) as ws, websockets.connect(other) as ws2:
            for w in (ws, ws2):  # both boards have the alert in their snapshot
                snap = json.loads(await asyncio.wait_for(w.recv(), 10))
                assert alert.alert_id in {e.get("alert_id") for e in snap["events"]}
            await ws.send(json.dumps({"v": 1, "type": "ack_alert", "alert_id": alert.alert_id}))
            for w in (ws, ws2):
                while (m := json.loads(await asyncio.wait_for(w.recv(), 10)))["type"] != (
                    "alert_ack"
                ):
                    pass
                assert m["alert_id"] == alert.alert_id
        stored = (await store.get_call(cid))["alerts"]
        assert stored[0]["acked_by"] and stored[0]["acked_at"]
    finally:
        for t in readers:
            t.cancel()
        for server, _reader in boards:
            await server.stop()


async def test_the_store_reconnects_after_a_postgres_restart(srv: Any, store: Any) -> None:
    import psycopg

    from monitor.store.postgres import PgStoreError

    cid = f"pgr-{uuid.uuid4().hex[:6]}"
    await store.persist(f"{cid}:0000001", ev.CallStarted(cid, "n", "a"))
    await asyncio.to_thread(srv[1].restart)
    # the write that meets the broken connection fails (the worker does not acknowledge the
    # call, which is replayed); the next one reconnects
    with pytest.raises((psycopg.OperationalError, PgStoreError)):
        await store.persist(f"{cid}:0000002", ev.CallEnded(cid, 1.0))
    await store.persist(f"{cid}:0000002", ev.CallEnded(cid, 1.0))
    assert (await store.get_call(cid))["status"] == "completed"
