"""The bundled sample call scripts through CallRules: the acceptance bar, without the models.

Each script turn becomes a FinalUtterance on a clock laid out like the renderer does (gaps,
holds, overlaps as TalkOver events), with the acoustic features the renderer's mood prosody
produces, and an UtteranceScore built by hand: sentiment from the scripted mood and intents
from a few unmistakable keywords. This pins the rules' thresholds against the scripts; the
real pipeline with the real classifier is measured by `make eval` (eval/eval_calls.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from eval.eval_calls import first_warning  # the definition `make eval` measures
from monitor.events import (
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
from monitor.rules import CallRules, Playbook

try:
    from monitor.sample_script import CallScript, list_scripts, load_script
except ImportError as exc:  # pragma: no cover - the samples helper's module
    pytest.skip(f"sample scripts not available: {exc}", allow_module_level=True)

MOOD = {  # (P(negative), P(neutral), P(positive)), loudness dBFS, speech-rate factor, pitch factor
    "calm": ((0.05, 0.80, 0.15), -26.0, 1.00, 1.00),
    "happy": ((0.02, 0.18, 0.80), -24.5, 1.04, 1.07),
    "annoyed": ((0.62, 0.33, 0.05), -22.0, 1.10, 1.06),
    "angry": ((0.85, 0.13, 0.02), -18.5, 1.22, 1.13),
    "furious": ((0.95, 0.04, 0.01), -15.5, 1.32, 1.21),
}

INTENT_CUES = {
    "manager_demand": r"\b(manager|supervisor)\b.*\b(now|speak|talk|get)\b|\bsomeone senior\b",
    "cancel_threat": r"\bcancel(ling|led)?\b|\bgoing somewhere else\b",
    "legal_threat": r"\b(regulator|lawyer|solicitor|ombudsman|court)\b",
    "public_shaming": r"\bsocial media\b|\breviews everywhere\b",
    "abuse": r"\b(useless|idiot|bloody|crap|damn)\b",
    "repeat_contact": r"\b(third|second) (time|call)\b|\blast two times\b|\bcalled before\b",
    "hold_complaint": r"\b(on hold|waiting|on the phone)\b.*\b(minutes|long|hour)\b|\blong wait\b",
    "transfer_complaint": r"\btransferred\b|\bsomeone else's job\b|\bsent me to you\b",
}


def score_turn(
    text: str, mood: str, language: str = "en"
) -> tuple[tuple[float, float, float], tuple[tuple[str, float], ...]]:
    probs = MOOD[mood][0]
    lower = text.lower()
    if language == "en":
        intents = tuple((i, 0.9) for i, cue in INTENT_CUES.items() if re.search(cue, lower))
    else:  # the scoring service's own cues for id/ms/ro (the model helper's module)
        cues = pytest.importorskip("monitor.scoring.cues")
        found = cues.keyword_intents(lower, language)
        intents = tuple((i, p) for i, p in found.items() if p >= 0.5)
    return probs, intents


@dataclass
class Played:
    events: list[Event]
    blowup_start: float | None
    rules: CallRules


ScoreFn = Callable[[FinalUtterance, str, str], UtteranceScore]  # utterance, mood, language


def by_hand(utt: FinalUtterance, mood: str, language: str) -> UtteranceScore:
    """Sentiment from the scripted mood, intents from unmistakable keywords."""
    probs, intents = score_turn(utt.text, mood, language)
    label = ("negative", "neutral", "positive")[max(range(3), key=lambda i: probs[i])]
    return UtteranceScore(utt.call_id, utt.seq, utt.speaker, utt.end, label, probs, intents)  # type: ignore[arg-type]


def play(script: CallScript, playbook: Playbook, score_fn: ScoreFn = by_hand) -> Played:
    call_id = script.name
    rules = CallRules(
        playbook, CallStarted(call_id, script.name, script.agent_id, language=script.language)
    )
    events: list[Event] = []
    clock = 0.6
    last_end = {"customer": 0.0, "agent": 0.0}
    blowup_start = None
    previous_speaker = None
    for seq, turn in enumerate(script.turns):
        _, loud, rate_factor, pitch_factor = MOOD[turn.mood]
        words = len(turn.text.split())
        duration = words / (2.6 * rate_factor)
        if seq == 0:
            start = clock
        elif turn.hold:
            start = clock + turn.hold
        elif turn.overlap and previous_speaker != turn.speaker:
            start = clock - turn.overlap
        elif turn.pause_before is not None:
            start = clock + turn.pause_before
        else:
            start = clock + 0.5
        # audio time passes in one-second ticks, as the pipeline does
        t = clock
        while t + 1.0 < start:
            t += 1.0
            events.extend(rules.tick(t))
        if turn.overlap and previous_speaker not in (None, turn.speaker):
            events.extend(rules.on_talk_over(TalkOver(call_id, turn.speaker, start, clock)))
        end = start + duration
        if turn.blowup and blowup_start is None:
            blowup_start = start
        base_pitch = 210.0 if turn.speaker == "customer" else 120.0
        features = AcousticFeatures(
            loudness_dbfs=loud,
            pitch_hz=base_pitch * pitch_factor,
            speech_rate=2.6 * rate_factor,
            duration=duration,
            silence_before=max(0.0, start - last_end[turn.speaker]),
        )
        text = turn.text.lower()
        utt = FinalUtterance(call_id, turn.speaker, seq, text, start, end, features=features)
        score = score_fn(utt, turn.mood, script.language)
        events.extend(rules.on_utterance(utt, score))
        last_end[turn.speaker] = end
        clock = max(clock, end)
        previous_speaker = turn.speaker
    events.extend(rules.finish(clock + 0.8))
    return Played(events, blowup_start, rules)


SCRIPTS = {s.name: s for s in map(load_script, list_scripts())}


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return Playbook.load()


@pytest.mark.parametrize("name", sorted(n for n, s in SCRIPTS.items() if s.expected == "calm"))
def test_calm_sample_raises_no_alert(playbook: Playbook, name: str) -> None:
    played = play(SCRIPTS[name], playbook)
    alerts = [e for e in played.events if isinstance(e, Alert)]
    assert alerts == []
    assert played.rules.summary["max_level"] in ("calm", "watch")


@pytest.mark.parametrize(
    "name", sorted(n for n, s in SCRIPTS.items() if any(t.blowup for t in s.turns))
)
def test_escalating_sample_warned_before_blowup(playbook: Playbook, name: str) -> None:
    played = play(SCRIPTS[name], playbook)
    warned = first_warning(played.events)
    assert played.blowup_start is not None
    risks = [(round(e.at, 1), e.risk, e.level) for e in played.events if isinstance(e, CallRisk)]
    assert warned is not None and warned < played.blowup_start, risks
    assert played.rules.summary["max_level"] in ("at_risk", "escalated")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_expected_intents_trigger_their_rules(playbook: Playbook, name: str) -> None:
    played = play(SCRIPTS[name], playbook)
    fired = played.rules.summary["fired"]
    for intent in SCRIPTS[name].expected_intents:
        names = [
            r.name for r in playbook.rules if r.trigger == "intent" and r.params["intent"] == intent
        ]
        assert any(n in fired for n in names), (intent, fired)


def test_escalating_call_coaches_the_agent(playbook: Playbook) -> None:
    played = play(SCRIPTS["escalates_manager"], playbook)
    cards = [e.trigger for e in played.events if isinstance(e, PromptCard)]
    assert "defensive" in cards or "dont_know" in cards or "vague_time" in cards, cards
    assert len(cards) <= 10  # never a flood


@pytest.fixture(scope="module")
def real_scorer() -> ScoreFn:
    """The model helper's real classifier (skipped until its weights are in models/)."""
    try:
        from monitor.scoring.classifier import TextClassifier
        from monitor.scoring.service import UtteranceScorer

        scorer = UtteranceScorer(TextClassifier.load())
    except (ImportError, FileNotFoundError, OSError) as exc:
        pytest.skip(f"real text classifier not available: {exc}")

    def score(utt: FinalUtterance, mood: str, language: str) -> UtteranceScore:
        return scorer.score_batch([(utt, language)])[0]

    return score


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_samples_with_the_real_classifier(
    playbook: Playbook, real_scorer: ScoreFn, name: str
) -> None:
    script = SCRIPTS[name]
    played = play(script, playbook, real_scorer)
    alerts = [e for e in played.events if isinstance(e, Alert)]
    risks = [
        (round(e.at, 1), e.risk, e.level, e.reasons[:2])
        for e in played.events
        if isinstance(e, CallRisk)
    ]
    if script.expected == "calm":
        assert alerts == [], (alerts, risks)
    if played.blowup_start is not None:
        warned = first_warning(played.events)
        assert warned is not None and warned < played.blowup_start, risks
