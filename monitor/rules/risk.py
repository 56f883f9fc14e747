"""Escalation risk of one call, 0..100, with a level and the reasons in words.

Sentiment alone is not escalation: a plain factual complaint is negative and harmless, while
"get me your manager" may read as neutral. The scorer therefore adds up separate evidence, each
part capped so no single signal dominates:

- text: escalation intents of the customer's recent turns (decaying per customer turn) and the
  customer's smoothed sentiment; a calmly worded "cancel" is usually a service request
  ("cancel the duplicate payment"), so some intents count in a turn that is not negative only
  when near-certain;
- trend: customer sentiment falling over consecutive turns;
- voice: loudness, pitch and speech rate against the customer's OWN baseline in this call
  (the median of their first turns), so a naturally loud caller is not "angry";
- conversation: the customer interrupting the agent, long silences or holds, the customer doing
  nearly all the talking; complaints that keep coming unresolved (not only in a row), which
  reach "watch" before any threat; and a threat made after a broken promise (an earlier turn
  of repeat contact) or a string of unresolved complaints, which counts more than the same
  words in the first turn.

A complaint is not an escalation: the customer's negative mood and their grievances (repeat
contact, waits and holds, transfers) together add at most ``grievance_cap``, below "at risk".
A call rises further only with escalation evidence as well: a threat, a demand, abuse, heated
words, the voice, interruptions.

A *turn* is what one party says before the other speaks. Recognizers cut a turn into sentences;
a sentence that follows the same speaker's previous one within ``turn_gap`` seconds, with nobody
speaking in between, continues that turn. Mood, intent decay, hold decay and intent counts are
per turn, so one angry turn split into three sentences is not "negative for 3 turns in a row".
An observed hold and the customer complaining about waiting are one grievance, counted once
(``wait_cap``).

The level has hysteresis: it rises as soon as the score crosses a threshold, but falls only when
the score has stayed a margin below that threshold for a few updates, so the board does not flap.

The scorer is synchronous, free of I/O and deterministic: a replay yields identical risks.
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass

from monitor.events import (
    RISK_LEVELS,
    CallRisk,
    FinalUtterance,
    RiskLevel,
    TalkOver,
    UtteranceScore,
)
from monitor.rules.floor import TALK_OVER_HORIZON, Floor
from monitor.rules.reasons import reason_text
from monitor.rules.risk_config import RiskConfig

# The threats that weigh more after a broken promise or unresolved complaints (RiskConfig
# grievance_boost); the grievances themselves (repeat contact, waits, transfers) do not.
GRIEVANCE_INTENTS = frozenset({"manager_demand", "cancel_threat", "legal_threat", "public_shaming"})
# What a complaint that has not escalated consists of: with the customer's negative mood these
# add up to at most RiskConfig.grievance_cap, below "at risk" (a calm complaint call stays calm).
GRIEVANCES = frozenset({"repeat_contact", "hold_complaint", "transfer_complaint"})


def _ramp(value: float, span: tuple[float, float]) -> float:
    """0 at span[0] or below, 1 at span[1] or above, linear between."""
    low, high = span
    if value <= low:
        return 0.0
    if value >= high:
        return 1.0
    return (value - low) / (high - low)


@dataclass(frozen=True, slots=True)
class VoiceArousal:
    """The customer's latest turn against their own baseline in this call."""

    loudness_db: float = 0.0  # dB above baseline
    pitch_ratio: float = 1.0
    rate_ratio: float = 1.0


