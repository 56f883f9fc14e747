"""Reading the call store: search, one call's full record, and a portable export.

A call's *sentiment* for search is the lowest customer sentiment seen during the call (the
risk engine's smoothed ``CallRisk.sentiment`` where there is one, else the lowest customer
utterance polarity): ``max_sentiment=-0.3`` finds calls where the customer got unhappy,
``min_sentiment=0.2`` calls where they never did.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

SEVERITIES = ("info", "warning", "critical")

_STATS = """
SELECT c.*,
  COALESCE(
    (SELECT MIN(r.sentiment) FROM risks r WHERE r.call_id = c.call_id),
    (SELECT MIN(s.p_pos - s.p_neg) FROM scores s
      WHERE s.call_id = c.call_id AND s.speaker = 'customer')
  ) AS sentiment_min,
  (SELECT AVG(s.p_pos - s.p_neg) FROM scores s
    WHERE s.call_id = c.call_id AND s.speaker = 'customer') AS sentiment_avg,
  (SELECT MAX(r.risk) FROM risks r WHERE r.call_id = c.call_id) AS risk_max,
  (SELECT COUNT(*) FROM alerts a WHERE a.call_id = c.call_id) AS alert_count,
  (SELECT GROUP_CONCAT(DISTINCT a.kind) FROM alerts a WHERE a.call_id = c.call_id)
    AS alert_kinds,
  (SELECT COUNT(*) FROM cards k WHERE k.call_id = c.call_id) AS card_count,
  (SELECT COUNT(*) FROM utterances u WHERE u.call_id = c.call_id) AS utterance_count
