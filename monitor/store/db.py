"""The call store: every call kept in SQLite (stdlib, WAL), its recording beside it.

:meth:`CallStore.persist` is a synchronous bus sink (``bus.add_sink(store.persist)``): each
event is committed before any subscriber sees it. One event is one transaction.

Durability: WAL with ``synchronous=NORMAL`` by default. A commit is then in the WAL file
(in the OS) when ``persist`` returns, so a crashed or SIGKILLed process loses nothing it
persisted and never corrupts the database; only a power cut / kernel crash can drop the last
commits before the next checkpoint (still without corruption). ``FULL`` would fsync on every
commit, i.e. several fsyncs per second per call on the event loop, to cover that rarer case;
pass ``synchronous="FULL"`` where that trade is wanted (``bench/bench_store.py`` measures both).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from monitor import events as ev
from monitor.redact.pii import is_redacted
from monitor.store import query
from monitor.store.audio import AudioWriter, repair_wav, zero_span_seconds
from monitor.store.schema import migrate

log = logging.getLogger(__name__)

Synchronous = Literal["NORMAL", "FULL"]
DAY = 86_400.0


def _audio_name(call_id: str) -> str:
    """A file name for a call id; distinct ids give distinct names even after sanitising."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", call_id).strip("._")[:80] or "call"
    if safe != call_id:
        safe += "-" + hashlib.sha1(call_id.encode()).hexdigest()[:8]
    return safe + ".wav"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CallStore:
    """Calls, utterances, scores, risk, alerts, cards and recordings, in one SQLite file."""

    def __init__(
        self,
        path: Path,
        audio_dir: Path | None = None,
        retention_days: int | None = None,
        *,
        silence_pii_audio: bool = True,
        synchronous: Synchronous = "NORMAL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        if retention_days is not None and retention_days < 0:
            raise ValueError(
                f"retention_days must be >= 0 (or None to keep audio), got {retention_days}"
            )
        self.path = Path(path)
        self.audio_dir = Path(audio_dir) if audio_dir else self.path.parent / "audio"
        self.retention_days = retention_days
        self.silence_pii_audio = silence_pii_audio
        self._clock = clock
        self._lock = threading.RLock()
        self._writers: dict[str, AudioWriter] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise sqlite3.DatabaseError(
                f"cannot open the call store {self.path}: {exc}; is it a callmon database?"
            ) from exc
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.row_factory = sqlite3.Row
        migrate(self._conn)

    @classmethod
    def open(cls, path: Path | str, **kwargs: Any) -> CallStore:
        return cls(Path(path), **kwargs)

    # ---- writing ---------------------------------------------------------------------------

    def persist(self, event: ev.Event) -> None:
        """Store one event (a synchronous bus sink); partial utterances are not kept."""
        if isinstance(event, ev.PartialUtterance):
            return
        with self._lock, self._tx() as c:
            if isinstance(event, ev.CallStarted):
                c.execute(
                    "INSERT INTO calls (call_id, name, agent_id, queue, language, source,"
                    " channels, started_at) VALUES (?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(call_id) DO UPDATE SET name=excluded.name,"
                    " agent_id=excluded.agent_id, queue=excluded.queue,"
                    " language=excluded.language, source=excluded.source,"
                    " channels=excluded.channels",
                    (
                        event.call_id,
                        event.name,
                        event.agent_id,
                        event.queue,
                        event.language,
                        event.source,
                        event.channels,
                        self._clock(),
                    ),
                )
            elif isinstance(event, ev.AgentStrain):
                c.execute(
                    "INSERT INTO agent_strain VALUES (?,?,?,?,?)",
                    (
                        event.agent_id,
                        event.hostile_calls,
                        event.recent_calls,
                        event.suggestion,
                        self._clock(),
                    ),
                )
            else:
                self._ensure_call(c, event.call_id)
                self._persist_call_event(c, event)
        if isinstance(event, ev.FinalUtterance) and self.silence_pii_audio:
            self._silence_redacted(event)

    def _persist_call_event(self, c: sqlite3.Connection, e: ev.Event) -> None:
        if isinstance(e, ev.FinalUtterance):
            words = [[w.text, w.start, w.end, w.confidence] for w in e.words]
            features = None
            if e.features is not None:
                f = e.features
                features = _json(
                    {
                        "loudness_dbfs": f.loudness_dbfs,
                        "pitch_hz": f.pitch_hz,
                        "speech_rate": f.speech_rate,
                        "duration": f.duration,
                        "silence_before": f.silence_before,
                    }
                )
            c.execute(
                "INSERT OR REPLACE INTO utterances VALUES (?,?,?,?,?,?,?,?,?)",
                (e.call_id, e.seq, e.speaker, e.text, e.start, e.end, _json(words), features,
                 e.engine),
            )  # fmt: skip
        elif isinstance(e, ev.UtteranceScore):
            c.execute(
                "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?,?)",
                (e.call_id, e.seq, e.speaker, e.at, e.sentiment, *e.probabilities,
                 _json([list(i) for i in e.intents])),
            )  # fmt: skip
        elif isinstance(e, ev.CallRisk):
            c.execute(
                "INSERT INTO risks SELECT ?, COALESCE(MAX(n) + 1, 0), ?, ?, ?, ?, ?"
                " FROM risks WHERE call_id = ?",
                (e.call_id, e.at, e.risk, e.level, e.sentiment, _json(e.reasons), e.call_id),
            )
        elif isinstance(e, ev.TalkOver):
            c.execute(
                "INSERT INTO talk_overs SELECT ?, COALESCE(MAX(n) + 1, 0), ?, ?, ?"
                " FROM talk_overs WHERE call_id = ?",
                (e.call_id, e.speaker, e.start, e.end, e.call_id),
            )
        elif isinstance(e, ev.Alert):
            c.execute(
                "INSERT INTO alerts (alert_id, call_id, at, severity, kind, message, reasons)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT(alert_id) DO UPDATE SET at=excluded.at,"
                " severity=excluded.severity, kind=excluded.kind, message=excluded.message,"
                " reasons=excluded.reasons",
                (e.alert_id, e.call_id, e.at, e.severity, e.kind, e.message, _json(e.reasons)),
            )
        elif isinstance(e, ev.PromptCard):
            c.execute(
                "INSERT INTO cards (card_id, call_id, at, language, kind, title, body, trigger)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(card_id) DO UPDATE SET at=excluded.at,"
                " language=excluded.language, kind=excluded.kind, title=excluded.title,"
                " body=excluded.body, trigger=excluded.trigger",
                (e.card_id, e.call_id, e.at, e.language, e.kind, e.title, e.body, e.trigger),
            )
        elif isinstance(e, ev.AlertAcknowledged):
            cur = c.execute(
                "UPDATE alerts SET acked_by=?, assigned_to=?, acked_at=? WHERE alert_id=?",
                (e.by, e.assigned_to, self._clock(), e.alert_id),
            )
            if cur.rowcount == 0:
                log.warning("acknowledgement of unknown alert %s (call %s)", e.alert_id, e.call_id)
        elif isinstance(e, ev.CardFeedback):
            cur = c.execute(
                "UPDATE cards SET feedback=?, feedback_by=?, feedback_at=? WHERE card_id=?",
                (e.action, e.by, self._clock(), e.card_id),
            )
            if cur.rowcount == 0:
                log.warning("feedback on unknown card %s (call %s)", e.card_id, e.call_id)
        elif isinstance(e, ev.CallEnded):
            writer = self._writers.pop(e.call_id, None)
            if writer is not None:
                writer.close()
                c.execute(
                    "UPDATE calls SET audio_seconds=? WHERE call_id=?",
                    (writer.duration, e.call_id),
                )
            c.execute(
                "UPDATE calls SET status=?, end_at=?, error=?, ended_at=? WHERE call_id=?",
                (e.reason, e.at, e.error, self._clock(), e.call_id),
            )

    def _ensure_call(self, c: sqlite3.Connection, call_id: str) -> None:
        """An event of a call never announced still gets stored (under a bare call row)."""
        c.execute(
            "INSERT OR IGNORE INTO calls (call_id, name, started_at) VALUES (?,?,?)",
            (call_id, call_id, self._clock()),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn)

    # ---- audio -----------------------------------------------------------------------------

    def open_audio(self, call_id: str, sample_rate: int, channels: int) -> AudioWriter:
        """A writer for the call's recording (all channels), registered with the call."""
        name = _audio_name(call_id)
        with self._lock:
            old = self._writers.pop(call_id, None)
            if old is not None:
                old.close()
            writer = AudioWriter(self.audio_dir / name, sample_rate, channels)
            with self._tx() as c:
                self._ensure_call(c, call_id)
                c.execute(
                    "UPDATE calls SET audio_path=?, sample_rate=?, audio_deleted_at=NULL"
                    " WHERE call_id=?",
                    (name, sample_rate, call_id),
                )
            self._writers[call_id] = writer
        return writer

    def audio_path(self, call_id: str) -> Path | None:
        """The call's recording on disk, or None (never recorded, or deleted by retention)."""
        row = self._conn.execute(
            "SELECT audio_path, audio_deleted_at FROM calls WHERE call_id=?", (call_id,)
        ).fetchone()
        if row is None or row["audio_path"] is None or row["audio_deleted_at"] is not None:
            return None
        path = self.audio_dir / row["audio_path"]
        return path if path.exists() else None

    def _silence_redacted(self, e: ev.FinalUtterance) -> None:
        spans = [(w.start, w.end) for w in e.words if is_redacted(w)]
        if not spans:
            return
        writer = self._writers.get(e.call_id)
        if writer is None:
            path = self.audio_path(e.call_id)
            if path is None:
                return
            for start, end in spans:
                zero_span_seconds(path, start, end)
            return
        for start, end in spans:
            writer.silence(start, end)

    # ---- lifecycle -------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """At startup: calls left without an end are marked ``interrupted``; their WAVs and
        end times are repaired from what reached the disk. Returns their ids."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT call_id, audio_path FROM calls WHERE status='live' ORDER BY call_id"
            ).fetchall()
            recovered: list[str] = []
            for row in rows:
                call_id = row["call_id"]
                if call_id in self._writers:
                    continue  # live in this process
                seconds: float | None = None
                if row["audio_path"]:
                    wav = self.audio_dir / row["audio_path"]
                    if wav.exists():
                        try:
                            seconds = repair_wav(wav)
                        except ValueError as exc:
                            log.error("%s", exc)
                last = query.last_event_time(self._conn, call_id)
                end_at = max(seconds or 0.0, last)
                with self._tx() as c:
                    c.execute(
                        "UPDATE calls SET status='interrupted', end_at=?, audio_seconds=?,"
                        " error='the monitor stopped before the call ended' WHERE call_id=?",
                        (end_at, seconds, call_id),
                    )
                recovered.append(call_id)
            return recovered

    def apply_retention(self, now: float | None = None) -> int:
        """Delete recordings older than ``retention_days`` (text and scores stay); returns how
        many recordings were deleted."""
        if self.retention_days is None:
            return 0
        now = self._clock() if now is None else now
        cutoff = now - self.retention_days * DAY
        with self._lock:
            rows = self._conn.execute(
                "SELECT call_id, audio_path FROM calls WHERE audio_path IS NOT NULL"
                " AND audio_deleted_at IS NULL AND status != 'live' AND started_at < ?",
                (cutoff,),
            ).fetchall()
            for row in rows:
                (self.audio_dir / row["audio_path"]).unlink(missing_ok=True)
                with self._tx() as c:
                    c.execute(
                        "UPDATE calls SET audio_deleted_at=? WHERE call_id=?",
                        (now, row["call_id"]),
                    )
            return len(rows)

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()
            self._conn.close()

    def __enter__(self) -> CallStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ---------------------------------------------------------------------------

    def search(
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
        """Calls matching every given filter, newest first; see :func:`query.search`."""
        with self._lock:
            return query.search(
                self._conn, q=q, agent=agent, date_from=date_from, date_to=date_to,
                min_sentiment=min_sentiment, max_sentiment=max_sentiment, alert=alert,
                limit=limit, offset=offset,
            )  # fmt: skip

    def list_calls(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return self.search(limit=limit, offset=offset)

    def get_call(self, call_id: str) -> dict[str, Any]:
        """Everything stored about one call; raises KeyError for an unknown id."""
        with self._lock:
            return query.get_call(self._conn, call_id)

    def export_call(self, call_id: str) -> dict[str, Any]:
        """The call's stored content without call ids and wall-clock columns: two replays of
        one recording give equal exports."""
        with self._lock:
            return query.portable(query.get_call(self._conn, call_id))

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
