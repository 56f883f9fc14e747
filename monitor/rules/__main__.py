"""Check a playbook without starting the monitor: ``python -m monitor.rules check [PLAYBOOK]``.

Prints every problem with file, line and field (exit status 1), or a short summary (0).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from monitor.languages import LANGUAGE_CODES
from monitor.rules.playbook import Playbook
from monitor.rules.toml_lines import PlaybookError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.rules")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a playbook, its cards and phrase lists")
    check.add_argument("playbook", nargs="?", type=Path, help="default: the packaged playbook")
    check.add_argument("--cards", type=Path, help="card catalogue (default: packaged)")
    check.add_argument("--phrases", type=Path, help="phrase lists (default: packaged)")
    args = parser.parse_args(argv)
    try:
        playbook = Playbook.load(args.playbook, cards=args.cards, phrases=args.phrases)
    except PlaybookError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was loaded", file=sys.stderr)
        return 1
    triggers = Counter(rule.trigger for rule in playbook.rules)
    alerts = sum(1 for rule in playbook.rules if rule.alert)
    cards = sum(1 for rule in playbook.rules if rule.card)
    print(f"{playbook.source}: {len(playbook.rules)} rules OK ({alerts} alert, {cards} card)")
    print("triggers: " + ", ".join(f"{name} {n}" for name, n in sorted(triggers.items())))
    languages = ", ".join(LANGUAGE_CODES)
    print(f"cards in catalogue: {len(playbook.cards.cards)} ({languages})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
