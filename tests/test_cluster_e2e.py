"""Cluster mode end to end on this machine: two ingest nodes, three worker processes and two
board servers on a real Redis and PostgreSQL, with the real models and synthesised calls.

One module-scoped cluster serves the three cases, in order: six calls reach both boards
exactly once and in order; a worker killed with SIGKILL mid-call hands the call over without
losing or duplicating a final (its finals equal those of the same recording in the first
case); a board killed, its client reconnects to the other and gets a snapshot.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import cluster_servers
from tests.cluster_servers import RoleProcess

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(bool(cluster_servers.missing()), reason=cluster_servers.missing()),
]
LEASE_S = 3.0


class Cluster:
    def __init__(self, root: Path, redis: Any, pg: Any) -> None:
        self.root = root
        self.redis = redis
        self.pg = pg
        self.config = root / "cluster.toml"
        self.config.write_text(
            f'[cluster]\nredis_url = "{redis.url}"\npostgres_dsn = "{pg.dsn}"\n'
            f"lease_s = {LEASE_S}\n"
        )
        self.workers: list[RoleProcess] = []
        self.boards: list[RoleProcess] = []
        self.wavs: dict[str, Path] = {}
        self.finals_by_wav: dict[str, list[tuple[int, str]]] = {}

    def role(self, *args: str) -> RoleProcess:
        return RoleProcess(args[0], "--config", str(self.config), *args[1:])

    def ws_url(self, board: RoleProcess) -> str:
        assert board.ready is not None
        url = str(board.ready["urls"]["board"])  # type: ignore[index]
        return url.replace("http://", "ws://").replace("/?token=", "/ws?token=")

    def ingest(self, *files: Path, realtime: bool = False) -> RoleProcess:
        return self.role("ingest", *map(str, files), *(["--realtime"] if realtime else []))

    def finals(self, call_id: str) -> list[tuple[int, str]]:
        import psycopg

        with psycopg.connect(self.pg.dsn) as c:
            rows = c.execute(
                "SELECT seq, text FROM utterances WHERE call_id = %s ORDER BY seq", (call_id,)
            ).fetchall()
        return [(int(s), str(t)) for s, t in rows]

    def status(self, call_id: str) -> str | None:
        import psycopg

        with psycopg.connect(self.pg.dsn) as c:
            row = c.execute("SELECT status FROM calls WHERE call_id = %s", (call_id,)).fetchone()
        return str(row[0]) if row else None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with cluster_servers.servers() as (redis, pg):
        c = Cluster(root, redis, pg)
        c.wavs = cluster_servers.render_calls(root)
        try:
            c.boards = [c.role("board", "--port", "0") for _ in range(2)]
            c.workers = [c.role("worker", "--name", f"w{i}", "--max-calls", "3") for i in range(3)]
            for p in c.boards + c.workers:
                p.wait_ready(600)
            yield c
        finally:
            for p in c.workers + c.boards:
                p.stop()


async def collect(url: str, until_ended: int, timeout: float, out: list[dict[str, Any]]) -> None:
    """A board client: every message into ``out`` until ``until_ended`` calls have ended."""
    import websockets

    ended: set[str] = set()
    async with asyncio.timeout(timeout), websockets.connect(url, max_size=2**24) as ws:
        async for raw in ws:
            m = json.loads(raw)
            out.append(m)
            if m.get("type") == "call_ended":
                ended.add(m["call_id"])
                if len(ended) >= until_ended:
                    return


def per_call(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        if m.get("type") not in ("snapshot", "error", "pong", "partial") and "call_id" in m:
            out.setdefault(m["call_id"], []).append(m)
    return out


async def test_six_calls_reach_both_boards_once_and_in_order(cluster: Cluster) -> None:
    seen: list[list[dict[str, Any]]] = [[], []]
    clients = [
        asyncio.create_task(collect(cluster.ws_url(b), 6, 600, seen[i]))
        for i, b in enumerate(cluster.boards)
    ]
    await asyncio.sleep(1.0)  # connected before the first event
    short, longer = cluster.wavs["short"], cluster.wavs["longer"]
    nodes = [cluster.ingest(short, short, longer), cluster.ingest(short, short, longer)]
    for n in nodes:
        assert await asyncio.to_thread(n.wait, 300) == 0, n.lines
    sent = [s for n in nodes for s in n.json_lines("sent")]
    assert len(sent) == 6 and all(s["lost_chunks"] == 0 for s in sent)
    await asyncio.gather(*clients)
    boards = [per_call(s) for s in seen]
    assert set(boards[0]) == set(boards[1]) == {s["call_id"] for s in sent}
    for call_id in boards[0]:
        views = [b[call_id] for b in boards]
        # the same events, in the same order, on both boards
        assert views[0] == views[1]
        kinds = [m["type"] for m in views[0]]
        assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
        assert kinds.count("call_started") == 1 and kinds.count("call_ended") == 1
        finals = [(m["seq"], m["text"]) for m in views[0] if m["type"] == "final"]
        # once each, in order, and what PostgreSQL holds
        assert [s for s, _ in finals] == list(range(1, len(finals) + 1)) and finals
        assert finals == cluster.finals(call_id)
    for s in sent:  # the control for the failover case: this recording's finals
        name = "longer" if str(s["call_id"]).startswith("longer") else "short"
        cluster.finals_by_wav[name] = cluster.finals(str(s["call_id"]))


async def stop_worker_mid_call(cluster: Cluster, sig: int) -> None:
    """Send the longer call live; ``sig`` its worker five seconds in; check the handover."""
    import redis

    assert "longer" in cluster.finals_by_wav, "needs the first case's control run"
    seen: list[dict[str, Any]] = []
    client = asyncio.create_task(collect(cluster.ws_url(cluster.boards[-1]), 1, 300, seen))
    await asyncio.sleep(1.0)
    node = cluster.ingest(cluster.wavs["longer"], realtime=True)
    r = redis.Redis.from_url(cluster.redis.url)
    owner = ""
    deadline = time.monotonic() + 60
    while not owner and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        pending = r.xpending_range("callmon:calls", "workers", "-", "+", 10)
        owner = pending[0]["consumer"].decode() if pending else ""
    assert owner, "no worker took the call"
    await asyncio.sleep(5.0)  # mid-call
    victim = next(w for w in cluster.workers if w.ready and w.ready["name"] == owner)
    victim.proc.send_signal(sig)
    assert await asyncio.to_thread(node.wait, 120) == 0
    call_id = str(node.json_lines("sent")[0]["call_id"])
    await client
    moved = [m for m in seen if m.get("type") == "alert" and m.get("kind") == "call_moved"]
    assert len(moved) == 1 and moved[0]["call_id"] == call_id  # the board shows the move
    assert f"worker {owner} stopped" in moved[0]["message"]
    assert cluster.status(call_id) == "completed"
    # nothing lost, nothing twice: the same finals as the uninterrupted run of this recording
    assert cluster.finals(call_id) == cluster.finals_by_wav["longer"]
    finals = [m["seq"] for m in seen if m.get("type") == "final" and m["call_id"] == call_id]
    assert finals == sorted(set(finals))
    ended = [m for m in seen if m.get("type") == "call_ended" and m["call_id"] == call_id]
    assert [m["reason"] for m in ended] == ["completed"]  # the stopped worker ended nothing
    ckpt = r.hgetall(f"callmon:ckpt:{call_id}")
    assert int(ckpt[b"moves"]) == 1 and not ckpt[b"owner"].decode().startswith(owner + ":")
    assert victim.wait(30) is not None
    cluster.workers.remove(victim)
    r.close()


async def test_killed_worker_hands_its_call_over_without_losing_a_final(
    cluster: Cluster,
) -> None:
    await stop_worker_mid_call(cluster, signal.SIGKILL)


async def test_killed_board_clients_reconnect_to_the_other_and_get_a_snapshot(
    cluster: Cluster,
) -> None:
    import websockets

    # a call of its own, so the test does not depend on what ran before it in this module
    node = cluster.ingest(cluster.wavs["short"])
    assert await asyncio.to_thread(node.wait, 300) == 0, node.lines
    [sent] = node.json_lines("sent")
    call_id = str(sent["call_id"])
    for _ in range(120):  # ended, so no later test sees this call end under its own clients
        if await asyncio.to_thread(cluster.status, call_id) == "completed":
            break
        await asyncio.sleep(1.0)
    assert await asyncio.to_thread(cluster.status, call_id) == "completed"
    first, other = cluster.boards
    async with websockets.connect(cluster.ws_url(first), max_size=2**24) as ws:
        snap = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert snap["type"] == "snapshot"
        started = {e["call_id"] for e in snap["events"] if e["type"] == "call_started"}
        first.proc.send_signal(signal.SIGKILL)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
    async with websockets.connect(cluster.ws_url(other), max_size=2**24) as ws:
        again = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert again["type"] == "snapshot"
    calls = {e["call_id"] for e in again["events"] if e["type"] == "call_started"}
    assert calls == started and call_id in calls
    cluster.boards.remove(first)


async def test_redis_restarted_mid_call_the_call_completes_and_the_loss_is_shown(
    cluster: Cluster,
) -> None:
    seen: list[dict[str, Any]] = []
    client = asyncio.create_task(collect(cluster.ws_url(cluster.boards[-1]), 1, 300, seen))
    await asyncio.sleep(1.0)
    small = cluster.root / "small-buffer.toml"  # this ingest node holds 0.6 s while Redis is away
    small.write_text(cluster.config.read_text() + "ingest_buffer_s = 0.6\n")
    node = RoleProcess("ingest", "--config", str(small), "--realtime", str(cluster.wavs["short"]))
    await asyncio.to_thread(node.wait_ready, 60)
    await asyncio.sleep(3.0)  # mid-call: the outage starts after audio has been flowing
    await asyncio.to_thread(cluster.redis.stop)
    await asyncio.sleep(2.0)
    await asyncio.to_thread(cluster.redis.start)
    assert await asyncio.to_thread(node.wait, 120) == 0, node.lines
    sent = node.json_lines("sent")[0]
    assert int(sent["lost_chunks"]) > 0  # type: ignore[call-overload]
    call_id = str(sent["call_id"])
    await client  # the board (and its client) stayed up and saw the call end
    gaps = [m for m in seen if m.get("type") == "alert" and m.get("kind") == "audio_gap"]
    assert len(gaps) == 1 and "Redis was unreachable" in gaps[0]["message"]
    assert f"{int(sent['lost_chunks']) * 0.2:.1f} s" in gaps[0]["message"]  # type: ignore[call-overload]
    finals = cluster.finals(call_id)
    assert [s for s, _ in finals] == list(range(1, len(finals) + 1))
    mine = [m["seq"] for m in seen if m.get("type") == "final" and m["call_id"] == call_id]
    assert mine == [s for s, _ in finals]  # once each, in order, as stored
    assert cluster.status(call_id) == "completed"


async def test_a_worker_stopped_with_sigterm_hands_its_call_over_too(cluster: Cluster) -> None:
    await stop_worker_mid_call(cluster, signal.SIGTERM)
