"""The telecom cross-source set (eval/tau2.py): tau2-bench's simulated mobile customers, read
from one commit of its history, as a labelled turn set."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval.cross_source import TELECOM_FILE, TELECOM_SOURCES, read_cross_source
from eval.tau2 import FILES, RESULTS, conversations, extract, main, sample, show
from monitor.scoring.classifier import normalize
from tests.training_texts import long_turns_shared


def _simulation(sim_id: str, *messages: tuple[str, str | None]) -> dict[str, object]:
    return {
        "id": sim_id,
        "task_id": "[mobile_data]airplane_mode_on[PERSONA:Hard]",
        "messages": [{"role": role, "content": text} for role, text in messages],
    }


def _repo(tmp_path: Path) -> tuple[Path, str]:
    """A git repository with both result files in one commit: the commit's hash."""
    work = tmp_path / "work"
    folder = work / RESULTS
    folder.mkdir(parents=True)
    first = _simulation(
        "0123456789-a",
        ("assistant", "Hi! How can I help you today?"),
        ("user", "My phone says No Service\n\n- Airplane mode: ON"),
        ("user", None),  # a tool call only
        ("tool", "status: ok"),
        ("assistant", "Please turn airplane mode off."),
        ("user", "Done, it works now. Thanks! ###STOP###"),
    )
    second = _simulation(
        "abcdef0123-b",
        ("user", "My phone says No Service\n\n- Airplane mode: ON"),  # the same words again
        ("user", "###TRANSFER###"),
    )
    (folder / FILES["gpt41"]).write_text(json.dumps({"simulations": [first]}), "utf-8")
    (folder / FILES["sft"]).write_text(json.dumps({"simulations": [second]}), "utf-8")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=work, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "pushing results")
    return work / ".git", git("rev-parse", "HEAD")


def test_conversations_are_read_without_tool_calls_or_control_tokens(tmp_path: Path) -> None:
    git_dir, commit = _repo(tmp_path)
    extract(git_dir, tmp_path / "calls", commit)
    calls = conversations(tmp_path / "calls")
    assert sorted(calls) == ["gpt41-01234567", "sft-abcdef01"]
    first = calls["gpt41-01234567"]
    assert [t.speaker for t in first] == ["agent", "customer", "agent", "customer"]
    assert first[1].text == "My phone says No Service - Airplane mode: ON"
    assert first[3].text == "Done, it works now. Thanks!"
    assert len(calls["sft-abcdef01"]) == 1  # the transfer token alone is no turn
    rows = sample(tmp_path / "calls", n=10)
    assert sorted(r.split("\t")[0] for r in rows) == ["gpt41-01234567:1", "gpt41-01234567:3"]
    assert show(tmp_path / "calls")[0] == "== gpt41-01234567 (4 turns)"


def test_cli_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(tmp_path)]) == 2
    assert "no conversations" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "nothing.git"), str(tmp_path / "out")]) == 2
    assert main(["frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_telecom_set_reads_as_labelled_customer_turns() -> None:
    turns = read_cross_source(TELECOM_FILE, TELECOM_SOURCES)
    assert len(turns) == 300
    assert all(t.source == "tau2telecom" and t.speaker == "customer" for t in turns)
    assert all(t.reference.split("-")[0] in ("gpt41", "sft") for t in turns)
    assert len({normalize(t.text) for t in turns}) == 300  # no text twice


def test_telecom_set_shares_no_turn_with_training_files() -> None:
    ours = {normalize(t.text) for t in read_cross_source(TELECOM_FILE, TELECOM_SOURCES)}
    assert not long_turns_shared(ours)
