"""A fourth external source: simulated customers of an online shop and an airline (tau-bench).

tau-bench (Yao, Shinn, Razavi, Narasimhan, 2024; Sierra), ``sierra-research/tau-bench``,
licensed MIT (its ``LICENSE``). A language model (gpt-4o, per the trajectory file's name) plays
a customer from a task the benchmark's authors wrote, and talks to a support agent: orders,
returns, exchanges, refunds and address changes at an online shop (retail), bookings, changes,
cancellations and compensation at an airline. Some customers grow impatient, ask for a human
or a supervisor, or push back on a refusal; most are ordinary service talk. Neither this
project nor the generators of its other test sets wrote them.

Read from a copy of three files of the repository (the other trajectory files are too large
for the snapshot reachable here):

- ``few_shot_data/MockRetailDomainEnv-few_shot.jsonl`` and
  ``few_shot_data/MockAirlineDomainEnv-few_shot.jsonl``: one conversation per line, its text in
  ``messages_display`` as lines ``user: ...``, ``assistant: ...``, ``tool: ...``;
- ``historical_trajectories/gpt-4o-airline.json``: 50 airline tasks run 4 times each, the
  conversation in ``traj`` as chat messages (``role`` user / assistant / tool).

``candidates`` lists customer turns (no text twice), for a reader to label to docs/intents.md
before any model is scored on them. Nothing here is trained on.

    python -m eval.taubench candidates DIR retail > candidates.tsv
    python -m eval.taubench candidates DIR airline [SEED N] > candidates.tsv
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from eval.htf import Origin, Turn, clean, numbered, print_rows, read_picks, write_scripts

RETAIL_FILES = ("few_shot_data/MockRetailDomainEnv-few_shot.jsonl",)
AIRLINE_FILES = (
    "few_shot_data/MockAirlineDomainEnv-few_shot.jsonl",
    "historical_trajectories/gpt-4o-airline.json",
)
DOMAINS = {"retail": RETAIL_FILES, "airline": AIRLINE_FILES}
# The simulator's end-of-conversation marker, not the customer's words.
_STOP = "###STOP###"
_SPEAKER = re.compile(r"^(user|assistant|tool): ?(.*)$")
# Words of the escalation intents and of impatience, so the few turns that carry one are in an
# airline draw at all.
_ESCALATION = re.compile(
    r"supervisor|manager|human|ridiculous|unacceptable|frustrat|upset|angry|cancel|lawyer|"
    r"\bsue\b|worst|useless|again|waiting|\bhold\b|transfer|review|terrible|complain|"
    r"compensat|never|disappoint|unfair|joke",
    re.IGNORECASE,
)


def _display_turns(text: str) -> list[tuple[str, str]]:
    """(role, text) of a ``messages_display`` string; a line without a role continues the last."""
    turns: list[tuple[str, str]] = []
    for line in text.split("\n"):
        m = _SPEAKER.match(line)
        if m:
            turns.append((m.group(1), m.group(2)))
        elif turns:
            role, said = turns[-1]
            turns[-1] = (role, f"{said}\n{line}")
    return turns


def _words(said: str) -> str:
    """A message's words on one line, without the simulator's end marker."""
    return " ".join(said.replace(_STOP, " ").split())


def _read(root: Path, domain: str, name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(file key:conversation, [(role, text)]) of one of a domain's files."""
    path = root / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; copy it from sierra-research/tau-bench")
    if name.endswith(".jsonl"):
        return [
            (f"{domain}_fs:{i}", _display_turns(json.loads(line)["messages_display"]))
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
            if line.strip()
        ]
    return [
        (
            f"{domain}_traj:task{r['task_id']}.{r.get('trial', 0)}",
            [(m.get("role", ""), m.get("content") or "") for m in r["traj"]],
        )
        for r in json.loads(path.read_text(encoding="utf-8"))
    ]


def read_customer_turns(root: Path, domain: str) -> list[tuple[str, str]]:
    """(reference, text) of every customer turn of a domain's files, in file order.

    The reference is ``file key:conversation:turn`` (turn counts the customer's turns from 1),
    e.g. ``retail_fs:12:3`` or ``airline_traj:task7.1:2`` (task id and trial)."""
    out: list[tuple[str, str]] = []
    for name in DOMAINS[domain]:
        for key, turns in _read(root, domain, name):
            n = 0
            for role, said in turns:
                if role != "user":
                    continue
                n += 1
                text = _words(said)
                if text:
                    out.append((f"{key}:{n}", text))
    return out


