"""The id/ms/ro text model (issue #12): multilingual-e5-small + logistic heads, and the
per-language policy the scoring service applies (cues, model, or both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.events import INTENTS
from monitor.scoring.multilingual import (
    HEADS_PATH,
    POLICY,
    MultilingualTextModel,
    read_labelled,
    score_text,
)
from monitor.scoring.service import cue_scores


@pytest.fixture(scope="module")
def model() -> MultilingualTextModel:
    return MultilingualTextModel.load()


def test_heads_ship_and_load(model: MultilingualTextModel) -> None:
    assert HEADS_PATH.is_file()
    assert model.intent_w.shape == (len(INTENTS), 384)
    assert model.sent_w.shape == (3, 384)


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("id", "tolong panggilkan atasan anda, saya mau bicara dengan dia", "manager_demand"),
        ("ms", "saya akan bawa kes ini ke mahkamah", "legal_threat"),
        ("ro", "vreau să reziliez contractul chiar azi", "cancel_threat"),
    ],
)
def test_learned_model_reads_intents_across_languages(
    model: MultilingualTextModel, lang: str, text: str, intent: str
) -> None:
    (scores,) = model.predict([text])
    assert max(scores.intents, key=scores.intents.__getitem__) == intent, scores.intents
    assert scores.probabilities[0] > 0.5  # negative


def test_learned_sentiment_where_the_lexicon_sees_nothing(model: MultilingualTextModel) -> None:
    # no AFINN word in it: the lexicon path calls it neutral, the model hears the complaint
    text = "sudah dua minggu teknisinya belum datang juga"
    lex_probs, _ = cue_scores(text, "id")
    assert max(range(3), key=lex_probs.__getitem__) == 1
    (scores,) = model.predict([text])
    assert max(range(3), key=scores.probabilities.__getitem__) == 0


def test_policy_keeps_cues_where_they_measured_better(model: MultilingualTextModel) -> None:
    assert set(POLICY) == {"id", "ms", "ro"}
    text = "saya mahu bercakap dengan pengurus sekarang"
    probs, intents = score_text(text, "ms", model)
    assert intents == cue_scores(text, "ms")[1]  # ms intents: cues
    assert probs == model.predict([text])[0].probabilities  # ms sentiment: the model
    _, id_intents = score_text("hubungkan saya dengan supervisor", "id", model)
    assert id_intents["manager_demand"] >= 0.5


def test_read_labelled_names_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "x.tsv"
    bad.write_text("none\tangry\tc\tsaya marah\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.tsv:1: unknown label.*angry"):
        read_labelled(bad, language="id")
    bad.write_text("none\tnegative\tc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="5 tab-separated columns"):
        read_labelled(bad, language="id")


def test_missing_heads_name_the_training_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"monitor\.scoring\.multilingual train"):
        MultilingualTextModel.load(tmp_path / "none.npz")
