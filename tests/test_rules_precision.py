"""Precision of the default playbook: no false alarms, no alert fatigue on ordinary calls.

The cases come from what the sample calls showed (written anew here, not copied): a calm
"cancel"/"move" request, the agent's own words scored with customer intents, one turn the
recognizer cut into sentences, and an agent speaking at an ordinary (synthetic) pace.
"""

from __future__ import annotations

import pytest

from monitor.events import AcousticFeatures, FinalUtterance, PromptCard, UtteranceScore, Word
from monitor.rules import Playbook
from tests.test_rules import CALM, HAPPY, NEGATIVE, Harness, kinds

SENTENCE_GAP = 0.3  # the recognizer's pieces of one turn follow each other this closely


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return Playbook.load()


def test_calmly_worded_cancel_raises_no_alert(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "how can i help")
    call.say(
        "customer",
        "we are relocating so can the internet come with us to the new flat",
        CALM,
        (("cancel_threat", 0.92),),
    )
    call.say("agent", "of course")
    call.say("customer", "and please stop the second direct debit", CALM, (("cancel_threat", 0.8),))
    assert call.alerts() == [] and call.cards() == []
    assert call.rules.summary["intents"] == {}
    angry = Harness(playbook)
    angry.say("customer", "fix it today or i am leaving you", NEGATIVE, (("cancel_threat", 0.85),))
    assert "cancel_threat" in kinds(angry.alerts())


def test_agent_intents_never_alert_or_raise_customer_risk(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "hi i have a question about my bill", CALM)
    for text, intent, p in (
        ("thanks that is useful feedback and i will share it", "public_shaming", 0.8),
        ("i can cancel the duplicate payment for you", "cancel_threat", 0.95),
        ("your old line stays on until the new one is live", "transfer_complaint", 0.87),
        ("no", "abuse", 0.65),
    ):
        out = call.say("agent", text, NEGATIVE, ((intent, p),))
        risk = out[0]
        assert risk.risk == 0 and risk.level == "calm", (text, risk)
    assert call.alerts() == []
    assert not [c for c in call.cards() if c.trigger in ("public_shaming", "cancel_threat")]
    assert call.rules.summary["intents"] == {} and call.rules.summary["hostile"] is False


def test_transfer_loop_counts_turns_not_sentences(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say(
        "customer", "i have been passed around all day", NEGATIVE, (("transfer_complaint", 0.9),)
    )
    call.say(
        "customer",
        "every team sends me somewhere else",
        NEGATIVE,
        (("transfer_complaint", 0.9),),
        gap=SENTENCE_GAP,
    )
    assert "transfer_loop" not in kinds(call.alerts())  # one turn, cut in two by the recognizer
    call.say("agent", "let me see who can help")
    call.say("customer", "not another transfer please", NEGATIVE, (("transfer_complaint", 0.9),))
    assert "transfer_loop" in kinds(call.alerts())


def test_sentiment_drop_looks_at_the_whole_turn(playbook: Playbook) -> None:
    # A happy turn whose last sentence the sentiment model misreads is not a drop.
    call = Harness(playbook)
    for _ in range(2):
        call.say("agent", "is the new router working")
        call.say("customer", "yes it is lovely", HAPPY)
    call.say("agent", "glad to hear it")
    call.say("customer", "yes it has been great", HAPPY)
    call.say("customer", "far better than the old one", (0.78, 0.02, 0.2), gap=SENTENCE_GAP)
    assert call.cards() == []
    # Falling over three turns of its own is a drop.
    falling = Harness(playbook)
    for probs in (HAPPY, CALM, (0.5, 0.4, 0.1), (0.95, 0.04, 0.01)):
        falling.say("agent", "i see")
        falling.say("customer", "well", probs)
    assert "empathise" in [c.kind for c in falling.cards()]


def _rate_cards(call: Harness) -> list[PromptCard]:
    return [c for c in call.cards() if c.trigger == "agent_fast"]


def test_agent_at_an_ordinary_pace_is_not_told_to_slow_down(playbook: Playbook) -> None:
    words16 = "sure so what i will do now is check the line and then book you an engineer"
    call = Harness(playbook)
    for rate in (3.6, 4.1, 3.9, 4.2, 3.7, 4.3, 4.0):  # a quick but steady speaker
        call.say("agent", words16, CALM, features={"speech_rate": rate})
        call.say("customer", "okay", CALM)
    call.say("agent", "who am i speaking with", CALM, features={"speech_rate": 4.8})  # few words
    assert _rate_cards(call) == []
    # Against their own pace (about 3.9), a clear speed-up is coached.
    call.say("agent", words16, CALM, features={"speech_rate": 5.3})
    assert len(_rate_cards(call)) == 1


def test_punctuation_and_repeated_fragments_do_not_inflate_the_rate(playbook: Playbook) -> None:
    # 15 real words in 4.5 s (3.3 w/s), plus punctuation "words" and a zero-length repeat at
    # the end: counted naively that is 19 "words", 4.2 w/s.
    text = "right so i have checked and the new line will be live on the twenty eighth"
    words = [Word(w, 10.0 + 0.3 * i, 10.28 + 0.3 * i) for i, w in enumerate(text.split())]
    words += [Word(".", 14.5, 14.5), Word(",", 14.5, 14.6), Word("right", 14.6, 14.6)]
    naive = len(words) / (words[-1].end - words[0].start)
    features = AcousticFeatures(-26.0, 200.0, round(naive, 3), 4.6, 0.5)
    call = Harness(playbook)
    utt = FinalUtterance("call1", "agent", 0, text, 10.0, 14.6, tuple(words), features)
    score = UtteranceScore("call1", 0, "agent", 14.6, "neutral", CALM, ())
    out = call.rules.on_utterance(utt, score)
    assert [e for e in out if isinstance(e, PromptCard)] == []