def conversations(root: Path, domain: str) -> dict[str, list[Turn]]:
    """Every conversation of a domain's files as spoken turns, keyed ``file key:conversation``.

    Tool calls and results are left out, and so is the agent's empty message before a tool
    call; what one side says before the other speaks is one turn. An agent's turn of more than
    ``AGENT_WORDS`` words (lists of items, prices and policies) keeps its first two sentences
    and its last (the question to the customer): a call is heard, and the escalation is the
    customer's. Stage directions and markdown go (eval.htf.clean)."""
    out: dict[str, list[Turn]] = {}
    for name in DOMAINS[domain]:
        for key, turns in _read(root, domain, name):
            spoken: list[Turn] = []
            for role, said in turns:
                text = clean(_words(said))
                if role not in ("user", "assistant") or not text or text == "None":
                    continue
                speaker = "customer" if role == "user" else "agent"
                if spoken and spoken[-1].speaker == speaker:
                    text = f"{spoken[-1].text} {text}"
                    spoken.pop()
                spoken.append(Turn(speaker, text))
            out[key] = [_short(t) for t in spoken]
    return out


AGENT_WORDS = 60
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _short(turn: Turn) -> Turn:
    if turn.speaker != "agent" or len(turn.text.split()) <= AGENT_WORDS:
        return turn
    sentences = _SENTENCE.split(turn.text)
    if len(sentences) <= 3:
        return turn
    return Turn(turn.speaker, " ".join([*sentences[:2], sentences[-1]]))


TAUBENCH = Origin(
    "taubench",
    "# Rendered as a call for eval/eval_cross_calls.py: conversation {call} of\n"
    "# sierra-research/tau-bench (MIT): gpt-4o playing a customer from a task the benchmark's "
    "authors wrote, and an\n# automated agent (not written, prompted or chosen by this project); "
    "long agent turns shortened\n# (eval/taubench.py conversations); its first",
    "tau-bench conversation",
    "External simulated support conversation (sierra-research/tau-bench, MIT), as a call.",
)


def candidates(root: Path, domain: str, seed: int = 13, n: int = 0) -> list[str]:
    """Tab-separated rows (pool, reference, text): customer turns of three words or more, no
    text twice. ``n`` = 0 takes them all, in file order; otherwise every turn with a word of
    escalation or impatience (up to ``n`` // 2) and the rest at random, seeded, shuffled."""
    seen: set[str] = set()
    turns: list[tuple[str, str]] = []
    for ref, text in read_customer_turns(root, domain):
        key = text.lower()
        if len(text.split()) >= 3 and key not in seen:
            seen.add(key)
            turns.append((ref, text))
    if n <= 0:
        return [f"all\t{ref}\t{text}" for ref, text in turns]
    rng = random.Random(seed)
    rng.shuffle(turns)
    hits = [t for t in turns if _ESCALATION.search(t[1])][: n // 2]
    taken = {ref for ref, _ in hits}
    rest = [t for t in turns if t[0] not in taken][: max(0, n - len(hits))]
    rows = [f"words\t{ref}\t{text}" for ref, text in hits]
    rows += [f"random\t{ref}\t{text}" for ref, text in rest]
    rng.shuffle(rows)
    return rows


def show(root: Path, domain: str) -> list[str]:
    """Every conversation as numbered turns, for a reader picking calls (indices as the picks
    file counts them, from 0)."""
    return numbered(conversations(root, domain))


def write_calls(root: Path, picks: Path, out: Path) -> list[Path]:
    """Write the script of every picked conversation (eval.htf.read_picks' format; the call
    id is a conversation key, e.g. ``retail_fs:12``) to ``out``."""
    chosen = read_picks(picks)
    domains = {p.call.split("_", 1)[0] for p in chosen}
    convs = {k: v for d in sorted(domains) for k, v in conversations(root, d).items()}
    try:
        return list(write_scripts(chosen, convs, out, TAUBENCH))
    except KeyError as missing:
        raise KeyError(f"{missing.args[0]}: no such conversation under {root}") from None


USAGE = (
    "usage: python -m eval.taubench candidates DIR retail|airline [SEED N] | "
    "show DIR retail|airline | calls DIR PICKS.tsv OUT_DIR"
)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    shape_ok = (command in ("candidates", "show") and len(argv) >= 3 and argv[2] in DOMAINS) or (
        command == "calls" and len(argv) == 4
    )
    if not shape_ok:
        print(USAGE, file=sys.stderr)
        return 2
    root = Path(argv[1])
    if not root.is_dir():
        print(f"error: {root} is not a directory (a copy of tau-bench's files)", file=sys.stderr)
        return 2

    def rows() -> list[str]:
        if command == "candidates":
            seed = int(argv[3]) if len(argv) > 3 else 13
            n = int(argv[4]) if len(argv) > 4 else 0
            return candidates(root, argv[2], seed=seed, n=n)
        if command == "show":
            return show(root, argv[2])
        return [f"wrote {p}" for p in write_calls(root, Path(argv[2]), Path(argv[3]))]

    return print_rows(rows)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
