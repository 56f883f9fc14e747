"""eval.sentiment_flips: the labelled sentiment readings a change moves, against a revision."""

from __future__ import annotations

import subprocess

import pytest

from eval.sentiment_flips import OWN, ROOT, labelled_sets, labels_at, macro_f1, main, moved


def test_moved_readings_are_told_right_wrong_or_other() -> None:
    rows = [
        ("Hi, I need to cancel my flight.", "neutral", "customer"),
        ("You too, bye.", "neutral", "customer"),
        ("Thanks, but it's still broken.", "negative", "customer"),
        ("Okay, thanks.", "positive", "customer"),
    ]
    before = ["negative", "neutral", "positive", "neutral"]
    after = ["neutral", "negative", "neutral", "neutral"]
    assert moved(rows, before, after) == [
        ("RIGHT", "neutral", "negative", "neutral", "Hi, I need to cancel my flight."),
        ("WRONG", "neutral", "neutral", "negative", "You too, bye."),
        ("OTHER", "negative", "positive", "neutral", "Thanks, but it's still broken."),
    ]


def test_macro_f1_over_the_three_sentiments() -> None:
    gold = ["negative", "neutral", "positive", "neutral"]
    assert macro_f1(gold, gold) == 1.0
    # negative 2/3, neutral 2/3 (one of two found), positive 1: (2/3 + 2/3 + 1) / 3
    read = ["negative", "negative", "positive", "neutral"]
    assert macro_f1(gold, read) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert macro_f1(["neutral"], ["negative"]) == 0.0


def test_the_sets_are_development_validation_and_own_held_out_only() -> None:
    sets = labelled_sets()
    assert set(sets) == {
        "cfpb validation",
        "cfpb training",
        "goemotions dev",
        "dialogue development sample",
        "shop development sample",
        *OWN,
    }
    for name, rows in sets.items():
        assert rows, name
        assert all(gold in ("negative", "neutral", "positive") for _, gold, _ in rows), name
    # the development samples' files, not the test sets' beside them
    from eval.cross_source import (
        DIALOGUE_DEV_FILE,
        DIALOGUE_SOURCES,
        SHOP_DEV_FILE,
        SHOP_SOURCES,
        read_cross_source,
    )

    for name, path, sources in (
        ("dialogue development sample", DIALOGUE_DEV_FILE, DIALOGUE_SOURCES),
        ("shop development sample", SHOP_DEV_FILE, SHOP_SOURCES),
    ):
        assert path.name.endswith("_dev.tsv")
        assert [text for text, _, _ in sets[name]] == [
            t.text for t in read_cross_source(path, sources)
        ]


def test_a_revision_is_scored_apart_and_its_checkout_removed() -> None:
    sets = {"a few": [("You too, bye.", "neutral", "customer"), ("ok", "neutral", "agent")]}
    labels = labels_at("HEAD", sets)
    assert set(labels) == {"a few"}
    assert len(labels["a few"]) == 2
    assert all(label in ("negative", "neutral", "positive") for label in labels["a few"])
    trees = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "callmon-flips-" not in trees


def test_a_revision_git_cannot_check_out_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["no-such-revision-here"]) == 2
    assert "cannot check out 'no-such-revision-here'" in capsys.readouterr().err
