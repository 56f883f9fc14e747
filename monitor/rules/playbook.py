"""The playbook: triggers mapped to actions, loaded from TOML and validated with line numbers.

A playbook is what a contact centre edits, not code. It holds ``[settings]`` (cooldowns,
flood limits, strain), ``[risk]`` (overrides of :class:`monitor.rules.risk_config.RiskConfig`) and
a list of ``[[rule]]`` tables, each a trigger with its parameters and one or both actions: a
supervisor ``alert`` (a severity) and an agent ``card`` (a key of the card catalogue).
Every problem is reported at once, each naming the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.events import INTENTS, RISK_LEVELS, SPEAKERS, Severity
from monitor.languages import LANGUAGE_CODES
from monitor.rules.catalogue import CardCatalogue
from monitor.rules.coaching import PHRASE_LISTS, PhraseBook
from monitor.rules.reasons import reason_texts
from monitor.rules.risk_config import RiskConfig
from monitor.rules.toml_lines import Problems, load_toml, read_rules_file

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
_REQUIRED = object()

# Trigger name -> its parameters with defaults (_REQUIRED when the author must give one).
TRIGGERS: dict[str, dict[str, Any]] = {
    "intent": {"intent": _REQUIRED, "min_probability": 0.5, "min_count": 1, "speaker": "customer"},
    "risk_level": {"level": _REQUIRED},
    "sentiment_drop": {"drop": _REQUIRED, "turns": 3, "below": -0.5},
    "acoustic": {"feature": _REQUIRED, "above": _REQUIRED, "speaker": "customer"},
    "speech_rate": {"above": _REQUIRED, "speaker": "agent", "min_words": 15, "over_baseline": 1.25},
    "silence": {"seconds": _REQUIRED},
    "agent_phrase": {"phrases": _REQUIRED, "min_count": 1, "max_sentiment": 1.0},
    "talk_over": {"speaker": "agent", "min_count": 2, "window": 60.0},
    "no_acknowledgement": {"min_negative": 0.8, "within": 10.0},
    "call_end": {"max_sentiment": -0.3},
}
_COMMON = ("name", "trigger", "alert", "card", "message", "cooldown", "enabled")
_CHOICES: dict[str, tuple[str, ...]] = {
    "intent": INTENTS,
    "level": RISK_LEVELS[1:],
    "feature": ("loudness", "pitch", "rate"),
    "speaker": SPEAKERS,
    "phrases": PHRASE_LISTS,
    "board_language": LANGUAGE_CODES,
}


@dataclass(frozen=True, slots=True)
class Settings:
    board_language: str = "en"  # language of risk reasons and alert messages for supervisors
    cooldown: float = 45.0  # default seconds of call audio before the same rule fires again
    card_repeat: float = 120.0  # the same card is not shown twice within this many seconds
    max_cards: int = 3  # at most this many cards ...
    card_window: float = 60.0  # ... within this many seconds, so the agent is never flooded
    cards_per_event: int = 1  # one card per utterance: the first matching rule in file order
    hostile_intents: tuple[str, ...] = ("abuse", "legal_threat", "public_shaming")
    hostile_level: str = "escalated"  # reaching this level also makes a call hostile
    strain_window: int = 5  # an agent's last N calls ...
    strain_threshold: int = 3  # ... with this many hostile ones: the supervisor sees strain
    # early alerts: an intent rule (min_count 1, with an alert) fires on a customer's partial
    # transcript, before the turn ends, when the intent reaches this probability there, and a
    # risk_level rule with an alert when the partial, as the turn's end, would reach its level
    # (CallRules._early_risk); 1.0 or more: alerts wait for the turn's final text
    partial_min_probability: float = 0.8
    # ... on this many consecutive scored partials of the same turn: a partial is provisional
    # (the recogniser finishes a cut-off word as it guesses: "I want to can-" came out as "I want
    # to kill you"), so one partial alone does not alert; 1 alerts on the first
    partial_confirmations: int = 2


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    trigger: str
    params: Mapping[str, Any]
    alert: Severity | None = None
    card: str | None = None
    message: str = ""
    cooldown: float = 45.0
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Playbook:
    rules: tuple[Rule, ...]
    settings: Settings = field(default_factory=Settings)
    risk: RiskConfig = field(default_factory=RiskConfig)
    cards: CardCatalogue = field(default_factory=CardCatalogue.load)
    phrases: PhraseBook = field(default_factory=PhraseBook.load)
    source: str = ""

    @classmethod
    def load(
        cls, path: Path | None = None, cards: Path | None = None, phrases: Path | None = None
    ) -> Playbook:
        """Load and validate a playbook (default: the packaged monitor/rules/playbook.toml).

        Raises PlaybookError listing every problem with file, line and field.
        """
        text, shown = read_rules_file("playbook.toml", path, "playbook")
        catalogue = CardCatalogue.load(cards)
        book = PhraseBook.load(phrases)
        reason_texts()  # the packaged risk reasons: a broken file stops start-up, not a call
        return cls.parse(text, shown, catalogue, book)

    @classmethod
    def parse(cls, text: str, shown: str, cards: CardCatalogue, phrases: PhraseBook) -> Playbook:
        data, lines = load_toml(shown, text)
        problems = Problems(shown, lines)
        for key in data:
            if key not in ("settings", "risk", "rule"):
                problems.add((key,), key, "unknown table; use [settings], [risk] or [[rule]]")
        settings = _settings(data.get("settings", {}), problems)
        risk = _risk(data.get("risk", {}), problems)
        raw_rules = data.get("rule", [])
        if not isinstance(raw_rules, list) or not raw_rules:
            problems.add(("rule",), "rule", "no rules: add at least one [[rule]] table")
            raw_rules = []
        rules: list[Rule] = []
        names: set[str] = set()
        for index, raw in enumerate(raw_rules):
            rule = _rule(index, raw, settings, cards, problems, lines)
            if rule is None:
                continue
            if rule.name in names:
                problems.add(("rule", index, "name"), "name", f"duplicate rule name {rule.name!r}")
            names.add(rule.name)
            rules.append(rule)
        problems.raise_if_any()
        return cls(tuple(rules), settings, risk, cards, phrases, shown)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(
    value: Any, default: Any, at: tuple[str | int, ...], name: str, problems: Problems
) -> Any:
    """Check ``value`` against the type of ``default`` (and known choices); returns it."""
    if name in _CHOICES and value not in _CHOICES[name]:
        problems.add(at, name, f"{value!r} is not one of {', '.join(_CHOICES[name])}")
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            problems.add(at, name, f"must be true or false, got {value!r}")
    elif isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.add(at, name, f"must be a whole number >= 0, got {value!r}")
    elif isinstance(default, float):
        if not _is_number(value):
            problems.add(at, name, f"must be a number, got {value!r}")
            return default
        return float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        problems.add(at, name, f"must be a string, got {value!r}")
    return value


def _settings(raw: Any, problems: Problems) -> Settings:
    if not isinstance(raw, dict):
        problems.add(("settings",), "settings", "must be a table")
        return Settings()
    defaults = Settings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        at = ("settings", key)
        if key not in Settings.__dataclass_fields__:
            known = ", ".join(Settings.__dataclass_fields__)
            problems.add(at, key, f"unknown setting; known: {known}")
            continue
        default = getattr(defaults, key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(v in INTENTS for v in value):
                problems.add(at, key, f"must be a list of intents from {', '.join(INTENTS)}")
                continue
            value = tuple(value)
        elif key == "hostile_level":
            if value not in RISK_LEVELS[1:]:
                problems.add(at, key, f"{value!r} is not one of {', '.join(RISK_LEVELS[1:])}")
                continue
        else:
            before = len(problems.items)
            value = _check_value(value, default, at, key, problems)
            if isinstance(value, float) and value < 0:
                problems.add(at, key, f"must not be negative, got {value}")
            if key == "partial_confirmations" and isinstance(value, int) and value < 1:
                problems.add(at, key, f"must be 1 or more, got {value}")
            if len(problems.items) > before:
                continue  # keep the default so later checks do not repeat this problem
        values[key] = value
    return dataclasses.replace(defaults, **values)


def _risk(raw: Any, problems: Problems) -> RiskConfig:
    if not isinstance(raw, dict):
        problems.add(("risk",), "risk", "must be a table")
        return RiskConfig()
    defaults = RiskConfig()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        at = ("risk", key)
        if key not in RiskConfig.__dataclass_fields__:
            problems.add(
                at, key, "unknown risk setting; see monitor/rules/risk_config.py RiskConfig"
            )
            continue
        default = getattr(defaults, key)
        if isinstance(default, dict):
            if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
                problems.add(at, key, "must be a table of intent = points")
                continue
            value = {**default, **{k: float(v) for k, v in value.items()}}
        elif isinstance(default, tuple):
            if (
                not isinstance(value, list)
                or len(value) != len(default)
                or not all(_is_number(v) for v in value)
            ):
                problems.add(at, key, f"must be a list of {len(default)} numbers")
                continue
            value = tuple(float(v) for v in value)
        else:
            value = _check_value(value, default, at, key, problems)
        values[key] = value
    config = dataclasses.replace(defaults, **values)
    for key, message in config.validate():
        problems.add(("risk", key), key, message)
    return config


def _rule(
    index: int,
    raw: Any,
    settings: Settings,
    cards: CardCatalogue,
    problems: Problems,
    lines: dict[Any, int],
) -> Rule | None:
    at: tuple[str | int, ...] = ("rule", index)
    if not isinstance(raw, dict):
        problems.add(at, "rule", "must be a table")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.add(at, "name", "every rule needs a non-empty 'name'")
        name = f"rule {index + 1}"
    trigger = raw.get("trigger")
    if trigger not in TRIGGERS:
        problems.add(
            (*at, "trigger"),
            "trigger",
            f"unknown trigger {trigger!r} in rule {name!r}; known: {', '.join(TRIGGERS)}",
        )
        return None
    schema = TRIGGERS[trigger]
    params: dict[str, Any] = {}
    for key, default in schema.items():
        if key not in raw:
            if default is _REQUIRED:
                problems.add(at, key, f"rule {name!r} (trigger {trigger!r}) needs '{key}'")
            else:
                params[key] = default
            continue
        sample = 0.0 if default is _REQUIRED and key not in _CHOICES else default
        if default is _REQUIRED and key in _CHOICES:
            sample = ""
        value = _check_value(raw[key], sample, (*at, key), key, problems)
        if isinstance(value, float) and value < 0 and key not in ("max_sentiment", "below"):
            problems.add((*at, key), key, f"must not be negative, got {value}")
        params[key] = value
    for key in raw:
        if key not in schema and key not in _COMMON:
            allowed = ", ".join((*_COMMON, *schema))
            problems.add((*at, key), key, f"unknown key in rule {name!r}; allowed: {allowed}")
    alert = raw.get("alert")
    if alert is not None and alert not in SEVERITIES:
        problems.add(
            (*at, "alert"),
            "alert",
            f"bad severity {alert!r} in rule {name!r}; use {', '.join(SEVERITIES)}",
        )
    card = raw.get("card")
    if card is not None and (not isinstance(card, str) or card not in cards.cards):
        problems.add(
            (*at, "card"),
            "card",
            f"unknown card key {card!r} in rule {name!r}; known: {', '.join(cards.cards)}",
        )
    if alert is None and card is None:
        problems.add(at, "alert", f"rule {name!r} has no action: give 'alert' and/or 'card'")
    message = raw.get("message", "")
    if not isinstance(message, str) or (alert is not None and not message):
        problems.add(
            (*at, "message"),
            "message",
            f"rule {name!r} raises an alert and needs a 'message' for the supervisor",
        )
        message = ""
    cooldown = raw.get("cooldown", settings.cooldown)
    if not _is_number(cooldown) or cooldown < 0:
        problems.add(
            (*at, "cooldown"),
            "cooldown",
            f"cooldown must be a number of seconds >= 0, got {cooldown!r}",
        )
        cooldown = settings.cooldown
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.add((*at, "enabled"), "enabled", f"must be true or false, got {enabled!r}")
    if not enabled:
        return None
    return Rule(
        name=name,
        trigger=trigger,
        params=params,
        alert=alert if alert in SEVERITIES else None,
        card=card if isinstance(card, str) else None,
        message=message,
        cooldown=float(cooldown),
        line=lines.get(at),
    )
