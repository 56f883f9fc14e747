"""A second external source: call transcripts that other people generated, for evaluation only.

``tanmayalsi/Hackathon_TF`` (a hackathon's customer-intelligence project; its README: "This
project is licensed under the MIT License") carries 2,000 support-call transcripts for a fibre
internet provider, written by Anthropic's Claude from its authors' prompts (``prompts/``:
"a realistic call transcript for Frontier communications ... natural conversation flow"),
in ``transcript_factory/transcripts/{account_management,billing_inquiry,technical_support}/``:
one call per file, ``Agent:`` / ``Customer:`` lines, stage directions in parentheses.

Nobody on this project wrote, prompted or chose them, and nothing here is trained on them. Two
uses, both in ``make eval``:

- ``eval/data/cross_source_dialogue.tsv``: customer turns drawn by ``candidates`` (keyword pools
  per intent and a seeded random draw, the CFPB rule), labelled to docs/intents.md by a reader
  before any model was scored on them;
- ``eval/data/cross_calls/htf_*.toml``: whole calls, cut after the customer's first escalation
  (or the first turns of a calm complaint call), rendered and run as the other cross-source calls.

Rebuild the candidate pool from a copy of the transcripts (the labelled rows are what is kept):

    python -m eval.htf candidates DIR > candidates.tsv
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE = "tanmayalsi/Hackathon_TF transcript_factory/transcripts (MIT, per its README)"

_LINE = re.compile(r"^\**(Agent|Customer)\**\s*:\**\s*(.*)$")
_STAGE = re.compile(r"\([^)]*\)|\[[^\]]*\]")  # "(typing sounds)", "[inaudible]"
_SPACE = re.compile(r"\s+")

# Keyword pools per intent, as for the CFPB sentences (monitor/scoring/data/cfpb.py): they make
# the rare intents common enough to measure; the random pool gives the turns without one.
_POOLS = {
    "manager_demand": r"supervisor|manager|escalat|someone else|higher up|in charge",
    "hold_complaint": r"\bhold\b|waiting|\bminutes\b|\bqueue\b|forever",
    "transfer_complaint": r"transferr|passed|bounced|another department|run ?around",
    "repeat_contact": r"\bagain\b|third time|second time|already (called|told|spoke)|last week|"
    r"called (before|twice)|promised|every time",
    "legal_threat": r"lawyer|attorney|\bsue\b|court|\bfcc\b|\bbbb\b|better business|"
    r"attorney general|legal|report (you|this)",
    "cancel_threat": r"cancel|switch|\bleave\b|leaving|comcast|spectrum|at&t|verizon|xfinity|"
    r"done with|somewhere else|competitor",
    "abuse": r"ridiculous|unacceptable|joke|scam|incompetent|liar|lying|useless|stupid|"
    r"rip ?off|ripping|idiot|pathetic|robbery|steal",
    "public_shaming": r"review|twitter|facebook|social media|\bpost\b|tell everyone|news",
}


@dataclass(frozen=True, slots=True)
class Turn:
    speaker: str  # "customer" | "agent"
    text: str


def clean(text: str) -> str:
    """A turn's words: stage directions and "[inaudible]" out, markdown and spaces tidied."""
    text = _STAGE.sub(" ", text).replace("**", "").replace("*", "")
    return _SPACE.sub(" ", text).strip()


def read_call(path: Path) -> list[Turn]:
    """The turns of one transcript file, in order; lines that are not a turn are skipped."""
    turns: list[Turn] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        text = clean(m.group(2))
        if text:
            turns.append(Turn(m.group(1).lower(), text))
    return turns


def transcripts(root: Path) -> Iterator[tuple[str, list[Turn]]]:
    """(call id, turns) for every transcript under ``root``; the id is the file's stem."""
    for path in sorted(root.glob("*/*.txt")):
        yield path.stem, read_call(path)


def candidates(
    root: Path,
    per_pool: int = 30,
    random_n: int = 170,
    seed: int = 11,
    skip_calls: frozenset[str] = frozenset(),
) -> list[str]:
    """Tab-separated candidate rows (pool, call id, turn index, text): customer turns of 3 to
    60 words, ``per_pool`` from each keyword pool and ``random_n`` from all, no turn twice, at
    most two turns from one call per pool, none from ``skip_calls``, in seeded order."""
    rng = random.Random(seed)
    turns = [
        (call, i, t.text)
        for call, call_turns in transcripts(root)
        if call not in skip_calls
        for i, t in enumerate(call_turns)
        if t.speaker == "customer" and 3 <= len(t.text.split()) <= 60
    ]
    rng.shuffle(turns)
    taken: set[tuple[str, int]] = set()
    rows: list[str] = []
    for pool, pattern in _POOLS.items():
        rx = re.compile(pattern, re.IGNORECASE)
        per_call: dict[str, int] = {}
        n = 0
        for call, i, text in turns:
            if n >= per_pool:
                break
            if (call, i) in taken or per_call.get(call, 0) >= 2 or not rx.search(text):
                continue
            taken.add((call, i))
            per_call[call] = per_call.get(call, 0) + 1
            rows.append(f"{pool}\t{call}\t{i}\t{text}")
            n += 1
    n = 0
    for call, i, text in turns:
        if n >= random_n:
            break
        if (call, i) not in taken:
            taken.add((call, i))
            rows.append(f"random\t{call}\t{i}\t{text}")
            n += 1
    rng.shuffle(rows)  # the reader does not see which pool a turn came from first
    return rows


