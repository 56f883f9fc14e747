"""``callmon calls``: stored calls from the host's shell: list them, erase one on request, show
the audit trail of erasures.

    callmon calls list [--store PATH] [--limit N]
    callmon calls delete CALL_ID [--store PATH] [--by NAME] [--yes] [--force]
    callmon calls audit [--store PATH]

``delete`` removes the call's transcript, scores, alerts, cards, muted spans, search-index
entries and recording, and records who erased which call when (no content). On a terminal it
asks first; elsewhere it needs ``--yes``. Reports written earlier with ``callmon report`` are
files of their own and are not touched: delete them too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any

from monitor.store.db import CallStore


def _parser() -> argparse.ArgumentParser:
    from monitor.config import DEFAULT_STORE

    parser = argparse.ArgumentParser(prog="callmon calls", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    store_help = f"the SQLite store (default {DEFAULT_STORE})"
    p = sub.add_parser("list", help="the most recent stored calls")
    p.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    p.add_argument("--limit", type=int, default=20)
    p = sub.add_parser("delete", help="erase one call: text, audio, derived records")
    p.add_argument("call_id", help="the call's id (see `callmon calls list` or the QA page)")
    p.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    p.add_argument("--by", default=None, help="who asked, for the audit trail (default: you)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--force",
        action="store_true",
        help="erase a call still marked live (only when no monitor is running it)",
    )
    p = sub.add_parser("audit", help="the audit trail of erasures")
    p.add_argument("--store", type=Path, default=DEFAULT_STORE, help=store_help)
    return parser


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _language(call: dict[str, Any]) -> str:
    """The call's language, and how it is known: "id (detected 71%)", "en"."""
    language = str(call.get("language") or "?")
    probability = call.get("language_probability")
    if call.get("language_source") == "detected" and probability is not None:
        return f"{language} (detected {round(100 * float(probability))}%)"
    if call.get("language_source") == "detecting":
        return f"{language} (detecting)"
    return language


def calls_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.store.exists():
        print(f"error: no call store at {args.store}; pass --store", file=sys.stderr)
        return 2
    with CallStore(args.store) as store:
        if args.action == "list":
            for c in store.list_calls(limit=max(1, args.limit)):
                print(
                    f"{c['call_id']}\t{_when(c['started_at'])}\t{c['agent_id']}\t"
                    f"{_language(c)}\t{c['status']}"
                )
            return 0
        if args.action == "audit":
            for e in store.erasures():
                audio = "audio removed" if e["audio_removed"] else "no audio"
                print(f"{_when(e['erased_at'])}\t{e['call_id']}\tby {e['erased_by']}\t"
                      f"{e['rows_removed']} rows, {audio}")  # fmt: skip
            return 0
        return _delete(store, args)


def _delete(store: CallStore, args: argparse.Namespace) -> int:
    who = (args.by or "").strip() or f"cli:{getpass.getuser()}"
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: erasure cannot be undone; pass --yes to confirm", file=sys.stderr)
            return 2
        answer = input(f"Erase call {args.call_id!r} (text, audio, scores)? Type yes: ")
        if answer.strip().lower() != "yes":
            print("nothing erased", file=sys.stderr)
            return 1
    try:
        erasure = store.delete_call(args.call_id, by=who, force=args.force)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    audio = "and its recording " if erasure.audio_removed else ""
    print(f"erased call {erasure.call_id}: {erasure.rows_removed} record(s) {audio}removed; "
          f"audit entry by {erasure.erased_by} at {_when(erasure.erased_at)}")  # fmt: skip
    return 0
