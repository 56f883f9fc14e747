"""A third external source: crowd workers' customer turns from MultiDoGO, for evaluation only.

MultiDoGO (Peskov, Clarke, Krone, Fodor, Zhang, Youssef, Diab, EMNLP 2019; Amazon),
``awslabs/multi-domain-goal-oriented-dialogues-dataset``, licensed under the Community Data
License Agreement - Permissive 1.0 (its ``LICENSE.txt``). Crowd workers played customer and agent
in six domains (airline, fast food, finance, insurance, media, software); the customer turns are
in ``data/paper_splits/splits_annotated_at_turn_level/<domain>/{train,dev,test}.tsv``, lowercased
and tokenised by the dataset (columns conversationId, turnNumber, utteranceId, utterance,
slot-labels, intent).

Many authors' ordinary service talk, including complaints (a disputed charge, a lost card, a
broken phone, a claim that has not been paid) and closing an account: the turns a monitor must
not alarm on. ``candidates`` draws them (seeded); a reader labels them to docs/intents.md before
any model is scored on them, into ``eval/data/cross_source_dialogue.tsv`` (source ``multidogo``).
Nothing here is trained on. Rebuild the pool from a copy of the turn-level splits:

    python -m eval.multidogo candidates DIR > candidates.tsv
"""

from __future__ import annotations

import csv
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

# The dataset's own intents of a customer reporting a problem or leaving: complaints that do
# not escalate by themselves.
COMPLAINT_INTENTS = frozenset(
    {
        "disputecharge",
        "reportlostcard",
        "reportbrokenphone",
        "reportbrokensoftware",
        "checkclaimstatus",
        "closeaccount",
        "replacecard",
        "checkserverstatus",
    }
)
# Words of the escalation intents, so the few turns that carry one are in the pool at all.
_ESCALATION = re.compile(
    r"supervisor|manager|ridiculous|unacceptable|cancel|lawyer|\bsue\b|worst|useless|"
    r"\bagain\b|waiting|\bhold\b|transferr|review|terrible|stupid|joke|scam",
)


def read_turns(root: Path) -> list[tuple[str, str, str, str]]:
    """(domain, conversation id, dataset intent, utterance) for every customer turn of 4+ words."""
    rows: list[tuple[str, str, str, str]] = []
    for path in sorted(root.glob("*/*.tsv")):
        with path.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                text = (r.get("utterance") or "").strip()
                if len(text.split()) >= 4:
                    rows.append((path.parent.name, r["conversationId"], r["intent"], text))
    return rows


def candidates(
    root: Path,
    complaints: int = 110,
    escalation: int = 40,
    random_n: int = 110,
    seed: int = 7,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Tab-separated candidate rows (pool, domain, conversation id, text), no text twice, at
    most one turn per conversation, none from the conversations in ``skip`` or of a text they
    hold, in seeded order."""
    rng = random.Random(seed)
    turns = read_turns(root)
    rng.shuffle(turns)
    seen_text: set[str] = {text for _, conv, _, text in turns if conv in skip}
    seen_conv: set[str] = set(skip)
    rows: list[str] = []

    def take(pool: str, n: int, keep: Callable[[str, str], bool]) -> None:
        taken = 0
        for domain, conv, intent, text in turns:
            if taken >= n:
                return
            if text in seen_text or conv in seen_conv or not keep(intent, text):
                continue
            seen_text.add(text)
            seen_conv.add(conv)
            rows.append(f"{pool}\t{domain}\t{conv}\t{text}")
            taken += 1

    take("complaint", complaints, lambda intent, text: intent in COMPLAINT_INTENTS)
    take("escalation_words", escalation, lambda intent, text: bool(_ESCALATION.search(text)))
    take("random", random_n, lambda intent, text: True)
    rng.shuffle(rows)
    return rows


def used_conversations(path: Path) -> set[str]:
    """The conversations a labelled set (source multidogo, reference its id) already uses."""
    from eval.cross_source import DIALOGUE_SOURCES, read_cross_source

    return {
        t.reference for t in read_cross_source(path, DIALOGUE_SOURCES) if t.source == "multidogo"
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "candidates":
        print("usage: python -m eval.multidogo candidates DIR [SEED SKIP.tsv ...]", file=sys.stderr)
        return 2
    root = Path(argv[1])
    if not root.is_dir():
        print(f"error: {root} is not a directory of MultiDoGO domains", file=sys.stderr)
        return 2
    seed = int(argv[2]) if len(argv) > 2 else 7
    skip = frozenset(c for path in argv[3:] for c in used_conversations(Path(path)))
    for row in candidates(root, seed=seed, skip=skip):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
