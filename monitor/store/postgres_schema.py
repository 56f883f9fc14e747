"""The PostgreSQL store's schema (cluster mode), versioned like the SQLite one.

Each entry of :data:`MIGRATIONS` takes the database from version ``i`` to ``i + 1`` and runs in
one transaction with the version bump (``callmon_schema``), under an advisory lock so two
workers starting at once do not both migrate. Never edit a released migration: append one.

Every row written from an event carries the event's deterministic id (``event_id``) and is
written by upsert, so a worker that replays a call after a failover stores nothing twice.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: calls, every event, utterances with full-text search, scores, risk, alerts, cards
    """
    CREATE TABLE calls (
        call_id     TEXT PRIMARY KEY,
        name        TEXT NOT NULL DEFAULT '',
        agent_id    TEXT NOT NULL DEFAULT '',
        queue       TEXT NOT NULL DEFAULT 'default',
        language    TEXT NOT NULL DEFAULT 'en',
        source      TEXT NOT NULL DEFAULT '',
        channels    INTEGER NOT NULL DEFAULT 2,
        status      TEXT NOT NULL DEFAULT 'live',
        error       TEXT NOT NULL DEFAULT '',
        end_at      DOUBLE PRECISION,
        final_risk  DOUBLE PRECISION,
        final_sentiment DOUBLE PRECISION,
        started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        ended_at    TIMESTAMPTZ
    );
    CREATE INDEX calls_by_agent ON calls(agent_id, started_at DESC);
    CREATE TABLE events (
        event_id    TEXT PRIMARY KEY,
        call_id     TEXT,
        type        TEXT NOT NULL,
        body        JSONB NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX events_by_call ON events(call_id, event_id);
    CREATE TABLE utterances (
        call_id  TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        speaker  TEXT NOT NULL,
        text     TEXT NOT NULL,
        start_s  DOUBLE PRECISION NOT NULL,
        end_s    DOUBLE PRECISION NOT NULL,
        words    JSONB NOT NULL DEFAULT '[]',
        engine   TEXT NOT NULL DEFAULT '',
        event_id TEXT NOT NULL,
        tsv      TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
        PRIMARY KEY (call_id, seq)
    );
    CREATE INDEX utterances_tsv ON utterances USING GIN (tsv);
    CREATE TABLE scores (
        call_id   TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        speaker   TEXT NOT NULL,
        at        DOUBLE PRECISION NOT NULL,
        sentiment TEXT NOT NULL,
        probabilities JSONB NOT NULL,
        intents   JSONB NOT NULL DEFAULT '[]',
        PRIMARY KEY (call_id, seq)
    );
    CREATE TABLE alerts (
        alert_id    TEXT PRIMARY KEY,
        call_id     TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        at          DOUBLE PRECISION NOT NULL,
        severity    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        message     TEXT NOT NULL,
        reasons     JSONB NOT NULL DEFAULT '[]',
        acked_by    TEXT,
        assigned_to TEXT,
        acked_at    TIMESTAMPTZ
    );
    CREATE INDEX alerts_by_call ON alerts(call_id, at);
    CREATE TABLE cards (
        card_id  TEXT PRIMARY KEY,
        call_id  TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
        at       DOUBLE PRECISION NOT NULL,
        kind     TEXT NOT NULL,
        title    TEXT NOT NULL,
        body     TEXT NOT NULL,
        feedback TEXT,
        feedback_by TEXT
    );
    """,
    # 2: where the call's recording is on the shared path (written when the call ends)
    """
    ALTER TABLE calls ADD COLUMN audio_path TEXT;
    """,
    # 3: the lowest customer sentiment of the call, for search (as the SQLite store's)
    """
    ALTER TABLE calls ADD COLUMN sentiment_min DOUBLE PRECISION;
    """,
    # 4: how the call's language is known, as the SQLite store's (issue #12): given,
    # detecting (the language is the fallback meanwhile) or detected, with its confidence
    """
    ALTER TABLE calls ADD COLUMN language_source TEXT NOT NULL DEFAULT 'given';
    ALTER TABLE calls ADD COLUMN language_probability DOUBLE PRECISION;
    """,
)
