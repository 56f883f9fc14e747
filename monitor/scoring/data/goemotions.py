"""GoEmotions: many people's comments, each read by several raters for the emotions in it.

GoEmotions (Demszky, Movshovitz-Attias, Ko, Cowen, Nemade, Ravi, ACL 2020; Google Research,
github.com/google-research/google-research/tree/master/goemotions, Apache-2.0, also the licence
on its Hugging Face card) holds 58k English Reddit comments, each labelled with the emotions
that at least two of its raters saw (27 emotions, or neutral). The split the authors published
(train / dev / test: 43,410 / 5,426 / 5,427) is kept. The masked names ("[NAME]") stay masked
in the published text; here they become a first name, drawn with a fixed seed.

Sentiment follows GoEmotions' own grouping of its emotions (its ``sentiment_dict.json``), with
the emotions that mean something else on a support call left out:

- **negative**: anger, annoyance, disappointment, disapproval, disgust, embarrassment, fear,
  grief, nervousness, sadness ("thanks, but that didn't help" is disappointment: negative);
- **positive**: admiration, amusement, caring, excitement, gratitude, joy, love, optimism,
  pride, relief;
- **neutral**: neutral;
- left out: the ambiguous group (confusion, curiosity, realization, surprise), remorse (an
  agent's "I'm so sorry about that" is service talk, neutral, in this product), desire ("I want
  a refund" is a request, not a feeling) and approval ("yes, that's right" is neutral on a
  call), and any comment whose emotions fall in more than one group.

Sentiment only: the comments carry no escalation intents, and their topics are not calls.
Training takes the train split (``--goemotions-max``); the dev split is a validation set for
sentiment, and the test split is not used. Rebuild ``goemotions_comments.tsv`` (committed)
from the three files of the data folder:

    python -m monitor.scoring.data.goemotions goemotions/data
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.scoring.data.calls import DATA_DIR, SENTIMENTS, split_rows

COMMENTS_FILE = DATA_DIR / "goemotions_comments.tsv"
SPLITS = ("train", "dev", "test")
# the 28 labels in the order of GoEmotions' emotions.txt (label ids index it)
EMOTIONS = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
]
NEGATIVE = frozenset(
    [
        "anger",
        "annoyance",
        "disappointment",
        "disapproval",
        "disgust",
        "embarrassment",
        "fear",
        "grief",
        "nervousness",
        "sadness",
    ]
)
POSITIVE = frozenset(
    [
        "admiration",
        "amusement",
        "caring",
        "excitement",
        "gratitude",
        "joy",
        "love",
        "optimism",
        "pride",
        "relief",
    ]
)
NAMES = ("Alex", "Sam", "Maria", "John", "Priya", "Ahmad", "Ioana", "Mei", "Chris", "Siti")
SEED = 5


@dataclass(frozen=True)
class Comment:
    split: str  # GoEmotions' own: train / dev / test
    sentiment: str  # negative / neutral / positive
    text: str


def sentiment_of(emotions: list[str]) -> str | None:
    """The one sentiment a comment's emotions agree on, or None (left out)."""
    groups = set()
    for emotion in emotions:
        if emotion in NEGATIVE:
            groups.add("negative")
        elif emotion in POSITIVE:
            groups.add("positive")
        elif emotion == "neutral":
            groups.add("neutral")
        else:
            return None  # ambiguous, remorse, desire, approval
    return groups.pop() if len(groups) == 1 else None


def extract(data_dir: Path) -> list[Comment]:
    rng = random.Random(SEED)
    seen: set[str] = set()
    out: list[Comment] = []
    for split in SPLITS:
        for number, line in enumerate(
            (data_dir / f"{split}.tsv").read_text(encoding="utf-8").splitlines(), start=1
        ):
            parts = line.split("\t")
            if len(parts) != 3:
                raise ValueError(f"{data_dir / split}.tsv:{number}: expected text, labels, id")
            emotions = [EMOTIONS[int(i)] for i in parts[1].split(",")]
            sentiment = sentiment_of(emotions)
            text = " ".join(parts[0].split())
            if sentiment is None or not text:
                continue
            while "[NAME]" in text:
                text = text.replace("[NAME]", rng.choice(NAMES), 1)
            if "[" in text or text.lower() in seen:
                continue  # other masks ([RELIGION]) read as nothing a caller says
            seen.add(text.lower())
            out.append(Comment(split, sentiment, text))
    return out


def read_comments(path: Path = COMMENTS_FILE) -> list[Comment]:
    return [Comment(*row) for row in split_rows(path, SPLITS, SENTIMENTS, "split, sentiment, text")]


def training_comments(
    limit: int, seed: int = 13, sentiments: tuple[str, ...] = SENTIMENTS
) -> list[Comment]:
    """Up to ``limit`` comments of the train split with one of ``sentiments``, in the share
    they have there."""
    train = [c for c in read_comments() if c.split == "train" and c.sentiment in sentiments]
    random.Random(seed).shuffle(train)
    return train[:limit]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or not (Path(args[0]) / "train.tsv").is_file():
        raise SystemExit("usage: python -m monitor.scoring.data.goemotions goemotions/data")
    comments = extract(Path(args[0]))
    header = (
        "# GoEmotions (Demszky et al. 2020; Google Research, Apache-2.0): Reddit comments by\n"
        "# many people, by their raters' emotions mapped to one sentiment (see\n"
        "# monitor/scoring/data/goemotions.py). Columns: split, sentiment, text\n"
    )
    COMMENTS_FILE.write_text(
        header + "".join(f"{c.split}\t{c.sentiment}\t{c.text}\n" for c in comments),
        encoding="utf-8",
    )
    counts = {
        (s, v): sum(1 for c in comments if (c.split, c.sentiment) == (s, v))
        for s in SPLITS
        for v in SENTIMENTS
    }
    print(f"wrote {len(comments)} comments to {COMMENTS_FILE}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