FROM calls c
"""


def fts_phrase(text: str) -> str:
    """``text`` as ONE FTS5 phrase whose last word may be a prefix ("speak to your manag").

    Whatever the user typed is data, never query syntax: the text is a double-quoted string
    (quotes doubled inside), so ``AND``, ``NEAR(``, ``*``, ``-``, ``col:`` and stray quotes
    are words or nothing, and FTS5 never sees a syntax error. The tokenizer (unicode61,
    diacritics removed) folds case for every script, so "ŞTIU" finds "ştiu" and "stiu".
    """
    # FTS5 reads a NUL as the end of the query ("unterminated string"); lone surrogates
    # cannot be encoded: neither is a word anyone typed
    clean = text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    return '"' + clean.replace('"', '""') + '"*'


def parse_when(value: str | float, end_of_day: bool = False) -> float:
    """Epoch seconds from a number or an ISO date/datetime (UTC unless it says otherwise)."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"bad date {value!r}: use YYYY-MM-DD, an ISO datetime, or epoch seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if end_of_day and len(text) == 10:  # a bare date: up to the end of that day
        when += dt.timedelta(days=1)
        return when.timestamp() - 1e-6
    return when.timestamp()


def search(
    conn: sqlite3.Connection,
    *,
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
    """Calls matching all filters, newest first. ``q`` is a phrase (words in this order, any
    case, the last one possibly cut short) in the transcript or the call's name, found with
    the full-text index; ``alert`` is an alert kind, a severity, or ``"any"``."""
    where: list[str] = []
    args: list[Any] = []
    phrase = fts_phrase(q.strip()) if q and q.strip() else None
    first_hit: dict[str, dict[str, Any]] = {}
    if phrase is not None:
        # one index lookup for the whole search (not one per call listed), then a filter
        for h in conn.execute(
            "SELECT u.call_id, u.seq, u.speaker, u.start, u.text FROM utterances_fts f"
            " JOIN utterances u ON u.rowid = f.rowid WHERE utterances_fts MATCH ?"
            " ORDER BY u.call_id, u.seq",
            (phrase,),
        ):
            first_hit.setdefault(h[0], {"seq": h[1], "speaker": h[2], "start": h[3], "text": h[4]})
        named = conn.execute(
            "SELECT c.call_id FROM calls_fts f JOIN calls c ON c.rowid = f.rowid"
            " WHERE calls_fts MATCH ?",
            (phrase,),
        ).fetchall()
        where.append("s.call_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(sorted(first_hit.keys() | {r[0] for r in named})))
    if agent:
        where.append("s.agent_id = ?")
        args.append(agent)
    if date_from is not None and date_from != "":
        where.append("s.started_at >= ?")
        args.append(parse_when(date_from))
    if date_to is not None and date_to != "":
        where.append("s.started_at <= ?")
        args.append(parse_when(date_to, end_of_day=True))
    if min_sentiment is not None:
        where.append("s.sentiment_min >= ?")
        args.append(float(min_sentiment))
    if max_sentiment is not None:
        where.append("s.sentiment_min <= ?")
        args.append(float(max_sentiment))
    if alert:
        if alert == "any":
            where.append("s.alert_count > 0")
        else:
            column = "severity" if alert in SEVERITIES else "kind"
            where.append(
                f"EXISTS (SELECT 1 FROM alerts a WHERE a.call_id = s.call_id AND a.{column} = ?)"
            )
            args.append(alert)
    sql = f"SELECT * FROM ({_STATS}) s"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.started_at DESC, s.call_id LIMIT ? OFFSET ?"
    args += [max(1, min(int(limit), 1000)), max(0, int(offset))]
    results = []
    for row in conn.execute(sql, args).fetchall():
        item = _call_summary(row)
        if phrase is not None:
            item["match"] = first_hit.get(row["call_id"])
        results.append(item)
    return results


def _call_summary(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    kinds = d.pop("alert_kinds")
    d["alert_kinds"] = sorted(kinds.split(",")) if kinds else []
    d["audio_available"] = bool(d.get("audio_path")) and d.get("audio_deleted_at") is None
    return d


def get_call(conn: sqlite3.Connection, call_id: str) -> dict[str, Any]:
    """Everything stored about one call, in audio-time order; KeyError if unknown."""
    row = conn.execute(f"SELECT * FROM ({_STATS}) s WHERE s.call_id = ?", (call_id,)).fetchone()
    if row is None:
        raise KeyError(f"no call {call_id!r} in the store")

    def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(sql, (call_id,)).fetchall()]

    utterances = rows(
        "SELECT seq, speaker, text, start, end, words, features, engine FROM utterances"
        " WHERE call_id = ? ORDER BY seq"
    )
    for u in utterances:
        u["words"] = [
            {"text": t, "start": s, "end": e, "confidence": c}
            for t, s, e, c in json.loads(u["words"])
        ]
        u["features"] = json.loads(u["features"]) if u["features"] else None
    scores = rows(
        "SELECT seq, speaker, at, sentiment, p_neg, p_neu, p_pos, intents FROM scores"
        " WHERE call_id = ? ORDER BY seq"
    )
    for s in scores:
        s["polarity"] = s["p_pos"] - s["p_neg"]
        s["intents"] = [list(i) for i in json.loads(s["intents"])]
    risks = rows(
        "SELECT n, at, risk, level, sentiment, reasons FROM risks WHERE call_id = ? ORDER BY n"
    )
    alerts = rows(
        "SELECT alert_id, at, severity, kind, message, reasons, acked_by, assigned_to, acked_at"
        " FROM alerts WHERE call_id = ? ORDER BY at, alert_id"
    )
    for item in risks + alerts:
        item["reasons"] = json.loads(item["reasons"])
    cards = rows(
        "SELECT card_id, at, language, kind, title, body, trigger, feedback, feedback_by,"
        " feedback_at FROM cards WHERE call_id = ? ORDER BY at, card_id"
    )
    talk_overs = rows("SELECT n, speaker, start, end FROM talk_overs WHERE call_id = ? ORDER BY n")
    muted = rows(
        "SELECT speaker, start, end, label FROM muted_audio WHERE call_id = ? ORDER BY start, n"
    )
    return {
        "call": _call_summary(row),
        "utterances": utterances,
        "scores": scores,
        "risks": risks,
        "alerts": alerts,
        "cards": cards,
        "talk_overs": talk_overs,
        "muted_audio": muted,
    }


def last_event_time(conn: sqlite3.Connection, call_id: str) -> float:
    """The latest call-audio time any stored event of the call mentions (0 when none)."""
    row = conn.execute(
        "SELECT MAX(t) FROM ("
        " SELECT MAX(end) AS t FROM utterances WHERE call_id = ?1"
        " UNION ALL SELECT MAX(at) FROM scores WHERE call_id = ?1"
        " UNION ALL SELECT MAX(at) FROM risks WHERE call_id = ?1"
        " UNION ALL SELECT MAX(at) FROM alerts WHERE call_id = ?1"
        " UNION ALL SELECT MAX(at) FROM cards WHERE call_id = ?1"
        " UNION ALL SELECT MAX(end) FROM talk_overs WHERE call_id = ?1)",
        (call_id,),
    ).fetchone()
    return float(row[0] or 0.0)


# Columns that hold wall-clock time or names derived from the call id: not content.
_NOT_CONTENT = {"started_at", "ended_at", "acked_at", "feedback_at", "audio_deleted_at",
                "audio_path", "call_id"}  # fmt: skip


def portable(record: dict[str, Any]) -> dict[str, Any]:
    """A call record without its id and wall-clock columns (ids inside values become
    ``<call>``), for comparing two replays of the same recording."""
    call_id = record["call"]["call_id"]

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in _NOT_CONTENT}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str) and call_id and call_id in value:
            return value.replace(call_id, "<call>")
        return value

    cleaned: dict[str, Any] = clean(record)
    return cleaned
