"""The project's own labelled call-centre utterances: templates, slot values, ASR-style rendering.

Templates live in ``calls_train.tsv`` (trained on) and ``calls_heldout.tsv`` (evaluation only;
its sentences are disjoint from the training ones, its slot values are shared). Each template is
expanded with random slot fills into a spoken form (as a person says it, with punctuation and
digits) and an ASR form (lowercase, no punctuation, numbers as words), because the live model
sees ASR text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.events import INTENTS

DATA_DIR = Path(__file__).resolve().parent
TRAIN_FILE = DATA_DIR / "calls_train.tsv"
HELDOUT_FILE = DATA_DIR / "calls_heldout.tsv"
STYLES_FILE = DATA_DIR / "calls_styles.tsv"  # lines written to docs/intents.md, no slots
SENTIMENTS = ("negative", "neutral", "positive")

SLOTS: dict[str, tuple[str, ...]] = {
    "mgr": ("manager", "supervisor", "boss", "team leader", "superior", "line manager"),
    "now": ("right now", "now", "immediately", "this minute", "straight away", "", "please"),
    "svc": (
        "internet",
        "phone line",
        "account",
        "card",
        "subscription",
        "plan",
        "contract",
        "broadband",
        "mobile plan",
        "tv package",
        "insurance policy",
        "service",
    ),
    "company": ("you guys", "your company", "this company", "you lot", "this bank"),
    "competitor": (
        "another provider",
        "your competitor",
        "a different company",
        "someone else",
        "another bank",
        "the other network",
    ),
    "lawyer": ("lawyer", "attorney", "solicitor", "legal team"),
    "regulator": (
        "the ombudsman",
        "the regulator",
        "consumer protection",
        "trading standards",
        "the better business bureau",
        "the financial ombudsman",
        "the telecoms regulator",
    ),
    "social": (
        "twitter",
        "facebook",
        "tiktok",
        "instagram",
        "social media",
        "reddit",
        "youtube",
        "google reviews",
        "trustpilot",
    ),
    "media": ("the newspapers", "the local news", "a journalist", "the tv station", "the press"),
    "insult": (
        "useless",
        "incompetent",
        "an idiot",
        "stupid",
        "pathetic",
        "clueless",
        "a moron",
        "brainless",
        "hopeless",
    ),
    "insult2": ("idiot", "moron", "clown", "muppet", "imbecile", "joke", "fool", "loser"),
    "swear": ("damn", "bloody", "freaking", "fucking", "goddamn", "shitty", "crappy"),
    "swear2": ("hell", "fuck", "damn", "crap", "shit"),
    "swear3": ("for god's sake", "bloody hell", "fuck", "jesus christ", "oh piss"),
    "dept": (
        "billing",
        "technical support",
        "sales",
        "the retention team",
        "another department",
        "customer care",
        "the fraud team",
        "accounts",
    ),
    "problem": (
        "my internet is slow",
        "the bill is wrong",
        "my card was declined",
        "the package hasn't arrived",
        "the app keeps crashing",
        "my phone has no signal",
        "i was charged twice",
        "the router keeps dropping out",
        "my tv box won't turn on",
        "the refund hasn't come through",
        "my password reset isn't working",
    ),
    "day": ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"),
}
# Slots whose values are numbers; they are rendered as digits (spoken form) or words (ASR form).
NUMBER_SLOTS = {"n": (2, 15), "digits": (100000, 999999), "digits4": (1000, 9999)}
ORDINALS = ("second", "third", "fourth", "fifth", "sixth", "2nd", "3rd", "4th", "5th")
DURATIONS = (
    "20 minutes",
    "forty minutes",
    "an hour",
    "two hours",
    "45 minutes",
    "half an hour",
    "over an hour",
    "90 minutes",
    "ten minutes",
)

_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD_WORDS = {"2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth"}


def number_words(n: int) -> str:
    """English words for 0 <= n < 1,000,000 as an ASR engine writes them."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    rest = n % 1000
    head = number_words(n // 1000) + " thousand"
    return head + ("" if rest == 0 else " " + number_words(rest))


_PUNCT = re.compile(r"[^\w\s']+")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


# Typed text (chat transcripts, QA imports, language models' output) often writes "don't" with a
# typographic apostrophe (U+2019); the recognizers and most training text write "'". Read as a
# space it split "don't" into "don t", so no cue that spells "don't" or "i've" matched
# (sixteenth round: tau2-bench's airline chats, development material, have one in 166 of their
# 240 customer turns).
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032\u0060\u00b4", "'"))


def straight_apostrophes(text: str) -> str:
    """``text`` with typographic apostrophes (right and left single quotes, the modifier
    letter apostrophe, prime, grave and acute accents) as "'"."""
    return text.translate(_APOSTROPHES)


def asr_style(text: str) -> str:
    """Lowercase, no punctuation, numbers as words: what the recognizers emit."""
    text = text.lower()
    for short, word in _ORD_WORDS.items():
        text = text.replace(short, word)
    text = _DIGITS.sub(lambda m: " " + number_words(int(m.group())) + " ", text)
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def spoken_style(text: str) -> str:
    """A written rendering of speech: sentence case, a full stop, "I" capitalised."""
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"\bi'", "I'", text)
    text = text[:1].upper() + text[1:]
    return text if text.endswith(("?", ".", "!")) else text + "."


