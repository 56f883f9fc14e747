"""The escalation scorer's weights and thresholds (:mod:`monitor.rules.risk`).

A contact centre tunes them in the playbook's ``[risk]`` table, which overrides any field and
is checked with :meth:`RiskConfig.validate`; the comment beside each field says what it is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.events import INTENTS


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Weights and thresholds; the playbook's ``[risk]`` table overrides any of them."""

    # points for an intent at probability 1 (scaled by its decayed strength)
    intent_points: dict[str, float] = field(
        default_factory=lambda: {
            "manager_demand": 38.0,
            "cancel_threat": 35.0,
            "legal_threat": 48.0,
            "public_shaming": 42.0,
            "abuse": 48.0,
            "repeat_contact": 22.0,
            "hold_complaint": 18.0,
            "transfer_complaint": 20.0,
        }
    )
    intent_decay: float = 0.8  # strength kept per later customer turn
    # Calmly worded, these intents are usually requests ("cancel the duplicate charge", "move my
    # broadband to the new address"): in a turn whose sentiment is not negative (no sentence of
    # the customer's turn so far read negative) they count (and fire their rules) only at this
    # probability or above.
    calm_intent_min: dict[str, float] = field(default_factory=lambda: {"cancel_threat": 0.95})
    # Same speaker again within this many seconds, nobody in between: the recognizer split one
    # turn at a sentence end (0.2-0.4 s apart in the sample calls), so it is the same turn.
    turn_gap: float = 0.45
    sentiment_points: float = 30.0  # at smoothed polarity -1 ...
    sentiment_from: float = -0.2  # ... from 0 points at this polarity (mild talk is not risk)
    sentiment_alpha: float = 0.5  # weight of the newest customer turn in the smoothed polarity
    heat_points: float = 12.0  # per heated phrase ("you people", "are you serious")
    heat_cap: float = 24.0
    # A turn with a heated phrase counts at this polarity or below in the customer's mood: an
    # ultimatum ("if you do not comply with this request, I will ...") or "this is ridiculous"
    # in a turn the model reads neutral is still an upset customer speaking.
    heated_polarity: float = -0.5
    negative_run_from: float = 0.7  # P(negative) that makes a turn count in a negative run
    negative_run_points: float = 8.0  # per turn of the run after the first
    negative_run_cap: float = 16.0
    trend_points: float = 20.0  # cap for falling sentiment
    # Sentiment alone is not escalation: smoothed sentiment, negative runs and the falling
    # trend together add at most this much, below the at_risk bar, so a call is "at risk" only
    # with other evidence too (an intent, heated words, the voice, interruptions, a hold).
    sentiment_cap: float = 40.0
    trend_min_turns: int = 3  # a run of this many falling turns counts as a trend
    # Complaints that keep coming without being resolved (not necessarily in a row: an account
    # number in between resolves nothing) raise "watch" before any threat. Points per complaining
    # turn from the ``unresolved_from``-th on (two in a row are the negative run's already), while
    # no turn was at least ``resolved_from`` positive ("thanks, that's sorted"); part of the
    # sentiment group, so under ``sentiment_cap`` and never "at risk" alone.
    unresolved_from: int = 3
    unresolved_points: float = 8.0
    unresolved_cap: float = 28.0
    resolved_from: float = 0.3
    # The same threat weighs more after a broken promise (an earlier turn of repeat contact:
    # "I was promised a call-back") or after ``grievance_turns`` unresolved complaints than in
    # the first turn: its points are multiplied by 1 + ``grievance_boost``.
    grievance_boost: float = 0.4
    grievance_turns: int = 3
    trend_step: float = 0.1  # a turn "falls" when its polarity is this much below the last one
    loud_points: float = 14.0
    loud_db: tuple[float, float] = (2.0, 8.0)  # dB over baseline: from 0 points to full points
    pitch_points: float = 8.0
    pitch_ratio: tuple[float, float] = (1.08, 1.4)
    rate_points: float = 6.0
    rate_ratio: tuple[float, float] = (1.15, 1.5)
    voice_decay: float = 0.6  # arousal points kept when the next customer turn is calmer
    baseline_turns: int = 3  # customer turns that make the voice baseline
    interrupt_points: float = 5.0  # per customer talk-over in the window
    interrupt_cap: float = 15.0
    interrupt_window: float = 90.0  # seconds
    hold_seconds: float = 30.0  # silence this long counts as a hold
    hold_points: float = 12.0
    hold_decay: float = 0.7  # per later customer turn
    # An observed hold plus the customer's complaints about waiting: one grievance, so the two
    # together add at most this (a wait alone reaches "watch", not "escalated").
    wait_cap: float = 22.0
    # A complaint that has not escalated stays below "at risk" (issue #10: "a calm complaint
    # call stays calm"): the sentiment group above, repeat contact, transfers and the wait
    # together add at most this much. Polite CFPB complaint calls reached "at risk" on negative
    # sentiment plus an earlier contact alone; threats, demands, abuse, heated words, the voice
    # and interruptions add on top. Raise it to 100 to let grievances alone reach "at risk".
    grievance_cap: float = 40.0
    talk_ratio_window: float = 120.0
    talk_ratio_min_seconds: float = 40.0
    talk_ratio_from: float = 0.8
    talk_ratio_points: float = 6.0
    thresholds: tuple[float, float, float] = (25.0, 50.0, 75.0)  # watch, at_risk, escalated
    hysteresis: float = 10.0
    down_after: int = 2  # updates below the band before the level falls
    max_reasons: int = 4

    def validate(self) -> list[tuple[str, str]]:
        """Problems as (field, message); empty when the configuration is sound."""
        problems: list[tuple[str, str]] = []
        unknown = sorted(set(self.intent_points) - set(INTENTS))
        if unknown:
            problems.append(("intent_points", f"unknown intents {unknown}; known: {INTENTS}"))
        unknown = sorted(set(self.calm_intent_min) - set(INTENTS))
        if unknown:
            problems.append(("calm_intent_min", f"unknown intents {unknown}; known: {INTENTS}"))
        for name in ("intent_decay", "sentiment_alpha", "voice_decay", "hold_decay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append((name, f"must be between 0 and 1, got {value}"))
        for intent, value in self.calm_intent_min.items():
            if not 0.0 <= value <= 1.0:
                problems.append(
                    ("calm_intent_min", f"{intent}: a probability between 0 and 1, got {value}")
                )
        for name in (
            "turn_gap",
            "wait_cap",
            "grievance_cap",
            "unresolved_points",
            "unresolved_cap",
            "grievance_boost",
        ):
            if getattr(self, name) < 0:
                problems.append((name, f"must not be negative, got {getattr(self, name)}"))
        watch, at_risk, escalated = self.thresholds
        if not 0 < watch < at_risk < escalated <= 100:
            problems.append(
                (
                    "thresholds",
                    f"need 0 < watch < at_risk < escalated <= 100, got {list(self.thresholds)}",
                )
            )
        if not -1.0 <= self.heated_polarity <= 1.0:
            problems.append(
                ("heated_polarity", f"must be between -1 and 1, got {self.heated_polarity}")
            )
        if self.hysteresis < 0:
            problems.append(("hysteresis", f"must not be negative, got {self.hysteresis}"))
        return problems
