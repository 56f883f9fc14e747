"""Agent coaching: phrase lists in every supported language, matched on ASR-style text, and
voice baselines.

Recognizers emit lowercase text with little punctuation and numbers as words; people write
phrase lists with apostrophes and diacritics. Both sides go through :func:`normalise` so
"That's not my fault!" and "thats not my fault" match, and so do "înțeleg" and "inteleg".
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.events import AcousticFeatures, FinalUtterance
from monitor.languages import LANGUAGE_CODES, resolve
from monitor.rules.toml_lines import Problems, load_toml, read_rules_file

PHRASE_LISTS: tuple[str, ...] = (
    "defensive",
    "dont_know",
    "deferral",
    "pass_along",
    "vague_time",
    "acknowledgement",
    "closing",
    "heated",
    "refusal",
    "cannot_do",
    "handoff_request",
)

_APOSTROPHES = re.compile(r"[’'`´]")
_NOT_WORD = re.compile(r"[\W_]+")  # hyphens too: ASR writes "calmati va" for "calmați-vă"


def normalise(text: str) -> str:
    """Lowercase, no diacritics, no apostrophes or punctuation, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _APOSTROPHES.sub("", plain)
    return " ".join(_NOT_WORD.sub(" ", plain).split())


@dataclass(frozen=True, slots=True)
class PhraseList:
    phrases: tuple[str, ...]  # normalised
    patterns: tuple[re.Pattern[str], ...] = ()

    def find(self, normalised_text: str) -> list[str]:
        """The phrases (or pattern matches) found as whole words in already normalised text."""
        padded = f" {normalised_text} "
        found = [p for p in self.phrases if f" {p} " in padded]
        for pattern in self.patterns:
            found.extend(m.group(0) for m in pattern.finditer(normalised_text))
        return found


class PhraseBook:
    """All phrase lists, per list name and language."""

    def __init__(self, lists: dict[str, dict[str, PhraseList]]) -> None:
        self.lists = lists

    @classmethod
    def load(cls, path: Path | None = None) -> PhraseBook:
        text, shown = read_rules_file("phrases.toml", path, "phrase lists")
        data, lines = load_toml(shown, text)
        problems = Problems(shown, lines)
        numbers = _numbers(data.get("numbers", {}), problems)
        lists: dict[str, dict[str, PhraseList]] = {}
        raw_lists = data.get("lists", {})
        for name in PHRASE_LISTS:
            per_language = raw_lists.get(name)
            if not isinstance(per_language, dict):
                problems.add(("lists",), f"lists.{name}", "missing phrase list")
                continue
            lists[name] = {}
            for language in LANGUAGE_CODES:
                entry = per_language.get(language)
                at = ("lists", name, language)
                if not isinstance(entry, dict):
                    problems.add(
                        ("lists", name),
                        f"lists.{name}.{language}",
                        "missing translation: every list needs " + ", ".join(LANGUAGE_CODES),
                    )
                    continue
                lists[name][language] = _phrase_list(entry, at, numbers.get(language, ()), problems)
        for name in raw_lists:
            if name not in PHRASE_LISTS:
                problems.add(
                    ("lists", name),
                    f"lists.{name}",
                    f"unknown phrase list; known lists: {', '.join(PHRASE_LISTS)}",
                )
        problems.raise_if_any()
        return cls(lists)

    def find(self, name: str, language: str, text: str) -> list[str]:
        """Matches of list ``name`` in ``text`` for the call's language, plus English.

        English is always checked too: agents in Indonesia, Malaysia and Romania code-switch
        ("sorry", "no idea") and English phrases rarely collide with words of the others.
        """
        normalised = normalise(text)
        found: list[str] = []
        for lang in dict.fromkeys((resolve(language), "en")):
            plist = self.lists[name].get(lang)
            if plist is not None:
                found.extend(plist.find(normalised))
        return found


def _numbers(raw: Any, problems: Problems) -> dict[str, tuple[str, ...]]:
    numbers: dict[str, tuple[str, ...]] = {}
    if not isinstance(raw, dict):
        problems.add(("numbers",), "numbers", "must be a table of language = [number words]")
        return numbers
    for language, words in raw.items():
        if language not in LANGUAGE_CODES:
            problems.add(
                ("numbers", language),
                f"numbers.{language}",
                f"unknown language; supported: {', '.join(LANGUAGE_CODES)}",
            )
            continue
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            problems.add(("numbers", language), f"numbers.{language}", "must be a list of strings")
            continue
        numbers[language] = tuple(normalise(w) for w in words)
    return numbers


