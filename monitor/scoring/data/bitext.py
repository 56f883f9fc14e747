"""Bitext customer-service requests as hard negatives: many styles, no escalation intent.

Bitext's "Customer Service Tagged Training Dataset" (github.com/bitext/
customer-support-llm-chatbot-training-dataset, Community Data License Agreement - Sharing 1.0;
the trained weights are "Results", on which that agreement puts no obligation) holds customers'
requests to a retail support desk: tracking an order, a refund that has not come, an invoice,
an address, a payment that failed. Bitext wrote them with language-variation tags: colloquial
("can u"), typos and run-on words, offensive ("where is my damn refund"), negation, indirect
and polite forms. Those are the styles and topic words that made the model fire on turns that
carry no escalation: waiting for a refund is not a hold complaint, a swear word about an order
is not abuse aimed at anyone, cancelling one order or a newsletter is not a threat to leave.

Every request is labelled "none" for the intents (docs/intents.md) and has no sentiment label
(a request about a failed payment can be negative or neutral; the tags do not say which).
Three of Bitext's intents are left out because they sit on the borderline of ours and the
labels do not say on which side: ``complaint`` (a complaint "against your company" may be meant
for a regulator), ``contact_human_agent`` (asking for a person) and ``delete_account``
(closing the account is leaving).

One request in five (by a hash of its text) is held apart as a test set that training never
sees (eval/eval_text.py → ``external_requests``). Rebuild ``bitext_requests.tsv`` (committed)
from the two versions of the dataset's CSV that the repository's history holds:

    python -m monitor.scoring.data.bitext Bitext_Sample_Customer_Support_Training_Dataset.csv ...
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.scoring.data.calls import DATA_DIR, data_rows

REQUESTS_FILE = DATA_DIR / "bitext_requests.tsv"
LEFT_OUT = frozenset({"complaint", "contact_human_agent", "delete_account"})
TEST_EVERY = 5  # one request in five is held apart


@dataclass(frozen=True)
class Request:
    text: str
    intent: str  # Bitext's intent (cancel_order, track_refund, ...), not ours
    tags: str  # Bitext's language-variation tags: Q colloquial, Z typos, W offensive, ...

    @property
    def held_apart(self) -> bool:
        return is_test(self.text)


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def is_test(text: str) -> bool:
    """Held apart for evaluation: a stable hash of the text, so a request keeps its side."""
    digest = hashlib.sha256(_key(text).encode("utf-8")).digest()
    return digest[0] % TEST_EVERY == 0


def extract(paths: list[Path]) -> list[Request]:
    """Every distinct request of the given CSVs, but those of the intents left out."""
    seen: set[str] = set()
    out: list[Request] = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = " ".join(row["instruction"].split())
                intent = row["intent"].strip()
                if not text or intent in LEFT_OUT or "{{" in text or _key(text) in seen:
                    continue
                seen.add(_key(text))
                out.append(Request(text, intent, row.get("tags") or row.get("flags") or ""))
    return out


def read_requests(path: Path = REQUESTS_FILE) -> list[Request]:
    """The committed requests, both sides of the split."""
    out: list[Request] = []
    for number, parts in data_rows(path):
        if len(parts) != 3 or not parts[2].strip():
            raise ValueError(f"{path}:{number}: expected Bitext intent, tags, text")
        if parts[0] in LEFT_OUT:
            raise ValueError(f"{path}:{number}: Bitext intent {parts[0]!r} is left out")
        out.append(Request(parts[2], parts[0], parts[1]))
    return out


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+|[0-9]+", text.lower()))


def training_requests() -> list[Request]:
    return [r for r in read_requests() if not r.held_apart]


def test_requests() -> list[Request]:
    """The held-apart requests, less any that reads as a training one once punctuation goes
    (the model sees text without it: classifier.normalize)."""
    requests = read_requests()
    trained = {_words(r.text) for r in requests if not r.held_apart}
    return [r for r in requests if r.held_apart and _words(r.text) not in trained]


def main(argv: list[str] | None = None) -> int:
    args = [Path(a) for a in (sys.argv[1:] if argv is None else argv)]
    if not args or not all(p.is_file() for p in args):
        raise SystemExit("usage: python -m monitor.scoring.data.bitext DATASET.csv [...]")
    requests = extract(args)
    header = (
        "# Bitext Customer Service Tagged Training Dataset (Bitext Innovations International),\n"
        "# github.com/bitext/customer-support-llm-chatbot-training-dataset, data/train/*.csv.\n"
        "# Licensed under the Community Data License Agreement - Sharing, Version 1.0\n"
        "# (monitor/scoring/data/LICENSE-CDLA-Sharing-1.0.txt), and published here under it.\n"
        "# CHANGED by callmon (monitor/scoring/data/bitext.py): only the request text, intent and\n"
        "# tags are kept; the responses, entities and the intents complaint, contact_human_agent\n"
        "# and delete_account are removed; duplicates across the two versions are dropped.\n"
        "# Columns: Bitext intent, tags, request\n"
    )
    REQUESTS_FILE.write_text(
        header + "".join(f"{r.intent}\t{r.tags}\t{r.text}\n" for r in requests), encoding="utf-8"
    )
    held = sum(r.held_apart for r in requests)
    print(f"wrote {len(requests)} requests to {REQUESTS_FILE} ({held} held apart for evaluation)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
