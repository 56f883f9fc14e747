"""EscalationScorer: risk 0..100 with a level, hysteresis and reasons in words.

The inputs are the real input types of the scorer: FinalUtterance (with measured acoustic
features) and the UtteranceScore the text classifier produces, built here directly.
"""

from __future__ import annotations

from importlib import resources

import pytest

from monitor.events import AcousticFeatures, FinalUtterance, TalkOver, UtteranceScore
from monitor.languages import LANGUAGE_CODES
from monitor.rules import PlaybookError
from monitor.rules.reasons import KINDS, parse_reasons, reason_text, reason_texts
from monitor.rules.risk import EscalationScorer
from monitor.rules.risk_config import RiskConfig

CALM = (0.05, 0.80, 0.15)
NEGATIVE = (0.93, 0.06, 0.01)


class Call:
    """Feeds one call's turns to a scorer on a simple clock."""

    def __init__(self, language: str = "en", config: RiskConfig | None = None) -> None:
        self.scorer = EscalationScorer("c1", config, language=language)
        self.seq = 0
        self.clock = 0.0

    def say(
        self,
        speaker: str,
        text: str,
        probs: tuple[float, float, float] = CALM,
        intents: tuple[tuple[str, float], ...] = (),
        loud: float | None = None,
        rate: float = 2.6,
        pitch: float = 200.0,
        gap: float = 0.5,
    ):
        start = self.clock + gap
        end = start + max(1.0, len(text.split()) / 2.5)
        self.clock = end
        features = None
        if loud is not None:
            features = AcousticFeatures(loud, pitch, rate, end - start, 0.5)
        utt = FinalUtterance("c1", speaker, self.seq, text, start, end, features=features)  # type: ignore[arg-type]
        sentiment = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
        score = UtteranceScore("c1", self.seq, speaker, end, sentiment, probs, intents)  # type: ignore[arg-type]
        self.seq += 1
        return self.scorer.on_utterance(utt, score)


def test_calm_call_stays_calm() -> None:
    call = Call()
    for _ in range(6):
        call.say("agent", "how can i help you today")
        risk = call.say("customer", "i would like to move my payment date please", CALM)
        assert risk.level == "calm"
        assert risk.risk < 10
    assert call.scorer.max_level == "calm"


def test_hard_negative_factual_complaint_is_not_escalated() -> None:
    # "my internet is slow": strongly negative, harmless. It may be watched, never at risk.
    call = Call()
    call.say("agent", "how can i help")
    risk = call.say("customer", "my internet has been really slow since monday", NEGATIVE)
    assert risk.level in ("calm", "watch")
    call.say("agent", "let me check the line for you")
    risk = call.say("customer", "it keeps dropping in the evening too", NEGATIVE)
    call.say("agent", "i can see a fault on the line")
    risk = call.say("customer", "the speed test says two megabits", NEGATIVE)
    assert risk.level in ("calm", "watch")
    assert risk.risk < 50
    assert "negative sentiment" in risk.reasons


def test_manager_demand_in_neutral_words_raises_risk_and_says_why() -> None:
    # Sentiment calls this neutral; the intent is what matters.
    call = Call()
    call.say("customer", "hi i have a question about my bill", CALM)
    risk = call.say(
        "customer",
        "i want to speak to your manager",
        (0.30, 0.65, 0.05),
        (("manager_demand", 0.96),),
    )
    assert risk.risk >= 25
    assert risk.reasons[0] == "asked for a manager"


def test_abuse_and_threat_in_one_turn_escalate() -> None:
    call = Call()
    risk = call.say(
        "customer",
        "you useless idiot i am calling my lawyer",
        NEGATIVE,
        (("abuse", 0.95), ("legal_threat", 0.9)),
    )
    assert risk.level == "escalated"
    assert set(risk.reasons[:2]) == {"abusive language", "threatened legal action or a regulator"}


def test_agent_intents_do_not_count() -> None:
    call = Call()
    risk = call.say("agent", "i will get my manager for you", CALM, (("manager_demand", 0.9),))
    assert risk.risk == 0


