"""Which labelled positives does a change to the "is not" rules rule out? A development check.

``python -m eval.positives [REV]``

Runs ``monitor/scoring/cues.ruled_out`` as it stands in the working tree and as it stood at REV
(a git revision, default HEAD) over every line the project holds labelled with an intent: the
training call utterances and styles lines, the own held-out call utterances, the CFPB training
and validation sentences, and the "is" column of docs/intents.md. It prints, per intent, the
positives the working tree rules out and REV did not ("OUT"), and those it no longer rules out
("BACK"). A rule that rules out a labelled positive is wrong, or the label is: either way the
line is read before the evaluation runs. Issue 10's eighteenth round withdrew a rule that the
own held-out set contradicted, found only by the evaluation; this check covers that set.

Exit status 1 when a positive is newly ruled out, 0 otherwise, 2 when REV cannot be read.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path

from monitor.events import INTENTS

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "intents.md"
CUES = "monitor/scoring/cues.py"

Positives = dict[str, set[tuple[str, str]]]  # intent -> {(source, text)}
RuledOut = Callable[[str], set[str]]


def spec_rows(path: Path = SPEC) -> list[tuple[str, str, str]]:
    """(intent, "is" cell, "is not" cell) of every table row under an intent's heading in
    docs/intents.md (tests/test_intents.py runs them through the model)."""
    rows: list[tuple[str, str, str]] = []
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\w+)$", line)
        if heading:
            current = heading.group(1) if heading.group(1) in INTENTS else None
            continue
        if current is None or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[1] in ("is not", "not a demand"):
            continue  # a header row (not "is there anyone who can decide", an example)
        yes, no = cells
        rows.append((current, yes, no))
    return rows


def spec_positives(path: Path = SPEC) -> Iterable[tuple[str, str]]:
    """(intent, text) of the "is" column: the lines a customer says (not "(agent) …"), and not
    the lines judged in a conversation ("(agent: …) …"), whose intent needs the agent's words
    before them."""
    return [(intent, yes) for intent, yes, _ in spec_rows(path) if not yes.startswith("(")]


def positives() -> Positives:
    """Every labelled positive, per intent, with where it comes from."""
    from monitor.scoring.data.calls import (
        heldout_utterances,
        styles_utterances,
        training_utterances,
    )
    from monitor.scoring.train import cfpb_rows

    out: Positives = {intent: set() for intent in INTENTS}
    for source, utterances in (
        ("own training", training_utterances() + styles_utterances()),
        ("own held-out", heldout_utterances()),
    ):
        for u in utterances:
            if u.speaker == "customer":
                for intent in u.intents:
                    out[intent].add((source, u.text))
    for validation in (False, True):
        source = "cfpb validation" if validation else "cfpb training"
        for intents, _sentiment, text, _complaint in cfpb_rows(validation):
            for intent in intents:
                out[intent].add((source, text))
    for intent, text in spec_positives():
        out[intent].add(("docs/intents.md", text))
    return out


def cues_at(rev: str, root: Path = ROOT) -> types.ModuleType:
    """monitor/scoring/cues.py as it stood at git revision ``rev``, loaded as a module apart
    from the one imported (so both can run side by side). ValueError when git cannot show it."""
    shown = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:{CUES}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        raise ValueError(f"cannot read {CUES} at {rev!r}: {shown.stderr.strip()}")
    module = types.ModuleType(f"monitor.scoring.cues_at_{rev}")
    exec(compile(shown.stdout, f"{rev}:{CUES}", "exec"), module.__dict__)
    return module


def changed(
    before: RuledOut, after: RuledOut, labelled: Positives
) -> dict[str, list[tuple[str, str, str]]]:
    """Per intent, the positives whose ruling moved: (change, source, text), change "OUT" when
    ``after`` rules the intent out and ``before`` did not, "BACK" the other way round."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for intent, lines in labelled.items():
        moved = []
        for source, text in sorted(lines):
            was, now = intent in before(text), intent in after(text)
            if was != now:
                moved.append(("OUT" if now else "BACK", source, text))
        out[intent] = moved
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.positives",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rev", nargs="?", default="HEAD", help="git revision (default HEAD)")
    args = parser.parse_args(argv)
    try:
        before = cues_at(args.rev)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from monitor.scoring import cues

    labelled = positives()
    moved = changed(before.ruled_out, cues.ruled_out, labelled)
    newly_out = 0
    for intent in INTENTS:
        lines = moved[intent]
        newly_out += sum(1 for change, _, _ in lines if change == "OUT")
        print(f"{intent}: {len(labelled[intent])} positives, {len(lines)} moved")
        for change, source, text in lines:
            print(f"    {change} {source} | {text}")
    print(f"newly ruled out: {newly_out} (working tree against {args.rev})")
    return 1 if newly_out else 0


if __name__ == "__main__":
    raise SystemExit(main())
