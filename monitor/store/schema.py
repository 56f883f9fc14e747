"""The store's schema, versioned with ``PRAGMA user_version`` and upgraded by migrations.

Each entry of :data:`MIGRATIONS` takes the database from version ``i`` to ``i + 1`` and runs in
one transaction with the version bump, so an upgrade interrupted half-way leaves the previous
version intact. Never edit a released migration: append a new one.

Stored values depend only on the call's content and audio time; the wall-clock columns
(``started_at``, ``ended_at``, ``acked_at``, ``feedback_at``, ``recorded_at``) are kept apart so
two replays of one recording compare equal without them.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: calls, utterances, scores, risk, alerts (+acks), cards (+feedback), talk-overs
    """
    CREATE TABLE calls (
        call_id     TEXT PRIMARY KEY,
        name        TEXT NOT NULL DEFAULT '',
        agent_id    TEXT NOT NULL DEFAULT '',
        queue       TEXT NOT NULL DEFAULT 'default',
        language    TEXT NOT NULL DEFAULT 'en',
        source      TEXT NOT NULL DEFAULT '',
        channels    INTEGER NOT NULL DEFAULT 2,
        status      TEXT NOT NULL DEFAULT 'live',  -- live|completed|interrupted|error
        error       TEXT NOT NULL DEFAULT '',
        end_at      REAL,                          -- call audio time at the end
        started_at  REAL NOT NULL,                 -- wall clock (epoch s), not compared
        ended_at    REAL                           -- wall clock
    );
    CREATE TABLE utterances (
        call_id  TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        speaker  TEXT NOT NULL,
        text     TEXT NOT NULL,
        start    REAL NOT NULL,
        end      REAL NOT NULL,
        words    TEXT NOT NULL DEFAULT '[]',       -- JSON [[text, start, end, confidence]]
        features TEXT,                             -- JSON AcousticFeatures or NULL
        engine   TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE scores (
        call_id   TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        speaker   TEXT NOT NULL,
        at        REAL NOT NULL,
        sentiment TEXT NOT NULL,
        p_neg     REAL NOT NULL,
        p_neu     REAL NOT NULL,
        p_pos     REAL NOT NULL,
        intents   TEXT NOT NULL DEFAULT '[]',      -- JSON [[intent, probability]]
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE risks (
        call_id   TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        n         INTEGER NOT NULL,                -- order within the call
        at        REAL NOT NULL,
        risk      REAL NOT NULL,
        level     TEXT NOT NULL,
        sentiment REAL NOT NULL,
        reasons   TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (call_id, n)
    );
    CREATE TABLE alerts (
        alert_id    TEXT PRIMARY KEY,
        call_id     TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        at          REAL NOT NULL,
        severity    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        message     TEXT NOT NULL,
        reasons     TEXT NOT NULL DEFAULT '[]',
        acked_by    TEXT,
        assigned_to TEXT,
        acked_at    REAL                           -- wall clock
    );
    CREATE INDEX alerts_by_call ON alerts(call_id, at);
    CREATE TABLE cards (
        card_id     TEXT PRIMARY KEY,
        call_id     TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        at          REAL NOT NULL,
        language    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        title       TEXT NOT NULL,
        body        TEXT NOT NULL,
        trigger     TEXT NOT NULL DEFAULT '',
        feedback    TEXT,                          -- used|dismissed
        feedback_by TEXT,
        feedback_at REAL                           -- wall clock
    );
    CREATE INDEX cards_by_call ON cards(call_id, at);
    CREATE TABLE talk_overs (
        call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        n       INTEGER NOT NULL,
        speaker TEXT NOT NULL,
        start   REAL NOT NULL,
        end     REAL NOT NULL,
        PRIMARY KEY (call_id, n)
    );
    """,
    # 2: the recording (retention deletes the file, keeps the row), agent strain, search indexes
    """
    ALTER TABLE calls ADD COLUMN audio_path TEXT;
    ALTER TABLE calls ADD COLUMN sample_rate INTEGER;
    ALTER TABLE calls ADD COLUMN audio_seconds REAL;
    ALTER TABLE calls ADD COLUMN audio_deleted_at REAL;  -- wall clock, set by retention
    CREATE INDEX calls_by_agent ON calls(agent_id, started_at);
    CREATE INDEX calls_by_start ON calls(started_at);
    CREATE TABLE agent_strain (
        agent_id      TEXT NOT NULL,
        hostile_calls INTEGER NOT NULL,
        recent_calls  INTEGER NOT NULL,
        suggestion    TEXT NOT NULL,
        recorded_at   REAL NOT NULL                -- wall clock
    );
    """,
    # 3: full-text search (FTS5) over transcripts and call names, kept in step by triggers;
    # the spans of a recording muted for redacted words; the audit trail of erasures
    """
    CREATE VIRTUAL TABLE utterances_fts USING fts5(
        text, content='utterances', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER utterances_fts_insert AFTER INSERT ON utterances BEGIN
        INSERT INTO utterances_fts(rowid, text) VALUES (new.rowid, new.text);
    END;
    CREATE TRIGGER utterances_fts_delete AFTER DELETE ON utterances BEGIN
        INSERT INTO utterances_fts(utterances_fts, rowid, text)
            VALUES ('delete', old.rowid, old.text);
    END;
    CREATE TRIGGER utterances_fts_update AFTER UPDATE OF text ON utterances BEGIN
        INSERT INTO utterances_fts(utterances_fts, rowid, text)
            VALUES ('delete', old.rowid, old.text);
        INSERT INTO utterances_fts(rowid, text) VALUES (new.rowid, new.text);
    END;
    INSERT INTO utterances_fts(utterances_fts) VALUES ('rebuild');
    CREATE VIRTUAL TABLE calls_fts USING fts5(
        name, content='calls', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER calls_fts_insert AFTER INSERT ON calls BEGIN
        INSERT INTO calls_fts(rowid, name) VALUES (new.rowid, new.name);
    END;
    CREATE TRIGGER calls_fts_delete AFTER DELETE ON calls BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
    END;
    CREATE TRIGGER calls_fts_update AFTER UPDATE OF name ON calls BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, name) VALUES ('delete', old.rowid, old.name);
        INSERT INTO calls_fts(rowid, name) VALUES (new.rowid, new.name);
    END;
    INSERT INTO calls_fts(calls_fts) VALUES ('rebuild');
    CREATE TABLE muted_audio (
        call_id TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        n       INTEGER NOT NULL,
        speaker TEXT NOT NULL,
        start   REAL NOT NULL,                     -- call audio time
        end     REAL NOT NULL,
        label   TEXT NOT NULL,                     -- the placeholder: [card], [phone], ...
        PRIMARY KEY (call_id, n)
    );
    CREATE TABLE erasures (                        -- who erased which call when; no content
        call_id       TEXT NOT NULL,
        erased_by     TEXT NOT NULL,
        erased_at     REAL NOT NULL,               -- wall clock
        audio_removed INTEGER NOT NULL,
        rows_removed  INTEGER NOT NULL
    );
    """,
    # 4: how the call's language is known (issue #12): given (the call's metadata), detecting
    # (not yet; the language is the fallback meanwhile) or detected, with the detector's
    # confidence; a call's second CallStarted (detected) updates them
    """
    ALTER TABLE calls ADD COLUMN language_source TEXT NOT NULL DEFAULT 'given';
    ALTER TABLE calls ADD COLUMN language_probability REAL;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database was written by a newer callmon, or a migration failed."""


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Upgrade ``conn`` to ``target``; returns the version it was at before."""
    before = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if before > SCHEMA_VERSION:
        raise SchemaError(
            f"the call store is at schema version {before} but this callmon knows only up to "
            f"{SCHEMA_VERSION}; upgrade callmon, or point it at another database"
        )
    for version in range(before, target):
        script = MIGRATIONS[version]
        try:
            # executescript would COMMIT on its own; run the statements in one transaction
            conn.execute("BEGIN IMMEDIATE")
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) > version:
                conn.execute("COMMIT")  # another process opening the store migrated it first
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise SchemaError(
                f"migration to schema version {version + 1} failed: {exc}; "
                f"the database is unchanged at version {version}"
            ) from exc
    return before


def _statements(script: str) -> list[str]:
    """The script's statements; a trigger's body (``BEGIN ...; ...; END``) stays whole."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    out: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending.strip().removesuffix(";").strip())
            pending = ""
    if pending.strip(" \n;"):
        out.append(pending.strip().removesuffix(";").strip())
    return out
