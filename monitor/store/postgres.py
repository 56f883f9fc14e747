"""The shared store of cluster mode, on PostgreSQL (psycopg 3, async).

The same reading interface as :class:`monitor.store.db.CallStore` (``search``,
``list_calls``, ``get_call``) and one writing call, :meth:`PgStore.persist`, which takes the
event with its deterministic id and upserts it: every row is keyed by something the event
itself fixes (the event id, ``(call_id, seq)``, the alert or card id), so writing an event a
second time, after a worker took over a call and replayed it, changes nothing.

Search uses a ``tsvector`` column (``to_tsvector('simple', text)``, generated and indexed)
with ``plainto_tsquery``: words, not substrings, like the SQLite store's FTS5.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from monitor import events as ev
from monitor import wire
from monitor.store.persist import KEEPS_DETECTED_LANGUAGE
from monitor.store.postgres_schema import MIGRATIONS
from monitor.store.query import SEVERITIES, parse_when

MIGRATE_LOCK = 0x63616C6C  # pg_advisory_xact_lock key: one migrator at a time


class PgStoreError(RuntimeError):
    pass


async def migrate(conn: psycopg.AsyncConnection[Any]) -> int:
    """Bring the schema to the latest version; returns the version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        await conn.execute("CREATE TABLE IF NOT EXISTS callmon_schema (version INTEGER NOT NULL)")
        cur = await conn.execute("SELECT version FROM callmon_schema")
        row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            await conn.execute("INSERT INTO callmon_schema VALUES (0)")
        if version > len(MIGRATIONS):
            raise PgStoreError(
                f"the database is at schema version {version}, newer than this callmon"
                f" ({len(MIGRATIONS)}); upgrade callmon"
            )
        for i in range(version, len(MIGRATIONS)):
            await conn.execute(MIGRATIONS[i].encode())
            await conn.execute("UPDATE callmon_schema SET version = %s", (i + 1,))
    return len(MIGRATIONS)


