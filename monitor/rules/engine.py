"""CallRules: one call's playbook in action — risk, supervisor alerts and agent cards.

Synchronous, free of I/O and deterministic: the same utterances, scores and ticks in the same
order give the same events with the same ids, so a replay matches the live call exactly.
Flooding is prevented three ways: each rule has a cooldown, the same card is not shown again
within ``card_repeat`` seconds, at most ``max_cards`` cards reach the agent per ``card_window``
(cards of critical rules still get through: abuse and threats matter most), and one input
raises at most ``cards_per_event`` cards — those of the rules first in the playbook's order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from monitor.events import (
    RISK_LEVELS,
    Alert,
    CallRisk,
    CallStarted,
    Event,
    FinalUtterance,
    PartialUtterance,
    PromptCard,
    RiskLevel,
    TalkOver,
    UtteranceScore,
)
from monitor.languages import resolve
from monitor.rules.coaching import RateBaseline, SpeakerBaseline, spoken_rate
from monitor.rules.playbook import Playbook, Rule
from monitor.rules.risk import EscalationScorer

# A request to be passed on that the conversation makes a manager demand (CallRules._in_context)
# counts as strongly as a matched cue (monitor.scoring.cues.CUE_SCORE).
HANDOFF_DEMAND = 0.9


@dataclass(slots=True)
class _PendingAck:
    """A strongly negative customer turn waiting for the agent to acknowledge it."""

    deadline: float
    replied: bool = False


class CallRules:
    """Applies a playbook to one call."""

    def __init__(self, playbook: Playbook, call: CallStarted) -> None:
        self.playbook = playbook
        self.call = call
        self.call_id = call.call_id
        # The agent's language ("id-ID" -> "id") when it is supported; English otherwise.
        self.language = resolve(call.language)
        self.scorer = EscalationScorer(
            call.call_id, playbook.risk, language=playbook.settings.board_language
        )
        # speech, talk-overs, silences and holds: the scorer feeds it, the rules ask it
        self.floor = self.scorer.floor
        self._baselines = {"customer": SpeakerBaseline(), "agent": SpeakerBaseline()}
        self._last_fired: dict[str, float] = {}
        self._matches: dict[str, int] = {}
        self._matched_turn: dict[str, int] = {}  # rule -> customer turn of its last match
        self._rates = {"customer": RateBaseline(), "agent": RateBaseline()}
        self._card_shown: dict[str, float] = {}
        self._card_times: deque[float] = deque()
        self._pending: dict[str, _PendingAck] = {}
        self._alerts = 0
        self._cards = 0
        self._suppressed = 0
        self._event_cards = 0  # cards raised by the input being handled now
        self._fired_counts: dict[str, int] = {}
        self._finished = False
        # early alerts: the turn whose partials are being counted, and per rule how many
        # consecutive scored partials of it reached the bar (settings.partial_confirmations)
        self._partial_turn: int | None = None
        self._partial_runs: dict[str, int] = {}
        # the agent's latest turn: could it not do what was asked, did it offer a hand-off
        self._agent_turn_open = False
        self._agent_declined = False
        self._agent_offered = False

    # ---- inputs -------------------------------------------------------------------------

    def on_utterance(self, utt: FinalUtterance, score: UtteranceScore) -> list[Event]:
        """Returns the call's CallRisk, then any Alerts and PromptCards the playbook raises."""
        self._event_cards = 0
        events: list[Event] = self._due_acknowledgements(utt.start)
        previous = self.scorer.level
        heated = 0
        if utt.speaker == "customer":
            self._agent_turn_open = False
            heated = len(self.playbook.phrases.find("heated", self.language, utt.text))
            score = self._in_context(utt.text, score)
        else:
            self._agent_said(utt.text)
        risk = self.scorer.on_utterance(utt, score, heated)  # ends any silence or hold
        events.append(risk)
        voice = None
        if utt.features is not None:
            voice = self._baselines[utt.speaker].compare(utt.features)
        at = utt.end
        crossing = self._highest_crossing(previous, risk.level)
        for rule in self.playbook.rules:
            if rule.trigger == "risk_level":
                hit = rule is crossing
            elif rule.trigger == "no_acknowledgement":
                self._track_acknowledgement(rule, utt, score)
                continue
            else:
                hit = self._utterance_hit(rule, utt, score, voice)
            if hit:
                events.extend(self._fire(rule, at))
        return events

    def on_partial(self, partial: PartialUtterance, score: UtteranceScore) -> list[Event]:
        """A customer still speaking: the alerts of intent rules that fire on one turn, from
        the words heard so far (settings.partial_min_probability, reached on
        settings.partial_confirmations consecutive scored partials of the turn, since a
        partial's last words are the recogniser's guess), so a threat at the start of a long
        turn is not reported only when the turn ends; and the at-risk and escalated alerts
        when the turn, ended there, would raise the call into that level (_early_risk). Risk,
        counts and sentiment wait for the final text; the final does not raise the same alert
        again (the rule's cooldown), and what the final text says is what the risk and the QA
        record keep."""
        if partial.speaker != "customer" or self._finished or not self.early_alerts:
            return []
        self._event_cards = 0
        score = self._in_context(partial.text, score)
        evidence = dict(self.scorer.evidence(score))
        settings = self.playbook.settings
        bar = settings.partial_min_probability
        if self._partial_turn != partial.seq:  # a new turn: its partials count afresh
            self._partial_turn, self._partial_runs = partial.seq, {}
        events: list[Event] = []
        for rule in self.playbook.rules:
            p = rule.params
            if (
                rule.trigger != "intent"
                or rule.alert is None
                or p["speaker"] != "customer"
                or p["min_count"] != 1
            ):
                continue
            if evidence.get(p["intent"], 0.0) < max(bar, p["min_probability"]):
                self._partial_runs[rule.name] = 0  # the words heard since took it back
                continue
            run = self._partial_runs.get(rule.name, 0) + 1
            self._partial_runs[rule.name] = run
            if run >= settings.partial_confirmations:
                events.extend(self._fire(rule, partial.end))
        events.extend(self._early_risk(partial, score))
        return events

    def _early_risk(self, partial: PartialUtterance, score: UtteranceScore) -> list[Event]:
        """The risk-level alert (at risk, escalated) that the turn would raise if it ended with
        the words heard so far (EscalationScorer.preview), once each of
        settings.partial_confirmations consecutive scored partials of the turn reaches that
        level: a long turn that turns hostile in its first seconds warns then, not when the
        speaker stops. Only the alert comes early; the board's risk level, the intent counts
        and the sentiment wait for the final text, which does not raise the alert again (the
        rule's cooldown)."""
        current = RISK_LEVELS.index(self.scorer.level)
        levels = [
            (RISK_LEVELS.index(rule.params["level"]), rule)
            for rule in self.playbook.rules
            if rule.trigger == "risk_level"
        ]
        alerting = [(target, rule) for target, rule in levels if rule.alert is not None]
        if all(target <= current for target, _ in alerting):
            return []  # already at the highest level with an alert: nothing to preview
        heated = len(self.playbook.phrases.find("heated", self.language, partial.text))
        utt = FinalUtterance(
            call_id=self.call_id,
            speaker="customer",
            seq=partial.seq,
            text=partial.text,
            start=partial.start,
            end=partial.end,
        )
        preview = self.scorer.preview(utt, score, heated)
        reached = RISK_LEVELS.index(preview.level)
        best: tuple[int, Rule] | None = None
        for target, rule in alerting:
            if target <= current or reached < target:
                self._partial_runs[rule.name] = 0
                continue
            run = self._partial_runs.get(rule.name, 0) + 1
            self._partial_runs[rule.name] = run
            confirmed = run >= self.playbook.settings.partial_confirmations
            if confirmed and (best is None or target > best[0]):
                best = (target, rule)
        if best is None:
            return []
        # One alert for a jump past a level, as on finals: the levels jumped over count as
        # alerted now, so the final text reaching only one of them does not alert again.
        for target, rule in levels:
            if target < best[0]:
                self._last_fired[rule.name] = partial.end
        return self._fire(best[1], partial.end, reasons=preview.reasons)

    def _agent_said(self, text: str) -> None:
        """Notes what the agent's turn says: it could not do what was asked (the phrase lists
        refusal and cannot_do), or it offered to pass the customer on (pass_along)."""
        if not self._agent_turn_open:  # a new agent turn: the last one's context is over
            self._agent_turn_open = True
            self._agent_declined = self._agent_offered = False
        find = self.playbook.phrases.find
        self._agent_declined = self._agent_declined or bool(
            find("refusal", self.language, text) or find("cannot_do", self.language, text)
        )
        self._agent_offered = self._agent_offered or bool(find("pass_along", self.language, text))

    def _in_context(self, text: str, score: UtteranceScore) -> UtteranceScore:
        """The customer's score as the conversation reads it: asking for someone else (a
        human, another agent) right after the agent could not do what was asked, and had not
        offered the hand-off itself, is a manager demand (docs/intents.md). The same words
        as a first request, or a yes to the agent's offer, get nothing added (the text
        models' reading of the words stands); they score the words alone, so the context is
        added here."""
        if not self._agent_declined or self._agent_offered:
            return score
        if dict(score.intents).get("manager_demand", 0.0) >= HANDOFF_DEMAND:
            return score
        if not self.playbook.phrases.find("handoff_request", self.language, text):
            return score
        intents = dict(score.intents) | {"manager_demand": HANDOFF_DEMAND}
        return replace(score, intents=tuple(sorted(intents.items(), key=lambda kv: -kv[1])))

    @property
    def early_alerts(self) -> bool:
        """Whether the playbook lets alerts fire on partial transcripts (on_partial); 1.0 or
        more for partial_min_probability turns them off, so nobody need score partials."""
        return self.playbook.settings.partial_min_probability < 1.0

    def on_talk_over(self, event: TalkOver) -> list[Event]:
        """Counts talk-overs: the customer's raise the risk, the agent's are coached."""
        self._event_cards = 0
        self.scorer.on_talk_over(event)  # recorded on the floor: not a silence either
        events: list[Event] = []
        for rule in self.playbook.rules:
            if rule.trigger != "talk_over" or rule.params["speaker"] != event.speaker:
                continue
            recent = self.floor.talk_overs(event.speaker, since=event.start - rule.params["window"])
            if recent >= rule.params["min_count"]:
                events.extend(self._fire(rule, event.end))
        return events

    def tick(self, at: float) -> list[Event]:
        """Audio time has reached ``at``: silences, holds and overdue acknowledgements."""
        self._event_cards = 0
        events: list[Event] = self._due_acknowledgements(at)
        silence = self.floor.silence(at)
        if silence is None or self._finished:
            return events
        if silence >= self.scorer.config.hold_seconds and not self.floor.holding:
            previous = self.scorer.level
            risk = self.scorer.on_hold(at, silence)
            events.append(risk)
            crossing = self._highest_crossing(previous, risk.level)
            if crossing is not None:
                events.extend(self._fire(crossing, at))
        for rule in self.playbook.rules:
            if (
                rule.trigger == "silence"
                and silence >= rule.params["seconds"]
                and self.floor.first_in_silence(rule.name)
            ):
                events.extend(self._fire(rule, at))
        return events

    def finish(self, at: float) -> list[Event]:
        """The call ended: rules on how it ended (cards here are for the QA record)."""
        if self._finished:
            return []
        self._finished = True
        self._pending.clear()
        events: list[Event] = []
        polarity = self.scorer.polarity
        for rule in self.playbook.rules:
            if (
                rule.trigger == "call_end"
                and polarity is not None
                and polarity <= rule.params["max_sentiment"]
            ):
                events.extend(self._fire(rule, at))
        return events

    # ---- results ------------------------------------------------------------------------

    @property
    def summary(self) -> dict[str, Any]:
        """The call in numbers, for the store, the QA report and the agent strain tracker."""
        settings = self.playbook.settings
        scorer = self.scorer
        hostile_intent = any(scorer.intent_counts.get(i, 0) for i in settings.hostile_intents)
        reached = RISK_LEVELS.index(scorer.max_level) >= RISK_LEVELS.index(settings.hostile_level)
        return {
            "call_id": self.call_id,
            "agent_id": self.call.agent_id,
            "language": self.language,
            "max_risk": scorer.max_risk,
            "max_level": scorer.max_level,
            "first_at_risk": scorer.first_at_risk,
            "final_risk": scorer.current.risk,
            "final_level": scorer.current.level,
            "sentiment": round(scorer.polarity or 0.0, 3),
            "alerts": self._alerts,
            "cards": self._cards,
            "cards_suppressed": self._suppressed,
            "intents": dict(sorted(scorer.intent_counts.items())),
            "fired": dict(sorted(self._fired_counts.items())),
            "hostile": bool(hostile_intent or reached),
        }

    @property
    def risk(self) -> CallRisk:
        return self.scorer.current

    # ---- triggers -----------------------------------------------------------------------

    def _highest_crossing(self, previous: RiskLevel, now: RiskLevel) -> Rule | None:
        """The risk-level rule for the highest level the call just rose into, if any.

        A jump from watch straight to escalated raises one alert (escalated), not two.
        """
        best: Rule | None = None
        for rule in self.playbook.rules:
            if rule.trigger != "risk_level":
                continue
            target = RISK_LEVELS.index(rule.params["level"])
            if RISK_LEVELS.index(previous) < target <= RISK_LEVELS.index(now) and (
                best is None or target > RISK_LEVELS.index(best.params["level"])
            ):
                best = rule
        return best

    def _utterance_hit(
        self,
        rule: Rule,
        utt: FinalUtterance,
        score: UtteranceScore,
        voice: dict[str, float] | None,
    ) -> bool:
        p = rule.params
        trigger = rule.trigger
        if trigger == "intent":
            if utt.speaker != p["speaker"]:
                return False
            # The customer's intents as the risk scorer counts them: a calmly worded "cancel"
            # that adds no risk raises no alert either.
            intents = self.scorer.evidence(score) if utt.speaker == "customer" else score.intents
            probability = dict(intents).get(p["intent"], 0.0)
            if probability < p["min_probability"]:
                return False
            return self._count_turn(rule) >= p["min_count"]
        if trigger == "sentiment_drop":
            # the customer's whole turn, not one sentence the recognizer cut from it
            turn = self.scorer.turn_polarity
            return (
                utt.speaker == "customer"
                and turn is not None
                and turn <= p["below"]
                and self.scorer.sentiment_drop(p["turns"]) >= p["drop"]
            )
        if trigger == "acoustic":
            return (
                utt.speaker == p["speaker"]
                and voice is not None
                and (voice[p["feature"]] >= p["above"])
            )
        if trigger == "speech_rate":
            if utt.speaker != p["speaker"] or utt.features is None:
                return False
            words, rate = spoken_rate(utt, utt.features)
            if words < p["min_words"]:  # over a few words the rate is mostly word-timing error
                return False
            baseline = self._rates[utt.speaker].compare(rate)
            return rate >= p["above"] and rate >= baseline * p["over_baseline"]
        if trigger == "agent_phrase":
            if utt.speaker != "agent":
                return False
            if not self.playbook.phrases.find(p["phrases"], self.language, utt.text):
                return False
            polarity = self.scorer.polarity if self.scorer.polarity is not None else 0.0
            return self._count(rule) >= p["min_count"] and polarity <= p["max_sentiment"]
        return False

    def _count(self, rule: Rule) -> int:
        self._matches[rule.name] = self._matches.get(rule.name, 0) + 1
        return self._matches[rule.name]

    def _count_turn(self, rule: Rule) -> int:
        """Like _count, but once per customer turn: two sentences of one turn are one match."""
        turn = self.scorer.turns
        if self._matched_turn.get(rule.name) == turn:
            return self._matches[rule.name]
        self._matched_turn[rule.name] = turn
        return self._count(rule)

    def _track_acknowledgement(
        self, rule: Rule, utt: FinalUtterance, score: UtteranceScore
    ) -> None:
        pending = self._pending.get(rule.name)
        if utt.speaker == "customer":
            if score.probabilities[0] >= rule.params["min_negative"]:
                if pending is None:
                    self._pending[rule.name] = _PendingAck(utt.end + rule.params["within"])
                else:  # still venting: the agent gets the full window after the last turn
                    pending.deadline = utt.end + rule.params["within"]
            return
        if pending is None or utt.start > pending.deadline:
            return
        if self.playbook.phrases.find("acknowledgement", self.language, utt.text):
            del self._pending[rule.name]
        else:
            pending.replied = True

    def _due_acknowledgements(self, now: float) -> list[Event]:
        """Fire no-acknowledgement rules whose window passed with only unacknowledging replies."""
        events: list[Event] = []
        for name, pending in list(self._pending.items()):
            if now <= pending.deadline:
                continue
            del self._pending[name]
            if pending.replied:
                rule = next(r for r in self.playbook.rules if r.name == name)
                events.extend(self._fire(rule, pending.deadline))
        return events

    # ---- actions ------------------------------------------------------------------------

    def _fire(self, rule: Rule, at: float, reasons: tuple[str, ...] | None = None) -> list[Event]:
        last = self._last_fired.get(rule.name)
        if last is not None and at - last < rule.cooldown:
            return []
        self._last_fired[rule.name] = at
        self._fired_counts[rule.name] = self._fired_counts.get(rule.name, 0) + 1
        events: list[Event] = []
        if rule.alert is not None:
            self._alerts += 1
            events.append(
                Alert(
                    call_id=self.call_id,
                    alert_id=f"{self.call_id}-a{self._alerts}",
                    at=at,
                    severity=rule.alert,
                    kind=rule.name,
                    message=rule.message,
                    reasons=self.scorer.current.reasons if reasons is None else reasons,
                )
            )
        if rule.card is not None:
            card = self._card(rule, at)
            if card is not None:
                events.append(card)
        return events

    def _card(self, rule: Rule, at: float) -> PromptCard | None:
        assert rule.card is not None
        settings = self.playbook.settings
        shown = self._card_shown.get(rule.card)
        while self._card_times and self._card_times[0] <= at - settings.card_window:
            self._card_times.popleft()
        repeated = shown is not None and at - shown < settings.card_repeat
        flooded = self._event_cards >= settings.cards_per_event or (
            rule.alert != "critical" and len(self._card_times) >= settings.max_cards
        )
        if repeated or flooded:
            self._suppressed += 1
            return None
        self._card_shown[rule.card] = at
        self._card_times.append(at)
        self._event_cards += 1
        self._cards += 1
        text = self.playbook.cards.text(rule.card, self.language)
        return PromptCard(
            call_id=self.call_id,
            card_id=f"{self.call_id}-c{self._cards}",
            at=at,
            language=self.language,
            kind=rule.card,
            title=text.title,
            body=text.body,
            trigger=rule.name,
        )
