"""The dialogue cross-source set and its readers: other people's support conversations."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.cross_source import DIALOGUE_DEV_FILE, DIALOGUE_FILE, DIALOGUE_SOURCES, read_cross_source
from eval.htf import Pick, call_script, read_call, read_picks, spoken
from eval.multidogo import candidates as multidogo_candidates
from monitor.sample_script import load_script
from monitor.scoring.classifier import normalize
from tests.training_texts import training_texts

TRANSCRIPT = """# Frontier Communications Customer Support Call

Agent: Thank you for calling Frontier. How can I help you today?

Customer: Hi, my bill went up by $30.50 and nobody told me. (sighs)

Agent: (typing sounds) I'm sorry about that. Can I get the number on the account?

**Customer:** It's 555-0147. [inaudible] Honestly, if this isn't fixed I'm switching to Comcast.

(call ends)
"""


@pytest.mark.parametrize("path", [DIALOGUE_FILE, DIALOGUE_DEV_FILE], ids=["test", "dev"])
def test_dialogue_set_reads_with_both_sources_and_references(path: Path) -> None:
    turns = read_cross_source(path, DIALOGUE_SOURCES)
    assert len(turns) >= 500
    assert {t.source for t in turns} == set(DIALOGUE_SOURCES)
    assert all(t.speaker == "customer" and t.reference for t in turns)
    assert sum(1 for t in turns if not t.intents) >= 400  # mostly calm service talk
    assert sum(1 for t in turns if t.intents) >= 12  # few: other people's calls rarely escalate


def test_test_and_development_samples_share_no_call_or_conversation() -> None:
    def sources(path: Path) -> set[str]:
        return {t.reference.split(":")[0] for t in read_cross_source(path, DIALOGUE_SOURCES)}

    assert not sources(DIALOGUE_FILE) & sources(DIALOGUE_DEV_FILE)
    calls = {p.call for p in read_picks(DIALOGUE_FILE.parent / "htf_call_picks.tsv")}
    assert not sources(DIALOGUE_FILE) & calls


@pytest.mark.parametrize("path", [DIALOGUE_FILE, DIALOGUE_DEV_FILE], ids=["test", "dev"])
def test_dialogue_set_shares_no_turn_with_training_files(path: Path) -> None:
    ours = {normalize(t.text) for t in read_cross_source(path, DIALOGUE_SOURCES)}
    for name, texts in training_texts().items():
        assert not ours & texts, name


def test_transcript_turns_lose_stage_directions(tmp_path: Path) -> None:
    path = tmp_path / "billing_inquiry_0001.txt"
    path.write_text(TRANSCRIPT, encoding="utf-8")
    turns = read_call(path)
    assert [t.speaker for t in turns] == ["agent", "customer", "agent", "customer"]
    assert turns[1].text == "Hi, my bill went up by $30.50 and nobody told me."
    assert turns[2].text.startswith("I'm sorry about that.")
    assert turns[3].text == "It's 555-0147. Honestly, if this isn't fixed I'm switching to Comcast."


def test_numbers_are_spelled_as_a_voice_says_them() -> None:
    assert spoken("$30.50 more") == "thirty dollars and fifty cents more"
    assert spoken("call 555-0147") == "call five five five zero one four seven"
    assert spoken("it's 45 days, 12%") == "it's forty five days, twelve percent"


def test_a_picked_call_becomes_a_script_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "billing_inquiry_0001.txt"
    path.write_text(TRANSCRIPT, encoding="utf-8")
    pick = Pick(
        "escalates",
        "billing_inquiry_0001",
        4,
        3,
        ("cancel_threat",),
        ("calm", "annoyed", "calm", "angry"),
        "threatens to switch",
    )
    script_file = tmp_path / "htf_billing_inquiry_0001.toml"
    script_file.write_text(call_script(pick, read_call(path)), encoding="utf-8")
    script = load_script(script_file)
    assert script.expected == "escalates"
    assert [i for i, t in enumerate(script.turns) if t.blowup] == [3]
    assert "Comcast" in script.turns[3].text and "five five five" in script.turns[3].text
    with pytest.raises(ValueError, match="agent's, not a blow-up"):
        call_script(Pick("escalates", "x", 4, 2, (), ("calm",) * 4, ""), read_call(path))


def test_picks_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "picks.tsv"
    bad.write_text("calm\tx\t3\t-1\tnone\tcalm,calm\ttoo few moods\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"picks\.tsv:1: 2 moods for 3 turns"):
        read_picks(bad)
    bad.write_text("maybe\tx\t1\t-1\tnone\tcalm\tno\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"picks\.tsv:1: expected kind"):
        read_picks(bad)


def test_multidogo_candidates_take_one_turn_per_conversation(tmp_path: Path) -> None:
    domain = tmp_path / "finance"
    domain.mkdir()
    head = "conversationId\tturnNumber\tutteranceId\tutterance\tslot-labels\tintent\n"
    rows = [
        f"c{i % 5}\t{i}\tu{i}\tmy card number {i} was charged twice today\tO\tdisputecharge\n"
        for i in range(20)
    ]
    (domain / "train.tsv").write_text(head + "".join(rows), encoding="utf-8")
    got = multidogo_candidates(tmp_path, complaints=10, escalation=0, random_n=10)
    conversations = [row.split("\t")[2] for row in got]
    assert sorted(conversations) == [f"c{i}" for i in range(5)]


def test_generated_support_calls_match_their_picks() -> None:
    from monitor.sample_script import list_scripts

    folder = DIALOGUE_FILE.parent / "cross_calls"
    picks = {p.call: p for p in read_picks(DIALOGUE_FILE.parent / "htf_call_picks.tsv")}
    scripts = [load_script(p) for p in list_scripts(folder) if p.name.startswith("htf_")]
    assert {s.name for s in scripts} == {f"htf_{call}" for call in picks}
    assert sum(1 for p in picks.values() if p.kind == "escalates") >= 8
    for script in scripts:
        pick = picks[script.name.removeprefix("htf_")]
        assert script.expected == pick.kind and len(script.turns) == pick.cut
        blowups = [i for i, t in enumerate(script.turns) if t.blowup]
        assert blowups == ([] if pick.kind == "calm" else [pick.blowup]), script.name
        assert all(t.mood == "calm" for t in script.turns if t.speaker == "agent")


def test_cross_call_counts_split_by_source() -> None:
    from eval.eval_cross_calls import by_source, is_calm_complaint

    per_call = {
        "cfpb_1": {"expected": "escalates", "first_warning_s": 3.0, "lead_s": 2.0},
        "cfpb_2": {"expected": "escalates", "first_warning_s": 9.0, "detection_delay_s": 4.0},
        "htf_billing_1": {"expected": "escalates", "first_warning_s": None},
        "htf_billing_2": {"expected": "calm", "first_warning_s": 12.0},
        "abcd_1": {"expected": "calm", "first_warning_s": None},
    }
    got = by_source(per_call)
    assert got["cfpb"] == {
        "escalating": 2,
        "warned_before": 1,
        "within_5s": 1,
        "calm": 0,
        "calm_warned": 0,
    }
    assert got["htf"]["escalating"] == 1 and got["htf"]["within_5s"] == 0
    assert got["htf"]["calm_warned"] == 1 and got["abcd"]["calm"] == 1
    assert is_calm_complaint("htf_billing_2", per_call["htf_billing_2"])
    assert not is_calm_complaint("abcd_1", per_call["abcd_1"])


def test_a_warning_is_timed_against_the_start_and_the_end_of_the_blowup_turn() -> None:
    from eval.eval_cross_calls import blowup_timing
    from monitor.samples import TimelineTurn

    def turn(i: int, start: float, end: float, blowup: bool = False) -> TimelineTurn:
        speaker = "customer" if i % 2 else "agent"
        return TimelineTurn(i, speaker, "words", "calm", start, end, blowup, 0.0, "inbound")

    turns = [turn(0, 0.0, 4.0), turn(1, 5.0, 20.0, blowup=True), turn(2, 21.0, 30.0, blowup=True)]
    assert blowup_timing(turns, 3.5) == {"blowup_s": 5.0, "blowup_turn_s": 15.0, "lead_s": 1.5}
    # a partial transcript caught the threat before the customer stopped talking
    assert blowup_timing(turns, 18.0) == {
        "blowup_s": 5.0,
        "blowup_turn_s": 15.0,
        "detection_delay_s": 13.0,
        "after_blowup_turn_end_s": -2.0,
    }
    # the first blow-up turn counts, not a later one
    assert blowup_timing(turns, 22.5)["after_blowup_turn_end_s"] == 2.5
    assert blowup_timing(turns, None) == {"blowup_s": 5.0, "blowup_turn_s": 15.0}


def test_later_draws_skip_the_calls_and_conversations_already_used() -> None:
    from eval.htf import used_calls
    from eval.multidogo import used_conversations

    picked = used_calls(DIALOGUE_FILE.parent / "htf_call_picks.tsv")
    assert len(picked) == 16
    dev_calls = used_calls(DIALOGUE_DEV_FILE)
    assert len(dev_calls) > 100
    assert not used_calls(DIALOGUE_FILE) & (dev_calls | picked)  # the test sample skipped both
    assert len(used_conversations(DIALOGUE_DEV_FILE)) == 260  # one turn per conversation
