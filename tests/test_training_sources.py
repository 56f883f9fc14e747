"""Other authors' training data: Bitext's retail support requests (monitor/scoring/data/bitext.py,
hard negatives, a held-apart fifth for eval_text's ``external_requests``) and ConvAbuse's abuse
aimed at an agent (monitor/scoring/data/convabuse.py, its test split held apart for
``external_abuse``) and GoEmotions' rated comments for sentiment
(monitor/scoring/data/goemotions.py). The committed files, their splits, labelling rules and
provenance are checked here; what the model does with them is eval's."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.cross_source import EXTERNAL_FILE, EXTERNAL_SOURCES, read_cross_source
from monitor.scoring.classifier import normalize
from monitor.scoring.data import bitext, convabuse, goemotions
from monitor.scoring.train import build_examples


def test_the_committed_requests_carry_their_licence_and_the_change_notice() -> None:
    head = bitext.REQUESTS_FILE.read_text(encoding="utf-8").split("\n", 8)
    notice = " ".join(head[:8])
    # CDLA-Sharing 1.0, section 3.1: published under it, changes marked, attribution kept
    assert "Community Data License Agreement - Sharing, Version 1.0" in notice
    assert "CHANGED by callmon" in notice and "Bitext" in notice
    licence = bitext.REQUESTS_FILE.parent / "LICENSE-CDLA-Sharing-1.0.txt"
    assert "Community Data License Agreement" in licence.read_text(encoding="utf-8")


def test_requests_are_split_by_their_text_and_leave_out_the_borderline_intents() -> None:
    requests = bitext.read_requests()
    assert len(requests) > 5000
    assert not {r.intent for r in requests} & bitext.LEFT_OUT
    train, test = bitext.training_requests(), bitext.test_requests()
    assert len(requests) - 20 < len(train) + len(test) <= len(requests)
    assert 0.15 < len(test) / len(requests) < 0.25
    # a request keeps its side: the same words, cased or spaced otherwise, land together
    assert {bitext.is_test(r.text.upper() + "  ") for r in test} == {True}
    assert not {normalize(r.text) for r in train} & {normalize(r.text) for r in test} - {""}
    # the styles the issue names are there: offensive, colloquial, typos
    for tag in "WQZ":
        assert sum(tag in r.tags for r in test) >= 20, tag


def test_training_takes_the_requests_as_intent_none_without_sentiment() -> None:
    examples = build_examples(call_repeat=1, max_tweets=0, seed=1, bitext_repeat=1)
    texts = {normalize(r.text) for r in bitext.training_requests()}
    held = {normalize(r.text) for r in bitext.test_requests()} - texts
    taken = [e for e in examples if e.text in texts and e.sentiment < 0]
    assert len(taken) >= len(texts) * 0.9
    assert all(e.intents is not None and not any(e.intents) for e in taken)
    assert not {e.text for e in examples} & held  # the held-apart fifth is never trained on


def test_no_request_is_in_an_evaluation_set() -> None:
    ours = {normalize(r.text) for r in bitext.read_requests()}
    external = {normalize(t.text) for t in read_cross_source(EXTERNAL_FILE, EXTERNAL_SOURCES)}
    cross = {normalize(t.text) for t in read_cross_source()}
    assert not ours & (external | cross)


def test_reader_and_extractor_name_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "r.tsv"
    bad.write_text(
        "# header\ntrack_order\tBL\twhere is my order\ncomplaint\tB\tI want to complain\n"
    )
    with pytest.raises(ValueError, match=r"r\.tsv:3: Bitext intent 'complaint' is left out"):
        bitext.read_requests(bad)
    short = tmp_path / "s.tsv"
    short.write_text("track_order\twhere is it\n")
    with pytest.raises(ValueError, match=r"s\.tsv:1: expected"):
        bitext.read_requests(short)
    raw = tmp_path / "d.csv"
    raw.write_text(
        "flags,instruction,category,intent,response\n"
        "BQ,where is my damn order,ORDER,track_order,x\n"
        "B,WHERE is my damn   order,ORDER,track_order,x\n"
        "B,I want a person,CONTACT,contact_human_agent,x\n"
    )
    got = bitext.extract([raw])
    assert [(r.intent, r.tags, r.text) for r in got] == [
        ("track_order", "BQ", "where is my damn order")
    ]


def _row(text: str, *votes: tuple[str, str]) -> dict[str, str]:
    """A ConvAbuse CSV row: one (severity, target) per annotator; target "" for none."""
    row = {"user": text}
    for n, (severity, target) in enumerate(votes, start=1):
        row[f"Annotator{n}_is_abuse.{severity}"] = "1"
        if target:
            row[f"Annotator{n}_target.{target}"] = "1"
    return row


def test_convabuse_rule_keeps_attacks_on_the_agent_and_swearing_that_attacks_no_one() -> None:
    aimed = (("-2", "system"), ("-1", "system"), ("1", ""))
    assert convabuse.label(_row("you are completely useless", *aimed)) == "abuse"
    assert convabuse.label(_row("useless", *aimed)) is None  # an outburst, not an attack
    assert convabuse.label(_row("they are all idiots there", *aimed)) is None  # not "you"
    group = (("-2", "generalised"), ("-2", "generalised"))
    assert convabuse.label(_row("you people are all the same", *group)) is None
    clean = (("1", ""), ("1", ""), ("0", ""))
    assert convabuse.label(_row("wtf is that", *clean)) == "none"
    assert convabuse.label(_row("what is that", *clean)) is None  # plain chat: not needed
    # a plain "you" that attacks no one: "as you said", "you too"
    assert convabuse.label(_row("as you said", *clean)) == "none"
    # strict: every annotator calls it abuse, and four words or more
    assert convabuse.label(_row("you are completely useless", *aimed), strict=True) is None
    unanimous = (("-2", "system"), ("-1", "system"))
    assert convabuse.label(_row("you are completely useless", *unanimous), strict=True) == "abuse"
    assert convabuse.label(_row("you are useless", *unanimous), strict=True) is None
    split = (("1", ""), ("-1", "system"))
    assert convabuse.label(_row("you are a bot", *split)) is None  # no majority


def test_convabuse_turns_committed_with_their_split() -> None:
    turns = convabuse.read_turns()
    head = convabuse.TURNS_FILE.read_text(encoding="utf-8").split("\n", 3)
    assert "CC BY 4.0" in " ".join(head[:3])
    test = [t for t in turns if t.held_apart]
    assert sum(t.intent == "abuse" for t in test) >= 40
    assert sum(t.intent == "abuse" for t in turns if not t.held_apart) >= 150
    without = build_examples(call_repeat=1, max_tweets=0, seed=1, convabuse_repeat=0)
    once = build_examples(call_repeat=1, max_tweets=0, seed=1, convabuse_repeat=1)
    # training takes every turn of the train and valid splits once per repeat, no test turn
    assert len(once) - len(without) == len(turns) - len(test)
    bad = convabuse.TURNS_FILE.parent / "missing.tsv"
    with pytest.raises(FileNotFoundError):
        convabuse.read_turns(bad)


def test_convabuse_reader_names_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.tsv"
    bad.write_text("# header\ntrain\tabuse\tyou are useless\ntrain\tinsult\tyou idiot\n")
    with pytest.raises(ValueError, match=r"c\.tsv:3: expected split, abuse/none, text"):
        convabuse.read_turns(bad)


def test_goemotions_sentiment_follows_the_raters_emotions_and_leaves_out_the_mixed() -> None:
    assert goemotions.sentiment_of(["anger", "annoyance"]) == "negative"
    assert goemotions.sentiment_of(["disappointment"]) == "negative"  # "thanks, but ..."
    assert goemotions.sentiment_of(["gratitude", "joy"]) == "positive"
    assert goemotions.sentiment_of(["neutral"]) == "neutral"
    assert goemotions.sentiment_of(["gratitude", "disappointment"]) is None  # two ways
    # ambiguous, or something else on a call: a request, an apology, a plain "yes"
    for emotion in ("curiosity", "confusion", "desire", "remorse", "approval"):
        assert goemotions.sentiment_of([emotion]) is None, emotion
    assert goemotions.sentiment_of(["joy", "surprise"]) is None


def test_goemotions_extract_fills_names_and_names_a_bad_line(tmp_path: Path) -> None:
    rows = {
        "train": "Thanks [NAME], but that didn't help at all\t9\ta1\n"
        "thanks [name], but THAT didn't help at all\t9\ta2\n"  # a duplicate, other case
        "My [RELIGION] friend says hi\t27\ta3\n"
        "Why would you do that?\t7\ta4\n"
        "It arrives on Monday\t27\ta5\n",
        "dev": "Brilliant, thank you so much\t0,15\tb1\n",
        "test": "That is just awful\t11\tc1\n",
    }
    for split, text in rows.items():
        (tmp_path / f"{split}.tsv").write_text(text, encoding="utf-8")
    got = goemotions.extract(tmp_path)
    assert [(c.split, c.sentiment) for c in got] == [
        ("train", "negative"),
        ("train", "neutral"),
        ("dev", "positive"),
        ("test", "negative"),
    ]
    assert "[" not in got[0].text and got[0].text.split()[1].rstrip(",") in goemotions.NAMES
    (tmp_path / "dev.tsv").write_text("no labels here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev\.tsv:1: expected text, labels, id"):
        goemotions.extract(tmp_path)
    bad = tmp_path / "g.tsv"
    bad.write_text("# header\ntrain\tpositive\tlovely\ntrain\tjoy\tlovely\n")
    with pytest.raises(ValueError, match=r"g\.tsv:3: expected split, sentiment, text"):
        goemotions.read_comments(bad)


def test_goemotions_committed_and_trained_on_only_from_its_train_split() -> None:
    comments = goemotions.read_comments()
    head = goemotions.COMMENTS_FILE.read_text(encoding="utf-8").split("\n", 3)
    assert "Apache-2.0" in " ".join(head[:3])
    by_split = {s: [c for c in comments if c.split == s] for s in goemotions.SPLITS}
    assert len(by_split["train"]) > 30000 and len(by_split["dev"]) > 3000
    for split in goemotions.SPLITS:
        assert {c.sentiment for c in by_split[split]} == {"negative", "neutral", "positive"}
    assert not any("[NAME]" in c.text for c in comments)
    without = build_examples(call_repeat=1, max_tweets=0, seed=1)
    taken = build_examples(call_repeat=1, max_tweets=0, seed=1, goemotions_max=500)
    added = len(taken) - len(without)
    assert added == 500
    train = {normalize(c.text) for c in by_split["train"]}
    other = {normalize(c.text) for c in by_split["dev"] + by_split["test"]} - train
    texts = {e.text for e in taken} - {e.text for e in without}
    assert texts <= train and not texts & other
    # sentiment only: the comments carry no intent labels
    assert all(e.intents is None for e in taken if e.text in texts)


@pytest.mark.slow
def test_a_fine_tune_starts_from_the_given_weights_and_stops_at_max_steps(tmp_path: Path) -> None:
    import json

    from safetensors.torch import load_file

    from monitor.scoring.classifier import META_FILE, WEIGHTS_FILE, TextClassifier
    from monitor.scoring.train import MODELS_DIR, main

    shipped = MODELS_DIR / "text-classifier"
    out = tmp_path / "tuned"
    # lr 0: two steps that change nothing, so the output must be the starting weights
    args = ["--init", str(shipped), "--out", str(out), "--max-steps", "2", "--lr", "0"]
    assert main([*args, "--max-tweets", "0", "--call-repeat", "1", "--cfpb-repeat", "0"]) == 0
    meta = json.loads((out / META_FILE).read_text())
    assert meta["training"]["steps"] == 2 and meta["training"]["init"] == str(shipped)
    before, after = load_file(str(shipped / WEIGHTS_FILE)), load_file(str(out / WEIGHTS_FILE))
    assert before.keys() == after.keys()
    assert all(before[k].equal(after[k]) for k in before)
    assert TextClassifier.load(out).predict(["get me your manager now"])[0].intents
    with pytest.raises(SystemExit):
        main(["--init", str(tmp_path), "--out", str(tmp_path / "x")])  # no weights there


@pytest.mark.slow
def test_a_smaller_student_keeps_the_lower_layers_and_records_its_teacher(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from safetensors.torch import load_file

    from monitor.scoring.classifier import META_FILE, WEIGHTS_FILE, TextClassifier
    from monitor.scoring.train import MODELS_DIR, main

    shipped = MODELS_DIR / "text-classifier"
    out = tmp_path / "small"
    args = ["--layers", "3", "--teacher", str(shipped), "--distill-weight", "0.7"]
    few = ["--max-steps", "2", "--max-tweets", "0", "--call-repeat", "1", "--cfpb-repeat", "0"]
    assert main([*args, "--out", str(out), *few]) == 0
    # the same student may start from the shipped model's lower layers and heads
    started = tmp_path / "started"
    init = ["--init", str(shipped), "--freeze-layers", "0"]
    assert main([*args, *init, "--out", str(started), *few]) == 0
    assert "upper layers [3, 4, 5] left out" in capsys.readouterr().out
    assert json.loads((started / "config.json").read_text())["num_hidden_layers"] == 3
    training = json.loads((out / META_FILE).read_text())["training"]
    assert training["layers"] == 3 and training["teacher"] == str(shipped)
    assert training["distill_weight"] == 0.7
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 3
    names = load_file(str(out / WEIGHTS_FILE)).keys()
    assert any(n.startswith("encoder.encoder.layer.2.") for n in names)
    assert not any(n.startswith("encoder.encoder.layer.3.") for n in names)
    assert len(TextClassifier.load(out).predict(["get me your manager now"])) == 1
    for bad in (["--layers", "7"], ["--distill-weight", "1.5"], ["--teacher", str(tmp_path)]):
        with pytest.raises(SystemExit):
            main([*bad, "--out", str(tmp_path / "x")])


def test_a_student_started_from_a_trained_model_keeps_only_its_lower_layers() -> None:
    import torch

    from monitor.scoring.train import _drop_upper_layers

    state = {
        f"encoder.encoder.layer.{i}.attention.self.query.weight": torch.zeros(1) for i in range(6)
    }
    state["encoder.embeddings.word_embeddings.weight"] = torch.zeros(1)
    state["intent_head.weight"] = torch.zeros(1)
    assert _drop_upper_layers(state, 4) == [4, 5]
    assert sorted(state) == [
        "encoder.embeddings.word_embeddings.weight",
        *(f"encoder.encoder.layer.{i}.attention.self.query.weight" for i in range(4)),
        "intent_head.weight",
    ]
    assert _drop_upper_layers(state, 6) == []  # nothing above: nothing left out
    assert len(state) == 6