def test_intent_evidence_decays_over_later_turns() -> None:
    call = Call()
    first = call.say(
        "customer", "this is the third time i call", NEGATIVE, (("repeat_contact", 0.9),)
    )
    for _ in range(6):
        call.say("agent", "i have fixed it now")
        later = call.say("customer", "great thank you so much", (0.01, 0.09, 0.9))
    assert later.risk < first.risk / 3


def test_louder_than_at_the_start_against_own_baseline() -> None:
    call = Call()
    for _ in range(3):
        call.say("customer", "my order has not arrived yet", CALM, loud=-26.0, rate=2.5, pitch=190)
    risk = call.say(
        "customer", "where is my order", (0.6, 0.35, 0.05), loud=-15.0, rate=3.6, pitch=250
    )
    assert "louder than at the start" in risk.reasons
    assert "speaking faster than at the start" in risk.reasons
    # A naturally loud caller who stays loud is not "louder than at the start".
    loud = Call()
    for _ in range(4):
        risk = loud.say("customer", "my order has not arrived yet", CALM, loud=-12.0)
    assert "louder than at the start" not in risk.reasons


def test_sentiment_falling_for_n_turns() -> None:
    call = Call()
    for neg in (0.05, 0.3, 0.55, 0.8):
        risk = call.say("customer", "well that is not what i expected", (neg, 0.9 - neg, 0.1))
    assert "sentiment falling for 4 turns" in risk.reasons
    assert risk.sentiment < 0


def test_customer_interruptions_count() -> None:
    call = Call()
    call.say("customer", "my card was charged twice", NEGATIVE)
    for t in (10.0, 20.0, 30.0):
        call.scorer.on_talk_over(TalkOver("c1", "customer", t, t + 0.5))
    call.scorer.on_talk_over(TalkOver("c1", "agent", 31.0, 31.5))  # the agent's are coaching
    risk = call.say("customer", "no listen to me", NEGATIVE)
    assert "interrupted the agent 3 times" in risk.reasons


def test_hold_adds_risk_then_fades() -> None:
    call = Call()
    call.say("customer", "can you check that for me", CALM)
    held = call.scorer.on_hold(80.0, 50.0)
    assert "silence or hold of 50 s" in held.reasons
    call.clock = 80.0
    for _ in range(6):
        after = call.say("customer", "okay thanks", CALM)
    assert after.risk < held.risk


def test_hysteresis_does_not_flap() -> None:
    # Evidence from the current turn only, so the risk follows the probabilities exactly.
    config = RiskConfig(
        intent_points={"manager_demand": 100.0},
        intent_decay=0.0,
        sentiment_points=0.0,
        negative_run_points=0.0,
        trend_points=0.0,
    )
    call = Call(config=config)

    def turn(p: float) -> tuple[float, str]:
        r = call.say("customer", "so what now", CALM, (("manager_demand", p),))
        return r.risk, r.level

    assert turn(0.2) == (20.0, "calm")
    # Hovering around the at_risk bar (50), even dipping once below the band (40): no flapping.
    levels = [turn(p)[1] for p in (0.52, 0.46, 0.53, 0.38, 0.51, 0.41, 0.55)]
    assert levels == ["at_risk"] * 7
    # Staying well below for a while does bring it down, one level at a time.
    assert turn(0.2)[1] == "at_risk"
    assert turn(0.2)[1] == "watch"


def test_level_falls_after_the_call_calms_down() -> None:
    call = Call()
    call.say("customer", "get me a manager now", NEGATIVE, (("manager_demand", 1.0),))
    peak = call.say("customer", "i am cancelling", NEGATIVE, (("cancel_threat", 1.0),))
    assert peak.level in ("at_risk", "escalated")
    for _ in range(10):
        call.say("agent", "i have refunded you in full")
        risk = call.say("customer", "oh thank you that is great", (0.01, 0.1, 0.89))
    assert risk.level == "calm"
    assert call.scorer.max_level == peak.level


