"""Control messages of the live protocol (docs/protocol.md), next to the events of monitor.wire.

Server to client: ``snapshot`` (the events that rebuild the view), every event as
:func:`monitor.wire.to_dict` writes it, ``error`` and ``pong``. Client to server:
``ack_alert``, ``card_feedback`` and ``ping``; from ``ingest`` clients, events. Parsing is
pure: bytes in, a command (or a schema-checked event) or a :class:`ProtocolError` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from monitor import events as ev
from monitor import languages, wire

PROTOCOL_VERSION = wire.PROTOCOL_VERSION
MAX_NAME_CHARS = 64

ErrorCode = Literal[
    "bad_json",
    "bad_message",
    "unsupported_version",
    "unknown_type",
    "forbidden",
    "not_found",
    "rate_limited",
]


class ProtocolError(ValueError):
    def __init__(self, code: ErrorCode, message: str, ref: Any = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.ref = ref


@dataclass(frozen=True, slots=True)
class AckAlert:
    alert_id: str
    assign_to: str = ""
    by: str = ""
    ref: Any = None


@dataclass(frozen=True, slots=True)
class MarkCard:
    card_id: str
    action: Literal["used", "dismissed"]
    ref: Any = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: Any = None


Command = AckAlert | MarkCard | Ping


def _text_field(data: dict[str, Any], name: str, *, required: bool, ref: Any) -> str:
    value = data.get(name, "")
    if not isinstance(value, str) or (required and not value):
        raise ProtocolError("bad_message", f"field {name!r} must be a non-empty string", ref)
    if len(value) > 200:
        raise ProtocolError("bad_message", f"field {name!r} is longer than 200 characters", ref)
    return value


def _load_object(text: str | bytes) -> dict[str, Any]:
    try:
        data = wire.load_json(text)  # nesting bounded at wire.MAX_JSON_DEPTH; no NaN
    except wire.WireError as exc:
        raise ProtocolError("bad_json", str(exc)) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object with a 'type'")
    ref = data.get("id")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported_version",
            f'protocol version {data.get("v")!r} is not supported; send "v": {PROTOCOL_VERSION}',
            ref,
        )
    if not isinstance(data.get("type"), str):
        raise ProtocolError("bad_message", "a message needs a string 'type'", ref)
    return data


def parse_command(text: str | bytes) -> Command:
    """A board's or agent panel's message as a command; ProtocolError names what is wrong."""
    data = _load_object(text)
    kind, ref = data["type"], data.get("id")
    if kind == "ping":
        return Ping(ref)
    if kind == "ack_alert":
        by = _text_field(data, "by", required=False, ref=ref)[:MAX_NAME_CHARS]
        return AckAlert(
            alert_id=_text_field(data, "alert_id", required=True, ref=ref),
            assign_to=_text_field(data, "assign_to", required=False, ref=ref)[:MAX_NAME_CHARS],
            by=by,
            ref=ref,
        )
    if kind == "card_feedback":
        action = data.get("action")
        if action not in ("used", "dismissed"):
            raise ProtocolError(
                "bad_message", "card_feedback 'action' is 'used' or 'dismissed'", ref
            )
        return MarkCard(_text_field(data, "card_id", required=True, ref=ref), action, ref)
    raise ProtocolError(
        "unknown_type",
        f"unknown message type {kind!r}; expected ack_alert, card_feedback, ping",
        ref,
    )


def parse_ingest(text: str | bytes) -> tuple[ev.Event, Any]:
    """An event sent by an ``ingest`` client (another process running the pipeline), checked
    against its schema (:mod:`monitor.wire_schema`), and the client's ``id`` for replies."""
    data = _load_object(text)
    ref = data.pop("id", None)
    try:
        return wire.from_dict(data), ref
    except wire.WireError as exc:
        code: ErrorCode = "unknown_type" if "unknown event type" in str(exc) else "bad_message"
        raise ProtocolError(code, str(exc), ref) from None


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def error_message(code: ErrorCode, message: str, ref: Any = None) -> str:
    body: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "type": "error",
        "code": code,
        "message": message,
    }
    if ref is not None:
        body["id"] = ref
    return dumps(body)


def pong_message(ref: Any = None) -> str:
    return dumps({"v": PROTOCOL_VERSION, "type": "pong", "id": ref})


def snapshot_message(
    events: list[ev.Event], role: str, agent_id: str, queue: str, reason: str, seq: int
) -> str:
    """``seq``: the number of bus events the server had applied; deltas continue after it."""
    return dumps(
        {
            "v": PROTOCOL_VERSION,
            "type": "snapshot",
            "reason": reason,
            "role": role,
            "agent_id": agent_id,
            "queue": queue,
            "seq": seq,
            "languages": languages.display_names(),  # for the pages' language pickers
            "events": [wire.to_dict(e) for e in events],
        }
    )
