"""Erasure on request (a data subject's right to be forgotten, a PCI clean-up): one call's
text, scores, alerts, cards, muted spans, full-text index entries and recording removed, and
an audit entry kept that says who erased which call when, and nothing of what it held.

Removing rows is not enough for the bytes to be gone: the writer's connection runs with
``secure_delete`` (freed pages are overwritten), :func:`purge` merges the full-text index
(FTS5 keeps deleted terms in old segments until a merge) and checkpoints the WAL into the
database and truncates it (older page images, with the text, live in the WAL until then).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# every table with a call_id column; all but calls go by ON DELETE CASCADE, counted first
_CALL_TABLES = ("utterances", "scores", "risks", "alerts", "cards", "talk_overs", "muted_audio")


@dataclass(frozen=True, slots=True)
class Erasure:
    call_id: str
    erased_by: str
    erased_at: float  # wall clock, epoch seconds
    audio_removed: bool
    rows_removed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "erased_by": self.erased_by,
            "erased_at": self.erased_at,
            "audio_removed": self.audio_removed,
            "rows_removed": self.rows_removed,
        }


def erase_call(
    c: sqlite3.Connection,
    audio_dir: Path,
    call_id: str,
    by: str,
    now: float,
    *,
    live_ok: bool = False,
) -> Erasure:
    """Delete the call's rows and recording and write the audit entry (one transaction).
    A call still ``live`` is refused unless ``live_ok`` (a monitor that crashed left it so)."""
    if not by.strip():
        raise ValueError("an erasure must say who asked for it (by)")
    row = c.execute("SELECT audio_path, status FROM calls WHERE call_id=?", (call_id,)).fetchone()
    if row is None:
        done = c.execute(
            "SELECT erased_by, erased_at FROM erasures WHERE call_id=? ORDER BY erased_at DESC",
            (call_id,),
        ).fetchone()
        if done is not None:
            when = dt.datetime.fromtimestamp(done[1], dt.UTC).isoformat(timespec="seconds")
            raise KeyError(f"call {call_id!r} was already erased ({when} by {done[0]})")
        raise KeyError(f"no call {call_id!r} in the store")
    if row[1] == "live" and not live_ok:
        raise ValueError(
            f"call {call_id!r} is still live: erase it after it has ended (if the monitor "
            "that ran it is gone, `callmon calls delete --force` erases it anyway)"
        )
    rows = 1
    for table in _CALL_TABLES:
        rows += c.execute(f"SELECT COUNT(*) FROM {table} WHERE call_id=?", (call_id,)).fetchone()[0]
    c.execute("DELETE FROM calls WHERE call_id=?", (call_id,))  # cascades to the others
    audio_removed = False
    if row[0]:
        wav = audio_dir / row[0]
        audio_removed = wav.exists()
        wav.unlink(missing_ok=True)
    c.execute(
        "INSERT INTO erasures VALUES (?,?,?,?,?)",
        (call_id, by.strip(), now, int(audio_removed), rows),
    )
    return Erasure(call_id, by.strip(), now, audio_removed, rows)


def purge(c: sqlite3.Connection) -> None:
    """Make erased content unrecoverable from the files: merge the full-text indexes (their
    old segments still hold deleted terms) inside the writer's transaction."""
    c.execute("INSERT INTO utterances_fts(utterances_fts) VALUES ('optimize')")
    c.execute("INSERT INTO calls_fts(calls_fts) VALUES ('optimize')")


def checkpoint(c: sqlite3.Connection) -> None:
    """Copy the WAL into the database and truncate it (outside any transaction)."""
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def audit_log(c: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = c.execute(
        "SELECT call_id, erased_by, erased_at, audio_removed, rows_removed FROM erasures"
        " ORDER BY erased_at, rowid"
    ).fetchall()
    return [
        {"call_id": r[0], "erased_by": r[1], "erased_at": r[2], "audio_removed": bool(r[3]),
         "rows_removed": r[4]}
        for r in rows
    ]  # fmt: skip
