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
  nearly all the talking.

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

import statistics
from collections import deque
from dataclasses import dataclass, field

from monitor.events import (
    INTENTS,
    RISK_LEVELS,
    CallRisk,
    FinalUtterance,
    RiskLevel,
    TalkOver,
    UtteranceScore,
)

LANGUAGES: tuple[str, ...] = ("en", "id", "ms", "ro")

# Reason templates, keyed by reason kind then language. {n} is a count or seconds.
REASON_TEXT: dict[str, dict[str, str]] = {
    "manager_demand": {
        "en": "asked for a manager",
        "id": "meminta bicara dengan atasan",
        "ms": "meminta bercakap dengan pengurus",
        "ro": "a cerut un manager",
    },
    "cancel_threat": {
        "en": "threatened to cancel",
        "id": "mengancam berhenti berlangganan",
        "ms": "mengugut untuk membatalkan",
        "ro": "a amenințat că renunță",
    },
    "legal_threat": {
        "en": "threatened legal action or a regulator",
        "id": "mengancam jalur hukum atau regulator",
        "ms": "mengugut tindakan undang-undang atau pengawal selia",
        "ro": "a amenințat cu instanța sau autoritatea",
    },
    "public_shaming": {
        "en": "threatened to go public",
        "id": "mengancam menyebarkan ke publik",
        "ms": "mengugut untuk tularkan kepada umum",
        "ro": "a amenințat că face public cazul",
    },
    "abuse": {
        "en": "abusive language",
        "id": "bahasa kasar",
        "ms": "bahasa kesat",
        "ro": "limbaj abuziv",
    },
    "repeat_contact": {
        "en": "has called about this before",
        "id": "sudah berkali-kali menghubungi",
        "ms": "sudah beberapa kali menghubungi",
        "ro": "a mai sunat pentru asta",
    },
    "hold_complaint": {
        "en": "complained about waiting",
        "id": "mengeluh soal menunggu",
        "ms": "mengadu tentang menunggu",
        "ro": "s-a plâns de așteptare",
    },
    "transfer_complaint": {
        "en": "complained about being transferred",
        "id": "mengeluh dioper-oper",
        "ms": "mengadu dipindahkan berulang kali",
        "ro": "s-a plâns că e tot transferat",
    },
    "heated": {
        "en": "heated language",
        "id": "bahasa yang memanas",
        "ms": "bahasa yang semakin panas",
        "ro": "limbaj tot mai aprins",
    },
    "negative_run": {
        "en": "negative for {n} turns in a row",
        "id": "negatif {n} giliran berturut-turut",
        "ms": "negatif {n} giliran berturut-turut",
        "ro": "negativ {n} replici la rând",
    },
    "negative": {
        "en": "negative sentiment",
        "id": "sentimen negatif",
        "ms": "sentimen negatif",
        "ro": "sentiment negativ",
    },
    "falling": {
        "en": "sentiment falling for {n} turns",
        "id": "sentimen menurun selama {n} giliran",
        "ms": "sentimen menurun selama {n} giliran",
        "ro": "sentiment în scădere de {n} replici",
    },
    "louder": {
        "en": "louder than at the start",
        "id": "lebih keras daripada di awal",
        "ms": "lebih kuat berbanding di awal",
        "ro": "vorbește mai tare decât la început",
    },
    "higher_pitch": {
        "en": "higher pitch than at the start",
        "id": "nada lebih tinggi daripada di awal",
        "ms": "nada lebih tinggi berbanding di awal",
        "ro": "ton mai înalt decât la început",
    },
    "faster": {
        "en": "speaking faster than at the start",
        "id": "bicara lebih cepat daripada di awal",
        "ms": "bercakap lebih laju berbanding di awal",
        "ro": "vorbește mai repede decât la început",
    },
    "interrupting": {
        "en": "interrupted the agent {n} times",
        "id": "memotong pembicaraan agen {n} kali",
        "ms": "mencelah agen {n} kali",
        "ro": "a întrerupt agentul de {n} ori",
    },
    "interrupted_once": {
        "en": "interrupted the agent",
        "id": "memotong pembicaraan agen",
        "ms": "mencelah agen",
        "ro": "a întrerupt agentul",
    },
    "hold": {
        "en": "silence or hold of {n} s",
        "id": "hening atau ditahan {n} detik",
        "ms": "senyap atau ditahan {n} saat",
        "ro": "tăcere sau așteptare de {n} s",
    },
    "talk_ratio": {
        "en": "customer doing most of the talking",
        "id": "pelanggan mendominasi pembicaraan",
        "ms": "pelanggan banyak bercakap seorang diri",
        "ro": "clientul vorbește aproape singur",
    },
}


