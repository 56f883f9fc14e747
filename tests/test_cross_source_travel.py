"""The travel-agency cross-source set (eval/mstravel.py): calls that others generated, read from
a repository's history, as the labelled turn set and as call scripts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval.cross_source import TRAVEL_FILE, TRAVEL_SOURCES, read_cross_source
from eval.mstravel import SOURCE_DIR, conversations, extract, main, sample, show, write_calls
from monitor.sample_script import load_script
from monitor.scoring.classifier import normalize
from tests.training_texts import long_turns_shared

PICKS = Path(__file__).resolve().parent.parent / "eval" / "data" / "mstravel_call_picks.tsv"


def _call(conversation_id: str, *said: tuple[str, str]) -> str:
    """One call file in the demo's format (agent and customer messages, plus an event that is
    neither)."""
    kinds = {"agent": "MessageFromBotOrAgent", "customer": "MessageFromUser"}
    messages = [{"EventType": kinds[who], "Value": text} for who, text in said]
    messages.append({"EventType": "ConversationEnded", "Value": ""})
    conversation = {"ConversationId": conversation_id, "Messages": messages}
    return json.dumps({"CallReason": "Complaints", "Conversation": conversation})


def _repo(tmp_path: Path) -> Path:
    """A git repository whose history held two call files (one in two versions), since deleted
    from its head, as the demo's folder was."""
    work = tmp_path / "work"
    folder = work / SOURCE_DIR
    folder.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=work, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    first = _call(
        "aaaa1111-x",
        ("agent", "Thank you for calling Woodgrove Travel, how can I help?"),
        ("customer", "My flight was delayed by 4 hours and nobody told me."),
        ("agent", "I'm sorry, unfortunately weather delays are not compensated."),
        ("customer", "That's unacceptable. I want to speak to your supervisor."),
    )
    (folder / "complaints_1.json").write_text(first, encoding="utf-8")
    (folder / "transactions_1.json").write_text(
        _call("bbbb2222-y", ("agent", "Hello."), ("customer", "I'd like to book a hotel.")),
        encoding="utf-8",
    )
    git("add", ".")
    git("commit", "-q", "-m", "calls")
    # a second version of one file: the same call again, a word changed
    (folder / "complaints_1.json").write_text(first.replace("4 hours", "four hours"), "utf-8")
    git("commit", "-q", "-am", "edit")
    git("rm", "-q", "-r", "Deployment")
    git("commit", "-q", "-m", "gone from the head")
    return work / ".git"


def test_calls_are_read_from_the_history_once_each(tmp_path: Path) -> None:
    written = extract(_repo(tmp_path), tmp_path / "calls")
    assert len(written) == 3  # three distinct versions of two files
    calls = conversations(tmp_path / "calls")
    assert sorted(calls) == ["aaaa1111", "bbbb2222"]  # the edited call kept once
    complaint = calls["aaaa1111"]
    assert [t.speaker for t in complaint] == ["agent", "customer", "agent", "customer"]
    assert complaint[3].text == "That's unacceptable. I want to speak to your supervisor."
    rows = sample(tmp_path / "calls", n=10)
    assert len(rows) == 3 and all(r.split("\t")[0].split(":")[1] in "13" for r in rows)
    assert show(tmp_path / "calls")[0].startswith("== ")


def test_picked_calls_become_scripts_with_the_blowup_marked(tmp_path: Path) -> None:
    extract(_repo(tmp_path), tmp_path / "calls")
    picks = tmp_path / "picks.tsv"
    picks.write_text(
        "# a reader's picks\nescalates\taaaa1111\t4\t3\tmanager_demand\tcalm,annoyed,calm,angry\t"
        "asks for a supervisor after a refusal\n",
        encoding="utf-8",
    )
    (path,) = write_calls(tmp_path / "calls", picks, tmp_path)
    script = load_script(path)
    assert script.name == "mstravel_aaaa1111" and script.expected == "escalates"
    assert [t.blowup for t in script.turns] == [False, False, False, True]
    assert "four hours" in script.turns[1].text  # numbers spelled out for the voice


def test_cli_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(tmp_path)]) == 2
    assert "no call files" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "nothing.git"), str(tmp_path / "out")]) == 2
    assert main(["frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_travel_set_reads_with_references_into_the_picked_calls_keys() -> None:
    turns = read_cross_source(TRAVEL_FILE, TRAVEL_SOURCES)
    assert len(turns) == 400
    assert all(t.source == "mstravel" and t.speaker == "customer" for t in turns)
    assert all(len(t.reference.split(":")[0]) == 8 for t in turns)
    assert sum(1 for t in turns if not t.intents) == 397
    assert sum(1 for line in PICKS.read_text().splitlines() if not line.startswith("#")) == 22


def test_travel_set_shares_no_turn_with_training_files() -> None:
    ours = {normalize(t.text) for t in read_cross_source(TRAVEL_FILE, TRAVEL_SOURCES)}
    assert not long_turns_shared(ours)


def test_the_travel_call_scripts_are_the_readers_picks() -> None:
    from eval.eval_cross_calls import SCRIPTS, angry_customer_turns, is_calm_complaint
    from eval.htf import read_picks

    picks = {p.call: p for p in read_picks(PICKS)}
    for key, pick in picks.items():
        script = load_script(SCRIPTS / f"mstravel_{key}.toml")
        assert script.expected == pick.kind and len(script.turns) == pick.cut
        blowups = [i for i, t in enumerate(script.turns) if t.blowup]
        assert blowups == ([] if pick.kind == "calm" else [pick.blowup]), key
        angry = sum(
            1 for t, mood in zip(script.turns, pick.moods, strict=True)
            if t.speaker == "customer" and mood == "angry"
        )  # fmt: skip
        assert angry_customer_turns(script.turns) == angry
    # every complaint call picked here has an angry customer turn: heated, not polite
    calm = [k for k, p in picks.items() if p.kind == "calm"]
    assert len(calm) == 10
    assert all(
        angry_customer_turns(load_script(SCRIPTS / f"mstravel_{k}.toml").turns) for k in calm
    )
    assert is_calm_complaint(f"mstravel_{calm[0]}", {"expected": "calm"})