def _phrase_list(
    entry: dict[str, Any], at: tuple[str, ...], numbers: tuple[str, ...], problems: Problems
) -> PhraseList:
    field = ".".join(at)
    phrases = entry.get("phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) and p for p in phrases):
        problems.add((*at, "phrases"), f"{field}.phrases", "must be a list of non-empty strings")
        phrases = []
    for key in entry:
        if key not in ("phrases", "patterns"):
            problems.add((*at, key), f"{field}.{key}", "unknown key; use 'phrases' or 'patterns'")
    alternatives = "|".join(re.escape(n) for n in sorted(numbers, key=len, reverse=True))
    number = rf"(?:\d+|{alternatives})" if alternatives else r"\d+"
    compiled: list[re.Pattern[str]] = []
    for pattern in entry.get("patterns", []):
        try:
            compiled.append(re.compile(pattern.replace("{num}", number)))
        except (re.error, AttributeError) as exc:
            problems.add((*at, "patterns"), f"{field}.patterns", f"bad regular expression: {exc}")
    return PhraseList(tuple(normalise(p) for p in phrases), tuple(compiled))


class SpeakerBaseline:
    """One speaker's voice at the start of this call: the median of their first turns."""

    def __init__(self, turns: int = 3) -> None:
        self.turns = turns
        self._seen: list[AcousticFeatures] = []

    def compare(self, features: AcousticFeatures) -> dict[str, float] | None:
        """Differences of ``features`` to the baseline (then learns from them while young).

        ``loudness`` is in dB above the baseline, ``pitch`` and ``rate`` are ratios. None until
        two earlier turns make a baseline.
        """
        result: dict[str, float] | None = None
        seen = self._seen
        if len(seen) >= 2:
            loud = features.loudness_dbfs - statistics.median(f.loudness_dbfs for f in seen)
            pitches = [f.pitch_hz for f in seen if f.pitch_hz]
            pitch = (
                features.pitch_hz / statistics.median(pitches)
                if features.pitch_hz and pitches
                else 1.0
            )
            base_rate = statistics.median(f.speech_rate for f in seen)
            rate = features.speech_rate / base_rate if base_rate > 0 else 1.0
            result = {"loudness": loud, "pitch": pitch, "rate": rate}
        if len(seen) < self.turns and features.duration > 0:
            seen.append(features)
        return result


class RateBaseline:
    """One speaker's usual speech rate: the median of their first long utterances.

    Until they have said ``turns`` utterances long enough to be measured (the speech_rate
    trigger's ``min_words``), a typical conversational rate stands in. Measured from the first
    to the last word, ordinary speech runs at about 3 to 4 words a second, and a synthetic or
    naturally quick speaker faster still: the trigger compares a speaker with themselves.
    """

    TYPICAL = 3.4  # words per second, first word to last, before a speaker's own is known

    def __init__(self, turns: int = 3) -> None:
        self.turns = turns
        self._seen: list[float] = []

    def compare(self, rate: float) -> float:
        """The baseline to compare ``rate`` with (then learns from it while young)."""
        baseline = statistics.median(self._seen) if len(self._seen) >= 2 else self.TYPICAL
        if len(self._seen) < self.turns and rate > 0:
            self._seen.append(rate)
        return baseline


def spoken_rate(utt: FinalUtterance, features: AcousticFeatures) -> tuple[int, float]:
    """(words, words per second from the first to the last word) of one utterance.

    Counts only real words: recognizers also emit punctuation as "words" and repeat a
    fragment at a segment's end with no duration, which would inflate the rate. Without word
    timings it falls back to the text's words and the measured ``features.speech_rate``.
    """
    spoken = [w for w in utt.words if w.end > w.start and any(c.isalnum() for c in w.text)]
    if len(spoken) >= 2 and spoken[-1].end > spoken[0].start:
        return len(spoken), len(spoken) / (spoken[-1].end - spoken[0].start)
    return len(utt.text.split()), features.speech_rate