def test_reasons_in_the_board_language() -> None:
    call = Call(language="ro")
    risk = call.say(
        "customer", "vreau sa vorbesc cu un manager", NEGATIVE, (("manager_demand", 0.9),)
    )
    assert risk.reasons[0] == "a cerut un manager"
    assert reason_text("falling", "id", 3) == "sentimen menurun selama 3 giliran"
    assert reason_text("louder", "xx") == "louder than at the start"


def test_same_inputs_same_risks() -> None:
    def run() -> list[tuple[float, str, tuple[str, ...]]]:
        call = Call()
        out = []
        for i in range(8):
            intents = (("hold_complaint", 0.8),) if i == 3 else ()
            r = call.say("customer", "turn", (0.1 * i, 0.9 - 0.1 * i, 0.1), intents, loud=-26 + i)
            out.append((r.risk, r.level, r.reasons))
        return out

    assert run() == run()


def test_config_validation_names_the_field() -> None:
    bad = RiskConfig(thresholds=(50.0, 40.0, 90.0), intent_decay=1.5, intent_points={"nope": 3.0})
    fields = {f for f, _ in bad.validate()}
    assert fields == {"thresholds", "intent_decay", "intent_points"}
    assert RiskConfig().validate() == []


def test_sentiment_alone_never_makes_a_call_at_risk() -> None:
    # Falling into strongly negative, turn after turn, with no intent, voice or interruption:
    # the worst a sentiment model alone can do is "watch".
    call = Call()
    for neg in (0.1, 0.4, 0.7, 0.9, 0.97, 0.99, 0.99, 0.99):
        risk = call.say("customer", "the package never arrived", (neg, 0.99 - neg, 0.01))
        assert risk.level in ("calm", "watch"), risk
    assert risk.risk <= RiskConfig().sentiment_cap
    assert "negative sentiment" in risk.reasons


SENTENCE_GAP = 0.3  # the recognizer's pieces of one turn follow each other this closely


def test_sentences_of_one_turn_count_as_one_turn() -> None:
    # One angry turn that the recognizer cut into three sentences is one negative turn, not
    # "negative for 3 turns in a row" nor a falling trend.
    call = Call()
    call.say("customer", "sure no problem", (0.01, 0.1, 0.89))
    call.say("agent", "thanks for holding")
    for i, neg in enumerate((0.9, 0.99, 0.95)):
        risk = call.say("customer", "that was a long wait", (neg, 0.99 - neg, 0.01), gap=0.3)
        assert call.scorer.turns == 2, i
    assert call.scorer.negative_run == 1
    assert call.scorer.falling_turns() == 2
    assert not any("in a row" in r or "falling" in r for r in risk.reasons), risk.reasons
    # The same sentences as three turns, the agent speaking in between, are a run.
    turns = Call()
    for neg in (0.9, 0.99, 0.95):
        turns.say("agent", "i see")
        risk = turns.say("customer", "that was a long wait", (neg, 0.99 - neg, 0.01))
    assert "negative for 3 turns in a row" in risk.reasons


def test_a_pause_or_the_agent_ends_the_turn() -> None:
    call = Call()
    call.say("customer", "hello", CALM)
    call.say("customer", "my bill is wrong", NEGATIVE, gap=SENTENCE_GAP)
    assert call.scorer.turns == 1
    call.say("customer", "and the app is down", NEGATIVE, gap=2.0)  # a pause: a new turn
    assert call.scorer.turns == 2
    call.say("agent", "let me look")
    call.say("customer", "thanks", CALM, gap=SENTENCE_GAP)  # after the agent: a new turn
    assert call.scorer.turns == 3


