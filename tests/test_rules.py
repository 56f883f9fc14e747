"""CallRules with the default playbook: alerts, cards, cooldowns, coaching, strain.

The inputs are the real input types (FinalUtterance, UtteranceScore, TalkOver) built directly;
the harness feeds a call and returns the ordered events, which the tests assert on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from monitor.events import (
    INTENTS,
    AcousticFeatures,
    Alert,
    CallRisk,
    CallStarted,
    Event,
    FinalUtterance,
    PromptCard,
    TalkOver,
    UtteranceScore,
)
from monitor.rules import CallRules, Playbook, StrainTracker, strain_tracker

CALM = (0.05, 0.80, 0.15)
NEGATIVE = (0.93, 0.06, 0.01)
HAPPY = (0.01, 0.10, 0.89)


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return Playbook.load()


class Harness:
    """One call through CallRules on a simple clock; collects every event in order."""

    def __init__(self, playbook: Playbook, language: str = "en", call_id: str = "call1") -> None:
        self.call_id = call_id
        self.rules = CallRules(playbook, CallStarted(call_id, "test", "agent-1", language=language))
        self.events: list[Event] = []
        self.seq = 0
        self.clock = 0.0

    def say(
        self,
        speaker: str,
        text: str,
        probs: tuple[float, float, float] = CALM,
        intents: tuple[tuple[str, float], ...] = (),
        gap: float = 0.5,
        features: dict[str, float] | None = None,
    ) -> list[Event]:
        start = self.clock + gap
        end = start + max(1.0, len(text.split()) / 2.5)
        self.clock = end
        feats = None
        if features is not None:
            base = {"loudness_dbfs": -26.0, "pitch_hz": 200.0, "speech_rate": 2.6}
            base.update(features)
            feats = AcousticFeatures(
                base["loudness_dbfs"], base["pitch_hz"], base["speech_rate"], end - start, gap
            )
        utt = FinalUtterance(self.call_id, speaker, self.seq, text, start, end, features=feats)  # type: ignore[arg-type]
        label = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
        score = UtteranceScore(self.call_id, self.seq, speaker, end, label, probs, intents)  # type: ignore[arg-type]
        self.seq += 1
        out = self.rules.on_utterance(utt, score)
        self.events.extend(out)
        return out

    def talk_over(self, speaker: str) -> list[Event]:
        out = self.rules.on_talk_over(TalkOver(self.call_id, speaker, self.clock, self.clock + 0.4))  # type: ignore[arg-type]
        self.events.extend(out)
        return out

    def wait(self, seconds: float, step: float = 1.0) -> list[Event]:
        out: list[Event] = []
        target = self.clock + seconds
        while self.clock < target:
            self.clock = min(target, self.clock + step)
            out.extend(self.rules.tick(self.clock))
        self.events.extend(out)
        return out

    def alerts(self) -> list[Alert]:
        return [e for e in self.events if isinstance(e, Alert)]

    def cards(self) -> list[PromptCard]:
        return [e for e in self.events if isinstance(e, PromptCard)]


def kinds(events: list[Any]) -> list[str]:
    return [e.kind for e in events if isinstance(e, Alert | PromptCard)]


CLEAR_EXAMPLES = {
    "manager_demand": "i want to speak to your manager right now",
    "cancel_threat": "if this is not fixed today i am cancelling my contract",
    "legal_threat": "i am reporting you to the regulator and calling my lawyer",
    "public_shaming": "i am putting this all over social media",
    "abuse": "you are useless all of you bloody idiots",
    "repeat_contact": "this is the third time i have called about this",
    "hold_complaint": "i have been on hold for forty minutes",
    "transfer_complaint": "you have transferred me four times already",
}


@pytest.mark.parametrize("intent", INTENTS)
def test_each_intent_triggers_its_rule(playbook: Playbook, intent: str) -> None:
    call = Harness(playbook)
    call.say("agent", "thanks for calling how can i help")
    out = call.say("customer", CLEAR_EXAMPLES[intent], NEGATIVE, ((intent, 0.92),))
    assert isinstance(out[0], CallRisk)
    fired = {e.trigger for e in out if isinstance(e, PromptCard)} | {
        e.kind for e in out if isinstance(e, Alert)
    }
    expected = {
        r.name
        for r in playbook.rules
        if r.trigger == "intent" and r.params["intent"] == intent and r.params["min_count"] == 1
    }
    assert expected <= fired, (intent, out)


def test_hard_negative_complaints_raise_nothing(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "thanks for calling how can i help")
    call.say("customer", "my internet has been really slow since monday", NEGATIVE)
    call.say("agent", "i am sorry to hear that let me check the line")
    call.say("customer", "it keeps dropping out in the evenings", NEGATIVE)
    call.say("agent", "i understand i can see a fault and an engineer fixes it on friday")
    call.say("customer", "okay friday is fine thank you", HAPPY)
    assert call.alerts() == []
    assert all(isinstance(e, CallRisk) and e.level in ("calm", "watch") for e in call.events)


def test_calm_call_is_silent(playbook: Playbook) -> None:
    call = Harness(playbook)
    for _ in range(8):
        call.say("agent", "sure i can change that for you", CALM, features={})
        call.say("customer", "lovely thank you that is great", HAPPY, features={})
    call.wait(10)
    assert call.alerts() == [] and call.cards() == []
    assert call.rules.summary["max_level"] == "calm"
    assert call.rules.finish(call.clock) == []


def test_at_risk_alert_before_explicit_blowup(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "hello how can i help", features={})
    call.say("customer", "my internet is down again", (0.7, 0.25, 0.05), features={})
    call.say("agent", "okay what is your account number", features={})
    call.say(
        "customer",
        "you should have it from the last two times i called",
        (0.75, 0.2, 0.05),
        (("repeat_contact", 0.9),),
        features={},
    )
    call.say("agent", "have you restarted the router", features={})
    call.talk_over("customer")
    call.say(
        "customer",
        "yes of course i have every single time",
        (0.85, 0.13, 0.02),
        features={"loudness_dbfs": -21, "speech_rate": 3.1},
    )
    call.say("agent", "you need to understand we get a lot of calls", features={})
    call.talk_over("customer")
    call.say(
        "customer",
        "are you serious this is completely unacceptable",
        NEGATIVE,
        features={"loudness_dbfs": -17, "speech_rate": 3.4, "pitch_hz": 230},
    )
    warned = [a for a in call.alerts() if a.kind == "at_risk"]
    assert warned, [e for e in call.events if isinstance(e, CallRisk)]
    assert warned[0].severity == "warning"
    assert warned[0].reasons  # the supervisor sees why
    blowup = call.say("customer", "get me a manager now", NEGATIVE, (("manager_demand", 0.95),))
    assert "manager_demand" in kinds(blowup)


def test_cooldown_respected(playbook: Playbook) -> None:
    call = Harness(playbook)
    for _ in range(5):  # five manager demands within a few seconds
        call.say("customer", "manager now", NEGATIVE, (("manager_demand", 0.9),), gap=0.2)
    assert [a.kind for a in call.alerts()].count("manager_demand") == 1
    call.wait(60)
    call.say("customer", "i said get me a manager", NEGATIVE, (("manager_demand", 0.9),))
    assert [a.kind for a in call.alerts()].count("manager_demand") == 2


def test_agent_never_flooded_with_cards(playbook: Playbook) -> None:
    assert playbook.settings.max_cards == 3
    call = Harness(playbook)
    call.say("customer", "where is my refund", NEGATIVE)
    for text in ("calm down", "i dont know", "it takes four to eight weeks", "not my department"):
        call.say("agent", text, gap=0.2)
    kinds_shown = [c.kind for c in call.cards()]
    assert kinds_shown == ["listen_acknowledge", "find_out", "concrete_date"]  # max per window
    assert call.rules.summary["cards_suppressed"] == 1
    # Once the window has passed, new cards show again; the same card not within card_repeat.
    call.wait(40)
    call.say("customer", "so when will it come", NEGATIVE)
    call.wait(30)
    call.say("agent", "that is not my department", gap=0.2)
    call.say("agent", "calm down please", gap=0.2)
    assert [c.kind for c in call.cards()] == [*kinds_shown, "own_it"]


def test_one_card_per_utterance_in_playbook_order(playbook: Playbook) -> None:
    call = Harness(playbook)
    out = call.say(
        "customer", "you idiot i will sue you", NEGATIVE, (("abuse", 0.95), ("legal_threat", 0.9))
    )
    assert [e.kind for e in out if isinstance(e, PromptCard)] == ["abuse_boundary"]
    assert [e.kind for e in out if isinstance(e, Alert)] == ["abuse", "legal_threat", "escalated"]


def test_critical_cards_get_through_the_flood_limit(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "i dont know", gap=0.2)
    call.say("agent", "maybe four to eight weeks", gap=0.2)
    out = call.say("customer", "you useless idiot", NEGATIVE, (("abuse", 0.95),))
    assert "abuse_boundary" in [e.kind for e in out if isinstance(e, PromptCard)]


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("en", "Customer wants a manager"),
        ("id", "Pelanggan minta atasan"),
        ("ms", "Pelanggan minta pengurus"),
        ("ro", "Clientul cere un manager"),
        ("ro-RO", "Clientul cere un manager"),
        ("de", "Customer wants a manager"),  # unsupported: English, never an empty card
    ],
)
def test_cards_in_the_agents_language(playbook: Playbook, language: str, title: str) -> None:
    call = Harness(playbook, language=language)
    out = call.say("customer", "manager", NEGATIVE, (("manager_demand", 0.9),))
    (card,) = [e for e in out if isinstance(e, PromptCard) and e.trigger == "manager_demand"]
    assert card.title == title
    assert card.language == {"de": "en", "ro-RO": "ro"}.get(language, language)
    (alert,) = [e for e in out if isinstance(e, Alert) and e.kind == "manager_demand"]
    assert alert.message == "Customer asked for a manager"  # the board stays English


def test_ids_deterministic_and_replay_identical(playbook: Playbook) -> None:
    def run() -> list[Event]:
        call = Harness(playbook, call_id="replay-7")
        call.say("customer", "third time calling", NEGATIVE, (("repeat_contact", 0.9),))
        call.say("agent", "i dont know")
        call.say("customer", "manager now", NEGATIVE, (("manager_demand", 0.9),))
        call.wait(50)
        call.say("customer", "i am cancelling", NEGATIVE, (("cancel_threat", 0.9),))
        return call.events

    first, second = run(), run()
    assert first == second
    ids = [e.alert_id for e in first if isinstance(e, Alert)]
    assert ids == [f"replay-7-a{i}" for i in range(1, len(ids) + 1)]
    card_ids = [e.card_id for e in first if isinstance(e, PromptCard)]
    assert card_ids == [f"replay-7-c{i}" for i in range(1, len(card_ids) + 1)]


def test_transfer_loop_alerts_on_the_second_complaint(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "they transferred me here", NEGATIVE, (("transfer_complaint", 0.9),))
    assert "transfer_loop" not in kinds(call.alerts())
    call.say(
        "customer",
        "and now you want to transfer me again",
        NEGATIVE,
        (("transfer_complaint", 0.9),),
    )
    assert "transfer_loop" in kinds(call.alerts())


def test_long_silence_card_once_per_silence(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "let me check that please hold")
    out = call.wait(60)
    risks = [e for e in out if isinstance(e, CallRisk)]
    assert len(risks) == 1 and any("hold" in r for r in risks[0].reasons)
    assert [c.kind for c in call.cards()] == ["after_hold"]
    call.wait(60)
    assert len(call.cards()) == 1
    assert call.alerts() == []  # a hold alone is not an alert


def test_no_acknowledgement_after_strongly_negative_turn(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "this is a disgrace you charged me twice", (0.95, 0.04, 0.01))
    call.say("agent", "can i have your account number")
    call.wait(15)
    assert [c.kind for c in call.cards()] == ["acknowledge_feeling"]

    acknowledged = Harness(playbook)
    acknowledged.say("customer", "this is a disgrace you charged me twice", (0.95, 0.04, 0.01))
    acknowledged.say("agent", "i am so sorry about that let me fix it")
    acknowledged.wait(15)
    assert acknowledged.cards() == []

    venting = Harness(playbook)  # the agent lets them vent: nothing to coach
    venting.say("customer", "this is a disgrace you charged me twice", (0.95, 0.04, 0.01))
    venting.wait(15)
    assert venting.cards() == []


def test_agent_talking_over_customer(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "so the thing is my bill", NEGATIVE)
    assert call.talk_over("agent") == []
    out = call.talk_over("agent")
    assert [e.kind for e in out] == ["listen_acknowledge"]


def test_agent_speaking_too_fast_and_louder(playbook: Playbook) -> None:
    call = Harness(playbook)
    fast = "okay so what we will do is reset the line and then send a new router out"
    out = call.say("agent", fast, features={"speech_rate": 4.4})
    assert [e.kind for e in out if isinstance(e, PromptCard)] == ["slow_down"]
    louder = Harness(playbook)
    for _ in range(3):
        louder.say("agent", "let me see", features={"loudness_dbfs": -26})
    out = louder.say("agent", "i said let me see", features={"loudness_dbfs": -17})
    assert [e.trigger for e in out if isinstance(e, PromptCard)] == ["agent_louder"]


def test_repeated_deferral_needs_two(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "i'll have to ask my manager about that")
    assert call.cards() == []
    call.say("agent", "again i need to check with my supervisor")
    assert [c.kind for c in call.cards()] == ["take_ownership"]


def test_closing_while_customer_unhappy(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "still not happy about this", NEGATIVE)
    call.say("agent", "is there anything else i can help with")
    assert [c.kind for c in call.cards()] == ["closing_check"]
    happy = Harness(playbook)
    happy.say("customer", "brilliant thanks", HAPPY)
    happy.say("agent", "is there anything else i can help with")
    assert happy.cards() == []


def test_summary_and_hostile_flag(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "you idiot", NEGATIVE, (("abuse", 0.9),))
    summary = call.rules.summary
    assert summary["hostile"] is True
    assert summary["alerts"] == len(call.alerts())
    assert summary["intents"] == {"abuse": 1}
    calm = Harness(playbook)
    calm.say("customer", "thanks", HAPPY)
    assert calm.rules.summary["hostile"] is False


def test_call_end_rule(playbook: Playbook, tmp_path: Any) -> None:
    path = tmp_path / "pb.toml"
    path.write_text(
        '[[rule]]\nname = "ended_unhappy"\ntrigger = "call_end"\nmax_sentiment = -0.3\n'
        'alert = "info"\nmessage = "Call ended with an unhappy customer"\n',
        encoding="utf-8",
    )
    custom = Playbook.load(path)
    call = Harness(custom)
    call.say("customer", "this is useless", NEGATIVE)
    out = call.rules.finish(call.clock)
    assert kinds(out) == ["ended_unhappy"]
    assert call.rules.finish(call.clock) == []  # finishing twice is harmless


def test_strain_after_a_run_of_hostile_calls(playbook: Playbook) -> None:
    tracker = strain_tracker(playbook)
    assert isinstance(tracker, StrainTracker)
    results = [tracker.on_call_ended("ben", hostile) for hostile in (True, False, True)]
    assert results == [None, None, None]
    strain = tracker.on_call_ended("ben", True)
    assert strain is not None
    assert (strain.agent_id, strain.hostile_calls, strain.recent_calls) == ("ben", 3, 4)
    assert "break" in strain.suggestion
    assert tracker.on_call_ended("ben", True) is None  # told once per run
    assert tracker.on_call_ended("ana", True) is None  # other agents are separate
    for _ in range(5):
        tracker.on_call_ended("ben", False)
    assert tracker.hostile_count("ben") == 0


def test_strain_tracker_is_bounded_and_validates() -> None:
    tracker = StrainTracker(window=2, threshold=1, max_agents=3)
    for i in range(10):
        tracker.on_call_ended(f"agent{i}", False)
    assert len(tracker._calls) == 3
    with pytest.raises(ValueError, match="strain_threshold"):
        StrainTracker(window=2, threshold=3)


def test_board_language_setting_localises_reasons(playbook: Playbook) -> None:
    custom = replace(playbook, settings=replace(playbook.settings, board_language="ms"))
    call = Harness(custom)
    out = call.say(
        "customer", "saya mahu bercakap dengan pengurus", NEGATIVE, (("manager_demand", 0.9),)
    )
    risk = out[0]
    assert isinstance(risk, CallRisk)
    assert risk.reasons[0] == "meminta bercakap dengan pengurus"


def test_jump_straight_to_escalated_raises_one_level_alert(playbook: Playbook) -> None:
    call = Harness(playbook)
    out = call.say(
        "customer",
        "you idiot i am calling my lawyer",
        NEGATIVE,
        (("abuse", 0.95), ("legal_threat", 0.9)),
    )
    level_alerts = [
        e.kind for e in out if isinstance(e, Alert) and e.kind in ("at_risk", "escalated")
    ]
    assert level_alerts == ["escalated"]
    assert call.rules.summary["first_at_risk"] == call.clock


def test_hold_reason_says_how_long_it_really_was(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("agent", "please hold while i check")
    call.wait(75)
    out = call.say("agent", "thanks for holding", gap=0.0)
    risk = out[0]
    assert isinstance(risk, CallRisk)
    assert "silence or hold of 75 s" in risk.reasons


def test_talk_over_is_speech_not_silence(playbook: Playbook) -> None:
    call = Harness(playbook)
    call.say("customer", "so here is the whole story", NEGATIVE)
    call.wait(30)
    call.talk_over("customer")  # both talking: a long turn whose final has not arrived yet
    call.wait(30)
    assert "after_hold" not in [c.kind for c in call.cards()]


def test_rules_and_risk_share_one_floor(playbook: Playbook) -> None:
    # Talk-overs, silences and holds have one owner: what the rules count is what the risk counts.
    call = Harness(playbook)
    assert call.rules.floor is call.rules.scorer.floor
    call.say("customer", "so the thing is my bill", NEGATIVE)
    call.talk_over("customer")
    call.talk_over("agent")
    floor = call.rules.floor
    assert floor.talk_overs("customer", since=0.0) == 1
    assert floor.talk_overs("agent", since=0.0) == 1
    assert floor.silence(call.clock + 2.0) == pytest.approx(1.6)  # from the talk-over's end
    call.wait(40)
    assert floor.holding  # the tick reported the hold once, on the floor
    out = call.say("agent", "thanks for waiting", gap=0.0)
    assert not floor.holding and floor.silence(call.clock) == 0.0
    risk = out[0]
    assert isinstance(risk, CallRisk)
    assert "silence or hold of 40 s" in risk.reasons