class PgStore:
    """One connection per process, used by one task at a time (the lock): the calls of a
    worker publish concurrently, and two transactions interleaved on one connection would
    nest into one another."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], dsn: str = "") -> None:
        self._conn = conn
        self._dsn = dsn
        self._lock = asyncio.Lock()
        self.writes = 0  # events upserted (each one transaction)

    @classmethod
    async def connect(cls, dsn: str) -> PgStore:
        try:
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            raise PgStoreError(f"cannot reach PostgreSQL at {_safe(dsn)}: {exc}") from None
        await migrate(conn)
        return cls(conn, dsn)

    async def _ready(self) -> None:
        """Reconnect after the server went away (a restart, a failover): the failed call
        raised; the next one works again once PostgreSQL is back."""
        if (self._conn.broken or self._conn.closed) and self._dsn:
            try:
                self._conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            except psycopg.OperationalError as exc:
                raise PgStoreError(
                    f"PostgreSQL at {_safe(self._dsn)} is unreachable: {exc}"
                ) from None

    async def aclose(self) -> None:
        await self._conn.close()

    # ---- writing ---------------------------------------------------------------------------
    async def persist(self, event_id: str, event: ev.Event) -> None:
        """Upsert one event and the rows it implies, in one transaction."""
        body = wire.to_dict(event)
        kind = body.pop("type")
        body.pop("v", None)
        call_id = ev.call_id_of(event)
        async with self._lock:
            await self._ready()
            await self._persist(event_id, event, call_id, kind, body)
        self.writes += 1

    async def _persist(
        self, event_id: str, event: ev.Event, call_id: str | None, kind: str, body: dict[str, Any]
    ) -> None:
        async with self._conn.transaction():
            cur = self._conn.cursor()
            if isinstance(event, ev.CallStarted):
                # the call's first announcement makes the row; a repeated one (a call whose
                # language was detected: detecting, then detected) updates only the language,
                # and a replayed "detecting" never undoes a detection
                await cur.execute(
                    "INSERT INTO calls (call_id, name, agent_id, queue, language, source,"
                    " channels, language_source, language_probability)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (call_id) DO UPDATE SET"
                    " language = EXCLUDED.language, language_source = EXCLUDED.language_source,"
                    " language_probability = EXCLUDED.language_probability"
                    f" WHERE {KEEPS_DETECTED_LANGUAGE}",
                    (event.call_id, event.name, event.agent_id, event.queue, event.language,
                     event.source, event.channels, event.language_source,
                     event.language_probability),
                )  # fmt: skip
            await cur.execute(
                "INSERT INTO events (event_id, call_id, type, body) VALUES (%s,%s,%s,%s)"
                " ON CONFLICT (event_id) DO UPDATE SET body = EXCLUDED.body",
                (event_id, call_id, kind, Jsonb(body)),
            )
            await self._rows(cur, event_id, event)

    async def _rows(self, cur: psycopg.AsyncCursor[Any], event_id: str, e: ev.Event) -> None:
        if isinstance(e, ev.FinalUtterance):
            words = [[w.text, w.start, w.end, w.confidence] for w in e.words]
            await cur.execute(
                "INSERT INTO utterances (call_id, seq, speaker, text, start_s, end_s, words,"
                " engine, event_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (call_id, seq) DO UPDATE SET text = EXCLUDED.text,"
                " start_s = EXCLUDED.start_s, end_s = EXCLUDED.end_s, words = EXCLUDED.words,"
                " event_id = EXCLUDED.event_id",
                (e.call_id, e.seq, e.speaker, e.text, e.start, e.end, Jsonb(words), e.engine,
                 event_id),
            )  # fmt: skip
        elif isinstance(e, ev.UtteranceScore):
            await cur.execute(
                "INSERT INTO scores VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (call_id, seq)"
                " DO UPDATE SET sentiment = EXCLUDED.sentiment,"
                " probabilities = EXCLUDED.probabilities, intents = EXCLUDED.intents",
                (e.call_id, e.seq, e.speaker, e.at, e.sentiment, Jsonb(list(e.probabilities)),
                 Jsonb([list(i) for i in e.intents])),
            )  # fmt: skip
        elif isinstance(e, ev.CallRisk):
            await cur.execute(
                "UPDATE calls SET final_risk = %s, final_sentiment = %s,"
                " sentiment_min = LEAST(COALESCE(sentiment_min, %s), %s) WHERE call_id = %s",
                (e.risk, e.sentiment, e.sentiment, e.sentiment, e.call_id),
            )
        elif isinstance(e, ev.Alert):
            await cur.execute(
                "INSERT INTO alerts (alert_id, call_id, at, severity, kind, message, reasons)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (alert_id) DO NOTHING",
                (e.alert_id, e.call_id, e.at, e.severity, e.kind, e.message,
                 Jsonb(list(e.reasons))),
            )  # fmt: skip
        elif isinstance(e, ev.PromptCard):
            await cur.execute(
                "INSERT INTO cards (card_id, call_id, at, kind, title, body) VALUES"
                " (%s,%s,%s,%s,%s,%s) ON CONFLICT (card_id) DO NOTHING",
                (e.card_id, e.call_id, e.at, e.kind, e.title, e.body),
            )
        elif isinstance(e, ev.AlertAcknowledged):
            await cur.execute(
                "UPDATE alerts SET acked_by = %s, assigned_to = %s, acked_at = now()"
                " WHERE alert_id = %s",
                (e.by, e.assigned_to, e.alert_id),
            )
        elif isinstance(e, ev.CardFeedback):
            await cur.execute(
                "UPDATE cards SET feedback = %s, feedback_by = %s WHERE card_id = %s",
                (e.action, e.by, e.card_id),
            )
        elif isinstance(e, ev.CallEnded):
            await cur.execute(
                "UPDATE calls SET status = %s, error = %s, end_at = %s,"
                " ended_at = COALESCE(ended_at, now()) WHERE call_id = %s",
                (e.reason, e.error, e.at, e.call_id),
            )

    async def set_audio(self, call_id: str, path: str) -> None:
        async with self._lock:
            await self._ready()
            await self._conn.execute(
                "UPDATE calls SET audio_path = %s WHERE call_id = %s", (path, call_id)
            )

    # ---- reading (the shape of CallStore's) ------------------------------------------------
    async def search(
        self,
        q: str | None = None,
        agent: str | None = None,
        date_from: str | float | None = None,
        date_to: str | float | None = None,
        min_sentiment: float | None = None,
        max_sentiment: float | None = None,
        alert: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Calls matching every given filter, newest first, with the SQLite store's meaning
        (:func:`monitor.store.query.search`); ``q`` is full-text (words)."""
        where: list[str] = []
        args: list[Any] = []
        if q:
            where.append(
                "call_id IN (SELECT call_id FROM utterances"
                " WHERE tsv @@ plainto_tsquery('simple', %s))"
            )
            args.append(q)
        if agent:
            where.append("agent_id = %s")
            args.append(agent)
        for value, op, end_of_day in ((date_from, ">=", False), (date_to, "<=", True)):
            if value is not None and value != "":
                where.append(f"started_at {op} to_timestamp(%s)")
                args.append(parse_when(value, end_of_day=end_of_day))
        if min_sentiment is not None:
            where.append("sentiment_min >= %s")
            args.append(float(min_sentiment))
        if max_sentiment is not None:
            where.append("sentiment_min <= %s")
            args.append(float(max_sentiment))
        if alert == "any":
            where.append("call_id IN (SELECT call_id FROM alerts)")
        elif alert:
            column = "severity" if alert in SEVERITIES else "kind"
            where.append(f"call_id IN (SELECT call_id FROM alerts WHERE {column} = %s)")
            args.append(alert)
        sql = "SELECT * FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, call_id LIMIT %s OFFSET %s"
        args += [min(max(limit, 1), 1000), max(offset, 0)]
        return await self._rows_of(sql, args)

    async def list_calls(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return await self.search(limit=limit, offset=offset)

    async def get_call(self, call_id: str) -> dict[str, Any]:
        """Everything stored about one call; raises KeyError for an unknown id."""
        calls = await self._rows_of("SELECT * FROM calls WHERE call_id = %s", [call_id])
        if not calls:
            raise KeyError(call_id)
        out = calls[0]
        for table, order in (("utterances", "seq"), ("scores", "seq"), ("alerts", "at"),
                             ("cards", "at")):  # fmt: skip
            out[table] = await self._rows_of(
                f"SELECT * FROM {table} WHERE call_id = %s ORDER BY {order}", [call_id]
            )
        for u in out["utterances"]:
            u.pop("tsv", None)
        return out

    async def events_of(self, call_id: str) -> list[dict[str, Any]]:
        return await self._rows_of(
            "SELECT event_id, type, body FROM events WHERE call_id = %s ORDER BY event_id",
            [call_id],
        )

    async def counts(self) -> dict[str, int]:
        """Rows per table and the database size (for the sizing figures)."""
        out: dict[str, int] = {}
        async with self._lock:
            return await self._counts(out)

    async def _counts(self, out: dict[str, int]) -> dict[str, int]:
        for table in ("calls", "events", "utterances", "alerts"):
            cur = await self._conn.execute(f"SELECT count(*) FROM {table}")
            row = await cur.fetchone()
            out[table] = int(row[0]) if row else 0
        cur = await self._conn.execute("SELECT pg_database_size(current_database())")
        row = await cur.fetchone()
        out["db_bytes"] = int(row[0]) if row else 0
        return out

    async def _rows_of(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        async with self._lock:
            await self._ready()
            return await self._fetch(sql, args)

    async def _fetch(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql.encode(), args)
            rows = await cur.fetchall()
        return [{k: _plain(v) for k, v in r.items()} for r in rows]


def _plain(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _safe(dsn: str) -> str:
    """The DSN without its password (it goes into error messages)."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", dsn))
