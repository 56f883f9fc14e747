"""What a call is to the rest of the program: who and what it is (``CallMeta``), its id, and
the running tally of what happened in it (``CallSummary``: utterances, alerts, risk, how it
ended), which ``Monitor.run_call`` returns and the CLI prints."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from monitor import events as ev


@dataclass(frozen=True, slots=True)
class CallMeta:
    name: str
    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"
    call_id: str | None = None
    mono_speaker: ev.Speaker = "customer"  # who a mono recording is attributed to


@dataclass(slots=True)
class CallSummary:
    call_id: str
    name: str
    agent_id: str
    language: str
    utterances: int = 0
    alerts: int = 0
    critical_alerts: int = 0
    cards: int = 0
    max_risk: float = 0.0
    final_level: str = "calm"
    final_sentiment: float = 0.0
    final_sentiment_label: str = "neutral"
    duration: float = 0.0
    ended: str = ""
    error: str = ""
    alert_kinds: list[str] = field(default_factory=list)
    card_kinds: list[str] = field(default_factory=list)
    first_alert_at: dict[str, float] = field(default_factory=dict)  # level/kind -> audio time

    def observe(self, event: ev.Event) -> None:
        if isinstance(event, ev.FinalUtterance):
            self.utterances += 1
        elif isinstance(event, ev.CallRisk):
            self.max_risk = max(self.max_risk, event.risk)
            self.final_level = event.level
            self.final_sentiment = event.sentiment
            self.final_sentiment_label = (
                "negative"
                if event.sentiment < -0.25
                else "positive"
                if event.sentiment > 0.25
                else "neutral"
            )
            self.first_alert_at.setdefault(f"level:{event.level}", event.at)
        elif isinstance(event, ev.Alert):
            self.alerts += 1
            self.critical_alerts += event.severity == "critical"
            self.alert_kinds.append(event.kind)
            self.first_alert_at.setdefault("alert", event.at)
            self.first_alert_at.setdefault(f"alert:{event.kind}", event.at)
        elif isinstance(event, ev.PromptCard):
            self.cards += 1
            self.card_kinds.append(event.kind)
        elif isinstance(event, ev.CallEnded):
            self.duration = event.at
            self.ended = event.reason
            self.error = event.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "agent_id": self.agent_id,
            "language": self.language,
            "utterances": self.utterances,
            "alerts": self.alerts,
            "critical_alerts": self.critical_alerts,
            "cards": self.cards,
            "max_risk": round(self.max_risk, 1),
            "final_level": self.final_level,
            "final_sentiment": self.final_sentiment_label,
            "final_sentiment_score": round(self.final_sentiment, 3),
            "duration_s": round(self.duration, 2),
            "ended": self.ended,
            "error": self.error,
            "alert_kinds": self.alert_kinds,
            "card_kinds": self.card_kinds,
            "first_alert_at": {k: round(v, 2) for k, v in self.first_alert_at.items()},
        }


def new_call_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "call"
    return f"{slug}-{uuid.uuid4().hex[:8]}"