_MONEY = re.compile(r"\$(\d+)(?:\.(\d\d))?")
_NUMBER = re.compile(r"\d+(?:-\d+)+|\d+")  # "555-0147" is one number, read digit by digit
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spoken(text: str) -> str:
    """Numbers as a voice says them: "$30" thirty dollars, "555-0147" digit by digit."""
    from monitor.scoring.data.calls import number_words

    def money(m: re.Match[str]) -> str:
        words = f"{number_words(int(m.group(1)))} dollars"
        cents = int(m.group(2) or 0)
        return f"{words} and {number_words(cents)} cents" if cents else words

    def number(m: re.Match[str]) -> str:
        digits = m.group()
        if "-" in digits or len(digits) > 4:  # phone, account and order numbers
            return " ".join(_DIGITS[int(d)] for d in digits if d != "-")
        return number_words(int(digits))

    return _NUMBER.sub(number, _MONEY.sub(money, text)).replace("%", " percent")


@dataclass(frozen=True, slots=True)
class Pick:
    """A call chosen by a reader (before any model ran on it): where it is cut, which turn is
    the customer's first escalation (-1: a calm complaint call) and how each kept turn sounds."""

    kind: str  # "escalates" | "calm"
    call: str
    cut: int
    blowup: int
    intents: tuple[str, ...]
    moods: tuple[str, ...]
    reason: str


def read_picks(path: Path) -> list[Pick]:
    """The readers' picks file (tab-separated: kind, call id, cut, blow-up index, blow-up
    intents, moods comma-separated, reason), failing with the line number on a bad row."""
    picks: list[Pick] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 7 or parts[0] not in ("escalates", "calm"):
            raise ValueError(
                f"{path}:{number}: expected kind, call, cut, blowup, intents, moods, why"
            )
        kind, call, cut, blowup, intents, moods, reason = parts
        mood_list = tuple(m.strip() for m in moods.split(","))
        if len(mood_list) != int(cut):
            raise ValueError(f"{path}:{number}: {len(mood_list)} moods for {cut} turns")
        picks.append(
            Pick(
                kind,
                call,
                int(cut),
                int(blowup),
                () if intents == "none" else tuple(intents.split(",")),
                mood_list,
                reason,
            )
        )
    return picks


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a picked call comes from, as its script's header and names say it."""

    prefix: str  # the script's name is prefix_call
    opening: str  # the header's first lines, "{call}" for the call id, ending before "its first"
    title: str  # "<title> <call>"
    description: str


HTF = Origin(
    "htf",
    "# Rendered as a call for eval/eval_cross_calls.py: transcript {call} of "
    + SOURCE
    + ", generated by\n# Anthropic's Claude from that team's prompts (not written, prompted or "
    "chosen by this project); its first",
    "Hackathon_TF transcript",
    "External generated support call (tanmayalsi/Hackathon_TF, MIT), as a call.",
)


