"""The external cross-source set: real consumers' text, labelled to the spec, not trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.cross_source import EXTERNAL_FILE, EXTERNAL_SOURCES, read_cross_source
from monitor.events import INTENTS
from monitor.scoring.classifier import normalize

DATA = Path(__file__).resolve().parent.parent / "monitor" / "scoring" / "data"


def test_external_set_reads_and_carries_a_mix_of_intents() -> None:
    turns = read_cross_source(EXTERNAL_FILE, EXTERNAL_SOURCES)
    assert len(turns) >= 200
    assert all(t.source == "cfpb" and t.reference.isdigit() for t in turns)
    none = [t for t in turns if not t.intents]
    assert len(none) >= 100  # plenty of complaints that do not escalate
    for name in INTENTS:
        if name != "public_shaming":  # one real example found; see the file's header
            assert sum(1 for t in turns if name in t.intents) >= 8, name


def test_external_set_shares_no_sentence_with_training_files() -> None:
    turns = read_cross_source(EXTERNAL_FILE, EXTERNAL_SOURCES)
    ours = {normalize(t.text) for t in turns}
    for name in (
        "calls_train.tsv",
        "calls_styles.tsv",
        "taskmaster3_turns.tsv",
        "bitext_requests.tsv",
    ):
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        texts = {normalize(line.split("\t")[-1]) for line in lines if line.strip()}
        assert not ours & texts, name


def test_reader_names_the_line_of_a_bad_row(tmp_path: Path) -> None:
    bad = tmp_path / "x.tsv"
    bad.write_text(
        "# header\ncfpb\tnone\tnegative\tc\tfine\t1\ncfpb\tshouting\tnegative\tc\tx\t2\n"
    )
    with pytest.raises(ValueError, match=r"x\.tsv:3: bad label"):
        read_cross_source(bad, EXTERNAL_SOURCES)
    short = tmp_path / "y.tsv"
    short.write_text("cfpb\tnone\tnegative\n")
    with pytest.raises(ValueError, match=r"y\.tsv:1: expected 5 or 6"):
        read_cross_source(short, EXTERNAL_SOURCES)


def test_external_complaint_calls_escalate_once_or_stay_calm_with_neutral_agents() -> None:
    from monitor.sample_script import list_scripts, load_script

    folder = EXTERNAL_FILE.parent / "cross_calls"
    scripts = [load_script(p) for p in list_scripts(folder) if p.name.startswith("cfpb_")]
    calm = [s for s in scripts if s.name.startswith("cfpb_calm_")]
    assert len(scripts) - len(calm) >= 8 and len(calm) >= 4
    for script in calm:  # polite complaints: nothing marked as a blow-up
        assert script.expected == "calm" and not any(t.blowup for t in script.turns)
        assert all(t.mood == "calm" for t in script.turns if t.speaker == "agent")
    for script in (s for s in scripts if s not in calm):
        assert script.expected == "escalates", script.name
        blowups = [i for i, t in enumerate(script.turns) if t.blowup]
        assert len(blowups) == 1, script.name
        assert script.turns[blowups[0]].speaker == "customer"
        assert blowups[0] > 1, script.name  # something comes before it to warn on
        for turn in script.turns:
            if turn.speaker == "agent":
                assert turn.mood == "calm", (script.name, turn.text)


def test_cfpb_training_sentences_come_from_other_complaints() -> None:
    """The labelled CFPB training rows share no complaint (no author) and no sentence with the
    external test set or its calls, and every row is labelled to the spec."""
    from monitor.scoring.data.cfpb import TRAIN_FILE, read_labelled, test_ids

    rows = read_labelled()
    assert len(rows) >= 1000, TRAIN_FILE
    assert not {cid for *_, cid in rows} & test_ids()
    tested = {normalize(t.text) for t in read_cross_source(EXTERNAL_FILE, EXTERNAL_SOURCES)}
    assert not {normalize(text) for _, _, text, _ in rows} & tested
    for names, sentiment, _, _ in rows:
        assert set(names) <= set(INTENTS) and sentiment in ("negative", "neutral", "positive")
