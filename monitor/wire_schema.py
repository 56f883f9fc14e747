"""What a valid event looks like on the wire: one schema per event kind, checked on the way in.

The schemas are built at import from the frozen dataclasses of :mod:`monitor.events` (their
type hints give the types, enums and shapes) plus the tables below, which give what a type
cannot say: each number's range, each string's length, each list's size. Building fails if
any field of a wire event has no rule, so a field added to an event cannot enter unchecked.

An event from outside (an ``ingest`` client) is refused, with a message naming the field and
the rule, when a field has the wrong type, lies outside its range, is not a finite number,
names an unknown enum value, is too long, or when ``end`` comes before ``start``. JSON itself
is parsed by :func:`monitor.wire.load_json`, which bounds nesting at :data:`MAX_JSON_DEPTH`
and refuses ``NaN``/``Infinity``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from monitor import events as ev
from monitor.languages import LANGUAGE_CODES

MAX_JSON_DEPTH = 16  # an event nests 3 deep (final -> words -> word); JSON deeper is refused
MAX_CALL_S = 86_400.0  # call audio time: a day
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 4_000  # an utterance, a card body: the 16 KiB message limit bounds them too
MAX_LABEL_CHARS = 200

# Every int/float field of a wire event (by "Class.field" or, for all classes, "field"):
# the closed range it must lie in.
NUMBERS: dict[str, tuple[float, float]] = {
    "start": (0.0, MAX_CALL_S),
    "end": (0.0, MAX_CALL_S),
    "at": (0.0, MAX_CALL_S),
    "seq": (0, 1_000_000_000),
    "channels": (1, 2),
    "confidence": (0.0, 1.0),
    "probabilities": (0.0, 1.0),
    "intents": (0.0, 1.0),  # an intent's probability
    "risk": (0.0, 100.0),
    "lag_s": (0.0, MAX_CALL_S),
    "CallRisk.sentiment": (-1.0, 1.0),
    "loudness_dbfs": (-200.0, 20.0),
    "pitch_hz": (0.0, 8_000.0),
    "speech_rate": (0.0, 1_000.0),  # words/s over >= 50 ms: a burst of short words is fast
    "duration": (0.0, MAX_CALL_S),
    "silence_before": (0.0, MAX_CALL_S),
    "hostile_calls": (0, 1_000_000),
    "recent_calls": (0, 1_000_000),
    "language_probability": (0.0, 1.0),
}
# Every str field: its longest length, or the values it may take. Ids must not be empty.
STRINGS: dict[str, int | tuple[str, ...]] = {
    "call_id": MAX_ID_CHARS,
    "alert_id": MAX_ID_CHARS,
    "card_id": MAX_ID_CHARS,
    "agent_id": MAX_ID_CHARS,
    "name": MAX_LABEL_CHARS,
    "queue": MAX_ID_CHARS,
    "source": 1_000,  # a file source's name may be a long path
    "language": LANGUAGE_CODES,
    "engine": 64,
    "text": MAX_TEXT_CHARS,
    "kind": 64,
    "message": MAX_LABEL_CHARS * 5,
    "title": MAX_LABEL_CHARS,
    "body": MAX_TEXT_CHARS,
    "trigger": 64,
    "reasons": MAX_LABEL_CHARS,
    "error": MAX_LABEL_CHARS * 5,
    "by": 64,
    "assigned_to": 64,
    "suggestion": MAX_LABEL_CHARS * 5,
    "intents": ev.INTENTS,  # an intent's name
}
NON_EMPTY = frozenset({"call_id", "alert_id", "card_id", "agent_id"})
# Every variable-length list: its most items.
ITEMS: dict[str, int] = {"reasons": 16, "words": 1_000, "intents": len(ev.INTENTS)}


class SchemaError(ValueError):
    """A value that does not fit its field; the message names the field and the rule."""


_JSON_KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _a(value: object) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    return _JSON_KINDS.get(type(value), type(value).__name__)


# A check takes the JSON value and the field's path, returns the Python value for the event.
Check = Callable[[Any, str], Any]


def _number(lo: float, hi: float, *, whole: bool) -> Check:
    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(f"'{path}' must be a number, got {_a(value)}")
        if whole and not isinstance(value, int):
            raise SchemaError(f"'{path}' must be a whole number, got {value!r}")
        if not math.isfinite(value):
            raise SchemaError(f"'{path}' must be a finite number, got {value!r}")
        if not lo <= value <= hi:
            raise SchemaError(f"'{path}' must be a number from {lo:g} to {hi:g}, got {value:g}")
        return value if whole else float(value)

    check.__doc__ = f"number {lo:g}..{hi:g}"
    return check


def _string(rule: int | tuple[str, ...], *, non_empty: bool) -> Check:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise SchemaError(f"'{path}' must be a string, got {_a(value)}")
        if isinstance(rule, tuple):
            if value not in rule:
                raise SchemaError(f"'{path}' must be one of {', '.join(rule)}; got {value!r}")
        elif len(value) > rule:
            raise SchemaError(f"'{path}' is {len(value)} characters long; at most {rule}")
        if non_empty and not value:
            raise SchemaError(f"'{path}' must not be empty")
        return value

    check.__doc__ = f"one of {rule}" if isinstance(rule, tuple) else f"string <= {rule}"
    return check


def _optional(inner: Check) -> Check:
    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    check.__doc__ = f"{inner.__doc__} or null"
    return check


def _items(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(f"'{path}' must be a list, got {_a(value)}")
    return value


def _list_of(inner: Check, most: int) -> Check:
    def check(value: Any, path: str) -> Any:
        items = _items(value, path)
        if len(items) > most:
            raise SchemaError(f"'{path}' has {len(items)} items; at most {most}")
        return tuple(inner(v, f"{path}[{i}]") for i, v in enumerate(items))

    check.__doc__ = f"list of <= {most} ({inner.__doc__})"
    return check


def _tuple_of(inners: tuple[Check, ...]) -> Check:
    def check(value: Any, path: str) -> Any:
        items = _items(value, path)
        if len(items) != len(inners):
            raise SchemaError(f"'{path}' must have {len(inners)} items, got {len(items)}")
        return tuple(
            c(v, f"{path}[{i}]") for i, (c, v) in enumerate(zip(inners, items, strict=True))
        )

    check.__doc__ = f"[{', '.join(str(c.__doc__) for c in inners)}]"
    return check


@dataclass(frozen=True, slots=True)
class Schema:
    """One dataclass's fields: the check of each, and which ones may be left out."""

    cls: type
    fields: Mapping[str, Check]
    required: frozenset[str]

    def build(self, data: Mapping[str, Any], path: str = "") -> Any:
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            check = self.fields.get(name)
            if check is None:
                raise SchemaError(f"unknown field '{path}{name}'")
            kwargs[name] = check(value, f"{path}{name}")
        missing = sorted(self.required - kwargs.keys())
        if missing:
            where = f"'{path[:-1]}' misses" if path else "missing field"
            raise SchemaError(f"{where} {', '.join(map(repr, missing))}")
        obj = self.cls(**kwargs)
        _cross_check(obj, path)
        return obj


