"""CallMerger, the synchronous core of a call's recognition, driven by hand: real speech in,
decode requests out, text handed back in any order, events out in time order. No engine,
no threads, no clock (like whisper_streaming's OnlineASRProcessor driven offline)."""

from __future__ import annotations

import numpy as np

from monitor.asr.merge import CallMerger, DecodeRequest
from monitor.events import FinalUtterance, PartialUtterance, TalkOver, Word
from tests.test_asr_speech import SR, english, place

CUSTOMER = "I want to speak to your manager right now."
AGENT = "I understand, let me look at your account right away."


def _drive(core: CallMerger, stereo: np.ndarray) -> list[DecodeRequest]:
    n = int(0.1 * SR)
    requests: list[DecodeRequest] = []
    for i in range(0, stereo.shape[0], n):
        for ch, speaker in enumerate(core.speakers):
            requests += core.insert(speaker, stereo[i : i + n, ch], i / SR)
    for speaker in core.speakers:
        requests += core.flush(speaker)
    return requests


def _core(partials: float | None = None) -> CallMerger:
    return CallMerger("c", ("customer", "agent"), SR, "whisper", partial_interval=partials)


def test_finals_come_out_in_time_order_whatever_order_their_text_comes_back() -> None:
    a, b = english(CUSTOMER), english(AGENT)
    agent_at = 0.5 + a.size / SR + 0.8
    core = _core()
    finals = [r for r in _drive(core, place([(0, 0.5, a), (1, agent_at, b)], 12.0)) if r.final]
    assert [r.speaker for r in finals] == ["customer", "agent"]
    first, second = finals
    assert first.end <= second.start and first.audio.size == round((first.end - first.start) * SR)
    assert core.decoding == 2
    # the agent's text comes back first: it waits for the customer's, which ended earlier
    core.resolve(second, "let me look", [Word("let", 0.2, 0.4, 0.9)])
    assert core.events() == []
    core.resolve(first, "get me your manager", [])
    out = core.events()
    assert [type(e) for e in out] == [FinalUtterance, FinalUtterance]
    assert [(e.speaker, e.seq) for e in out if isinstance(e, FinalUtterance)] == [
        ("customer", 1),
        ("agent", 2),
    ]
    agent = out[1]
    assert isinstance(agent, FinalUtterance)
    # word times are moved from the decoded audio to call time, and features are computed
    assert agent.words[0].start == round(second.start + 0.2, 3) and agent.features is not None
    assert core.decoding == 0


def test_voice_activity_runs_once_and_gives_talk_over() -> None:
    a, b = english(CUSTOMER), english("No, listen to me!")
    core = _core()
    # the customer cuts in 1 s into the agent's sentence
    agent = english(AGENT)
    requests = _drive(core, place([(1, 0.5, agent), (0, 1.5, b), (0, 6.0, a)], 12.0))
    for r in requests:
        core.resolve(r, f"{r.speaker} {r.utterance}", [])
    talk = [e for e in core.events() if isinstance(e, TalkOver)]
    assert len(talk) == 1 and talk[0].speaker == "customer" and talk[0].end - talk[0].start >= 0.5


def test_partials_carry_the_next_seq_and_a_stale_one_is_dropped() -> None:
    a = english("I want to speak to your manager right now because this is the third time I call")
    core = _core(partials=1.0)
    requests = _drive(core, place([(0, 0.5, a)], 0.5 + a.size / SR + 2.0))
    final = next(r for r in requests if r.final)
    partials = [r for r in requests if not r.final and r.utterance == final.utterance]
    assert len(partials) >= 2
    core.resolve(partials[0], "I want", [])
    (early,) = core.events()
    assert isinstance(early, PartialUtterance) and early.seq == 1 and early.text == "I want"
    # the final's text is back before a late partial's: the partial is stale and never shown
    core.resolve(final, CUSTOMER, [])
    core.resolve(partials[1], "I want to speak", [])
    out = core.events()
    assert [type(e) for e in out] == [FinalUtterance] and out[0].seq == 1
