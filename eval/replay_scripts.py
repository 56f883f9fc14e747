"""Call scripts read as text through the real scorer and rules, in seconds: a development aid.

``python -m eval.replay_scripts [--dir DIR] [--exclude PREFIX ...] [-v] [NAME ...]``

Each script's turns (``monitor.sample_script``) are cut into sentences as a recogniser would
cut them, scored by the shipped text classifier and cues (``UtteranceScorer``) and fed to
``CallRules`` with the default playbook on a simple clock. Per call it prints the turn of the
first warning (a warning or critical alert, or the risk reaching "at_risk") against the
blow-up turn: before, at, after or never; a calm call, whether it warned. ``-v`` prints every
customer sentence with its risk, level, alerts, sentiment, intents and reasons.

This is **not** an evaluation: no audio, no recogniser, no partial transcripts and no voice,
so its figures are not the calls' (``python -m eval.eval_cross_calls`` takes 30-40 minutes on
2 cores and is the measurement). It shows in seconds which turn a rule or a cue changes, on
development calls. A warning is what the evaluation counts
(``eval.eval_calls.first_warning``). Leave the calls that are still clean tests out
(``--exclude mstravel_``): reading their turn-by-turn errors turns them into development
material.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.eval_calls import first_warning
from monitor.events import Alert, CallRisk, CallStarted, FinalUtterance, Speaker
from monitor.rules import CallRules, Playbook
from monitor.sample_script import load_script
from monitor.scoring.classifier import TextClassifier, sentences
from monitor.scoring.service import UtteranceScorer

SCRIPTS = Path(__file__).resolve().parent / "data" / "cross_calls"
WORDS_PER_SECOND = 2.6  # speaking rate of the clock
GAP_S = 0.8  # between turns
SENTENCE_GAP_S = 0.3  # between sentences of one turn (within CallRules' turn gap)


@dataclass(frozen=True, slots=True)
class Replay:
    name: str
    blowup: int | None  # turn index of the blow-up; None: a calm call
    first_warning: int | None  # turn index of the first warning
    lines: tuple[str, ...]  # one per customer sentence

    @property
    def outcome(self) -> str:
        """before / at / after / never for an escalating call; calm / warned for a calm one."""
        if self.blowup is None:
            return "calm" if self.first_warning is None else "warned"
        if self.first_warning is None:
            return "never"
        if self.first_warning < self.blowup:
            return "before"
        return "at" if self.first_warning == self.blowup else "after"


@dataclass(frozen=True, slots=True)
class Step:
    """One sentence of a replayed call, as the rules saw it."""

    turn: int  # index of its turn in the call
    speaker: Speaker
    text: str
    risk: float
    level: str
    warned: bool  # this sentence's events hold a warning (eval.eval_calls.first_warning)
    alerts: tuple[str, ...]  # kinds of its warning and critical alerts
    sentiment: str
    intents: tuple[str, ...]  # intents the scorer raised on it
    reasons: tuple[str, ...]


def replay_turns(
    name: str, turns: Sequence[tuple[Speaker, str]], scorer: UtteranceScorer, playbook: Playbook
) -> list[Step]:
    """A call's (speaker, text) turns through the scorer and CallRules, sentence by sentence,
    on the simple clock above."""
    rules = CallRules(playbook, CallStarted(name, "replay", "agent", language="en"))
    clock, seq = 0.0, 0
    steps: list[Step] = []
    for index, (speaker, text) in enumerate(turns):
        clock += GAP_S
        for sentence in sentences(text) or [text]:
            end = clock + max(1.0, len(sentence.split()) / WORDS_PER_SECOND)
            utt = FinalUtterance(name, speaker, seq, sentence, clock, end)
            (score,) = scorer.score_batch([(utt, "en")])
            clock, seq = end + SENTENCE_GAP_S, seq + 1
            events = rules.on_utterance(utt, score)
            risk = next(e for e in events if isinstance(e, CallRisk))
            alerts = tuple(
                e.kind
                for e in events
                if isinstance(e, Alert) and e.severity in ("warning", "critical")
            )
            steps.append(
                Step(
                    index,
                    speaker,
                    sentence,
                    risk.risk,
                    risk.level,
                    first_warning(events) is not None,
                    alerts,
                    score.sentiment,
                    tuple(intent for intent, _ in score.intents),
                    tuple(risk.reasons),
                )
            )
    return steps


def replay(path: Path, scorer: UtteranceScorer, playbook: Playbook) -> Replay:
    """One script through the scorer and CallRules, sentence by sentence."""
    script = load_script(path)
    steps = replay_turns(script.name, [(t.speaker, t.text) for t in script.turns], scorer, playbook)
    first = next((step.turn for step in steps if step.warned), None)
    lines = [
        f"  {step.turn:2d}{'*' if script.turns[step.turn].blowup else ' '} {step.risk:5.1f} "
        f"{step.level:9s} {list(step.alerts)} {step.sentiment[:3]} {list(step.intents)} "
        f"{list(step.reasons)[:3]} | {step.text}"
        for step in steps
        if step.speaker == "customer"
    ]
    blowup = next((i for i, t in enumerate(script.turns) if t.blowup), None)
    return Replay(script.name, blowup, first, tuple(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.replay_scripts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help="only scripts whose name contains one of these")
    parser.add_argument("--dir", type=Path, default=SCRIPTS, help="a folder of call scripts")
    parser.add_argument("--exclude", action="append", default=[], help="a name prefix to skip")
    parser.add_argument("-v", "--verbose", action="store_true", help="every customer sentence")
    args = parser.parse_args(argv)
    paths = [
        p
        for p in sorted(args.dir.glob("*.toml"))
        if not p.stem.startswith(tuple(args.exclude))
        and (not args.names or any(n in p.stem for n in args.names))
    ]
    if not paths:
        print(f"error: no call scripts in {args.dir} match", file=sys.stderr)
        return 2
    scorer = UtteranceScorer(TextClassifier.load())
    playbook = Playbook.load()
    counts: dict[str, int] = {}
    for path in paths:
        r = replay(path, scorer, playbook)
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
        where = "calm call" if r.blowup is None else f"blow-up turn {r.blowup}"
        print(f"{r.name}: {r.outcome} ({where}, first warning turn {r.first_warning})")
        if args.verbose:
            print("\n".join(r.lines))
    print("; ".join(f"{k} {v}" for k, v in sorted(counts.items())), "(text replay, not a figure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
