"""The scorer and the bus are protocols (monitor/seams.py): the Monitor runs a call with any
implementation of them, not only ScoringService and EventBus."""

from __future__ import annotations

from typing import Any

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.scoring.service import ScoringService, cue_scores
from monitor.seams import Bus, Scorer


class CueScorer:
    """Keyword cues and the sentiment lexicon only, no model: a real, cheaper scorer (the
    path the service already takes for id / ms / ro)."""

    def __init__(self) -> None:
        self.scored = 0
        self.closed = False

    async def score(self, utt: ev.FinalUtterance, language: str = "en") -> ev.UtteranceScore:
        self.scored += 1
        return self._score(utt, language)

    async def score_partial(
        self, utt: ev.PartialUtterance, language: str = "en", *, wait: bool = False
    ) -> ev.UtteranceScore | None:
        return self._score(utt, language)  # cues cost next to nothing: always time for them

    def _score(
        self, utt: ev.FinalUtterance | ev.PartialUtterance, language: str
    ) -> ev.UtteranceScore:
        probs, intents = cue_scores(utt.text, language)
        labels: tuple[ev.Sentiment, ...] = ("negative", "neutral", "positive")
        return ev.UtteranceScore(
            call_id=utt.call_id,
            seq=utt.seq,
            speaker=utt.speaker,
            at=utt.end,
            sentiment=labels[max(range(3), key=probs.__getitem__)],
            probabilities=probs,
            intents=tuple((k, v) for k, v in intents.items() if v >= 0.5),
        )

    async def aclose(self) -> None:
        self.closed = True


def test_the_shipped_implementations_match_the_protocols(text_classifier: Any) -> None:
    assert isinstance(EventBus(), Bus)
    assert isinstance(ScoringService(text_classifier), Scorer)
    assert isinstance(CueScorer(), Scorer)


@pytest.mark.slow
async def test_a_call_runs_with_another_scorer(asr_engine: Any, sample_calls: Any) -> None:
    from monitor.pipeline import CallMeta, Monitor
    from monitor.rules import Playbook, strain_tracker
    from monitor.sources import FileSource
    from tests.conftest import run_call_events

    playbook = Playbook.load()
    scorer = CueScorer()
    monitor = Monitor(
        engine=asr_engine,
        scoring=scorer,
        playbook=playbook,
        strain=strain_tracker(playbook),
        bus=EventBus(),
        config=MonitorConfig(),
    )
    wav = sample_calls["legal_threat"].wav_path
    summary, events = await run_call_events(monitor, FileSource(wav), CallMeta("cues only"))
    await monitor.aclose()
    scores = [e for e in events if isinstance(e, ev.UtteranceScore)]
    assert summary.ended == "completed" and scorer.scored == len(scores) == summary.utterances
    assert any(dict(s.intents).get("legal_threat") for s in scores)  # "my lawyer" is a cue
    assert scorer.closed