def test_hold_complaint_after_a_hold_stays_below_escalated() -> None:
    # A calm call, a long hold, then the customer complains about it at length and louder: a
    # grievance to watch, not an escalation. Complaining again in the next turn is more
    # evidence (it may reach at_risk), still never "escalated".
    call = Call()
    for text in ("hi there", "i am moving house next month", "the postcode is l s six"):
        call.say("agent", "okay")
        call.say("customer", text, CALM, loud=-26.0)
    call.scorer.on_hold(80.0, 48.0)
    call.clock = 80.0
    call.say("agent", "thanks so much for holding")
    for neg in (0.9, 0.99, 0.94):
        risk = call.say(
            "customer",
            "that was a really long wait",
            (neg, 0.99 - neg, 0.01),
            (("hold_complaint", 0.99),),
            loud=-21.0,
            gap=SENTENCE_GAP,
        )
        assert risk.level == "watch", risk
    assert "complained about waiting" in risk.reasons
    call.say("agent", "i am sorry about that")
    risk = call.say("customer", "next time warn people", NEGATIVE, (("hold_complaint", 0.9),))
    assert risk.level in ("watch", "at_risk"), risk
    assert call.scorer.max_level != "escalated"


def test_wait_evidence_is_capped() -> None:
    config = RiskConfig()
    call = Call()
    call.scorer.on_hold(60.0, 90.0)
    call.clock = 60.0
    risk = call.say("customer", "i waited ages", CALM, (("hold_complaint", 1.0),))
    # only the wait: observed hold and the complaint about it add at most wait_cap
    assert risk.risk <= config.wait_cap + 0.1, risk


def test_calmly_worded_cancel_is_a_request_not_a_threat() -> None:
    # "I'd like to move my broadband to my new address" may score as cancel_threat; in a turn
    # that is not negative it needs near-certainty before it counts.
    calm = Call()
    risk = calm.say(
        "customer", "move my broadband to my new flat", CALM, (("cancel_threat", 0.92),)
    )
    assert "threatened to cancel" not in risk.reasons and risk.risk < 10
    assert calm.scorer.intent_counts == {}
    angry = Call()
    risk = angry.say(
        "customer", "i am cancelling this contract", NEGATIVE, (("cancel_threat", 0.9),)
    )
    assert risk.reasons[0] == "threatened to cancel"
    certain = Call()
    risk = certain.say("customer", "please cancel my contract", CALM, (("cancel_threat", 0.98),))
    assert "threatened to cancel" in risk.reasons
    # other intents are not gated: "can i talk to a manager please" is calm and still counts
    manager = Call()
    risk = manager.say("customer", "can i talk to a manager", CALM, (("manager_demand", 0.8),))
    assert risk.reasons[0] == "asked for a manager"


def test_a_calm_sentence_of_a_negative_turn_is_not_calmly_worded() -> None:
    # "It's quite concerning the order hasn't moved. ... Otherwise, I want to go ahead and
    # cancel it.": the recognizer's last sentence reads neutral, the turn does not.
    turn = Call()
    turn.say("agent", "both orders are pending")
    turn.say("customer", "it's quite concerning the order hasn't moved", NEGATIVE)
    risk = turn.say(
        "customer",
        "otherwise i want to go ahead and cancel it",
        CALM,
        (("cancel_threat", 0.9),),
        gap=SENTENCE_GAP,
    )
    assert "threatened to cancel" in risk.reasons
    assert turn.scorer.evidence(_score(CALM, (("cancel_threat", 0.9),))) != []
    # the same sentence after the agent has spoken opens a calm turn of its own
    later = Call()
    later.say("customer", "it's quite concerning the order hasn't moved", NEGATIVE)
    later.say("agent", "I understand")
    risk = later.say(
        "customer", "otherwise i want to go ahead and cancel it", CALM, (("cancel_threat", 0.9),)
    )
    assert "threatened to cancel" not in risk.reasons
    later.say("agent", "shall I cancel it?")
    assert later.scorer.evidence(_score(CALM, (("cancel_threat", 0.9),))) == []


def _score(
    probs: tuple[float, float, float], intents: tuple[tuple[str, float], ...]
) -> UtteranceScore:
    sentiment = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
    return UtteranceScore("c1", 99, "customer", 0.0, sentiment, probs, intents)  # type: ignore[arg-type]


def test_new_settings_are_validated() -> None:
    bad = RiskConfig(
        calm_intent_min={"nope": 0.9, "cancel_threat": 1.5}, turn_gap=-1.0, heated_polarity=-2.0
    )
    assert {f for f, _ in bad.validate()} == {"calm_intent_min", "turn_gap", "heated_polarity"}


