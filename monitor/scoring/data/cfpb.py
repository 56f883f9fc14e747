"""CFPB complaint sentences as training data: real consumers' words, labelled to docs/intents.md.

The US CFPB Consumer Complaint Database publishes consumers' own complaint narratives (a work of
the US federal government: public domain, 17 U.S.C. 105; published with the consumers' consent
and scrubbed by the CFPB). Two public samples of it are read here, the same two that
``eval/data/cross_source_external.tsv`` was drawn from:

- ``Ujjwal260/complaint-intelligence-dashboard`` ``data/complaints_sample.csv``;
- ``ZiyuYan9/consumer_complaints`` ``complaints_sample.csv``.

Every complaint whose ID appears in the external test set is left out *whole*, so no training
sentence shares a narrative (an author) with a test sentence. ``candidates`` draws sentences by
the same rule as the test set (4-40 words, no CFPB redaction marks, amounts or statute
citations), half from keyword pools per intent and half at random, in seeded order. People (not
this module) then label them to ``docs/intents.md`` and the narrative rules in the test file's
header; the labelled rows live in ``cfpb_train.tsv``. Rebuild the candidate pool with:

    python -m monitor.scoring.data.cfpb CSV [CSV ...] > candidates.tsv
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

from monitor.scoring.data.calls import DATA_DIR

TRAIN_FILE = DATA_DIR / "cfpb_train.tsv"
TEST_FILE = Path(__file__).resolve().parents[3] / "eval" / "data" / "cross_source_external.tsv"

_POOLS = {
    "manager_demand": r"supervisor|manager|escalat|higher up|someone else|in charge",
    "hold_complaint": r"\bhold\b|on the phone for|\bminutes\b|\bhours on\b|waited",
    "transfer_complaint": r"transferr|passed|bounced|department to|run ?around|another department",
    "repeat_contact": r"\bagain\b|several times|numerous|multiple (calls|times)|call(ed)? back|"
    r"callback|\btimes\b|promised|every time|still",
    "legal_threat": r"attorney|lawyer|\bsue\b|court|lawsuit|legal action|\bcfpb\b|\bftc\b|"
    r"attorney general|\bbbb\b|regulator|report (them|this)",
    "cancel_threat": r"close (my|the) account|closed my account|cancel|never .{0,30}again|"
    r"no longer|my business|switch|took my money elsewhere",
    "abuse": r"scam|crook|liar|\blie[sd]?\b|lying|thie[fv]|\bjoke\b|incompetent|idiot|stupid|"
    r"ridiculous|disgust|criminal|predator|shame",
    "public_shaming": r"\bnews\b|media|twitter|facebook|review|public|everyone i know|"
    r"tell everyone|reporter",
}
_SKIP = re.compile(r"XX|\{\$|\bU\.?S\.?C\b|\d{4,}|§|CFR\b", re.IGNORECASE)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def test_ids(path: Path = TEST_FILE) -> set[str]:
    """Complaint IDs used by the external test set and its calls (never trained on)."""
    ids: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            ids.add(line.split("\t")[-1].strip())
    calls = (path.parent / "cross_calls").glob("cfpb_*.toml")  # cfpb_<id>, cfpb_calm_<id>
    ids |= {p.stem.rsplit("_", 1)[-1] for p in calls}
    return ids


def test_sentences(path: Path = TEST_FILE) -> set[str]:
    """The external test set's sentences, lowercased (to find a narrative filed twice)."""
    return {
        line.split("\t")[4].lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }


