"""eval.replay_scripts: call scripts read as text through the real scorer and CallRules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eval.replay_scripts import main, replay
from monitor.rules import Playbook
from monitor.scoring.service import UtteranceScorer

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "scripts"


def test_the_sample_calls_replayed_as_text(text_classifier: Any) -> None:
    scorer, playbook = UtteranceScorer(text_classifier), Playbook.load()
    outcomes = {p.stem: replay(p, scorer, playbook) for p in sorted(SAMPLES.glob("*.toml"))}
    # the four escalating sample calls warn before their blow-up, the three calm ones never
    assert {n: r.outcome for n, r in outcomes.items()} == {
        "abusive_customer": "before",
        "calm_billing": "calm",
        "deescalated_refund": "calm",
        "escalates_manager": "before",
        "legal_threat": "before",
        "long_hold": "calm",
        "transfer_loop": "before",
    }
    manager = outcomes["escalates_manager"]
    assert manager.blowup is not None and manager.first_warning is not None
    marked = [line for line in manager.lines if line.startswith(f"  {manager.blowup:2d}*")]
    assert marked and all("|" in line for line in manager.lines)


def test_cli_names_an_empty_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(tmp_path)]) == 2
    assert "no call scripts" in capsys.readouterr().err
