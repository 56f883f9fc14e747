"""Incident records for abusive or threatening calls ("document everything", DOMAIN.md).

An incident is derived from what the store kept, so it is there for every call, replayed or
live, without a second write path: the triggering alerts and utterance intents, the span of
the call around them (with some context either side), the transcript of that span, and a
timeline of everything the monitor and the people did in it. :func:`export_incident` writes
it as JSON plus the span of audio as a WAV clip.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from monitor.store.audio import read_span, write_pcm16

# Alert kinds and scorer intents that make a call an incident.
INCIDENT_KINDS = frozenset({"abuse", "legal_threat", "public_shaming", "threat", "violence"})
INTENT_THRESHOLD = 0.5
CONTEXT_S = 15.0


def _is_incident_kind(kind: str) -> bool:
    return kind in INCIDENT_KINDS or "threat" in kind or "abus" in kind


def incident_record(call: dict[str, Any]) -> dict[str, Any] | None:
    """The incident in a call record (from :meth:`CallStore.get_call`), or None."""
    meta = call["call"]
    utterances = {u["seq"]: u for u in call["utterances"]}
    triggers: list[dict[str, Any]] = []
    for a in call["alerts"]:
        if _is_incident_kind(a["kind"]):
            triggers.append({"at": a["at"], "source": "alert", "kind": a["kind"],
                             "severity": a["severity"], "message": a["message"],
                             "alert_id": a["alert_id"]})  # fmt: skip
    for s in call["scores"]:
        for intent, p in s["intents"]:
            if _is_incident_kind(intent) and p >= INTENT_THRESHOLD:
                u = utterances.get(s["seq"])
                triggers.append({"at": u["start"] if u else s["at"], "source": "utterance",
                                 "kind": intent, "probability": p, "seq": s["seq"],
                                 "speaker": s["speaker"]})  # fmt: skip
    if not triggers:
        return None
    triggers.sort(key=lambda t: (t["at"], t["source"], t["kind"]))
    call_end = meta.get("end_at") or meta.get("audio_seconds") or max(t["at"] for t in triggers)
    start = max(0.0, min(t["at"] for t in triggers) - CONTEXT_S)
    end = min(float(call_end), max(t["at"] for t in triggers) + CONTEXT_S)
    end = max(end, start)
    transcript = [
        {"seq": u["seq"], "speaker": u["speaker"], "start": u["start"], "end": u["end"],
         "text": u["text"]}
        for u in call["utterances"] if u["end"] >= start and u["start"] <= end
    ]  # fmt: skip
    return {
        "call_id": meta["call_id"],
        "call_name": meta["name"],
        "agent_id": meta["agent_id"],
        "queue": meta["queue"],
        "started_at": _iso(meta.get("started_at")),
        "kinds": sorted({t["kind"] for t in triggers}),
        "span": {"start": round(start, 3), "end": round(end, 3)},
        "triggers": triggers,
        "transcript": transcript,
        "timeline": [e for e in timeline(call) if start <= e["at"] <= end],
        "supervisor_informed": any(
            a["acked_by"] for a in call["alerts"] if _is_incident_kind(a["kind"])
        ),
    }


def timeline(call: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything that happened in a call, in call-audio time order."""
    items: list[dict[str, Any]] = []
    for u in call["utterances"]:
        items.append({"at": u["start"], "type": "utterance", "speaker": u["speaker"],
                      "text": u["text"], "seq": u["seq"]})  # fmt: skip
    for t in call["talk_overs"]:
        items.append({"at": t["start"], "type": "talk_over", "speaker": t["speaker"],
                      "until": t["end"]})  # fmt: skip
    last_level = None
    for r in call["risks"]:
        if r["level"] != last_level:
            items.append({"at": r["at"], "type": "risk_level", "level": r["level"],
                          "risk": r["risk"]})  # fmt: skip
            last_level = r["level"]
    for a in call["alerts"]:
        items.append({"at": a["at"], "type": "alert", "severity": a["severity"], "kind": a["kind"],
                      "message": a["message"], "acked_by": a["acked_by"],
                      "assigned_to": a["assigned_to"]})  # fmt: skip
    for c in call["cards"]:
        items.append({"at": c["at"], "type": "card", "kind": c["kind"], "title": c["title"],
                      "feedback": c["feedback"]})  # fmt: skip
    order = {"utterance": 0, "talk_over": 1, "risk_level": 2, "alert": 3, "card": 4}
    items.sort(key=lambda e: (e["at"], order[e["type"]]))
    return items


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def export_incident(
    record: dict[str, Any], audio: Path | None, out_dir: Path, stem: str
) -> list[Path]:
    """Write ``<stem>.incident.json`` and, when the recording is kept, the span's audio as
    ``<stem>.incident.wav``. Returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    record = dict(record)
    if audio is not None and audio.exists():
        data, rate = read_span(audio, record["span"]["start"], record["span"]["end"])
        clip = out_dir / f"{stem}.incident.wav"
        write_pcm16(clip, data, rate)
        record["audio_clip"] = clip.name
        written.append(clip)
    else:
        record["audio_clip"] = None
    path = out_dir / f"{stem}.incident.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [path, *written]
