"""The risk reasons in words: ``reasons.toml`` loaded and validated once, then looked up.

The scorer ranks its evidence by kind (``hold``, ``interrupting``, an intent ...); the board
shows each kind in the supervisor's language. The texts are data so a translator edits a TOML
file, not Python, and a missing translation stops the program at start-up with the file and
line, instead of showing English on a Romanian board in the middle of a call.
"""

from __future__ import annotations

from functools import cache

from monitor.events import INTENTS
from monitor.languages import LANGUAGE_CODES, resolve
from monitor.rules.toml_lines import Problems, load_toml, read_rules_file

# Every kind the scorer can rank (EscalationScorer._parts), besides the intents; a reason file
# without one of them would fail in the middle of a call, so the loader insists on all.
SIGNAL_KINDS: tuple[str, ...] = (
    "heated",
    "negative_run",
    "unresolved",
    "negative",
    "falling",
    "louder",
    "higher_pitch",
    "faster",
    "interrupting",
    "interrupted_once",
    "hold",
    "talk_ratio",
)
KINDS: tuple[str, ...] = (*INTENTS, *SIGNAL_KINDS)
# Kinds whose text carries a number; the others must not ask for one.
COUNTED: frozenset[str] = frozenset(
    {"negative_run", "unresolved", "falling", "interrupting", "hold"}
)

ReasonTexts = dict[str, dict[str, str]]  # kind -> language -> template


def parse_reasons(text: str, shown: str) -> ReasonTexts:
    """The reason templates of one reasons file; a PlaybookError listing every problem."""
    data, lines = load_toml(shown, text)
    problems = Problems(shown, lines)
    for key in data:
        if key != "reasons":
            problems.add((key,), key, "unknown table; reason files hold only [reasons.KIND]")
    raw = data.get("reasons", {})
    texts: ReasonTexts = {}
    for kind in KINDS:
        if kind not in raw:
            problems.add(("reasons",), f"reasons.{kind}", "missing reason")
    for kind, per_language in raw.items():
        at = ("reasons", kind)
        if kind not in KINDS:
            problems.add(at, f"reasons.{kind}", f"unknown reason; known: {', '.join(KINDS)}")
            continue
        if not isinstance(per_language, dict):
            problems.add(at, f"reasons.{kind}", "must be a table of language = text")
            continue
        texts[kind] = {}
        for language in LANGUAGE_CODES:
            value = per_language.get(language)
            name = f"reasons.{kind}.{language}"
            if not isinstance(value, str) or not value.strip():
                problems.add(at, name, "missing translation: every reason needs every language")
            elif ("{n}" in value) != (kind in COUNTED):
                want = "needs" if kind in COUNTED else "takes no"
                problems.add((*at, language), name, f"this reason {want} a '{{n}}'")
            else:
                texts[kind][language] = value
        for language in per_language:
            if language not in LANGUAGE_CODES:
                problems.add(
                    (*at, language),
                    f"reasons.{kind}.{language}",
                    f"unknown language; supported: {', '.join(LANGUAGE_CODES)}",
                )
    problems.raise_if_any()
    return texts


@cache
def reason_texts() -> ReasonTexts:
    """The packaged ``monitor/rules/reasons.toml``, read once per process."""
    text, shown = read_rules_file("reasons.toml", None, "reason texts")
    return parse_reasons(text, shown)


def reason_text(kind: str, language: str = "en", n: int | None = None) -> str:
    """The words for one reason, in ``language`` (English when the language is unknown)."""
    texts = reason_texts()
    code = resolve(language)
    if kind == "interrupting" and n == 1:
        return texts["interrupted_once"][code]
    template = texts[kind][code]
    return template.format(n=n) if n is not None else template
