"""Risk reads the conversation, not single words (issue 10).

A threat after a broken promise is a stronger warning than the same words in the first turn;
complaints that keep coming unresolved raise "watch" before any threat; a calm complaint call
stays below "at risk", so no alert. Real scorer, real rules engine, the inputs built directly.
"""

from __future__ import annotations

import dataclasses

from monitor.events import Alert, CallStarted, FinalUtterance, UtteranceScore
from monitor.rules import CallRules, Playbook
from monitor.rules.risk_config import RiskConfig
from tests.test_risk import CALM, Call

POLITE_COMPLAINT = (0.78, 0.20, 0.02)  # negative, politely worded
THANKS = (0.02, 0.10, 0.88)
MILD = (0.55, 0.40, 0.05)  # a conditional demand, said without heat
THREAT = "if it isn't sorted today i want someone senior"


def _broken_promise_then_threat(config: RiskConfig | None = None) -> float:
    call = Call(config=config)
    call.say("agent", "how can i help you today")
    call.say(
        "customer",
        "i was promised a call back last week and nobody rang",
        POLITE_COMPLAINT,
        (("repeat_contact", 0.9),),
    )
    call.say("agent", "let me look at the account")
    return call.say("customer", THREAT, MILD, (("manager_demand", 0.8),)).risk


def test_threat_after_broken_promise_weighs_more_than_the_same_threat_alone() -> None:
    plain = dataclasses.replace(RiskConfig(), grievance_boost=0.0)
    boosted = _broken_promise_then_threat()
    assert boosted > _broken_promise_then_threat(plain) + 10.0
    # and more than the same words as the first thing the customer says plus the earlier turn
    first = Call()
    first.say("agent", "how can i help you today")
    alone = first.say("customer", THREAT, MILD, (("manager_demand", 0.8),)).risk
    assert boosted > alone + 10.0


def test_threat_after_unresolved_complaints_weighs_more() -> None:
    def run(config: RiskConfig | None) -> float:
        call = Call(config=config)
        for line in ("the card was declined again", "the fee is still on my statement"):
            call.say("agent", "i see")
            call.say("customer", line, POLITE_COMPLAINT)
        call.say("agent", "i see")
        call.say("customer", "and nobody replied to my letter", POLITE_COMPLAINT)
        call.say("agent", "i understand")
        return call.say(
            "customer", "sort it or i'm closing my account", MILD, (("cancel_threat", 0.96),)
        ).risk

    assert run(None) > run(dataclasses.replace(RiskConfig(), grievance_boost=0.0)) + 8.0


def test_repeated_unresolved_complaints_raise_watch_before_any_threat() -> None:
    call = Call()
    levels = []
    for line in (
        "the parcel arrived damaged",
        "my account number is four four two one",  # information in between resolves nothing
        "and the replacement never came either",
        "my order number is seven seven one",
        "and the refund isn't on my card yet",
        "the email i got says something else again",
    ):
        call.say("agent", "let me check that for you")
        probs = CALM if "number" in line else POLITE_COMPLAINT
        risk = call.say("customer", line, probs)
        levels.append(risk.level)
    assert levels[-1] == "watch", levels
    assert any(r.startswith("3 complaints") or "complaints not resolved" in r for r in risk.reasons)
    assert call.scorer.max_level == "watch"  # never "at risk" without a threat


def test_resolution_resets_the_unresolved_complaints() -> None:
    call = Call()
    for line in ("the parcel arrived damaged", "and the replacement never came"):
        call.say("agent", "let me check")
        call.say("customer", line, POLITE_COMPLAINT)
    assert call.scorer.unresolved == 2
    call.say("agent", "i've refunded it now")
    call.say("customer", "thanks that's sorted it", THANKS)
    assert call.scorer.unresolved == 0


def _feed(
    lines: list[tuple[str, str, tuple[float, float, float]]],
) -> tuple[CallRules, list[Alert]]:
    """A call's CallRules fed ``lines`` (speaker, text, probabilities; no intents from the text
    models) on a simple clock, and the alerts it raised."""
    rules = CallRules(Playbook.load(), CallStarted("c1", "test", "agent-1", language="en"))
    alerts: list[Alert] = []
    clock = 0.0
    for seq, (speaker, text, probs) in enumerate(lines):
        start = clock + 0.6
        end = start + max(1.0, len(text.split()) / 2.5)
        clock = end
        utt = FinalUtterance("c1", speaker, seq, text, start, end)  # type: ignore[arg-type]
        sentiment = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
        score = UtteranceScore("c1", seq, speaker, end, sentiment, probs, ())  # type: ignore[arg-type]
        alerts += [e for e in rules.on_utterance(utt, score) if isinstance(e, Alert)]
    return rules, alerts


def _rules_alerts(lines: list[tuple[str, str, tuple[float, float, float]]]) -> list[Alert]:
    return _feed(lines)[1]


def test_calm_complaint_call_raises_no_alert() -> None:
    lines = [
        ("customer", "hi i'm afraid my parcel arrived damaged", POLITE_COMPLAINT),
        ("agent", "i'm sorry to hear that, can i take the order number", CALM),
        ("customer", "it's seven seven one two", CALM),
        ("customer", "the box was crushed and the mug inside is broken", POLITE_COMPLAINT),
        ("agent", "thank you, i can see the order", CALM),
        ("customer", "it's the second one that arrived like this unfortunately", POLITE_COMPLAINT),
        ("agent", "i'll send a replacement today", CALM),
        ("customer", "i'd appreciate it if it could be packed better this time", POLITE_COMPLAINT),
        ("agent", "i'll add a note for the warehouse", CALM),
        ("customer", "ok thank you", THANKS),
    ]
    rules, alerts = _feed(lines)
    assert alerts == []
    assert rules.scorer.max_level in ("calm", "watch")