def _cross_check(obj: Any, path: str) -> None:
    """Rules between fields, which no single field's check can see."""
    start, end = getattr(obj, "start", None), getattr(obj, "end", None)
    if isinstance(start, float) and isinstance(end, float) and end < start:
        raise SchemaError(f"'{path}end' ({end!r}) is before '{path}start' ({start!r})")
    if isinstance(obj, ev.UtteranceScore) and abs(sum(obj.probabilities) - 1.0) > 0.01:
        raise SchemaError(f"'probabilities' must add up to 1, got {sum(obj.probabilities):g}")


def _check_for(hint: Any, owner: type, name: str) -> Check:
    """The check of one field, from its type hint and the tables above."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _optional(_check_for(inner, owner, name))
    if origin is typing.Literal:
        return _string(tuple(args), non_empty=True)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _list_of(_check_for(args[0], owner, name), ITEMS[name])
        return _tuple_of(tuple(_check_for(a, owner, name) for a in args))
    if dataclasses.is_dataclass(hint):
        return _nested(_schema(hint))
    rule_key = f"{owner.__name__}.{name}"
    if hint in (int, float):
        lo, hi = NUMBERS.get(rule_key) or NUMBERS[name]
        return _number(lo, hi, whole=hint is int)
    if hint is str:
        rule = STRINGS.get(rule_key) or STRINGS[name]
        return _string(rule, non_empty=name in NON_EMPTY)
    raise TypeError(f"{rule_key}: no wire check for type {hint!r}")


def _nested(schema: Schema) -> Check:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise SchemaError(f"'{path}' must be an object, got {_a(value)}")
        return schema.build(value, path + ".")

    check.__doc__ = f"{schema.cls.__name__} object"
    return check


def _schema(cls: Any) -> Schema:
    hints = typing.get_type_hints(cls)
    fields: dict[str, Check] = {}
    required: set[str] = set()
    for f in dataclasses.fields(cls):
        try:
            fields[f.name] = _check_for(hints[f.name], cls, f.name)
        except KeyError as exc:  # a field without a rule: building the schemas fails at import
            raise TypeError(
                f"{cls.__name__}.{f.name}: add a rule for {exc} to wire_schema"
            ) from None
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.add(f.name)
    return Schema(cls, fields, frozenset(required))


SCHEMAS: dict[str, Schema] = {name: _schema(cls) for cls, name in ev.EVENT_TYPES.items()}


def build(kind: str, data: Mapping[str, Any]) -> ev.Event:
    """The event of wire type ``kind`` from its fields (``v``/``type`` already removed)."""
    try:
        event: ev.Event = SCHEMAS[kind].build(data)
    except SchemaError as exc:
        raise SchemaError(f"{kind}: {exc}") from None
    return event


def describe() -> str:
    """Every field's rule, one per line (``type.field: rule``), for docs and tests."""
    return "\n".join(
        f"{kind}.{name}: {check.__doc__}"
        for kind, schema in SCHEMAS.items()
        for name, check in schema.fields.items()
    )
