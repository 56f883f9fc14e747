"""The one place where events become JSON for the wire, and back.

Every message is an object with ``"v"`` (the protocol version) and ``"type"``;
the event's fields follow at the top level. Tuples become lists.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from monitor import events as ev

PROTOCOL_VERSION = 1

_BY_NAME: dict[str, type] = {name: cls for cls, name in ev.EVENT_TYPES.items()}


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


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def from_dict(data: dict[str, Any]) -> ev.Event:
    kind = data.get("type")
    cls = _BY_NAME.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WireError(f"unknown event type {kind!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("v", "type"):
            continue
        if name not in names:
            raise WireError(f"{kind}: unknown field {name!r}")
        if name == "words":
            value = tuple(ev.Word(**w) for w in value)
        elif name == "features" and value is not None:
            value = ev.AcousticFeatures(**value)
        else:
            value = _tupled(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise WireError(f"{kind}: {exc}") from None
