"""The one place where events become JSON for the wire, and back.

Every message is an object with ``"v"`` (the protocol version) and ``"type"``;
the event's fields follow at the top level. Tuples become lists. Coming in, a message is
parsed by :func:`load_json` (nesting bounded) and checked field by field against the event's
schema (:mod:`monitor.wire_schema`, derived from :mod:`monitor.events`) by :func:`from_dict`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from monitor import events as ev
from monitor import wire_schema
from monitor.wire_schema import MAX_JSON_DEPTH

PROTOCOL_VERSION = 1


class WireError(ValueError):
    """A message that is not a valid event."""


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


def to_dict(event: ev.Event) -> dict[str, Any]:
    try:
        kind = ev.EVENT_TYPES[type(event)]
    except KeyError:
        raise WireError(f"{type(event).__name__} is not a wire event") from None
    body = _plain(event)
    return {"v": PROTOCOL_VERSION, "type": kind, **body}


def to_json(event: ev.Event) -> str:
    return json.dumps(to_dict(event), ensure_ascii=False, separators=(",", ":"))


def _refuse_constant(name: str) -> Any:
    raise WireError(f"{name} is not a number JSON allows; send a finite number")


# strings (their brackets are text) and everything that is not a bracket, for the depth scan
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text``, found without parsing it (no recursion)."""
    depth = deepest = 0
    for c in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def load_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse one message from outside: nesting bounded, ``NaN``/``Infinity`` refused.

    The depth is checked before parsing, because the parser recurses once per level and a
    message of a few KiB could otherwise exhaust the interpreter's stack (RecursionError).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"message is not UTF-8 text: {exc}") from None
    if json_depth(text) > max_depth:
        raise WireError(f"message is nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        if isinstance(exc, WireError):
            raise
        raise WireError(f"message is not valid JSON: {exc}") from None


def from_dict(data: dict[str, Any]) -> ev.Event:
    """The event a message describes, checked against its schema (monitor.wire_schema)."""
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in wire_schema.SCHEMAS:
        raise WireError(f"unknown event type {kind!r}")
    fields = {k: v for k, v in data.items() if k not in ("v", "type")}
    try:
        return wire_schema.build(kind, fields)
    except wire_schema.SchemaError as exc:
        raise WireError(str(exc)) from None
