"""Cluster mode figures: three worker processes, two ingest nodes and a board on a real Redis
and PostgreSQL (started here, like the tests do), with the real models.

    python -m bench.bench_cluster [--calls 6] [--workers 3] [--no-failover]

1. Throughput: ``--calls`` synthesised calls (about 10 and 20 s) sent by two ingest nodes as
   fast as Redis takes them; the workers' speed sets the pace. ``realtime_calls_per_core``:
   seconds of call audio processed per second of wall time, per core the workers shared
   (the live calls one core carries). Redis and PostgreSQL load per 100 calls: commands,
   bytes in, transactions, rows and database growth, scaled from this run's calls.
2. Latency: for every final utterance, from the worker's append to the events stream (the
   stream entry's time) to its arrival at a websocket client of the board: p50/p95.
3. Failover: the longer call sent live (real time); its worker is killed with SIGKILL five
   seconds in. ``failover_s``: from the kill to the board's ``call_moved`` alert (the call
   resumed elsewhere). ``failover_lost_finals``: finals of the uninterrupted run of the same
   recording missing from PostgreSQL; ``duplicate_finals``: final ids seen twice on the
   events stream or at the client.

Writes the ``cluster`` section of bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import percentile, update_results
from tests import cluster_servers
from tests.cluster_servers import RoleProcess


def _pg(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn) as c:
        return list(c.execute(sql.encode(), args).fetchall())


class Client:
    """A websocket client of the board: receipt time of every final, the alerts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.finals: dict[tuple[str, int], list[float]] = {}
        self.moved: dict[str, float] = {}
        self.ended: set[str] = set()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        import websockets

        async with websockets.connect(self.url, max_size=2**24) as ws:
            async for raw in ws:
                now = time.time()
                m = json.loads(raw)
                kind = m.get("type")
                if kind == "final":
                    self.finals.setdefault((m["call_id"], m["seq"]), []).append(now)
                elif kind == "alert" and m.get("kind") == "call_moved":
                    self.moved.setdefault(m["call_id"], now)
                elif kind == "call_ended":
                    self.ended.add(m["call_id"])

    async def wait_ended(self, calls: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not calls <= self.ended:
            if time.monotonic() > deadline:
                raise TimeoutError(f"calls not ended: {sorted(calls - self.ended)}")
            await asyncio.sleep(0.2)


def _redis_stats(url: str) -> dict[str, int]:
    import redis

    r = redis.Redis.from_url(url)
    info = {**r.info("stats"), **r.info("memory")}
    r.close()
    return {
        "commands": int(info["total_commands_processed"]),
        "net_in": int(info["total_net_input_bytes"]),
        "used_memory": int(info["used_memory"]),
    }


def _pg_stats(dsn: str) -> dict[str, int]:
    rows = _pg(
        dsn,
        "SELECT xact_commit, tup_inserted + tup_updated, pg_database_size(datname)"
        " FROM pg_stat_database WHERE datname = current_database()",
    )
    return {
        "commits": int(rows[0][0]),
        "rows_written": int(rows[0][1]),
        "db_bytes": int(rows[0][2]),
    }


async def run(calls: int, workers: int, failover: bool) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    wavs = cluster_servers.render_calls(root)
    import soundfile as sf

    seconds = {k: sf.info(str(v)).duration for k, v in wavs.items()}
    with cluster_servers.servers() as (redis, pg):
        conf = root / "cluster.toml"
        conf.write_text(
            f'[cluster]\nredis_url = "{redis.url}"\npostgres_dsn = "{pg.dsn}"\nlease_s = 3.0\n'
        )
        procs: list[RoleProcess] = []

        def role(*args: str) -> RoleProcess:
            p = RoleProcess(args[0], "--config", str(conf), *args[1:])
            procs.append(p)
            return p

        try:
            board = role("board", "--port", "0")
            ws = [role("worker", "--name", f"w{i}", "--max-calls", "3") for i in range(workers)]
            t_start = time.monotonic()
            for p in [board, *ws]:
                p.wait_ready(900)
            startup_s = time.monotonic() - t_start
            assert board.ready is not None
            url = str(board.ready["urls"]["board"])  # type: ignore[index]
            client = Client(url.replace("http://", "ws://").replace("/?token=", "/ws?token="))
            client.task = asyncio.create_task(client.run())
            await asyncio.sleep(1.0)
            r0, p0 = _redis_stats(redis.url), _pg_stats(pg.dsn)
            names = [("longer" if i % 3 == 2 else "short") for i in range(calls)]
            halves = [names[0::2], names[1::2]]
            t0 = time.monotonic()
            nodes = [role("ingest", *(str(wavs[n]) for n in h)) for h in halves if h]
            for n in nodes:
                await asyncio.to_thread(n.wait, 600)
            sent = [s for n in nodes for s in n.json_lines("sent")]
            ids = {str(s["call_id"]) for s in sent}
            await client.wait_ended(ids, 1200)
            wall = time.monotonic() - t0
            r1, p1 = _redis_stats(redis.url), _pg_stats(pg.dsn)
            audio_s = sum(seconds[n] for n in names)
            # worker -> board client: the events stream entry's time to the client's receipt
            import redis as redis_lib

            rc = redis_lib.Redis.from_url(redis.url)
            appended: dict[tuple[str, int], float] = {}
            dup_stream = 0
            seen_ids: set[str] = set()
            for entry_id, fields in rc.xrange("callmon:events"):
                eid = fields[b"id"].decode()
                if eid in seen_ids and not eid.endswith(":partial"):
                    dup_stream += 1
                seen_ids.add(eid)
                body = json.loads(fields[b"data"])
                if body.get("type") == "final":
                    ms = int(entry_id.decode().split("-")[0])
                    appended[(body["call_id"], body["seq"])] = ms / 1000
            lat = [(ts[0] - appended[k]) * 1000 for k, ts in client.finals.items() if k in appended]
            control = {
                name: _pg(
                    pg.dsn,
                    "SELECT seq, text FROM utterances WHERE call_id = %s ORDER BY seq",
                    str(s["call_id"]),
                )
                for s in sent
                for name in [("longer" if str(s["call_id"]).startswith("longer") else "short")]
            }
            out: dict[str, Any] = {
                "workers": workers,
                "calls": calls,
                "call_audio_s": round(audio_s, 1),
                "wall_s": round(wall, 1),
                "worker_startup_s": round(startup_s, 1),
                "cores": os.cpu_count(),
                "realtime_calls_per_core": round(
                    audio_s / wall / min(workers, os.cpu_count() or 1), 2
                ),
                "event_latency_p50_ms": round(percentile(lat, 50), 1),
                "event_latency_p95_ms": round(percentile(lat, 95), 1),
                "finals": len(lat),
                "per_100_calls": {
                    "redis_commands": round((r1["commands"] - r0["commands"]) * 100 / calls),
                    "redis_mb_in": round((r1["net_in"] - r0["net_in"]) * 100 / calls / 2**20, 1),
                    "redis_used_mb_after": round(r1["used_memory"] / 2**20, 1),
                    "postgres_commits": round((p1["commits"] - p0["commits"]) * 100 / calls),
                    "postgres_rows_written": round(
                        (p1["rows_written"] - p0["rows_written"]) * 100 / calls
                    ),
                    "postgres_mb_growth": round(
                        (p1["db_bytes"] - p0["db_bytes"]) * 100 / calls / 2**20, 1
                    ),
                },
            }
            if failover:
                out.update(await _failover(role, rc, pg.dsn, client, ws, wavs, control))
            dup_client = sum(len(v) - 1 for v in client.finals.values())
            out["duplicate_finals"] = dup_stream + dup_client + out.get("duplicate_finals", 0)
            rc.close()
            client.task.cancel()
            return out
        finally:
            for p in procs:
                p.stop()


async def _failover(role: Any, rc: Any, dsn: str, client: Client, ws: list[RoleProcess],
                    wavs: dict[str, Path], control: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    node = role("ingest", str(wavs["longer"]), "--realtime")
    owner = ""
    while not owner:
        await asyncio.sleep(0.2)
        pending = rc.xpending_range("callmon:calls", "workers", "-", "+", 10)
        owner = pending[0]["consumer"].decode() if pending else ""
    await asyncio.sleep(5.0)
    victim = next(w for w in ws if w.ready and w.ready["name"] == owner)
    victim.proc.send_signal(signal.SIGKILL)
    killed = time.time()
    await asyncio.to_thread(node.wait, 300)
    call_id = str(node.json_lines("sent")[0]["call_id"])
    await client.wait_ended({call_id}, 300)
    got = _pg(dsn, "SELECT seq, text FROM utterances WHERE call_id = %s ORDER BY seq", call_id)
    want = control.get("longer", [])
    return {
        "failover_s": round(client.moved[call_id] - killed, 2) if call_id in client.moved else None,
        "failover_lease_s": 3.0,
        "failover_lost_finals": len([f for f in want if f not in got]),
        "failover_extra_finals": len([f for f in got if f not in want]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--no-failover", action="store_true")
    args = ap.parse_args()
    if why := cluster_servers.missing():
        raise SystemExit(f"bench_cluster: needs {why}")
    figures = asyncio.run(run(args.calls, args.workers, not args.no_failover))
    print(json.dumps(figures, indent=2))
    update_results("cluster", figures)


if __name__ == "__main__":
    main()
