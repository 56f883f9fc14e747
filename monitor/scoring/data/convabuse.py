"""ConvAbuse: real people's abuse aimed at a conversational agent, and swearing that is not.

ConvAbuse (Cercas Curry, Abercrombie, Rieser, EMNLP 2021; github.com/amandacurry/convabuse,
CC BY 4.0) holds messages that members of the public typed to two chat agents, each judged by
several trained annotators: how abusive (1 not, 0 ambiguous, -1 to -3 abusive), aimed at whom
(the system, an individual, a group) and of what type. The issue's abuse failures were insults
aimed at the agent or the company that the model missed ("you guys are hopeless", "you're a
joke") and swearing about a situation that it read as abuse. docs/intents.md: abuse is a
person being attacked, not a swear word. From ConvAbuse we take, by the annotators' majority:

- **abuse**: abusive, aimed at the agent or another person (not only at a group), at least
  three words and addressed to "you" (one-word outbursts are swearing, not an attack); sentiment
  negative;
- **none**: not abusive, with a swear word ("wtf is that", "damn right": profanity that attacks
  no one) or addressed to "you" ("as you said", "are you a robot"): without these, abuse
  examples taught the model that a short turn with "you" in it is an attack ("You too. Bye
  now." on a calm sample call); no sentiment label;
- everything else is left out (ambiguous votes, abuse of groups, plain chat).

``--strict`` (``STRICT``) keeps as abuse only what every annotator called abuse, in four words
or more.

ConvAbuse's own test split is held apart for evaluation (eval/eval_text.py →
``external_abuse``); training takes its train and valid splits. Rebuild ``convabuse_turns.tsv``
(committed) from a checkout of the repository:

    python -m monitor.scoring.data.convabuse convabuse/2_splits
"""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.scoring.data.calls import DATA_DIR, split_rows

TURNS_FILE = DATA_DIR / "convabuse_turns.tsv"
SPLITS = {
    "train": "ConvAbuseEMNLPtrain.csv",
    "valid": "ConvAbuseEMNLPvalid.csv",
    "test": "ConvAbuseEMNLPtest.csv",
}
_YOU = re.compile(r"\b(you|u|your|ur|youre|you're|yourself|ya|yours)\b", re.IGNORECASE)
_SWEAR = re.compile(
    r"\b(fuck\w*|shit\w*|damn\w*|crap\w*|wtf|bloody|hell|piss\w*|arse|ass|bullshit|omfg|"
    r"goddamn\w*)\b",
    re.IGNORECASE,
)
SEVERITIES = ("1", "0", "-1", "-2", "-3")
STRICT = False


@dataclass(frozen=True)
class Turn:
    split: str  # ConvAbuse's: train / valid / test
    intent: str  # "abuse" or "none"
    text: str

    @property
    def held_apart(self) -> bool:
        return self.split == "test"


def _votes(row: dict[str, str]) -> tuple[int, int, int, int]:
    """(annotators who voted, of them abusive, not abusive, abusive and aimed at a person)."""
    names = sorted({k.split("_", 1)[0] for k in row if k.startswith("Annotator")})
    voted = abusive = clean = aimed = 0
    for name in names:
        chosen = [s for s in SEVERITIES if row.get(f"{name}_is_abuse.{s}", "") in ("1", "1.0")]
        if not chosen:
            continue
        voted += 1
        if chosen[0] == "1":
            clean += 1
        elif chosen[0] != "0":
            abusive += 1
            if any(
                row.get(f"{name}_target.{t}", "") in ("1", "1.0") for t in ("system", "individual")
            ):
                aimed += 1
    return voted, abusive, clean, aimed


def label(row: dict[str, str], strict: bool = STRICT) -> str | None:
    """Abuse, none, or None (left out), by the rule in this module's docstring."""
    text = " ".join(row["user"].split())
    if not text or "<" in text or len(text) > 200:
        return None
    voted, abusive, clean, aimed = _votes(row)
    if voted and abusive * 2 > voted:
        if strict and (abusive < voted or len(text.split()) < 4):
            return None
        attack = aimed * 2 >= abusive and len(text.split()) >= 3 and _YOU.search(text)
        return "abuse" if attack else None
    if voted and clean * 2 > voted and (_SWEAR.search(text) or _YOU.search(text)):
        return "none"
    return None


def extract(split_dir: Path, strict: bool = STRICT) -> list[Turn]:
    seen: set[str] = set()
    out: list[Turn] = []
    for split, name in SPLITS.items():
        with (split_dir / name).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                intent = label(row, strict)
                text = " ".join(row["user"].split())
                if intent is None or text.lower() in seen:
                    continue
                seen.add(text.lower())
                out.append(Turn(split, intent, text))
    return out


def read_turns(path: Path = TURNS_FILE) -> list[Turn]:
    return [
        Turn(*row) for row in split_rows(path, SPLITS, ("abuse", "none"), "split, abuse/none, text")
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    args = [a for a in args if a != "--strict"] + [a for a in args if a == "--strict"]
    if not args or not (Path(args[0]) / SPLITS["train"]).is_file():
        raise SystemExit("usage: python -m monitor.scoring.data.convabuse convabuse/2_splits")
    turns = extract(Path(args[0]), "--strict" in args)
    header = (
        "# ConvAbuse (Cercas Curry, Abercrombie, Rieser 2021; github.com/amandacurry/convabuse),\n"
        "# CC BY 4.0. Users' messages to two chat agents, relabelled by the annotators' majority\n"
        "# to docs/intents.md (monitor/scoring/data/convabuse.py). Columns: split, intent, text\n"
    )
    TURNS_FILE.write_text(
        header + "".join(f"{t.split}\t{t.intent}\t{t.text}\n" for t in turns), encoding="utf-8"
    )
    counts = {
        (s, i): sum(1 for t in turns if (t.split, t.intent) == (s, i))
        for s in SPLITS
        for i in ("abuse", "none")
    }
    print(f"wrote {len(turns)} turns to {TURNS_FILE}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
