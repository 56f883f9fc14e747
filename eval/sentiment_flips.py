"""Which labelled sentiment readings does a change move? A development check.

``python -m eval.sentiment_flips [REV]``

Scores every turn the project holds labelled with a sentiment outside its test sets, as the
service serves it (``UtteranceScorer.merge``, English, each turn as said by its speaker), once
with the working tree and once with REV (a git revision, default HEAD) checked out apart in a
temporary git worktree, and prints per set the readings that moved: RIGHT (to the label),
WRONG (away from it) or OTHER (from one wrong reading to another), with the set's macro-F1
before and after. The sets:

- development and validation: the CFPB validation and training sentences, GoEmotions dev, and
  the dialogue and shop development samples (``eval/data/*_dev.tsv``), where rules are written;
- own held-out: the tweets' test split and the held-out call utterances, which issue 10 says
  must not get worse.

No test set is read. Issue 10's nineteenth round wrote its sentiment rules with this check (a
first plain-request rule moved 19 readings right and 15 wrong, and the own held-out call
utterances lost 0.020; the rule that shipped moves 31 right, 3 wrong, and no own reading
wrong). It takes about a minute: the model runs over some 8,000 turns on each side.

Exit status 1 when an own held-out reading moves away from its label, 0 otherwise, 2 when REV
cannot be checked out or scored.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from monitor.scoring.data.calls import SENTIMENTS

ROOT = Path(__file__).resolve().parents[1]
OWN = ("own held-out tweets", "own held-out call utterances")

Labelled = dict[str, list[tuple[str, str, str]]]  # set -> [(text, gold sentiment, speaker)]

# run in REV's checkout: served_labels below, this file's own code, over REV's package and model
_AT_REV = """
import json, runpy, sys
served_labels = runpy.run_path(sys.argv[1])["served_labels"]
sets = json.load(open(sys.argv[2], encoding="utf-8"))
json.dump(served_labels(sets), open(sys.argv[3], "w", encoding="utf-8"))
"""


def labelled_sets() -> Labelled:
    """Every sentiment-labelled turn outside the test sets, per set."""
    from eval.cross_source import (
        DIALOGUE_DEV_FILE,
        DIALOGUE_SOURCES,
        SHOP_DEV_FILE,
        SHOP_SOURCES,
        read_cross_source,
    )
    from monitor.scoring.data import goemotions
    from monitor.scoring.data.calls import heldout_utterances
    from monitor.scoring.train import cfpb_rows, sentiment_split

    sets: Labelled = {}
    for name, validation in (("cfpb validation", True), ("cfpb training", False)):
        sets[name] = [(text, s, "customer") for _, s, text, _ in cfpb_rows(validation) if s]
    sets["goemotions dev"] = [
        (c.text, c.sentiment, "customer")
        for c in goemotions.read_comments()
        if c.split == "dev" and c.sentiment
    ]
    for name, path, sources in (
        ("dialogue development sample", DIALOGUE_DEV_FILE, DIALOGUE_SOURCES),
        ("shop development sample", SHOP_DEV_FILE, SHOP_SOURCES),
    ):
        sets[name] = [(t.text, t.sentiment, t.speaker) for t in read_cross_source(path, sources)]
    _, tweets = sentiment_split()
    sets[OWN[0]] = [(text, SENTIMENTS[label], "customer") for text, label in tweets]
    sets[OWN[1]] = [(u.text, u.sentiment, u.speaker) for u in heldout_utterances()]
    return sets


def served_labels(sets: Labelled) -> dict[str, list[str]]:
    """The sentiment the working tree's service serves for every turn of ``sets``."""
    from eval.eval_text import predict
    from monitor.scoring.classifier import TextClassifier
    from monitor.scoring.service import UtteranceScorer

    classifier = TextClassifier.load(None)
    scorer = UtteranceScorer(classifier)
    out: dict[str, list[str]] = {}
    for name, rows in sets.items():
        scores = predict(classifier, [r[0] for r in rows], [r[2] for r in rows])
        out[name] = []
        for (text, _, speaker), s in zip(rows, scores, strict=True):
            probs = scorer.merge(s, text, "en", speaker)[0]
            out[name].append(SENTIMENTS[max(range(3), key=probs.__getitem__)])
    return out