def reason_text(kind: str, language: str = "en", n: int | None = None) -> str:
    """The words for one reason, in ``language`` (English when the language is unknown)."""
    templates = REASON_TEXT[kind]
    template = templates.get(language, templates["en"])
    if kind == "interrupting" and n == 1:
        return REASON_TEXT["interrupted_once"].get(language, REASON_TEXT["interrupted_once"]["en"])
    return template.format(n=n) if n is not None else template


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
    # broadband to the new address"): in a turn whose sentiment is not negative they count (and
    # fire their rules) only at this probability or above.
    calm_intent_min: dict[str, float] = field(default_factory=lambda: {"cancel_threat": 0.95})
    # Same speaker again within this many seconds, nobody in between: the recognizer split one
    # turn at a sentence end (0.2-0.4 s apart in the sample calls), so it is the same turn.
    turn_gap: float = 0.45
    sentiment_points: float = 30.0  # at smoothed polarity -1 ...
    sentiment_from: float = -0.2  # ... from 0 points at this polarity (mild talk is not risk)
    sentiment_alpha: float = 0.5  # weight of the newest customer turn in the smoothed polarity
    heat_points: float = 12.0  # per heated phrase ("you people", "are you serious")
    heat_cap: float = 24.0
    negative_run_from: float = 0.7  # P(negative) that makes a turn count in a negative run
    negative_run_points: float = 8.0  # per turn of the run after the first
    negative_run_cap: float = 16.0
    trend_points: float = 20.0  # cap for falling sentiment
    # Sentiment alone is not escalation: smoothed sentiment, negative runs and the falling
    # trend together add at most this much, below the at_risk bar, so a call is "at risk" only
    # with other evidence too (an intent, heated words, the voice, interruptions, a hold).
    sentiment_cap: float = 40.0
    trend_min_turns: int = 3  # a run of this many falling turns counts as a trend
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
        for name in ("turn_gap", "wait_cap"):
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
        if self.hysteresis < 0:
            problems.append(("hysteresis", f"must not be negative, got {self.hysteresis}"))
        return problems


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
    """Per call: turns each scored utterance (and talk-overs, holds) into a CallRisk."""

    def __init__(
        self, call_id: str, config: RiskConfig | None = None, language: str = "en"
    ) -> None:
        self.call_id = call_id
        self.config = config or RiskConfig()
        self.language = language
        self._intent_strength: dict[str, float] = {}
        self.intent_counts: dict[str, int] = {}  # customer turns that carried each intent
        self.polarity: float | None = None  # smoothed customer polarity, -1..1
        self.polarities: list[float] = []  # raw customer polarity per turn
        self.negative_run = 0  # consecutive strongly negative customer turns
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
        self._customer_interrupts: deque[float] = deque()
        self._hold_points = 0.0
        self._hold_seconds = 0.0
        self._talk: deque[tuple[float, float, bool]] = deque()  # (start, end, is_customer)
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
        self._talk.append((utt.start, utt.end, utt.speaker == "customer"))
        while self._talk and self._talk[0][1] < utt.end - self.config.talk_ratio_window:
            self._talk.popleft()
        if utt.speaker == "customer":
            self._customer_turn(utt, score, heated)
        else:
            self._turn_open = False
        return self._update(utt.end)

    def evidence(self, score: UtteranceScore) -> list[tuple[str, float]]:
        """The intents of a customer utterance that count as escalation evidence.

        Intents the scorer has no points for are left out, and so are calmly worded intents
        of ``calm_intent_min`` below their bar. The rules use this too, so an intent that adds
        no risk raises no alert either.
        """
        cfg = self.config
        negative = score.sentiment == "negative"
        return [
            (intent, probability)
            for intent, probability in score.intents
            if intent in cfg.intent_points
            and (negative or probability >= cfg.calm_intent_min.get(intent, 0.0))
        ]

    def on_talk_over(self, event: TalkOver) -> None:
        """The customer starting to talk while the agent speaks counts as an interruption."""
        if event.speaker == "customer":
            self._customer_interrupts.append(event.start)

    def on_hold(self, at: float, seconds: float) -> CallRisk:
        """A silence/hold of ``seconds`` ended or is still running at ``at``."""
        cfg = self.config
        self._hold_seconds = max(self._hold_seconds, seconds)
        self._hold_points = max(self._hold_points, cfg.hold_points)
        return self._update(at)

    def extend_hold(self, seconds: float) -> None:
        """The hold that was reported lasted ``seconds`` in the end (for the reason's words)."""
        if self._hold_points > 0:
            self._hold_seconds = max(self._hold_seconds, seconds)

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
        for intent, probability in self.evidence(score):
            previous = self._intent_strength.get(intent, 0.0)
            self._intent_strength[intent] = max(previous, probability)
            if intent not in self._turn_intents:
                self._turn_intents.add(intent)
                self.intent_counts[intent] = self.intent_counts.get(intent, 0) + 1
        # The turn's sentiment: its sentences so far, weighted by their words.
        weight = float(max(1, len(utt.words) or len(utt.text.split())))
        self._turn_parts.append((weight, score.polarity, score.probabilities[0]))
        total = sum(w for w, _, _ in self._turn_parts)
        polarity = sum(w * p for w, p, _ in self._turn_parts) / total
        negative = sum(w * n for w, _, n in self._turn_parts) / total
        self.polarities[-1] = polarity
        self.negative_run = self._run_before + 1 if negative >= cfg.negative_run_from else 0
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
        self._turn_parts = []
        self._turn_intents = set()
        self._polarity_before = self.polarity
        self._run_before = self.negative_run
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
        for intent, strength in self._intent_strength.items():
            part = (cfg.intent_points[intent] * strength, intent, None)
            (wait if intent == "hold_complaint" else parts).append(part)
        mood: list[tuple[float, str, int | None]] = []
        if self.polarity is not None and self.polarity < cfg.sentiment_from:
            share = (cfg.sentiment_from - self.polarity) / (1.0 + cfg.sentiment_from)
            mood.append((cfg.sentiment_points * min(1.0, share), "negative", None))
        if self.negative_run >= 2:
            points = min(cfg.negative_run_cap, cfg.negative_run_points * (self.negative_run - 1))
            mood.append((points, "negative_run", self.negative_run))
        if self._heat >= 1.0:
            parts.append((self._heat, "heated", None))
        run = self.falling_turns()
        if run >= cfg.trend_min_turns:
            drop = self.sentiment_drop(run - 1)
            mood.append((min(cfg.trend_points, cfg.trend_points * drop / 0.6), "falling", run))
        total = sum(p for p, _, _ in mood)
        scale = cfg.sentiment_cap / total if total > cfg.sentiment_cap else 1.0
        parts.extend((p * scale, kind, n) for p, kind, n in mood)
        for key, points in self._voice_points.items():
            parts.append((points, key, None))
        while (
            self._customer_interrupts and self._customer_interrupts[0] < at - cfg.interrupt_window
        ):
            self._customer_interrupts.popleft()
        count = len(self._customer_interrupts)
        if count:
            points = min(cfg.interrupt_cap, cfg.interrupt_points * count)
            parts.append((points, "interrupting", count))
        if self._hold_points > 0:
            wait.append((self._hold_points, "hold", round(self._hold_seconds)))
        waited = sum(p for p, _, _ in wait)
        scale = cfg.wait_cap / waited if waited > cfg.wait_cap else 1.0
        parts.extend((p * scale, kind, n) for p, kind, n in wait)
        customer = sum(e - s for s, e, c in self._talk if c)
        total = sum(e - s for s, e, _ in self._talk)
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