def test_a_heated_turn_the_model_reads_neutral_is_still_upset() -> None:
    # "if you do not comply with this request, I will ..." read neutral by the model: the
    # heated phrase keeps the customer's mood negative (RiskConfig.heated_polarity)
    def last_turn(config: RiskConfig, heated: int) -> tuple[float, float]:
        call = Call(config=config)
        for _ in range(3):
            call.say("customer", "the refund still has not come", NEGATIVE)
        utt = FinalUtterance("c1", "customer", 9, "if you do not comply i will", 30.0, 32.0)
        score = UtteranceScore("c1", 9, "customer", 32.0, "neutral", CALM)
        risk = call.scorer.on_utterance(utt, score, heated)
        return risk.sentiment, risk.risk

    mood, risk = last_turn(RiskConfig(), heated=1)
    plain_mood, plain_risk = last_turn(RiskConfig(), heated=0)
    off_mood, off_risk = last_turn(RiskConfig(heated_polarity=1.0), heated=1)
    assert mood < plain_mood and mood == pytest.approx(off_mood - 0.5 * (0.1 + 0.5), abs=0.01)
    assert risk > off_risk > plain_risk  # the heat adds points; the upset mood adds more
    assert off_mood == plain_mood  # set to 1, the rule is off: the model's reading stands


def test_reason_file_covers_every_kind_and_language() -> None:
    texts = reason_texts()
    assert set(texts) == set(KINDS)
    for kind, per_language in texts.items():
        assert set(per_language) == set(LANGUAGE_CODES), kind
        if kind not in ("negative", "negative_run", "falling"):  # id/ms share these words
            assert len(set(per_language.values())) == len(LANGUAGE_CODES), kind


def test_reason_file_errors_name_line_and_field() -> None:
    good = (resources.files("monitor.rules") / "reasons.toml").read_text("utf-8")
    broken = good.replace('ro = "a cerut un manager"\n', "").replace(
        'en = "silence or hold of {n} s"', 'en = "silence or hold"'
    )
    broken = broken.replace('en = "heated language"', 'en = "heated language"\nde = "hitzig"')
    broken += '\n[reasons.sulking]\nen = "sulks"\n'
    with pytest.raises(PlaybookError) as info:
        parse_reasons(broken, "reasons.toml")
    text = str(info.value)
    assert "field 'reasons.manager_demand.ro': missing translation" in text
    assert "field 'reasons.hold.en': this reason needs a '{n}'" in text
    assert "field 'reasons.sulking': unknown reason" in text
    assert "field 'reasons.heated.de': unknown language; supported: en, id, ms, ro" in text
    assert "reasons.toml, line 7: field 'reasons.manager_demand.ro'" in text
    with pytest.raises(PlaybookError, match="invalid TOML"):
        parse_reasons(good + "\n[reasons.abuse\n", "reasons.toml")
    with pytest.raises(PlaybookError, match=r"reasons\.talk_ratio'?: missing reason"):
        parse_reasons(good.replace("[reasons.talk_ratio]", "[unused]"), "reasons.toml")


def test_reason_language_codes_are_normalised() -> None:
    assert reason_text("abuse", "ms-MY") == "bahasa kesat"
    assert reason_text("interrupting", "RO_ro", 1) == "a întrerupt agentul"
    assert reason_text("interrupting", "ro", 2) == "a întrerupt agentul de 2 ori"


def test_out_of_order_talk_overs_count_only_inside_the_window() -> None:
    # A talk-over reported late (older than one already seen) and outside the 90 s window must
    # not count; the scorer used to keep it because it pruned only from the front.
    call = Call()
    call.say("customer", "my card was charged twice", NEGATIVE)
    call.scorer.on_talk_over(TalkOver("c1", "customer", 100.0, 100.5))
    call.scorer.on_talk_over(TalkOver("c1", "customer", 5.0, 5.5))
    call.clock = 119.0
    risk = call.say("customer", "no listen to me", NEGATIVE)
    assert "interrupted the agent" in risk.reasons
    assert call.scorer.floor.talk_overs("customer", since=0.0) == 2
