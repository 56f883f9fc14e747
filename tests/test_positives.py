"""eval.positives: the labelled positives a change to the "is not" rules would rule out."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.positives import changed, cues_at, main, positives, spec_positives
from monitor.events import INTENTS
from monitor.scoring import cues


def test_every_intent_has_positives_from_each_kind_of_source() -> None:
    labelled = positives()
    for intent in INTENTS:
        sources = {source for source, _ in labelled[intent]}
        assert {"own training", "own held-out", "docs/intents.md"} <= sources, intent
    # the own held-out line a withdrawn rule ruled out (issue 10, eighteenth round)
    assert ("own held-out", "i don't want to be transferred i want it fixed") in labelled[
        "transfer_complaint"
    ]
    assert ("docs/intents.md", "i've been on hold for 40 mins") in labelled["hold_complaint"]


def test_the_spec_column_leaves_out_agent_lines_and_conversations(tmp_path: Path) -> None:
    spec = tmp_path / "intents.md"
    spec.write_text(
        "## manager_demand\n\n| is manager_demand | is not |\n|---|---|\n"
        "| get me your manager | (agent) I can ask my supervisor |\n"
        "| (agent: I can't do that) is there anyone else? | (agent: shall I?) yes please |\n"
        "## Sentiment\n\n| a | b |\n|---|---|\n| not an intent | x |\n",
        encoding="utf-8",
    )
    assert list(spec_positives(spec)) == [("manager_demand", "get me your manager")]


def test_a_rule_that_rules_out_an_intent_shows_every_positive_of_it() -> None:
    labelled = positives()
    moved = changed(lambda text: set(), lambda text: {"hold_complaint"}, labelled)
    assert len(moved["hold_complaint"]) == len(labelled["hold_complaint"])
    assert all(change == "OUT" for change, _, _ in moved["hold_complaint"])
    assert not any(moved[intent] for intent in INTENTS if intent != "hold_complaint")
    back = changed(lambda text: {"hold_complaint"}, lambda text: set(), labelled)
    assert all(change == "BACK" for change, _, _ in back["hold_complaint"])


def test_the_rules_at_a_revision_load_beside_the_imported_ones() -> None:
    before = cues_at("HEAD")
    assert before is not cues
    # a turn that names no intent's subject: every intent ruled out, by any version of the rules
    assert before.ruled_out("thanks, that's lovely") == cues.ruled_out("thanks, that's lovely")
    assert before.ruled_out("thanks, that's lovely") == set(INTENTS)


def test_a_revision_git_cannot_show_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-revision-here"]) == 2
    assert "cannot read monitor/scoring/cues.py at 'no-such-revision-here'" in (
        capsys.readouterr().err
    )
