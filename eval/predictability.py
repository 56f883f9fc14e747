"""Do a call's earlier turns tell that it will escalate? A development study, not a figure.

``python -m eval.predictability DIR [--limit N]``

DIR holds a copy of the generated support calls of ``tanmayalsi/Hackathon_TF``
(``transcript_factory/transcripts``, as ``eval.htf`` reads them). Every call outside the dialogue
test set and the picked calls (``eval/data/cross_source_dialogue.tsv``,
``eval/data/htf_call_picks.tsv``) is replayed as text through the shipped scorer and CallRules
(``eval.replay_scripts.replay_turns``: no audio, recogniser or partials). A call *escalates* at
its first customer turn on which the scorer raises a threat, a demand or abuse: the scorer's own
proxy for the blow-up, not a reader's mark. A *complaint call* is one where that never happens
and at least two customer sentences read negative.

It prints, for both kinds, the highest risk before the escalating turn (for a complaint call:
over the whole call) as quartiles, and how many warned (before the turn; at all). Issue 10 asks
for 80 % of escalating calls warned before the blow-up and no warning on calm calls; if the two
distributions overlap, no threshold on today's risk does both (models/README.md, seventeenth
round). A replay of all ~1,700 calls takes about ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval import htf
from eval.replay_scripts import Step, replay_turns
from monitor.events import Speaker

DATA = Path(__file__).resolve().parent / "data"
# a threat, a demand or abuse: what marks a blow-up turn in eval/data/cross_calls
BLOWUP_INTENTS = frozenset(
    {"manager_demand", "cancel_threat", "legal_threat", "public_shaming", "abuse"}
)
MIN_NEGATIVE = 2  # negative customer sentences that make a call without a threat a complaint call


@dataclass(frozen=True, slots=True)
class CallRead:
    call: str
    escalates_at: int | None  # turn index of the first threat, demand or abuse
    peak_before: float  # highest risk before that turn (the whole call when there is none)
    warned_before: bool  # a warning before that turn (anywhere when there is none)
    negative: int  # customer sentences read negative


def read_call(call: str, steps: Sequence[Step]) -> CallRead:
    """What one replayed call says about the question."""
    at = next(
        (s.turn for s in steps if s.speaker == "customer" and BLOWUP_INTENTS & set(s.intents)),
        None,
    )
    before = [s for s in steps if at is None or s.turn < at]
    return CallRead(
        call,
        at,
        max((s.risk for s in before), default=0.0),
        any(s.warned for s in before),
        sum(s.speaker == "customer" and s.sentiment == "negative" for s in steps),
    )


def spoken_turns(turns: Iterable[htf.Turn]) -> list[tuple[Speaker, str]]:
    """A transcript's turns as replay_turns takes them."""
    return [("customer" if t.speaker == "customer" else "agent", t.text) for t in turns]


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else 0.0
        return v, v, v
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return round(q1, 1), round(q2, 1), round(q3, 1)


def summary(reads: Iterable[CallRead]) -> dict[str, object]:
    """The two kinds of call side by side."""
    reads = list(reads)
    escalating = [r for r in reads if r.escalates_at is not None]
    complaints = [r for r in reads if r.escalates_at is None and r.negative >= MIN_NEGATIVE]
    return {
        "calls": len(reads),
        "escalating": len(escalating),
        "escalating_warned_before": sum(r.warned_before for r in escalating),
        "escalating_peak_before_quartiles": quartiles([r.peak_before for r in escalating]),
        "complaint_calls": len(complaints),
        "complaint_calls_warned": sum(r.warned_before for r in complaints),
        "complaint_peak_quartiles": quartiles([r.peak_before for r in complaints]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.predictability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", type=Path, help="Hackathon_TF's transcript_factory/transcripts")
    parser.add_argument("--limit", type=int, default=0, help="only the first N calls (0: all)")
    parser.add_argument(
        "--skip",
        type=Path,
        action="append",
        default=None,
        help="a picks file or labelled set whose calls to leave out (default: the test set's "
        "and the picked calls)",
    )
    args = parser.parse_args(argv)
    skips = args.skip or [DATA / "cross_source_dialogue.tsv", DATA / "htf_call_picks.tsv"]
    skipped = set().union(*(htf.used_calls(p) for p in skips))
    calls = [(c, t) for c, t in htf.transcripts(args.root) if c not in skipped]
    if args.limit:
        calls = calls[: args.limit]
    if not calls:
        print(f"error: no transcripts under {args.root} (expected */*.txt)", file=sys.stderr)
        return 2
    from monitor.rules import Playbook
    from monitor.scoring.classifier import TextClassifier
    from monitor.scoring.service import UtteranceScorer

    scorer, playbook = UtteranceScorer(TextClassifier.load()), Playbook.load()
    print(f"replaying {len(calls)} calls ({len(skipped)} left out)", file=sys.stderr, flush=True)
    reads = []
    for n, (call, turns) in enumerate(calls, 1):
        steps = replay_turns(call, spoken_turns(turns), scorer, playbook)
        reads.append(read_call(call, steps))
        if n % 100 == 0:
            print(f"  {n}/{len(calls)}", file=sys.stderr, flush=True)
    s = summary(reads)
    print(
        f"{s['calls']} calls (development, text replay, not a figure)\n"
        f"escalating (the scorer raises a threat, demand or abuse): {s['escalating']}; warned "
        f"before that turn {s['escalating_warned_before']}; highest risk before it, quartiles "
        f"{s['escalating_peak_before_quartiles']}\n"
        f"complaint calls without one ({MIN_NEGATIVE}+ negative customer sentences): "
        f"{s['complaint_calls']}; warned {s['complaint_calls_warned']}; highest risk, quartiles "
        f"{s['complaint_peak_quartiles']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
