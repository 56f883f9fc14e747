"""The typed events that flow through a call's pipeline.

Every stage consumes and produces these frozen dataclasses; only
:mod:`monitor.wire` turns them into JSON. Times named ``start``/``end``/``at``
are seconds of *call audio time* (0 = the start of the call), so a replay as
fast as possible yields exactly the same events as a replay in real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Speaker = Literal["customer", "agent"]
SPEAKERS: tuple[Speaker, Speaker] = ("customer", "agent")
Severity = Literal["info", "warning", "critical"]
RiskLevel = Literal["calm", "watch", "at_risk", "escalated"]
RISK_LEVELS: tuple[RiskLevel, ...] = ("calm", "watch", "at_risk", "escalated")
Sentiment = Literal["negative", "neutral", "positive"]

# The escalation intents the scorer knows ("none" is the absence of all of them).
INTENTS: tuple[str, ...] = (
    "manager_demand",
    "cancel_threat",
    "legal_threat",
    "public_shaming",
    "abuse",
    "repeat_contact",
    "hold_complaint",
    "transfer_complaint",
)


@dataclass(frozen=True, slots=True, eq=False)
class AudioFrame:
    """A block of a call's audio as the source read it: float32 in [-1, 1], shape (n, channels)."""

    call_id: str
    start: float
    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / self.sample_rate


@dataclass(frozen=True, slots=True, eq=False)
class AudioChunk:
    """One party's audio, resampled for the recognizer: mono float32 in [-1, 1]."""

    call_id: str
    speaker: Speaker
    start: float
    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class AcousticFeatures:
    """Measured on one utterance's audio, for the escalation scorer."""

    loudness_dbfs: float  # RMS level of the voiced part
    pitch_hz: float | None  # median F0 of voiced frames; None when nothing was voiced
    speech_rate: float  # words per second (syllables estimate when no words)
    duration: float  # seconds from the first to the last word
    silence_before: float  # seconds since the same speaker's previous utterance ended


@dataclass(frozen=True, slots=True)
class PartialUtterance:
    """Interim text while a person is still speaking; replaced by later partials or a final."""

    call_id: str
    speaker: Speaker
    seq: int  # the sequence number the final utterance will have
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class FinalUtterance:
    call_id: str
    speaker: Speaker
    seq: int  # per call and speaker-independent, in order of emission
    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()
    features: AcousticFeatures | None = None
    engine: str = ""


@dataclass(frozen=True, slots=True)
class TalkOver:
    """Both parties speaking at once; ``speaker`` is who started talking second."""

    call_id: str
    speaker: Speaker
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class UtteranceScore:
    """What the text (and voice) models say about one final utterance."""

    call_id: str
    seq: int
    speaker: Speaker
    at: float
    sentiment: Sentiment
    probabilities: tuple[float, float, float]  # negative, neutral, positive
    intents: tuple[tuple[str, float], ...] = ()  # intents above threshold, with probability

    @property
    def polarity(self) -> float:
        """-1..1: P(positive) - P(negative)."""
        return self.probabilities[2] - self.probabilities[0]


@dataclass(frozen=True, slots=True)
class CallLag:
    """How far a call's analysis is behind its audio: overload is said, never silent.

    Published when a call becomes ``"delayed"`` (its lag passed the monitor's limit), every
    few seconds while it stays so, and when it is ``"ok"`` again (monitor/capacity.py).
    """

    call_id: str
    at: float  # call audio time
    lag_s: float  # seconds between audio received and its text being out
    state: Literal["ok", "delayed"]

    @property
    def delayed(self) -> bool:
        return self.state == "delayed"


@dataclass(frozen=True, slots=True)
class CallRisk:
    """The call's escalation risk after an utterance, with the reasons in words."""

    call_id: str
    at: float
    risk: float  # 0..100
    level: RiskLevel
    sentiment: float  # -1..1, customer's recent sentiment
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    call_id: str
    alert_id: str
    at: float
    severity: Severity
    kind: str  # the playbook trigger's name, e.g. "manager_demand"
    message: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PromptCard:
    call_id: str
    card_id: str
    at: float
    language: str
    kind: str  # the card's key in the card catalogue
    title: str
    body: str
    trigger: str = ""


LanguageSource = Literal["given", "detecting", "detected"]


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call began. A call whose language is detected (issue #12, monitor/asr/detect.py) is
    announced twice: first ``detecting`` (its ``language`` the fallback, nothing transcribed
    yet), then ``detected``, with the language found and the detector's confidence."""

    call_id: str
    name: str  # a human name for the call: the sample's script name or the file name
    agent_id: str
    queue: str = "default"
    language: str = "en"
    source: str = ""
    channels: int = 2
    language_source: LanguageSource = "given"  # given: from the call's metadata
    language_probability: float | None = None  # the detector's confidence, once detected


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: float  # call audio time at the end
    reason: Literal["completed", "interrupted", "error"] = "completed"
    error: str = ""


@dataclass(frozen=True, slots=True)
class AlertAcknowledged:
    alert_id: str
    call_id: str
    by: str
    assigned_to: str = ""


@dataclass(frozen=True, slots=True)
class CardFeedback:
    card_id: str
    call_id: str
    action: Literal["used", "dismissed"]
    by: str = ""


@dataclass(frozen=True, slots=True)
class AgentStrain:
    agent_id: str
    hostile_calls: int
    recent_calls: int
    suggestion: str


Event = (
    CallStarted
    | CallEnded
    | PartialUtterance
    | FinalUtterance
    | TalkOver
    | UtteranceScore
    | CallRisk
    | CallLag
    | Alert
    | PromptCard
    | AlertAcknowledged
    | CardFeedback
    | AgentStrain
)

# Wire names of the events above; monitor.wire uses them as the message "type".
EVENT_TYPES: dict[type, str] = {
    CallStarted: "call_started",
    CallEnded: "call_ended",
    PartialUtterance: "partial",
    FinalUtterance: "final",
    TalkOver: "talk_over",
    UtteranceScore: "utterance_score",
    CallRisk: "risk",
    CallLag: "call_lag",
    Alert: "alert",
    PromptCard: "card",
    AlertAcknowledged: "alert_ack",
    CardFeedback: "card_feedback",
    AgentStrain: "agent_strain",
}


def call_id_of(event: Event) -> str | None:
    return getattr(event, "call_id", None)
