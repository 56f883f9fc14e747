"""Early alerts from partial transcripts (issue #10's detection delay): a threat at the start of
a long customer turn is reported while the customer is still speaking, not when the turn ends.

The rules are fed the real input types; the service runs the shipped classifier; the pipeline
runs a call rendered by the real TTS through the real recogniser.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.rules import CallRules, Playbook

NEGATIVE = (0.93, 0.06, 0.01)


def partial(text: str, end: float, speaker: ev.Speaker = "customer", seq: int = 2) -> Any:
    return ev.PartialUtterance("c1", speaker, seq, text, 10.0, end)


def score(
    at: float,
    intents: tuple[tuple[str, float], ...],
    speaker: ev.Speaker = "customer",
    seq: int = 2,
) -> ev.UtteranceScore:
    return ev.UtteranceScore("c1", seq, speaker, at, "negative", NEGATIVE, intents)


def rules(**settings: Any) -> CallRules:
    playbook = Playbook.load()
    if settings:
        changed = dataclasses.replace(playbook.settings, **settings)
        playbook = dataclasses.replace(playbook, settings=changed)
    return CallRules(playbook, ev.CallStarted("c1", "test", "agent-1"))


def alerts(events: list[ev.Event]) -> list[str]:
    return [e.kind for e in events if isinstance(e, ev.Alert)]


def test_a_threat_held_over_two_partials_alerts_and_the_final_does_not_repeat_it() -> None:
    r = rules()
    first = r.on_partial(partial("i am going to take", 11.0), score(11.0, (("legal_threat", 0.9),)))
    assert first == []  # one partial is provisional: partial_confirmations = 2
    early = r.on_partial(
        partial("i am going to take you to court", 12.0), score(12.0, (("legal_threat", 0.9),))
    )
    # the threat, and the turn ended here would put the call at risk (negative, a threat)
    assert alerts(early) == ["legal_threat", "at_risk"]
    alert = next(e for e in early if isinstance(e, ev.Alert))
    assert alert.at == 12.0 and alert.severity == "critical"
    # no risk is published from a partial, and the call's own risk is untouched: the final
    # text decides it
    assert not any(isinstance(e, ev.CallRisk) for e in early)
    assert (r.risk.level, r.scorer.intent_counts, r.scorer.turns) == ("calm", {}, 0)
    final = ev.FinalUtterance(
        "c1", "customer", 2, "i am going to take you to court over this", 10.0, 15.0
    )
    later = r.on_utterance(final, score(15.0, (("legal_threat", 0.95),)))
    assert alerts(later) == []  # neither alert again
    risk = next(e for e in later if isinstance(e, ev.CallRisk))
    assert risk.level == "at_risk"


def test_partials_below_the_bar_from_the_agent_or_for_counted_rules_raise_nothing() -> None:
    r = rules()
    # the classifier's threshold is met, the early-alert bar (0.8) is not
    assert (
        r.on_partial(partial("i might call a lawyer", 12.0), score(12.0, (("legal_threat", 0.6),)))
        == []
    )
    # the agent's words never raise the customer's alerts
    agent = r.on_partial(
        partial("you can take it to court", 12.0, speaker="agent"),
        score(12.0, (("legal_threat", 0.9),), speaker="agent"),
    )
    assert agent == []
    # transfer_loop needs two turns: one unfinished turn cannot fire it
    loop = r.on_partial(
        partial("you keep transferring me", 13.0), score(13.0, (("transfer_complaint", 0.95),))
    )
    assert "transfer_loop" not in alerts(loop)


def test_a_partial_the_next_one_takes_back_raises_nothing() -> None:
    # Whisper heard the cut-off "i want to can-" as "i want to kill you"; the next partial
    # corrected it, so the abuse never held over two partials
    r = rules()
    assert r.on_partial(partial("i want to kill you", 12.0), score(12.0, (("abuse", 0.9),))) == []
    assert r.on_partial(partial("i want to cancel it", 13.0), score(13.0, ())) == []
    assert (
        r.on_partial(partial("i want to cancel it now", 14.0), score(14.0, (("abuse", 0.9),))) == []
    )
    # nor does a new turn carry the count over
    r2 = rules()
    assert r2.on_partial(partial("you idiot", 12.0, seq=2), score(12.0, (("abuse", 0.9),))) == []
    assert (
        r2.on_partial(partial("you idiot", 15.0, seq=4), score(15.0, (("abuse", 0.9),), seq=4))
        == []
    )
    # a playbook may alert on the first partial
    r3 = rules(partial_confirmations=1)
    first = r3.on_partial(partial("you idiot", 12.0), score(12.0, (("abuse", 0.9),)))
    assert alerts(first) == ["abuse", "at_risk"]


def test_a_turn_that_would_put_the_call_at_risk_warns_before_it_ends() -> None:
    # no single intent clears the early-alert bar (0.8), but the turn, ended here, would
    # raise the call to "at risk": abuse at the classifier's threshold in a negative turn
    r = rules()
    words = "after all those calls from the incompetent people"
    assert r.on_partial(partial(words, 11.0), score(11.0, (("abuse", 0.65),))) == []
    early = r.on_partial(partial(words + " that work there", 12.0), score(12.0, (("abuse", 0.6),)))
    assert alerts(early) == ["at_risk"]
    alert = next(e for e in early if isinstance(e, ev.Alert))
    assert alert.severity == "warning" and alert.at == 12.0
    assert any("abusive" in reason for reason in alert.reasons)  # the preview's reasons
    assert r.risk.level == "calm"  # the board's level waits for the final
    final = ev.FinalUtterance("c1", "customer", 2, words + " that work there", 10.0, 14.0)
    later = r.on_utterance(final, score(14.0, (("abuse", 0.6),)))
    assert next(e for e in later if isinstance(e, ev.CallRisk)).level == "at_risk"
    assert alerts(later) == ["abuse"]  # the final's own rule; "at risk" is not raised again


def test_a_risk_the_next_partial_takes_back_or_calm_words_raise_nothing() -> None:
    r = rules()
    calm = ev.UtteranceScore("c1", 2, "customer", 11.0, "neutral", (0.1, 0.8, 0.1), ())
    assert r.on_partial(partial("i want to ask about my order", 11.0), calm) == []
    assert r.on_partial(partial("i want to ask about my order please", 12.0), calm) == []
    # one partial at risk, the next not: nothing
    assert r.on_partial(partial("you liars", 13.0), score(13.0, (("abuse", 0.7),))) == []
    assert r.on_partial(partial("you lie about it", 14.0), calm) == []
    assert r.on_partial(partial("you liars", 15.0), score(15.0, (("abuse", 0.7),))) == []
    # early alerts off in the playbook: no early risk either
    off = rules(partial_min_probability=1.0)
    for end in (11.0, 12.0):
        assert off.on_partial(partial("you liars", end), score(end, (("abuse", 0.7),))) == []


def test_a_jump_past_at_risk_raises_one_early_alert_and_the_final_none() -> None:
    r = rules()
    threats = (("legal_threat", 0.95), ("abuse", 0.9))
    r.on_partial(partial("you crooks i will sue", 11.0), score(11.0, threats))
    early = r.on_partial(partial("you crooks i will sue you", 12.0), score(12.0, threats))
    assert sorted(alerts(early)) == ["abuse", "escalated", "legal_threat"]
    final = ev.FinalUtterance("c1", "customer", 2, "you crooks i will sue you", 10.0, 13.0)
    later = r.on_utterance(final, score(13.0, threats))
    assert next(e for e in later if isinstance(e, ev.CallRisk)).level == "escalated"
    assert alerts(later) == []  # not "at_risk" now either: one alert for the jump
    # the final text reaching only "at risk" after the jump does not raise it either
    r2 = rules()
    r2.on_partial(partial("you crooks i will sue", 11.0), score(11.0, threats))
    assert "escalated" in alerts(
        r2.on_partial(partial("you crooks i will sue you", 12.0), score(12.0, threats))
    )
    calmer = r2.on_utterance(
        ev.FinalUtterance("c1", "customer", 2, "you crooks", 10.0, 13.0),
        score(13.0, (("abuse", 0.6),)),
    )
    assert next(e for e in calmer if isinstance(e, ev.CallRisk)).level == "at_risk"
    assert "at_risk" not in alerts(calmer)


def test_the_playbook_rejects_fewer_than_one_confirmation(tmp_path: Path) -> None:
    from monitor.rules import PlaybookError

    text = (Path(__file__).resolve().parents[1] / "monitor/rules/playbook.toml").read_text()
    bad = tmp_path / "playbook.toml"
    bad.write_text(text.replace("partial_confirmations = 2", "partial_confirmations = 0"))
    with pytest.raises(PlaybookError, match=r"partial_confirmations.*1 or more"):
        Playbook.load(bad)


def test_a_playbook_can_turn_early_alerts_off() -> None:
    r = rules(partial_min_probability=1.0)
    assert (
        r.on_partial(partial("i will sue you", 12.0), score(12.0, (("legal_threat", 0.99),))) == []
    )


def test_the_playbook_rejects_a_bad_early_alert_bar(tmp_path: Path) -> None:
    from monitor.rules import PlaybookError

    text = (Path(__file__).resolve().parents[1] / "monitor/rules/playbook.toml").read_text()
    bad = tmp_path / "playbook.toml"
    bad.write_text(
        text.replace("partial_min_probability = 0.8", 'partial_min_probability = "high"')
    )
    with pytest.raises(PlaybookError, match="partial_min_probability"):
        Playbook.load(bad)


async def test_the_service_scores_a_partial_only_when_it_is_idle(text_classifier: Any) -> None:
    from monitor.scoring.service import ScoringService

    service = ScoringService(text_classifier)
    await service.start()
    try:
        threat = partial("i am going to sue you", 3.0)
        early = await service.score_partial(threat)
        assert early is not None and dict(early.intents).get("legal_threat", 0) >= 0.8
        final = ev.FinalUtterance("c1", "customer", 1, "my parcel has not arrived", 0.0, 2.0)
        pending = asyncio.ensure_future(service.score(final))
        await asyncio.sleep(0)  # the final is in the service now
        assert await service.score_partial(threat) is None  # finals first: the partial is shed
        assert (await pending).seq == 1
        assert (service.partials_scored, service.partials_shed) == (1, 1)
        assert len(service.latencies_ms) == 1  # finals' latencies only
        # an offline run that scores every partial waits behind the final instead
        pending = asyncio.ensure_future(service.score(final))
        await asyncio.sleep(0)
        waited = await service.score_partial(threat, wait=True)
        assert waited is not None and dict(waited.intents).get("legal_threat", 0) >= 0.8
        await pending
        assert (service.partials_scored, service.partials_shed) == (2, 1)
    finally:
        await service.aclose()
    assert await service.score_partial(threat) is None  # closed: shed, not an error


@pytest.mark.slow
async def test_a_threat_early_in_a_long_turn_alerts_before_the_turn_ends(
    make_monitor: Any, tmp_path: Path
) -> None:
    from monitor.pipeline import CallMeta
    from monitor.sources import FileSource
    from tests.conftest import render_call, run_call_events
    from tests.test_pipeline import check_invariants

    wav = render_call(
        tmp_path,
        "long_turn",
        [
            {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, how can I help?"},
            {
                "speaker": "customer",
                "mood": "furious",
                "blowup": True,
                "text": "I am going to take you to court over this because I paid for a new "
                "washing machine six weeks ago and it never arrived and the tracking page has "
                "said out for delivery every single day since then",
            },
            {"speaker": "agent", "mood": "calm", "text": "I am sorry, let me look at the order."},
        ],
        expected="escalates",
    )
    monitor = await make_monitor()
    monitor.decode_every_partial = True
    summary, events = await run_call_events(monitor, FileSource(wav), CallMeta("long_turn"))
    check_invariants(events)
    turn = next(e for e in events if isinstance(e, ev.FinalUtterance) and e.speaker == "customer")
    finals = [e for e in events if isinstance(e, ev.FinalUtterance) and e.speaker == "customer"]
    turn_end = max(f.end for f in finals)
    threat = [e for e in events if isinstance(e, ev.Alert) and e.kind == "legal_threat"]
    assert len(threat) == 1, [(e.kind, e.at) for e in events if isinstance(e, ev.Alert)]
    # heard while the customer was still speaking, seconds before the turn's end
    assert threat[0].at < turn_end - 3.0, (threat[0].at, turn_end)
    assert threat[0].at >= turn.start
    # the early alert came before the final of the sentence that carried the threat
    i = events.index(threat[0])
    assert not any(isinstance(e, ev.FinalUtterance) and e.speaker == "customer" for e in events[:i])
    assert summary.alerts >= 1


def _complaining(r: CallRules) -> None:
    """Three unresolved complaints, one of them an earlier contact: "watch", below "at risk"."""
    lines = [
        "i was promised a refund two weeks ago and it still has not come",
        "i rang twice last week about it and nobody got back to me",
        "the parcel came back to you and i am still out of pocket",
    ]
    for i, line in enumerate(lines):
        intents = (("repeat_contact", 0.9),) if i == 1 else ()
        utt = ev.FinalUtterance("c1", "customer", 2 * i, line, 10.0 * i, 10.0 * i + 5)
        r.on_utterance(utt, score(10.0 * i + 5, intents, seq=2 * i))
    assert r.risk.level == "watch"


def test_an_ultimatum_warns_from_its_i_will_before_the_threat_is_said() -> None:
    # docs/intents.md: conditional threats count. "if you do not ..., I will" is heated from
    # its "I will" (monitor/rules/phrases.toml), so a complaining call is "at risk" before the
    # customer says what they will do
    r = rules()
    _complaining(r)
    said = "if you do not sort this out by friday i will"
    first = r.on_partial(partial(said, 41.0, seq=6), score(41.0, (), seq=6))
    assert first == []  # one partial is the recogniser's guess
    early = r.on_partial(partial(said + " be", 42.0, seq=6), score(42.0, (), seq=6))
    assert alerts(early) == ["at_risk"]
    alert = next(e for e in early if isinstance(e, ev.Alert))
    assert any("heated" in reason for reason in alert.reasons), alert.reasons


@pytest.mark.parametrize(
    "said",
    [
        "if it does not arrive by friday i will call again",
        "if you dont have it in stock ill take the blue one instead",
        "if you do not mind i will hold",
        "i will be at home on friday if that helps",
    ],
)
def test_a_condition_with_no_threat_after_it_is_not_heated(said: str) -> None:
    r = rules()
    _complaining(r)
    for end in (41.0, 42.0):
        assert r.on_partial(partial(said, end, seq=6), score(end, (), seq=6)) == []