@dataclass(frozen=True, slots=True)
class CallUtterance:
    text: str
    intents: tuple[str, ...]  # empty for "none"
    sentiment: str
    speaker: str  # "customer" | "agent"
    template: int  # line number of the template it came from


@dataclass(frozen=True, slots=True)
class Template:
    line: int
    intents: tuple[str, ...]
    sentiment: str
    speaker: str
    text: str


def data_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of a committed data file, without blank lines and
    ``#`` comments: the readers check the fields and name the line."""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw and not raw.startswith("#"):
            yield number, raw.split("\t")


def split_rows(
    path: Path, splits: Container[str], labels: Container[str], expected: str
) -> Iterator[tuple[str, str, str]]:
    """(split, label, text) of a committed three-column data file (``data_rows``); a row with
    another number of columns, a split not in ``splits`` or a label not in ``labels`` raises,
    naming its line and what was ``expected``."""
    for number, parts in data_rows(path):
        if len(parts) != 3 or parts[0] not in splits or parts[1] not in labels:
            raise ValueError(f"{path}:{number}: expected {expected}")
        yield parts[0], parts[1], parts[2]


def read_templates(path: Path) -> list[Template]:
    """Parse a template file, failing with the line number on a bad row."""
    out: list[Template] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 4:
            raise ValueError(f"{path}:{number}: expected 4 tab-separated columns, got {len(parts)}")
        labels, sentiment, speaker, text = parts
        intents = () if labels == "none" else tuple(labels.split(","))
        unknown = [i for i in intents if i not in INTENTS]
        if unknown or sentiment not in SENTIMENTS or speaker not in ("c", "a"):
            raise ValueError(f"{path}:{number}: bad label in {labels!r}/{sentiment!r}/{speaker!r}")
        who = "customer" if speaker == "c" else "agent"
        out.append(Template(number, intents, sentiment, who, text))
    return out


def _fill(template: str, rng: random.Random) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in NUMBER_SLOTS:
            low, high = NUMBER_SLOTS[name]
            return str(rng.randint(low, high))
        if name == "nth":
            return rng.choice(ORDINALS)
        if name == "dur":
            return rng.choice(DURATIONS)
        if name not in SLOTS:
            raise KeyError(f"unknown slot {{{name}}} in template {template!r}")
        return rng.choice(SLOTS[name])

    return _SPACES.sub(" ", re.sub(r"\{(\w+)\}", one, template)).strip(" ,")


def expand(templates: list[Template], per_template: int, seed: int) -> list[CallUtterance]:
    """``per_template`` fills of each template, alternating spoken and ASR renderings."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[CallUtterance] = []
    for t in templates:
        for k in range(per_template * 3):  # retry a few times to get distinct fills
            if sum(1 for u in out if u.template == t.line) >= per_template:
                break
            raw = _fill(t.text, rng)
            text = asr_style(raw) if k % 2 == 0 else spoken_style(raw)
            key = asr_style(raw)  # the model sees normalised text: count distinct inputs
            if key in seen:
                continue
            seen.add(key)
            out.append(CallUtterance(text, t.intents, t.sentiment, t.speaker, t.line))
    return out


def training_utterances(per_template: int = 14, seed: int = 13) -> list[CallUtterance]:
    return expand(read_templates(TRAIN_FILE), per_template, seed)


def heldout_utterances(per_template: int = 5, seed: int = 2026) -> list[CallUtterance]:
    return expand(read_templates(HELDOUT_FILE), per_template, seed)


def styles_utterances() -> list[CallUtterance]:
    """calls_styles.tsv: one utterance per line (ASR form; the model normalises text anyway)."""
    return expand(read_templates(STYLES_FILE), 1, 0)
