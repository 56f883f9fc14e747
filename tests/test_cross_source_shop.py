"""The online-shop cross-source set (tau-bench) and its reader: simulated customers of others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.cross_source import SHOP_DEV_FILE, SHOP_FILE, SHOP_SOURCES, read_cross_source
from eval.htf import Pick
from eval.taubench import (
    AGENT_WORDS,
    candidates,
    conversations,
    main,
    read_customer_turns,
    write_calls,
)
from monitor.sample_script import load_script
from monitor.scoring.classifier import normalize
from tests.training_texts import long_turns_shared

DISPLAY = (
    "user: Hi, I want to return the lamp I got.\n"
    "assistant: Sure. Could you give me your email?\n"
    "user: It's ana@example.com. Also, the\nbox was crushed.\n"
    "assistant: None\n"
    'tool: {"user_id": "ana_1"}\n'
    "assistant: Thanks, the return is set up.\n"
    "user: ok ###STOP###\n"
)


def _copy(root: Path) -> None:
    """A tiny copy of tau-bench's three files, in their real formats."""
    (root / "few_shot_data").mkdir(parents=True)
    (root / "historical_trajectories").mkdir()
    retail = [{"messages_display": DISPLAY}, {"messages_display": DISPLAY}]
    (root / "few_shot_data" / "MockRetailDomainEnv-few_shot.jsonl").write_text(
        "\n".join(json.dumps(r) for r in retail) + "\n", encoding="utf-8"
    )
    (root / "few_shot_data" / "MockAirlineDomainEnv-few_shot.jsonl").write_text(
        json.dumps({"messages_display": "user: My flight was cancelled, this is ridiculous.\n"})
        + "\n",
        encoding="utf-8",
    )
    traj = [
        {
            "task_id": 7,
            "trial": 1,
            "traj": [
                {"role": "system", "content": "policy"},
                {"role": "user", "content": "I need to change my booking to Friday please."},
                {"role": "assistant", "content": "Sure."},
                {"role": "user", "content": "Get me a supervisor now. ###STOP###"},
            ],
        }
    ]
    (root / "historical_trajectories" / "gpt-4o-airline.json").write_text(
        json.dumps(traj), encoding="utf-8"
    )


def test_customer_turns_come_with_references_and_without_the_stop_marker(tmp_path: Path) -> None:
    _copy(tmp_path)
    turns = read_customer_turns(tmp_path, "retail")
    assert turns[:3] == [
        ("retail_fs:0:1", "Hi, I want to return the lamp I got."),
        ("retail_fs:0:2", "It's ana@example.com. Also, the box was crushed."),
        ("retail_fs:0:3", "ok"),
    ]
    airline = read_customer_turns(tmp_path, "airline")
    assert airline[-1] == ("airline_traj:task7.1:2", "Get me a supervisor now.")


def test_candidates_drop_short_and_repeated_turns(tmp_path: Path) -> None:
    _copy(tmp_path)
    rows = candidates(tmp_path, "retail")
    # the second conversation repeats the first; "ok" is under three words
    assert [r.split("\t")[1] for r in rows] == ["retail_fs:0:1", "retail_fs:0:2"]
    drawn = candidates(tmp_path, "airline", seed=3, n=2)
    assert sorted(r.split("\t")[0] for r in drawn) == ["random", "words"]


def test_cli_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["candidates", str(tmp_path), "retail"]) == 2
    assert "MockRetailDomainEnv-few_shot.jsonl: missing" in capsys.readouterr().err
    assert main(["candidates", str(tmp_path), "bus"]) == 2


@pytest.mark.parametrize("path", [SHOP_FILE, SHOP_DEV_FILE], ids=["test", "dev"])
def test_shop_set_reads_with_references(path: Path) -> None:
    turns = read_cross_source(path, SHOP_SOURCES)
    assert len(turns) >= 450
    assert all(t.source == "taubench" and t.speaker == "customer" and t.reference for t in turns)
    assert sum(1 for t in turns if not t.intents) >= 400
    prefix = "retail_fs:" if path == SHOP_FILE else "airline_"
    assert all(t.reference.startswith(prefix) for t in turns)


@pytest.mark.parametrize("path", [SHOP_FILE, SHOP_DEV_FILE], ids=["test", "dev"])
def test_shop_set_shares_no_turn_with_training_files(path: Path) -> None:
    ours = {normalize(t.text) for t in read_cross_source(path, SHOP_SOURCES)}
    assert not long_turns_shared(ours)


def test_conversations_are_spoken_turns_without_tools(tmp_path: Path) -> None:
    _copy(tmp_path)
    turns = conversations(tmp_path, "retail")["retail_fs:0"]
    assert [t.speaker for t in turns] == ["customer", "agent", "customer", "agent", "customer"]
    # the empty message before a tool call and the tool's result are not heard
    assert turns[3].text == "Thanks, the return is set up."
    assert turns[4].text == "ok"


def test_a_long_agent_turn_keeps_its_opening_and_its_question(tmp_path: Path) -> None:
    _copy(tmp_path)
    items = " ".join(f"Item {i} costs ten dollars." for i in range(AGENT_WORDS // 4))
    display = f"user: What is in my order?\nassistant: Here it is. {items} Shall I go on?\n"
    path = tmp_path / "few_shot_data" / "MockRetailDomainEnv-few_shot.jsonl"
    path.write_text(json.dumps({"messages_display": display}) + "\n", encoding="utf-8")
    agent = conversations(tmp_path, "retail")["retail_fs:0"][1].text
    assert agent == "Here it is. Item 0 costs ten dollars. Shall I go on?"


def test_a_picked_conversation_becomes_a_script_that_loads(tmp_path: Path) -> None:
    _copy(tmp_path)
    picks = tmp_path / "picks.tsv"
    pick = Pick("escalates", "retail_fs:0", 4, 2, ("abuse",), ("calm",) * 3 + ("angry",), "why")
    row = [pick.kind, pick.call, "4", "2", "abuse", ",".join(pick.moods), pick.reason]
    picks.write_text("# picks\n" + "\t".join(row) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (path,) = write_calls(tmp_path, picks, out)
    assert path.name == "taubench_retail_fs_0.toml"
    script = load_script(path)
    assert script.name == "taubench_retail_fs_0"
    assert [t.speaker for t in script.turns] == ["customer", "agent", "customer", "agent"]
    assert script.turns[2].blowup and script.expected == "escalates"
    assert "tau-bench" in path.read_text(encoding="utf-8").splitlines()[1]
