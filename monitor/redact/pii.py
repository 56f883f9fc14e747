"""PII redaction of transcripts, before they are stored or broadcast.

What is masked, and with which placeholder:

- ``[card]``: a run of 13-19 digits that passes the Luhn check;
- ``[phone]``: a run of 7-15 digits (written ``+44 20 7946 0958`` / ``(555) 123-4567``, or
  spoken ``oh two oh, seven nine four six ...``);
- ``[number]``: any other long run: 16+ digits, or 4+ digits of which some are spoken words
  (PINs, account numbers, security codes read out digit by digit);
- ``[email]``: ``john.smith@gmail.com`` and the spoken forms ASR writes,
  ``john dot smith at gmail dot com`` / ``john.smith at gmail.com``.

Digits may be written as numerals or as the words recognisers produce ("four five seven two",
"double five", "oh" for zero inside a run), separated by spaces, commas, hyphens, dots or
brackets. Teens and tens ("twelve thirty-four") count only as the continuation of a number
already being read out digit by digit ("five five five, twelve thirty-four"): on their own they
are amounts, times and years far more often than parts of a number.

Spans returned by :func:`redact_text` are ``(start, end)`` character offsets of the
placeholders in the *masked* text. :func:`redact_event` masks an utterance's text and its
words; a masked word keeps the time span of the words it replaced (the audio to silence, see
:meth:`monitor.store.audio.AudioWriter.silence`). After a cue word ("card", "account", "phone",
"pin", ...) four digits are enough to mask. :class:`CallRedactor` is the same function with a
memory per call and speaker, for numbers read out over several utterances.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from monitor.events import CallEnded, Event, FinalUtterance, PartialUtterance, Speaker, Word

PLACEHOLDERS: tuple[str, ...] = ("[card]", "[phone]", "[number]", "[email]")

_DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_REPEATERS: dict[str, int] = {"double": 2, "triple": 3}
# Teens and tens only continue a number already being read out (3+ digits so far).
_TENS_TEENS: dict[str, str] = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
    "seventy": "70", "eighty": "80", "ninety": "90",
}  # fmt: skip
# "oh"/"o" only count as zero next to other digits: "oh I see" is not a number.
_WEAK_ZERO = {"oh", "o"}

_TOKEN = re.compile(r"[A-Za-z]+|\d+")
# What may sit between two tokens of one number: spaces, commas, hyphens, dots, brackets, plus
# (not "/": "12/05/2024" is a date, and "A / B" separates two things).
_GAP = re.compile(r"[\s,.\-()+]*")

_EMAIL_WRITTEN = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_TLD = r"(?:com|net|org|edu|gov|io|co|uk|id|my|ro|de|fr|info|biz|me|us|ca|au)"
_SEP_DOT = r"(?:\s*\.\s*|\s+dot\s+)"
_LOCAL_JOIN = r"(?:\s*\.\s*|\s+(?:dot|underscore|dash|hyphen)\s+|[_+-])"
_EMAIL_SPOKEN = re.compile(
    rf"\b[A-Za-z0-9]+(?:{_LOCAL_JOIN}[A-Za-z0-9]+)*\s+at\s+"
    rf"[A-Za-z0-9-]+(?:{_SEP_DOT}[A-Za-z0-9-]+)*{_SEP_DOT}{_TLD}\b",
    re.IGNORECASE,
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _classify(
    digits: str, spoken: bool, cued: bool = False, continuing: bool = False
) -> str | None:
    n = len(digits)
    if 13 <= n <= 19 and luhn_ok(digits):
        return "[card]"
    if 7 <= n <= 15:
        return "[phone]"
    if n >= 16 or (spoken and n >= 4) or (cued and n >= 4) or (continuing and n >= 2):
        return "[number]"
    return None


# Words that say a number about to be read out is personal: "card number is 4572 ..." is
# masked from four digits on (a long number is often read in groups, one group per utterance).
_CUE = re.compile(
    r"\b(?:card|credit|debit|account|iban|phone|mobile|cell|pin|cvv|cvc|security code|"
    r"sort code|expiry|passport|social security|national id)\b",
    re.IGNORECASE,
)


def _digit_runs(
    text: str, cued: bool = False, continuing: bool = False
) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) for every run of digits that must be masked. ``cued``: the
    text talks about a card/account/phone; ``continuing``: the text goes on with a number the
    previous utterance was reading out, so a run at its very start is part of it."""
    found: list[tuple[int, int, str]] = []
    tokens = list(_TOKEN.finditer(text))
    i = 0
    while i < len(tokens):
        run_start: int | None = None
        run_end = 0
        digits = ""
        spoken = False
        pending_repeat = 1
        pending_start: int | None = None
        j = i
        while j < len(tokens):
            tok = tokens[j]
            word = tok.group().lower()
            if run_start is not None or pending_start is not None:
                gap_from = run_end if pending_start is None else tokens[j - 1].end()
                if not _GAP.fullmatch(text, gap_from, tok.start()):
                    break
            if word.isdigit():
                digits += word * pending_repeat
            elif word in _DIGIT_WORDS:
                if word in _WEAK_ZERO and run_start is None and pending_start is None:
                    nxt = tokens[j + 1].group().lower() if j + 1 < len(tokens) else ""
                    if not (nxt.isdigit() or nxt in _DIGIT_WORDS or nxt in _REPEATERS):
                        break
                digits += _DIGIT_WORDS[word] * pending_repeat
                spoken = True
            elif word in _TENS_TEENS and len(digits) >= 3 and pending_start is None:
                # "five five five, twelve thirty-four": inside a number already being read out
                value = _TENS_TEENS[word]
                after = tokens[j + 1] if j + 1 < len(tokens) else None
                unit = after.group().lower() if after else ""
                if (
                    after is not None
                    and value.endswith("0")
                    and len(value) == 2
                    and word not in ("ten",)
                    and unit in _DIGIT_WORDS
                    and unit not in ("zero", "oh", "o")
                    and re.fullmatch(r"[\s-]*", text[tok.end() : after.start()])
                ):
                    value = value[0] + _DIGIT_WORDS[unit]
                    tok = after
                    j += 1
                digits += value
                spoken = True
            elif word in _REPEATERS and pending_start is None:
                pending_repeat = _REPEATERS[word]
                pending_start = tok.start()
                j += 1
                continue
            else:
                break
            if run_start is None:
                run_start = pending_start if pending_start is not None else tok.start()
            pending_repeat = 1
            pending_start = None
            run_end = tok.end()
            j += 1
        if run_start is not None:
            leading = not text[:run_start].strip(" ,.-")
            label = _classify(digits, spoken, cued, continuing and leading)
            if label is not None:
                while run_start > 0 and text[run_start - 1] in "+(":
                    run_start -= 1  # "+44 ..." / "(555) ...": the prefix is part of the number
                found.append((run_start, run_end, label))
            i = max(j, i + 1)
        else:
            i += 1
    return found