STRONGLY_NEGATIVE = (0.99, 0.008, 0.002)  # how the model reads a real consumer's complaint


# (the agent, then the customer's strongly negative turn with its intents)
_REPEAT_CALLER = (
    ("thank you for calling how can i help", "my card was lost and someone maxed it out", ()),
    (
        "i'm sorry to hear that",
        "i told them twice already and they said i have to pay it",
        (("repeat_contact", 0.95),),
    ),
    (
        "let me pull up the account",
        "and i was on hold for forty minutes the last time",
        (("hold_complaint", 0.9),),
    ),
    ("i can see the notes", "now my credit score is a mess", ()),
)


def _repeat_caller_complaining(config: RiskConfig | None = None, loud: float = -20.0) -> Call:
    """Real consumers' complaints nearly always cite an earlier contact ("I tried telling them
    this and they just said I needed to pay it back"): strongly negative, repeat contact, a
    wait, but no threat, demand or insult. ``loud``: the loudness of the last turn."""
    call = Call(config=config)
    for i, (agent, customer, intents) in enumerate(_REPEAT_CALLER):
        last = i == len(_REPEAT_CALLER) - 1
        call.say("agent", agent, loud=-20.0)
        call.say("customer", customer, STRONGLY_NEGATIVE, intents, loud=loud if last else -20.0)
    return call


def test_a_complaint_with_grievances_but_no_threat_stays_below_at_risk() -> None:
    call = _repeat_caller_complaining()
    assert call.scorer.max_level == "watch", call.scorer.current
    assert call.scorer.max_risk <= RiskConfig().grievance_cap + 0.1
    # the reasons still say why the call is watched
    assert any("before" in r for r in call.scorer.current.reasons), call.scorer.current.reasons
    # before the cap (grievances uncapped) the same call read "at risk"
    uncapped = _repeat_caller_complaining(dataclasses.replace(RiskConfig(), grievance_cap=100.0))
    assert uncapped.scorer.max_level in ("at_risk", "escalated")


def test_escalation_evidence_on_top_of_a_complaint_still_reaches_at_risk() -> None:
    # the same complaint, the last turn shouted: the voice is escalation, not grievance
    louder = _repeat_caller_complaining(loud=-8.0)
    assert louder.scorer.max_level in ("at_risk", "escalated"), louder.scorer.current
    # or a threat after those grievances
    call = _repeat_caller_complaining()
    call.say("agent", "i understand", loud=-20.0)
    risk = call.say(
        "customer", "sort it today or i'm closing my account", STRONGLY_NEGATIVE,
        (("cancel_threat", 0.95),), loud=-20.0,
    )  # fmt: skip
    assert risk.level in ("at_risk", "escalated"), risk


_ASKS_FOR_A_HUMAN = (
    "could you please transfer me to a human agent? i'd like to see if they can help"
)
_REFUSED = "i can only process the refund to the original payment method or a gift card"


def test_asking_for_someone_else_after_a_refusal_is_a_manager_demand() -> None:
    # docs/intents.md, manager_demand in the conversation: the customer goes over the agent's head
    for refusal in (_REFUSED, "unfortunately the system does not allow that", "i'm afraid not"):
        alerts = _rules_alerts(
            [
                ("customer", "i'd like the refund on my amex card please", CALM),
                ("agent", refusal, CALM),
                ("customer", _ASKS_FOR_A_HUMAN, CALM),
            ]
        )
        assert [a.kind for a in alerts] == ["manager_demand"], (refusal, alerts)
    # someone else, a real person, given rudely
    for ask in ("is there anyone else i can talk to", "no, put me through to someone else",
                "are you kidding me? give me a human now!"):  # fmt: skip
        alerts = _rules_alerts([("agent", _REFUSED, CALM), ("customer", ask, MILD)])
        assert "manager_demand" in [a.kind for a in alerts], ask


def test_the_same_request_without_a_refusal_or_as_a_yes_to_an_offer_raises_nothing() -> None:
    # a first request: a hand-off, not an escalation
    assert (
        _rules_alerts([("agent", "how can i help", CALM), ("customer", _ASKS_FOR_A_HUMAN, CALM)])
        == []
    )
    # the agent offered the transfer after its refusal: taking it is not going over its head
    offered = "i'm afraid i can't change that, but i can transfer you to a human agent"
    assert _rules_alerts([("agent", offered, CALM), ("customer", _ASKS_FOR_A_HUMAN, CALM)]) == []
    # saying yes to a transfer, after a refusal
    yes = "yes, please transfer me to a human agent. thank you"
    assert _rules_alerts([("agent", _REFUSED, CALM), ("customer", yes, CALM)]) == []
    # the refusal was two agent turns ago: this agent turn did what was asked
    alerts = _rules_alerts(
        [
            ("agent", _REFUSED, CALM),
            ("customer", "okay, the gift card then", CALM),
            ("agent", "done, the gift card is credited", CALM),
            ("customer", "thanks, can someone else sign for the parcel tomorrow", THANKS),
            ("customer", "and can i talk to someone else about my other order", CALM),
        ]
    )
    assert alerts == []
