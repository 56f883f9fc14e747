"""The call store: every call kept in SQLite (stdlib, WAL), its recording beside it.

Writes happen on ONE writer thread (:mod:`monitor.store.writer`) in batched transactions;
nothing here runs SQL on the event loop. :meth:`CallStore.sink` is the bus's sink
(``bus.add_sink(store.sink)``): it queues the event and returns an awaitable that resolves
once the event's batch is committed, so the bus broadcasts only what is already stored.
:meth:`CallStore.persist` is the same, waited for synchronously (tools, tests). Reads use a
connection of their own (WAL: readers never wait for the writer); async callers run them
with ``asyncio.to_thread``.

Lifecycle: ``start()`` (or the first write) starts the writer; ``close()`` commits what is
queued, stops the thread and closes the files. Whoever owns the store closes it last.

Durability: WAL with ``synchronous=NORMAL`` by default. A commit is in the WAL file (in the
OS) when its future resolves, so a crashed or SIGKILLed process loses nothing it persisted
and never corrupts the database; only a power cut / kernel crash can drop the last commits
before the next checkpoint (still without corruption). ``synchronous="FULL"`` fsyncs every
batch (``bench/bench_store.py`` measures both).

Privacy: the writer runs with ``secure_delete`` on, so erased rows are overwritten, not just
unlinked (:mod:`monitor.store.erase`); recordings are muted where redacted words were said.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

from monitor import events as ev
from monitor.redact.audio import MUTE_MARGIN_S, spans_to_mute
from monitor.store import erase, query
from monitor.store.audio import AudioWriter, repair_wav, zero_span_seconds
from monitor.store.persist import ensure_call, write_event, write_muted_span
from monitor.store.schema import migrate
from monitor.store.writer import WriterThread

log = logging.getLogger(__name__)

Synchronous = Literal["NORMAL", "FULL"]
DAY = 86_400.0


def _audio_name(call_id: str) -> str:
    """A file name for a call id; distinct ids give distinct names even after sanitising."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", call_id).strip("._")[:80] or "call"
    if safe != call_id:
        safe += "-" + hashlib.sha1(call_id.encode()).hexdigest()[:8]
    return safe + ".wav"


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
        mute_margin_s: float = MUTE_MARGIN_S,
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
        self.mute_margin_s = mute_margin_s
        self._synchronous = synchronous
        self._clock = clock
        self._read_lock = threading.Lock()
        self._audio_lock = threading.Lock()
        self._writers: dict[str, AudioWriter] = {}
        self._closed = False
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
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.row_factory = sqlite3.Row
        migrate(self._conn)  # before the writer exists: nobody else writes yet
        self._writer = WriterThread(self._connect_writer)

    @classmethod
    def open(cls, path: Path | str, **kwargs: Any) -> CallStore:
        return cls(Path(path), **kwargs)

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")  # erased content is overwritten on disk
        conn.row_factory = sqlite3.Row
        return conn

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (idempotent; the first write starts it too)."""
        self._writer.start()

    def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        self._writer.run(lambda _c: None)

    def close(self) -> None:
        """Commit what is queued, stop the writer, close recordings and connections."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with self._audio_lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()
        with self._read_lock:
            self._conn.close()

    def __enter__(self) -> CallStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def batches(self) -> int:
        """Transactions committed by the writer so far (events per batch = events / this)."""
        return self._writer.batches

    # ---- writing ---------------------------------------------------------------------------

    def submit(self, event: ev.Event) -> Future[None] | None:
        """Queue one event for the writer; its future resolves once committed. None for an
        event that is not stored (partial utterances: their final replaces them)."""
        if isinstance(event, ev.PartialUtterance):
            return None
        return self._writer.submit(lambda c: self._write(c, event))

    def sink(self, event: ev.Event) -> Awaitable[None] | None:
        """The bus sink: an awaitable that resolves when ``event`` is committed.

        Cancelling the awaitable (a call cancelled at shutdown) does not cancel the write:
        an event handed to the store is stored (``asyncio.wrap_future`` would cancel it)."""
        fut = self.submit(event)
        if fut is None:
            return None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def settle(done: Future[None]) -> None:
            if waiter.cancelled():
                return
            error = done.exception()
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(None)

        def committed(done: Future[None]) -> None:  # in the writer thread
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, done)

        fut.add_done_callback(committed)
        return waiter

    def persist(self, event: ev.Event) -> None:
        """Store one event and wait for its commit (not on the event loop: use ``sink``)."""
        fut = self.submit(event)
        if fut is not None:
            fut.result()

    def _write(self, c: sqlite3.Connection, event: ev.Event) -> None:
        """The writer thread's job for one event."""
        now = self._clock()
        if isinstance(event, ev.CallEnded):
            with self._audio_lock:
                writer = self._writers.pop(event.call_id, None)
            if writer is not None:
                writer.close()  # the recording is final: sizes written, fsynced
                c.execute(
                    "UPDATE calls SET audio_seconds=? WHERE call_id=?",
                    (writer.duration, event.call_id),
                )
        write_event(c, event, now)
        if isinstance(event, ev.FinalUtterance) and self.silence_pii_audio:
            self._mute_redacted(c, event)

    def _mute_redacted(self, c: sqlite3.Connection, e: ev.FinalUtterance) -> None:
        """Mute the recording where the words now shown as placeholders were said, on the
        speaker's channel; the spans are stored for the QA page and the report."""
        spans = spans_to_mute(e, self.mute_margin_s)
        if not spans:
            return
        with self._audio_lock:
            writer = self._writers.get(e.call_id)
        row = c.execute(
            "SELECT audio_path, audio_deleted_at, channels FROM calls WHERE call_id=?",
            (e.call_id,),
        ).fetchone()
        channels = writer.channels if writer is not None else (row["channels"] if row else 1)
        # column 0 is the customer, 1 the agent (as the sources deliver them); mono is one party
        channel = ev.SPEAKERS.index(e.speaker) if channels == 2 else None
        closed: Path | None = None
        if writer is None and row is not None and row["audio_path"] and not row["audio_deleted_at"]:
            path = self.audio_dir / row["audio_path"]
            closed = path if path.exists() else None
        if writer is None and closed is None:
            return  # no recording (never kept, or deleted): nothing to mute
        for s in spans:
            if writer is not None:
                writer.silence(s.start, s.end, channel)
            elif closed is not None:
                zero_span_seconds(closed, s.start, s.end, channel)
            write_muted_span(c, e.call_id, s.speaker, s.start, s.end, s.label)

    # ---- audio -----------------------------------------------------------------------------

    def open_audio(self, call_id: str, sample_rate: int, channels: int) -> AudioWriter:
        """A writer for the call's recording (all channels), registered with the call. The
        call's row is updated by the writer thread (this never waits for the database)."""
        name = _audio_name(call_id)
        with self._audio_lock:
            old = self._writers.pop(call_id, None)
            if old is not None:
                old.close()
            writer = AudioWriter(self.audio_dir / name, sample_rate, channels)
            self._writers[call_id] = writer

        def register(c: sqlite3.Connection) -> None:
            ensure_call(c, call_id, self._clock())
            c.execute(
                "UPDATE calls SET audio_path=?, sample_rate=?, audio_deleted_at=NULL"
                " WHERE call_id=?",
                (name, sample_rate, call_id),
            )

        self._writer.submit(register).add_done_callback(_log_failure)
        return writer

    def audio_path(self, call_id: str) -> Path | None:
        """The call's recording on disk, or None (never recorded, deleted or erased)."""
        with self._read_lock:
            row = self._conn.execute(
                "SELECT audio_path, audio_deleted_at FROM calls WHERE call_id=?", (call_id,)
            ).fetchone()
        if row is None or row["audio_path"] is None or row["audio_deleted_at"] is not None:
            return None
        path = self.audio_dir / row["audio_path"]
        return path if path.exists() else None

    # ---- maintenance -----------------------------------------------------------------------

    def recover(self) -> list[str]:
        """At startup: calls left without an end are marked ``interrupted``; their WAVs and
        end times are repaired from what reached the disk. Returns their ids."""

        def job(c: sqlite3.Connection) -> list[str]:
            rows = c.execute(
                "SELECT call_id, audio_path FROM calls WHERE status='live' ORDER BY call_id"
            ).fetchall()
            recovered: list[str] = []
            for row in rows:
                call_id = row["call_id"]
                with self._audio_lock:
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
                end_at = max(seconds or 0.0, query.last_event_time(c, call_id))
                c.execute(
                    "UPDATE calls SET status='interrupted', end_at=?, audio_seconds=?,"
                    " error='the monitor stopped before the call ended' WHERE call_id=?",
                    (end_at, seconds, call_id),
                )
                recovered.append(call_id)
            return recovered

        return self._writer.run(job)

    def apply_retention(self, now: float | None = None) -> int:
        """Delete recordings older than ``retention_days`` (text and scores stay); returns how
        many recordings were deleted."""
        if self.retention_days is None:
            return 0
        when = self._clock() if now is None else now
        cutoff = when - self.retention_days * DAY

        def job(c: sqlite3.Connection) -> int:
            rows = c.execute(
                "SELECT call_id, audio_path FROM calls WHERE audio_path IS NOT NULL"
                " AND audio_deleted_at IS NULL AND status != 'live' AND started_at < ?",
                (cutoff,),
            ).fetchall()
            for row in rows:
                (self.audio_dir / row["audio_path"]).unlink(missing_ok=True)
                c.execute(
                    "UPDATE calls SET audio_deleted_at=? WHERE call_id=?", (when, row["call_id"])
                )
            return len(rows)

        return self._writer.run(job)

    def delete_call(self, call_id: str, by: str, *, force: bool = False) -> erase.Erasure:
        """Erase a call on request: its text, scores, alerts, cards, muted spans, full-text
        index entries and recording; an audit entry (who, when, which call, no content) stays.
        KeyError for an unknown call; ValueError while it is live (in this process always;
        one marked live by another process unless ``force``: a crashed monitor leaves that)."""
        with self._audio_lock:
            if call_id in self._writers:
                raise ValueError(f"call {call_id!r} is still live; erase it after it has ended")
        result = self._writer.run(
            lambda c: erase.erase_call(c, self.audio_dir, call_id, by, self._clock(), live_ok=force)
        )
        self._writer.run(erase.purge)  # merge the full-text indexes
        self._writer.run(erase.checkpoint, transaction=False)  # then empty the WAL
        return result

    def erasures(self) -> list[dict[str, Any]]:
        """The audit trail of erasures, oldest first."""
        with self._read_lock:
            return erase.audit_log(self._conn)

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
        with self._read_lock:
            return query.search(
                self._conn, q=q, agent=agent, date_from=date_from, date_to=date_to,
                min_sentiment=min_sentiment, max_sentiment=max_sentiment, alert=alert,
                limit=limit, offset=offset,
            )  # fmt: skip

    def list_calls(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return self.search(limit=limit, offset=offset)

    def get_call(self, call_id: str) -> dict[str, Any]:
        """Everything stored about one call; raises KeyError for an unknown id."""
        with self._read_lock:
            return query.get_call(self._conn, call_id)

    def export_call(self, call_id: str) -> dict[str, Any]:
        """The call's stored content without call ids and wall-clock columns: two replays of
        one recording give equal exports."""
        with self._read_lock:
            return query.portable(query.get_call(self._conn, call_id))

    def integrity_check(self) -> str:
        with self._read_lock:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _log_failure(fut: Future[Any]) -> None:
    exc = fut.exception()
    if exc is not None:
        log.error("the call store could not record a recording: %s", exc)
