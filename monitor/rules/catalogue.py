"""The prompt-card catalogue: card texts per key and language, validated on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.languages import LANGUAGE_CODES, resolve
from monitor.rules.toml_lines import Problems, load_toml, read_rules_file


@dataclass(frozen=True, slots=True)
class CardText:
    title: str
    body: str


class CardCatalogue:
    """Card texts keyed by card key, then language."""

    def __init__(self, cards: dict[str, dict[str, CardText]]) -> None:
        self.cards = cards

    @classmethod
    def load(cls, path: Path | None = None) -> CardCatalogue:
        text, shown = read_rules_file("cards.toml", path, "card catalogue")
        data, lines = load_toml(shown, text)
        problems = Problems(shown, lines)
        for key in data:
            if key != "cards":
                problems.add((key,), key, "unknown table; card files hold only [cards.KEY.LANG]")
        cards: dict[str, dict[str, CardText]] = {}
        raw = data.get("cards", {})
        if not raw:
            problems.add(("cards",), "cards", "no cards defined")
        for key, per_language in raw.items():
            cards[key] = {}
            for language in LANGUAGE_CODES:
                entry = per_language.get(language) if isinstance(per_language, dict) else None
                if not isinstance(entry, dict):
                    problems.add(
                        ("cards", key),
                        f"cards.{key}.{language}",
                        "missing translation: every card needs " + ", ".join(LANGUAGE_CODES),
                    )
                    continue
                texts = {}
                for part in ("title", "body"):
                    value = entry.get(part)
                    if not isinstance(value, str) or not value.strip():
                        problems.add(
                            ("cards", key, language, part),
                            f"cards.{key}.{language}.{part}",
                            "missing or empty text",
                        )
                    texts[part] = value if isinstance(value, str) else ""
                for extra in entry:
                    if extra not in ("title", "body"):
                        problems.add(
                            ("cards", key, language, extra),
                            f"cards.{key}.{language}.{extra}",
                            "unknown key; a card has 'title' and 'body'",
                        )
                cards[key][language] = CardText(texts["title"], texts["body"])
            if isinstance(per_language, dict):
                for language in per_language:
                    if language not in LANGUAGE_CODES:
                        problems.add(
                            ("cards", key, language),
                            f"cards.{key}.{language}",
                            f"unknown language; supported: {', '.join(LANGUAGE_CODES)}",
                        )
        problems.raise_if_any()
        return cls(cards)

    def text(self, key: str, language: str) -> CardText:
        """The card in ``language``; English when the agent's language is not supported."""
        return self.cards[key][resolve(language)]
