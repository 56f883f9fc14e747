"""How each event becomes rows: synchronous SQL on a connection inside the writer's transaction.

Nothing here opens files, threads or transactions: :mod:`monitor.store.writer` runs these in
its batches, :class:`monitor.store.db.CallStore` decides what else an event means (closing a
recording, muting a span). ``now`` is the wall clock, kept in columns apart from content.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from monitor import events as ev

log = logging.getLogger(__name__)


# The condition of a CallStarted's upsert (SQLite and PostgreSQL spell it alike): a repeated
# "detecting" announcement (a replay) does not undo the detection already stored.
KEEPS_DETECTED_LANGUAGE = (
    "NOT (excluded.language_source = 'detecting' AND calls.language_source = 'detected')"
)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ensure_call(c: sqlite3.Connection, call_id: str, now: float) -> None:
    """An event of a call never announced still gets stored (under a bare call row)."""
    c.execute(
        "INSERT OR IGNORE INTO calls (call_id, name, started_at) VALUES (?,?,?)",
        (call_id, call_id, now),
    )


def write_event(c: sqlite3.Connection, event: ev.Event, now: float) -> None:
    """The rows of one event (partial utterances are not kept: their final replaces them)."""
    if isinstance(event, ev.PartialUtterance):
        return
    if isinstance(event, ev.CallStarted):
        # a call whose language is detected is announced twice (detecting, then detected):
        # the second one updates the row; the placeholder never replaces a detected language
        c.execute(
            "INSERT INTO calls (call_id, name, agent_id, queue, language, source,"
            " channels, language_source, language_probability, started_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(call_id) DO UPDATE SET name=excluded.name,"
            " agent_id=excluded.agent_id, queue=excluded.queue,"
            " language=excluded.language, source=excluded.source,"
            " channels=excluded.channels, language_source=excluded.language_source,"
            " language_probability=excluded.language_probability"
            f" WHERE {KEEPS_DETECTED_LANGUAGE}",
            (event.call_id, event.name, event.agent_id, event.queue, event.language,
             event.source, event.channels, event.language_source, event.language_probability,
             now),
        )  # fmt: skip
    elif isinstance(event, ev.AgentStrain):
        c.execute(
            "INSERT INTO agent_strain VALUES (?,?,?,?,?)",
            (event.agent_id, event.hostile_calls, event.recent_calls, event.suggestion, now),
        )
    else:
        ensure_call(c, event.call_id, now)
        _write_call_event(c, event, now)


def _write_call_event(c: sqlite3.Connection, e: ev.Event, now: float) -> None:
    if isinstance(e, ev.FinalUtterance):
        words = [[w.text, w.start, w.end, w.confidence] for w in e.words]
        features = None
        if e.features is not None:
            f = e.features
            features = to_json(
                {
                    "loudness_dbfs": f.loudness_dbfs,
                    "pitch_hz": f.pitch_hz,
                    "speech_rate": f.speech_rate,
                    "duration": f.duration,
                    "silence_before": f.silence_before,
                }
            )
        # an UPDATE on conflict, not a REPLACE: the full-text index follows updates through
        # its triggers, while REPLACE's implicit delete would leave stale index entries
        c.execute(
            "INSERT INTO utterances VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(call_id, seq) DO UPDATE SET speaker=excluded.speaker,"
            " text=excluded.text, start=excluded.start, end=excluded.end,"
            " words=excluded.words, features=excluded.features, engine=excluded.engine",
            (e.call_id, e.seq, e.speaker, e.text, e.start, e.end, to_json(words), features,
             e.engine),
        )  # fmt: skip
    elif isinstance(e, ev.UtteranceScore):
        c.execute(
            "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?,?)",
            (e.call_id, e.seq, e.speaker, e.at, e.sentiment, *e.probabilities,
             to_json([list(i) for i in e.intents])),
        )  # fmt: skip
    elif isinstance(e, ev.CallRisk):
        c.execute(
            "INSERT INTO risks SELECT ?, COALESCE(MAX(n) + 1, 0), ?, ?, ?, ?, ?"
            " FROM risks WHERE call_id = ?",
            (e.call_id, e.at, e.risk, e.level, e.sentiment, to_json(e.reasons), e.call_id),
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
            (e.alert_id, e.call_id, e.at, e.severity, e.kind, e.message, to_json(e.reasons)),
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
            (e.by, e.assigned_to, now, e.alert_id),
        )
        if cur.rowcount == 0:
            log.warning("acknowledgement of unknown alert %s (call %s)", e.alert_id, e.call_id)
    elif isinstance(e, ev.CardFeedback):
        cur = c.execute(
            "UPDATE cards SET feedback=?, feedback_by=?, feedback_at=? WHERE card_id=?",
            (e.action, e.by, now, e.card_id),
        )
        if cur.rowcount == 0:
            log.warning("feedback on unknown card %s (call %s)", e.card_id, e.call_id)
    elif isinstance(e, ev.CallEnded):
        c.execute(
            "UPDATE calls SET status=?, end_at=?, error=?, ended_at=? WHERE call_id=?",
            (e.reason, e.at, e.error, now, e.call_id),
        )


def write_muted_span(
    c: sqlite3.Connection, call_id: str, speaker: str, start: float, end: float, label: str
) -> None:
    """Remember a span of the recording muted because redacted words were said in it."""
    c.execute(
        "INSERT INTO muted_audio SELECT ?, COALESCE(MAX(n) + 1, 0), ?, ?, ?, ?"
        " FROM muted_audio WHERE call_id = ?",
        (call_id, speaker, start, end, label, call_id),
    )
