"""The texts of the classifier's training files, normalised as it reads them, so the tests of
each labelled test set can check that the set shares none of them (read once per session)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from monitor.scoring.classifier import normalize

DATA = Path(__file__).resolve().parent.parent / "monitor" / "scoring" / "data"
TRAINING_FILES = ("calls_train.tsv", "calls_styles.tsv", "taskmaster3_turns.tsv", "cfpb_train.tsv")


@cache
def training_texts() -> dict[str, frozenset[str]]:
    """File name -> the normalised texts of its rows (the last column), empty ones left out."""
    out: dict[str, frozenset[str]] = {}
    for name in TRAINING_FILES:
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        out[name] = frozenset(normalize(line.split("\t")[-1]) for line in lines if line.strip())
        out[name] -= {""}
    return out


def long_turns_shared(texts: set[str], most_words: int = 6) -> dict[str, set[str]]:
    """File name -> the normalised ``texts`` over ``most_words`` words that its rows share, for
    the files that share any: only a generic courtesy ("great, thank you for your help") may be
    shared by a labelled test set and the training files."""
    out: dict[str, set[str]] = {}
    for name, rows in training_texts().items():
        shared = {t for t in texts & rows if len(t.split()) > most_words}
        if shared:
            out[name] = shared
    return out