class EscalationScorer:
    """Per call: turns each scored utterance (and talk-overs, holds) into a CallRisk.

    Who spoke when, the talk-overs and the holds live in ``floor`` (:class:`Floor`), which
    this scorer feeds; the rules ask the same floor for silences and talk-over counts.
    """

    def __init__(
        self, call_id: str, config: RiskConfig | None = None, language: str = "en"
    ) -> None:
        self.call_id = call_id
        self.config = config or RiskConfig()
        self.language = language
        self.floor = Floor(
            self.config.talk_ratio_window, max(TALK_OVER_HORIZON, self.config.interrupt_window)
        )
        self._intent_strength: dict[str, float] = {}
        self.intent_counts: dict[str, int] = {}  # customer turns that carried each intent
        self.polarity: float | None = None  # smoothed customer polarity, -1..1
        self.polarities: list[float] = []  # raw customer polarity per turn
        self.negative_run = 0  # consecutive strongly negative customer turns
        self.unresolved = 0  # complaining customer turns since the last resolved one
        self._unresolved_before = 0
        self._promise_broken = False  # an earlier customer turn carried repeat contact
        self.turns = 0  # customer turns so far
        self._turn_open = False  # the last utterance was the customer's (a turn may continue)
        self._last_customer_end: float | None = None
        self._turn_parts: list[tuple[float, float, float]] = []  # (weight, polarity, P(negative))
        self._turn_intents: set[str] = set()
        self._polarity_before: float | None = None  # smoothed polarity before this turn
        self._run_before = 0  # negative run before this turn
        self._heat = 0.0
        self._baseline: list[tuple[float, float | None, float]] = []
        self.arousal = VoiceArousal()
        self._voice_points: dict[str, float] = {}
        # The hold as risk evidence: points that decay per customer turn, and the length the
        # reason quotes (the longest hold since the points were last gone).
        self._hold_points = 0.0
        self._hold_seconds = 0.0
        self._level: RiskLevel = "calm"
        self._below = 0
        self.max_risk = 0.0
        self.max_level: RiskLevel = "calm"
        self.first_at_risk: float | None = None  # audio time the call first reached at_risk
        self.current = CallRisk(call_id=call_id, at=0.0, risk=0.0, level="calm", sentiment=0.0)

    # ---- inputs -------------------------------------------------------------------------

    def on_utterance(self, utt: FinalUtterance, score: UtteranceScore, heated: int = 0) -> CallRisk:
        """Update with one final utterance and its text score; returns the call's new risk.

        ``heated`` counts heated phrases in a customer turn (CallRules finds them with the
        playbook's phrase lists): rhetorical, hostile talk that is not yet an explicit intent.
        """
        held = self.floor.speech(utt.speaker, utt.start, utt.end)
        if held is not None and self._hold_points > 0:
            # the hold is over: the reason should say how long it really was
            self._hold_seconds = max(self._hold_seconds, held)
        if utt.speaker == "customer":
            self._customer_turn(utt, score, heated)
        else:
            self._turn_open = False
        return self._update(utt.end)

    def preview(self, utt: FinalUtterance, score: UtteranceScore, heated: int = 0) -> CallRisk:
        """The risk the call would have if ``utt`` (a customer's words heard so far, not yet
        final) ended the turn now; this scorer is left as it was. For early alerts on partial
        transcripts (CallRules.on_partial): the level is computed as on_utterance would, with
        the same hysteresis, so a preview reaches "at risk" exactly when the final text with
        the same words would."""
        trial = copy.deepcopy(self, {id(self.config): self.config})
        return trial.on_utterance(utt, score, heated)

    def evidence(self, score: UtteranceScore) -> list[tuple[str, float]]:
        """The intents of a customer utterance that count as escalation evidence.

        Intents the scorer has no points for are left out, and so are calmly worded intents
        of ``calm_intent_min`` below their bar. Calm is the customer's *turn*, not one
        sentence the recognizer cut from it: "It's quite concerning that the order hasn't
        moved. … Otherwise, I want to go ahead and cancel it." ends a negative turn with a
        neutral sentence. The rules use this too, so an intent that adds no risk raises no
        alert either.
        """
        cfg = self.config
        negative = score.sentiment == "negative" or self._turn_negative()
        return [
            (intent, probability)
            for intent, probability in score.intents
            if intent in cfg.intent_points
            and (negative or probability >= cfg.calm_intent_min.get(intent, 0.0))
        ]

    def _turn_negative(self) -> bool:
        """Whether a sentence of the customer's open turn so far read negative."""
        return self._turn_open and any(n >= 0.5 for _, _, n in self._turn_parts)

    def on_talk_over(self, event: TalkOver) -> None:
        """A talk-over; the customer's count as interrupting the agent (the agent's are
        coaching, for the rules)."""
        self.floor.talk_over(event)

    def on_hold(self, at: float, seconds: float) -> CallRisk:
        """The silence running at ``at`` has lasted ``seconds``: a hold, reported once.

        The next final utterance ends it, and the reason then quotes its whole length.
        """
        cfg = self.config
        self.floor.hold()
        self._hold_seconds = max(self._hold_seconds, seconds)
        self._hold_points = max(self._hold_points, cfg.hold_points)
        return self._update(at)

    # ---- state --------------------------------------------------------------------------

    @property
    def level(self) -> RiskLevel:
        return self._level

    @property
    def turn_polarity(self) -> float | None:
        """Raw polarity of the customer's latest turn (all its sentences so far)."""
        return self.polarities[-1] if self.polarities else None

    def falling_turns(self) -> int:
        """Length of the current run of customer turns with falling sentiment (1 = no fall)."""
        run = 1
        values = self.polarities
        for i in range(len(values) - 1, 0, -1):
            if values[i] < values[i - 1] - self.config.trend_step:
                run += 1
            else:
                break
        return run if values else 0

    def sentiment_drop(self, turns: int) -> float:
        """How far raw customer polarity fell over the last ``turns`` turns (>= 0)."""
        values = self.polarities[-(turns + 1) :]
        if len(values) < 2:
            return 0.0
        return max(0.0, max(values[:-1]) - values[-1])

    # ---- internals ----------------------------------------------------------------------

    def _customer_turn(self, utt: FinalUtterance, score: UtteranceScore, heated: int) -> None:
        cfg = self.config
        last_end = self._last_customer_end
        continues = (
            self._turn_open and last_end is not None and utt.start - last_end <= cfg.turn_gap
        )
        self._turn_open = True
        self._last_customer_end = utt.end
        if not continues:
            self._new_turn()
        self._heat = min(cfg.heat_cap, self._heat + cfg.heat_points * heated)
        # A threat after a broken promise or a string of unresolved complaints is the
        # conversation turning, not a first-turn outburst: it counts more.
        grievance = self._promise_broken or self._unresolved_before >= cfg.grievance_turns
        for intent, probability in self.evidence(score):
            previous = self._intent_strength.get(intent, 0.0)
            if grievance and intent in GRIEVANCE_INTENTS:
                probability *= 1.0 + cfg.grievance_boost
            self._intent_strength[intent] = max(previous, probability)
            if intent not in self._turn_intents:
                self._turn_intents.add(intent)
                self.intent_counts[intent] = self.intent_counts.get(intent, 0) + 1
        # The turn's sentiment: its sentences so far, weighted by their words.
        weight = float(max(1, len(utt.words) or len(utt.text.split())))
        part = score.polarity
        if heated:  # heated talk is not calm talk, however the model reads the other words
            part = min(part, cfg.heated_polarity)
        self._turn_parts.append((weight, part, score.probabilities[0]))
        total = sum(w for w, _, _ in self._turn_parts)
        polarity = sum(w * p for w, p, _ in self._turn_parts) / total
        negative = sum(w * n for w, _, n in self._turn_parts) / total
        self.polarities[-1] = polarity
        self.negative_run = self._run_before + 1 if negative >= cfg.negative_run_from else 0
        if polarity >= cfg.resolved_from:
            self.unresolved = 0
        elif negative >= cfg.negative_run_from:
            self.unresolved = self._unresolved_before + 1
        else:
            self.unresolved = self._unresolved_before
        before = self._polarity_before
        self.polarity = (
            polarity if before is None else before + cfg.sentiment_alpha * (polarity - before)
        )
        self._voice(utt)

    def _new_turn(self) -> None:
        """A new customer turn: earlier evidence decays once, the turn's tallies restart."""
        cfg = self.config
        self.turns += 1
        self._heat *= cfg.intent_decay
        for intent in self._intent_strength:
            self._intent_strength[intent] *= cfg.intent_decay
        self._hold_points *= cfg.hold_decay
        if self._hold_points < 1.0:
            self._hold_points, self._hold_seconds = 0.0, 0.0
        # the turn that just ended: did it say an earlier promise was broken?
        self._promise_broken = self._promise_broken or "repeat_contact" in self._turn_intents
        self._turn_parts = []
        self._turn_intents = set()
        self._polarity_before = self.polarity
        self._run_before = self.negative_run
        self._unresolved_before = self.unresolved
        self.polarities.append(0.0)  # this turn's polarity, set as its sentences arrive
        if len(self.polarities) > 64:  # a trend is a handful of turns; keep an hour-long call small
            del self.polarities[:-64]

    def _voice(self, utt: FinalUtterance) -> None:
        cfg = self.config
        for key in self._voice_points:
            self._voice_points[key] *= cfg.voice_decay
        f = utt.features
        if f is None or f.duration <= 0.0:
            return
        if len(self._baseline) >= 2:
            loud_base = statistics.median(b[0] for b in self._baseline)
            pitches = [b[1] for b in self._baseline if b[1]]
            rate_base = statistics.median(b[2] for b in self._baseline)
            loud_db = f.loudness_dbfs - loud_base
            pitch_ratio = f.pitch_hz / statistics.median(pitches) if f.pitch_hz and pitches else 1.0
            rate_ratio = f.speech_rate / rate_base if rate_base > 0 else 1.0
            self.arousal = VoiceArousal(loud_db, pitch_ratio, rate_ratio)
            fresh = {
                "louder": cfg.loud_points * _ramp(loud_db, cfg.loud_db),
                "higher_pitch": cfg.pitch_points * _ramp(pitch_ratio, cfg.pitch_ratio),
                "faster": cfg.rate_points * _ramp(rate_ratio, cfg.rate_ratio),
            }
            for key, points in fresh.items():
                self._voice_points[key] = max(self._voice_points.get(key, 0.0), points)
        if len(self._baseline) < cfg.baseline_turns:
            self._baseline.append((f.loudness_dbfs, f.pitch_hz, f.speech_rate))

    def _parts(self, at: float) -> list[tuple[float, str, int | None]]:
        """Every contribution as (points, reason kind, number for the reason text)."""
        cfg = self.config
        parts: list[tuple[float, str, int | None]] = []
        wait: list[tuple[float, str, int | None]] = []
        grievance: list[tuple[float, str, int | None]] = []  # capped together, below at_risk
        for intent, strength in self._intent_strength.items():
            part = (cfg.intent_points[intent] * strength, intent, None)
            if intent == "hold_complaint":
                wait.append(part)
            else:
                (grievance if intent in GRIEVANCES else parts).append(part)
        mood: list[tuple[float, str, int | None]] = []
        if self.polarity is not None and self.polarity < cfg.sentiment_from:
            share = (cfg.sentiment_from - self.polarity) / (1.0 + cfg.sentiment_from)
            mood.append((cfg.sentiment_points * min(1.0, share), "negative", None))
        if self.negative_run >= 2:
            points = min(cfg.negative_run_cap, cfg.negative_run_points * (self.negative_run - 1))
            mood.append((points, "negative_run", self.negative_run))
        if self.unresolved >= cfg.unresolved_from:
            over = self.unresolved - cfg.unresolved_from + 1
            points = min(cfg.unresolved_cap, cfg.unresolved_points * over)
            mood.append((points, "unresolved", self.unresolved))
        if self._heat >= 1.0:
            parts.append((self._heat, "heated", None))
        run = self.falling_turns()
        if run >= cfg.trend_min_turns:
            drop = self.sentiment_drop(run - 1)
            mood.append((min(cfg.trend_points, cfg.trend_points * drop / 0.6), "falling", run))
        total = sum(p for p, _, _ in mood)
        scale = cfg.sentiment_cap / total if total > cfg.sentiment_cap else 1.0
        grievance.extend((p * scale, kind, n) for p, kind, n in mood)
        for key, points in self._voice_points.items():
            parts.append((points, key, None))
        count = self.floor.talk_overs("customer", since=at - cfg.interrupt_window)
        if count:
            points = min(cfg.interrupt_cap, cfg.interrupt_points * count)
            parts.append((points, "interrupting", count))
        if self._hold_points > 0:
            wait.append((self._hold_points, "hold", round(self._hold_seconds)))
        waited = sum(p for p, _, _ in wait)
        scale = cfg.wait_cap / waited if waited > cfg.wait_cap else 1.0
        grievance.extend((p * scale, kind, n) for p, kind, n in wait)
        total = sum(p for p, _, _ in grievance)
        scale = cfg.grievance_cap / total if total > cfg.grievance_cap else 1.0
        parts.extend((p * scale, kind, n) for p, kind, n in grievance)
        customer, total = self.floor.talk_time()
        if total >= cfg.talk_ratio_min_seconds and customer / total > cfg.talk_ratio_from:
            share = (customer / total - cfg.talk_ratio_from) / (1.0 - cfg.talk_ratio_from)
            parts.append((cfg.talk_ratio_points * min(1.0, share), "talk_ratio", None))
        return parts

    def _update(self, at: float) -> CallRisk:
        cfg = self.config
        parts = self._parts(at)
        risk = round(min(100.0, sum(p for p, _, _ in parts)), 1)
        self._level = self._next_level(risk)
        ranked = sorted((p for p in parts if p[0] >= 3.0), key=lambda p: (-p[0], p[1]))
        reasons = tuple(
            reason_text(kind, self.language, n) for _, kind, n in ranked[: cfg.max_reasons]
        )
        self.max_risk = max(self.max_risk, risk)
        if RISK_LEVELS.index(self._level) > RISK_LEVELS.index(self.max_level):
            self.max_level = self._level
        if self.first_at_risk is None and RISK_LEVELS.index(self._level) >= 2:
            self.first_at_risk = at
        self.current = CallRisk(
            call_id=self.call_id,
            at=at,
            risk=risk,
            level=self._level,
            sentiment=round(self.polarity or 0.0, 3),
            reasons=reasons,
        )
        return self.current

    def _next_level(self, risk: float) -> RiskLevel:
        cfg = self.config
        bars = (0.0, *cfg.thresholds)  # entry bar of each level in RISK_LEVELS order
        raw = max(i for i, bar in enumerate(bars) if risk >= bar)
        current = RISK_LEVELS.index(self._level)
        if raw >= current:
            self._below = 0
            return RISK_LEVELS[raw]
        # Fall only when the risk stayed a margin under the current level's bar for a while.
        if risk >= bars[current] - cfg.hysteresis:
            self._below = 0
            return self._level
        self._below += 1
        if self._below < cfg.down_after:
            return self._level
        self._below = 0
        sticky = max(i for i, bar in enumerate(bars) if risk >= bar - cfg.hysteresis or i == 0)
        return RISK_LEVELS[min(current - 1, max(raw, sticky))]
