"""eval.predictability: whether a call's earlier turns tell that it will escalate (a
development study), on transcripts written here in Hackathon_TF's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eval import htf
from eval.predictability import main, read_call, spoken_turns, summary
from eval.replay_scripts import replay_turns
from monitor.rules import Playbook
from monitor.scoring.service import UtteranceScorer

ESCALATES = """Agent: Thanks for calling, how can I help?
Customer: Hi, my bill went up thirty dollars this month and I don't know why.
Agent: Let me look into that for you.
Customer: I've been paying the same amount for two years.
Agent: I'm afraid the promotional rate has ended.
Customer: If this isn't sorted today I'm cancelling my account and switching to another provider.
"""
COMPLAINS = """Agent: Thanks for calling, how can I help?
Customer: My internet keeps dropping out every evening, it's really annoying.
Agent: I'm sorry to hear that, let me run a check on the line.
Customer: It's still dropping, this is so frustrating.
Agent: I can book an engineer for tomorrow morning.
Customer: Okay, thank you, that works.
"""


def _write(root: Path) -> None:
    for name, text in (("billing_inquiry_9001", ESCALATES), ("technical_support_9002", COMPLAINS)):
        folder = root / name.rsplit("_", 1)[0]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")


def test_an_escalating_call_and_a_complaint_call(text_classifier: Any, tmp_path: Path) -> None:
    _write(tmp_path)
    scorer, playbook = UtteranceScorer(text_classifier), Playbook.load()
    reads = {
        call: read_call(call, replay_turns(call, spoken_turns(turns), scorer, playbook))
        for call, turns in htf.transcripts(tmp_path)
    }
    escalating, complaint = reads["billing_inquiry_9001"], reads["technical_support_9002"]
    assert escalating.escalates_at == 5  # the customer's ultimatum, the sixth turn
    assert complaint.escalates_at is None and complaint.negative >= 2
    assert escalating.peak_before < 50  # nothing before the ultimatum is "at risk"
    s = summary(reads.values())
    assert (s["escalating"], s["complaint_calls"], s["escalating_warned_before"]) == (1, 1, 0)


def test_cli_reads_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 calls" in out and "escalating (the scorer raises a threat, demand or abuse): 1" in out


def test_cli_names_an_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "no transcripts" in capsys.readouterr().err