def labels_at(rev: str, sets: Labelled, root: Path = ROOT) -> dict[str, list[str]]:
    """The sentiment served at git revision ``rev`` for every turn of ``sets``: REV checked out
    in a temporary worktree (removed afterwards) and scored there by ``served_labels`` over its
    own package and model.
    ValueError when the revision cannot be checked out or scored."""
    with tempfile.TemporaryDirectory(prefix="callmon-flips-") as tmp:
        tree = Path(tmp) / "tree"
        added = subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev],
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            raise ValueError(f"cannot check out {rev!r}: {added.stderr.strip()}")
        try:
            given, taken = Path(tmp) / "sets.json", Path(tmp) / "labels.json"
            given.write_text(json.dumps(sets), encoding="utf-8")
            env = {**os.environ, "PYTHONPATH": str(tree)}
            scored = subprocess.run(
                [sys.executable, "-c", _AT_REV, __file__, str(given), str(taken)],
                cwd=tree,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if scored.returncode != 0:
                tail = scored.stderr.strip().splitlines()[-1:] or ["no message"]
                raise ValueError(f"cannot score at {rev!r}: {tail[0]}")
            labels: dict[str, list[str]] = json.loads(taken.read_text(encoding="utf-8"))
            return labels
        finally:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                capture_output=True,
                check=False,
            )


def macro_f1(gold: Sequence[str], read: Sequence[str]) -> float:
    """Macro-F1 over the three sentiments (a class never read nor labelled scores 0)."""
    scores = []
    for name in SENTIMENTS:
        tp = sum(1 for g, r in zip(gold, read, strict=True) if g == r == name)
        fp = sum(1 for g, r in zip(gold, read, strict=True) if r == name != g)
        fn = sum(1 for g, r in zip(gold, read, strict=True) if g == name != r)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def moved(
    rows: Sequence[tuple[str, str, str]], before: Sequence[str], after: Sequence[str]
) -> list[tuple[str, str, str, str, str]]:
    """The readings that moved: (RIGHT / WRONG / OTHER, gold, before, after, text)."""
    out = []
    for (text, gold, _), was, now in zip(rows, before, after, strict=True):
        if was != now:
            kind = "RIGHT" if now == gold else "WRONG" if was == gold else "OTHER"
            out.append((kind, gold, was, now, text))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sentiment_flips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision (default HEAD)")
    args = parser.parse_args(argv)
    sets = labelled_sets()
    print(f"scoring {sum(map(len, sets.values()))} turns at {args.rev}", file=sys.stderr)
    try:
        before = labels_at(args.rev, sets)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("scoring them with the working tree", file=sys.stderr)
    after = served_labels(sets)
    own_wrong = 0
    for name, rows in sets.items():
        lines = moved(rows, before[name], after[name])
        gold = [g for _, g, _ in rows]
        right = sum(1 for kind, *_ in lines if kind == "RIGHT")
        wrong = sum(1 for kind, *_ in lines if kind == "WRONG")
        if name in OWN:
            own_wrong += wrong
        print(
            f"{name} ({len(rows)}): macro-F1 {macro_f1(gold, before[name]):.4f} -> "
            f"{macro_f1(gold, after[name]):.4f}; moved right {right}, wrong {wrong}, "
            f"other {len(lines) - right - wrong}"
        )
        for kind, g, was, now, text in lines:
            print(f"    {kind} gold={g} {was}->{now} | {text}")
    print(f"own held-out readings moved away from their label: {own_wrong}")
    return 1 if own_wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
