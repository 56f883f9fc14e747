"""Taskmaster-3 turns as training data: many crowd authors, no escalation, rule-labelled sentiment.

Taskmaster-3 (Google, CC BY 4.0: Byrne, Krishnamoorthi, Ganesh) holds crowd-written movie-ticket
dialogues. Its ``TM-3-2020/reward/reward_*.json`` files carry dialogue contexts; every distinct
user and agent text turn is taken, labelled "none" for the intents (no turn in that corpus
escalates) and given a sentiment by rule (below), and written to ``taskmaster3_turns.tsv``
(committed; about 2,700 short lines). Rebuild it from a checkout of the Taskmaster repository:

    python -m monitor.scoring.data.taskmaster /path/to/Taskmaster/TM-3-2020/reward

The rule is deliberately one-sided: thanks and praise are positive, a user's turn with a
complaint or a refusal word is dropped (the rule cannot tell a complaint from "no, the other
one"), the rest are neutral. The agent's turns with an apology or a refusal ("Sorry, there are no
showings at that theater tonight", "Unfortunately I couldn't find it") are kept as neutral: bad
news delivered as a service is not a negative turn (docs/intents.md), unless it carries a word of
feeling (``_FEELING``). It teaches the model what ordinary service talk from many writers sounds
like, on both sides.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from monitor.scoring.data.calls import DATA_DIR, data_rows

TURNS_FILE = DATA_DIR / "taskmaster3_turns.tsv"
_POSITIVE = re.compile(
    r"\b(thanks?|thank you|thx|great|perfect|awesome|excellent|wonderful|amazing|love|cool|"
    r"enjoy|appreciate\w*)\b",
    re.IGNORECASE,
)
_AMBIGUOUS = re.compile(
    r"\b(no|not|don't|dont|doesn't|wrong|sorry|unfortunately|ugh|hate|bad|"
    r"annoy\w*|disappoint\w*|problem|can't|cannot|won't|unable)\b|n't\b|!!|\?\?",
    re.IGNORECASE,
)


_FEELING = re.compile(
    r"\b(ugh|hate|bad|angry|annoy\w*|disappoint\w*|upset|frustrat\w*|terrible|awful)\b|!!|\?\?",
    re.IGNORECASE,
)


def label(text: str, speaker: str = "c") -> str | None:
    """positive / neutral by rule, or None when the turn is left out (could be negative).
    ``speaker``: "c" the user, "a" the agent (whose apologies and refusals are service talk)."""
    if _AMBIGUOUS.search(text) and (speaker != "a" or _FEELING.search(text)):
        return None
    return "positive" if _POSITIVE.search(text) else "neutral"


def extract(reward_dir: Path) -> list[tuple[str, str, str]]:
    """(sentiment, speaker c/a, text) for every distinct labelled text turn, in file order."""
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    for path in sorted(reward_dir.glob("reward_*.json")):
        for row in json.loads(path.read_text(encoding="utf-8")):
            for turn in json.loads(row["context"]):
                text = " ".join(str(turn.get("text", "")).split())
                if not text or text in seen or len(text) > 200:
                    continue
                seen.add(text)
                speaker = "c" if turn["role"] == "user" else "a"
                sentiment = label(text, speaker)
                if sentiment is not None:
                    out.append((sentiment, speaker, text))
    return out


def read_turns(path: Path = TURNS_FILE) -> list[tuple[str, str, str]]:
    """The committed turns: (sentiment, speaker c/a, text)."""
    out: list[tuple[str, str, str]] = []
    for number, parts in data_rows(path):
        if len(parts) != 3 or parts[0] not in ("neutral", "positive") or parts[1] not in "ca":
            raise ValueError(f"{path}:{number}: expected sentiment, speaker, text")
        out.append((parts[0], parts[1], parts[2]))
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        raise SystemExit("usage: python -m monitor.scoring.data.taskmaster TM-3-2020/reward")
    turns = extract(Path(args[0]))
    header = (
        "# Taskmaster-3 (Google LLC, CC BY 4.0) text turns from TM-3-2020/reward/reward_*.json,\n"
        "# sentiment by rule (monitor/scoring/data/taskmaster.py); columns: sentiment, speaker, "
        "text\n"
    )
    TURNS_FILE.write_text(header + "".join(f"{s}\t{p}\t{t}\n" for s, p, t in turns))
    print(f"wrote {len(turns)} turns to {TURNS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