def sentences(csv_paths: list[Path], exclude: set[str]) -> list[tuple[str, str]]:
    """(complaint id, sentence) for every usable sentence of every narrative not excluded.

    A narrative that shares any sentence with the test set is left out too: some consumers
    filed the same narrative under two complaint IDs."""
    tested = test_sentences()
    seen_ids: set[str] = set()
    seen_text: set[str] = set()
    out: list[tuple[str, str]] = []
    for path in csv_paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                cid = (row.get("Complaint ID") or "").strip()
                text = row.get("Consumer complaint narrative") or ""
                if not cid or cid in exclude or cid in seen_ids or len(text) < 20:
                    continue
                seen_ids.add(cid)
                split = _SPLIT.split(" ".join(text.split()))
                if any(sentence.lower() in tested for sentence in split):
                    continue
                for sentence in split:
                    words = sentence.split()
                    if not 4 <= len(words) <= 40 or _SKIP.search(sentence):
                        continue
                    key = sentence.lower()
                    if key not in seen_text:
                        seen_text.add(key)
                        out.append((cid, sentence))
    return out


def candidates(
    pool: list[tuple[str, str]], per_intent: int = 170, random_n: int = 1000, seed: int = 10
) -> list[tuple[str, str, str]]:
    """(pool name, complaint id, sentence): keyword pools first, then a random draw; shuffled."""
    rng = random.Random(seed)
    order = pool[:]
    rng.shuffle(order)
    taken: set[int] = set()
    out: list[tuple[str, str, str]] = []
    for name, pattern in _POOLS.items():
        rx = re.compile(pattern, re.IGNORECASE)
        hits = [i for i, (_, s) in enumerate(order) if i not in taken and rx.search(s)]
        for i in hits[:per_intent]:
            taken.add(i)
            out.append((name, *order[i]))
    rest = [i for i in range(len(order)) if i not in taken]
    for i in rest[:random_n]:
        out.append(("random", *order[i]))
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    pool = sentences([Path(a) for a in args], test_ids())
    rows = candidates(pool)
    print(
        f"{len(pool)} sentences outside the test complaints; {len(rows)} candidates",
        file=sys.stderr,
    )
    for name, cid, text in rows:
        print(f"{name}\t{cid}\t{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# A narrative nearly always reports some earlier contact ("I called them and was told..."). The
# readers counted one reported contact as repeat_contact (docs/intents.md: "evidence that the
# customer has already contacted about this before"); the narrative rules in the external test
# file's header give repeated contacts ("called several times", "again", call-backs promised and
# not made). Rows whose repeat_contact rests on one reported contact are ambiguous between the
# two readings, so they are not trained on either way: a repeat_contact row is kept only when its
# words say the contact was repeated or went unanswered.
REPEATED = re.compile(
    r"\b(again|several|multiple|numerous|many|countless|repeated\w*|times|twice|every time|"
    r"each time|still|over and over|second|third|fourth|fifth|\d+(st|nd|rd|th)|promised|"
    r"call ?backs?|callbacks?|never (called|heard|got|received|responded|replied)|"
    r"no (response|reply|one called|callback)|follow(ed)?[ -]up|keep|kept|continu\w*|"
    r"went back|back and forth|another|yet|months|weeks|since|previous\w*|prior|already|"
    r"ignored|ignoring|nobody|no one)\b",
    re.IGNORECASE,
)


def read_labelled(path: Path = TRAIN_FILE) -> list[tuple[tuple[str, ...], str, str, str]]:
    """(intents, sentiment, text, complaint id) of every labelled row that was not dropped,
    less the single-contact repeat_contact rows (``REPEATED``)."""
    rows: list[tuple[tuple[str, ...], str, str, str]] = []
    if not path.exists():
        return rows
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            raise ValueError(f"{path.name}:{n}: expected 6 tab-separated fields, got {len(fields)}")
        _src, intents, sentiment, _speaker, text, cid = fields
        if intents == "drop":
            continue
        names = () if intents == "none" else tuple(intents.split(","))
        if "repeat_contact" in names and not REPEATED.search(text):
            continue
        rows.append((names, sentiment, text, cid))
    return rows


def is_validation(cid: str) -> bool:
    """One complaint in five (by a hash of its ID) is kept for choosing thresholds."""
    import hashlib

    return hashlib.sha256(cid.encode()).digest()[0] % 5 == 0