def _email_spans(text: str) -> list[tuple[int, int, str]]:
    spans = [(m.start(), m.end(), "[email]") for m in _EMAIL_WRITTEN.finditer(text)]
    spans += [(m.start(), m.end(), "[email]") for m in _EMAIL_SPOKEN.finditer(text)]
    return spans


def _merge(spans: Sequence[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping finds become one; an e-mail wins over the digits inside it."""
    rank = {p: i for i, p in enumerate(("[email]", "[card]", "[phone]", "[number]"))}
    merged: list[tuple[int, int, str]] = []
    for start, end, label in sorted(spans):
        if merged and start < merged[-1][1]:
            p_start, p_end, p_label = merged[-1]
            best = p_label if rank[p_label] <= rank[label] else label
            merged[-1] = (p_start, max(p_end, end), best)
        else:
            merged.append((start, end, label))
    return merged


def find_pii(text: str, continuing: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, placeholder) in ``text`` for everything :func:`redact_text` masks."""
    cued = bool(_CUE.search(text))
    return _merge(_digit_runs(text, cued, continuing) + _email_spans(text))


def ends_with_number(text: str, finds: Sequence[tuple[int, int, str]]) -> bool:
    """Whether the last masked number is what the text ends with (the reading may go on)."""
    return bool(finds) and finds[-1][2] != "[email]" and not text[finds[-1][1] :].strip(" ,.-!?")


def redact_text(text: str, continuing: bool = False) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Mask PII in ``text``; return the masked text and the placeholders' spans in it."""
    finds = find_pii(text, continuing)
    if not finds:
        return text, ()
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    length = 0
    for start, end, label in finds:
        out.append(text[pos:start])
        length += start - pos
        out.append(label)
        spans.append((length, length + len(label)))
        length += len(label)
        pos = end
    out.append(text[pos:])
    return "".join(out), tuple(spans)


def redact_words(words: Sequence[Word], continuing: bool = False) -> tuple[Word, ...]:
    """Mask the words that make up PII; each masked run becomes one placeholder word that
    spans the time of the words it replaced."""
    if not words:
        return ()
    joined = ""
    bounds: list[tuple[int, int]] = []
    for w in words:
        if joined:
            joined += " "
        bounds.append((len(joined), len(joined) + len(w.text)))
        joined += w.text
    finds = find_pii(joined, continuing)
    if not finds:
        return tuple(words)
    out: list[Word] = []
    i = 0
    for start, end, label in finds:
        hit = [k for k, (b0, b1) in enumerate(bounds) if b0 < end and b1 > start]
        if not hit:
            continue
        first, last = hit[0], hit[-1]
        out.extend(words[i:first])
        out.append(Word(label, words[first].start, words[last].end, None))
        i = last + 1
    out.extend(words[i:])
    return tuple(out)


def is_redacted(word: Word) -> bool:
    return word.text in PLACEHOLDERS


def redact_event(event: Event, continuing: bool = False) -> Event:
    """The same event with PII masked in an utterance's text (and words); others unchanged."""
    if isinstance(event, PartialUtterance):
        text, spans = redact_text(event.text, continuing)
        return dataclasses.replace(event, text=text) if spans else event
    if isinstance(event, FinalUtterance):
        text, spans = redact_text(event.text, continuing)
        words = redact_words(event.words, continuing)
        if not spans and words == event.words:
            return event
        return dataclasses.replace(event, text=text, words=words)
    return event


class CallRedactor:
    """:func:`redact_event` that remembers, per call and speaker, a number being read out
    across utterances: "my card number is 4572 3456" / "7890 1231" (the recogniser ends an
    utterance at the pause between groups). The digits that open the next utterance of the
    same speaker, within ``window_s`` seconds, are masked as the rest of that number.

    Use one per process in place of ``redact_event`` (same call signature); state is dropped
    when a call ends.
    """

    def __init__(self, window_s: float = 8.0) -> None:
        self.window_s = window_s
        self._reading: dict[tuple[str, Speaker], float] = {}  # (call, speaker) -> number end

    def __call__(self, event: Event) -> Event:
        if isinstance(event, PartialUtterance | FinalUtterance):
            key = (event.call_id, event.speaker)
            until = self._reading.get(key)
            continuing = until is not None and event.start - until <= self.window_s
            out = redact_event(event, continuing)
            if isinstance(event, FinalUtterance):
                if ends_with_number(event.text, find_pii(event.text, continuing)):
                    self._reading[key] = event.end
                else:
                    self._reading.pop(key, None)
            return out
        if isinstance(event, CallEnded):
            for key in [k for k in self._reading if k[0] == event.call_id]:
                del self._reading[key]
        return event