def script_name(origin: Origin, call: str) -> str:
    """The script's name (and file stem): letters, digits and underscores only."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{origin.prefix}_{call}")


def call_script(pick: Pick, turns: list[Turn], origin: Origin = HTF) -> str:
    """The TOML script (monitor/sample_script.py) of one picked call, cut where the reader said."""

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    kept = turns[: pick.cut]
    if len(kept) != pick.cut:
        raise ValueError(f"{pick.call}: {len(turns)} turns, cut at {pick.cut}")
    if pick.kind == "escalates" and kept[pick.blowup].speaker != "customer":
        raise ValueError(f"{pick.call}: turn {pick.blowup} is the agent's, not a blow-up")
    what = (
        "An escalating call: the turn marked blowup is the customer's first "
        + "/".join(pick.intents)
        + " (a reader's label, made before any model ran on it)"
        if pick.kind == "escalates"
        else "A calm complaint call: no escalation intent in its kept turns (a reader's label)"
    )
    lines = [
        *origin.opening.replace("{call}", pick.call).split("\n"),
        f"# {pick.cut} turns, stage directions out, numbers spelled out. {what}.",
        f"# Reader's note: {pick.reason}",
        f'name = "{script_name(origin, pick.call)}"',
        f'title = "{origin.title} {pick.call}"',
        f'description = "{origin.description}"',
        'agent_id = "agent-x"',
        'language = "en"',
        'queue = "external"',
        f'expected = "{pick.kind}"',
        "expected_intents = []",
        "",
        "[voices.customer]",
        'engine = "hibari"',
        'voice = "heart"',
        "pitch = 0.74",
        "rate = 1.0",
        "",
        "[voices.agent]",
        'engine = "hibari"',
        'voice = "heart"',
        "pitch = 0.9",
        "rate = 0.95",
    ]
    for i, (turn, mood) in enumerate(zip(kept, pick.moods, strict=True)):
        lines += ["", "[[turns]]", f'speaker = "{turn.speaker}"', f'mood = "{mood}"']
        if i == pick.blowup:
            lines.append("blowup = true")
        lines.append(f"text = {q(spoken(turn.text))}")
    return "\n".join(lines) + "\n"


def write_scripts(
    picks: list[Pick], calls: dict[str, list[Turn]], out: Path, origin: Origin = HTF
) -> Iterator[Path]:
    """Write each picked call's script to ``out`` (named by ``script_name``), yielding its path
    once written; KeyError names the first picked call ``calls`` does not hold."""
    for pick in picks:
        if pick.call not in calls:
            raise KeyError(pick.call)
        path = out / f"{script_name(origin, pick.call)}.toml"
        path.write_text(call_script(pick, calls[pick.call], origin), encoding="utf-8")
        yield path


def used_calls(path: Path) -> set[str]:
    """The calls a picks file, or a labelled set (source htf, references "call:turn"), uses."""
    from eval.cross_source import DIALOGUE_SOURCES, read_cross_source

    try:
        return {pick.call for pick in read_picks(path)}
    except ValueError:  # not a picks file: a labelled set
        turns = read_cross_source(path, DIALOGUE_SOURCES)
        return {t.reference.split(":")[0] for t in turns if t.source == "htf"}


def draw(calls: dict[str, list[Turn]], n: int, seed: int, min_words: int = 0) -> list[str]:
    """Tab-separated rows (reference, text) of ``n`` customer turns of ``min_words`` words or
    more, drawn at random (seeded) from the distinct ones (no text twice, ignoring case), in
    the calls' order before the shuffle; the reference is key:turn index (from 0)."""
    seen: set[str] = set()
    turns: list[tuple[str, str]] = []
    for key, call in calls.items():
        for i, turn in enumerate(call):
            text, folded = turn.text, turn.text.lower()
            if turn.speaker == "customer" and len(text.split()) >= min_words and folded not in seen:
                seen.add(folded)
                turns.append((f"{key}:{i}", text))
    random.Random(seed).shuffle(turns)
    return [f"{ref}\t{text}" for ref, text in turns[:n]]


def numbered(calls: dict[str, list[Turn]]) -> list[str]:
    """Every call as numbered turns, for a reader picking calls or labelling turns: a header
    line per call, then index (from 0, as picks files and references count), speaker, text."""
    lines: list[str] = []
    for key, turns in calls.items():
        lines.append(f"== {key} ({len(turns)} turns)")
        lines += [f"{i}\t{t.speaker}\t{t.text}" for i, t in enumerate(turns)]
    return lines


def print_rows(
    produce: Callable[[], Iterable[str]],
    errors: tuple[type[Exception], ...] = (FileNotFoundError, KeyError, ValueError),
) -> int:
    """A source CLI's output: every row ``produce`` gives, exit 0; or the error it raised,
    named on stderr, exit 2 (and nothing printed before it)."""
    try:
        rows = list(produce())
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for row in rows:
        print(row)
    return 0


def main(argv: list[str]) -> int:
    usage = (
        "usage: python -m eval.htf candidates DIR [SEED SKIP.tsv ...] | calls DIR PICKS.tsv OUT_DIR"
    )
    if len(argv) >= 2 and argv[0] == "candidates":
        root = Path(argv[1])
        if not root.is_dir():
            print(f"error: {root} is not a directory of transcripts", file=sys.stderr)
            return 2
        seed = int(argv[2]) if len(argv) > 2 else 11
        # a later draw leaves out every call an earlier set or a call script already used
        skip = frozenset(call for path in argv[3:] for call in used_calls(Path(path)))
        for row in candidates(root, seed=seed, skip_calls=skip):
            print(row)
        return 0
    if len(argv) == 4 and argv[0] == "calls":
        root, picks, out = Path(argv[1]), Path(argv[2]), Path(argv[3])
        try:
            for path in write_scripts(read_picks(picks), dict(transcripts(root)), out):
                print(f"wrote {path}")
        except KeyError as missing:
            print(f"error: {missing.args[0]}: no such transcript under {root}", file=sys.stderr)
            return 2
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
