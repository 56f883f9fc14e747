"""What an ``ingest`` client may publish, beyond each event's own schema: calls it knows.

:func:`monitor.server.messages.parse_ingest` checks one event against its schema (types,
ranges, enums, lengths). :class:`IngestGate` checks it against the calls the server knows,
so a client cannot hang risk or alerts on a call that never started, start a call twice
(stealing its agent panel), or keep writing to a call that has ended:

- ``call_started`` for a call id the server already knows (live or ended) is refused;
- every other event with a ``call_id`` needs a call that started, and, except an
  ``alert_ack`` or ``card_feedback`` (a supervisor may act on a finished call), one that has
  not ended yet;
- an ``alert`` or ``card`` must bring a new ``alert_id``/``card_id`` (reusing one would replace
  another call's alert or card on every board); an ``alert_ack`` or ``card_feedback`` must name
  an alert or card of the call it names.

The board state learns about an event only when the server's pump applies it, a moment after
it was published; the gate therefore also remembers the last calls it let start or end itself,
so a client's ``call_started`` followed at once by its first ``partial`` (or an ``alert``
followed by its ``alert_ack``) is not refused.
Synchronous and free of I/O; everything kept is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from monitor import events as ev
from monitor.server.messages import ProtocolError
from monitor.server.state import BoardState

CallStatus = Literal["live", "ended"]
RECENT_CALLS = 4_096  # calls the gate remembers itself; older ones the board state knows
AFTER_END = (ev.AlertAcknowledged, ev.CardFeedback)


class IngestGate:
    def __init__(self, state: BoardState, remember: int = RECENT_CALLS) -> None:
        self._state = state
        self._recent: OrderedDict[str, CallStatus] = OrderedDict()
        # alert and card ids the gate let through, with their call: alert_id/card_id -> call_id
        self._recent_ids: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._remember = remember

    def status(self, call_id: str) -> CallStatus | None:
        recent = self._recent.get(call_id)
        board = self._state.call_status(call_id)
        if "ended" in (recent, board):
            return "ended"
        return recent or board

    def check(self, event: ev.Event, ref: object = None) -> None:
        """Raise ProtocolError when the server's calls do not allow ``event``."""
        call_id = ev.call_id_of(event)
        if call_id is None:
            return
        status = self.status(call_id)
        if isinstance(event, ev.CallStarted):
            if status is not None:
                raise ProtocolError(
                    "bad_message",
                    f"call {call_id!r} has already started{' and ended' * (status == 'ended')};"
                    " a new call needs a new call_id",
                    ref,
                )
            return
        kind = ev.EVENT_TYPES[type(event)]
        if status is None:
            raise ProtocolError(
                "not_found",
                f"{kind} for unknown call {call_id!r}: send its call_started first",
                ref,
            )
        if status == "ended" and not isinstance(event, AFTER_END):
            raise ProtocolError("bad_message", f"{kind} for call {call_id!r}, which has ended", ref)
        self._check_ids(event, kind, call_id, ref)

    def _owner(self, kind: str, item_id: str) -> str | None:
        """The call of an alert ("alert") or card ("card") the server knows, else None."""
        recent = self._recent_ids.get((kind, item_id))
        if recent is not None:
            return recent
        item = self._state.alert(item_id) if kind == "alert" else self._state.card(item_id)
        return item.call_id if item is not None else None

    def _check_ids(self, event: ev.Event, kind: str, call_id: str, ref: object) -> None:
        if isinstance(event, ev.Alert | ev.PromptCard):
            item, item_id = _item(event)
            if self._owner(item, item_id) is not None:
                raise ProtocolError(
                    "bad_message", f"{kind}: {item}_id {item_id!r} is already in use", ref
                )
        elif isinstance(event, ev.AlertAcknowledged | ev.CardFeedback):
            item, item_id = _item(event)
            if self._owner(item, item_id) != call_id:
                raise ProtocolError(
                    "not_found", f"{kind}: no {item} {item_id!r} on call {call_id!r}", ref
                )

    def record(self, event: ev.Event) -> None:
        """Remember a call the client started or ended, an alert or card it raised (after it
        was published)."""
        if isinstance(event, ev.CallStarted | ev.CallEnded):
            self._recent[event.call_id] = "live" if isinstance(event, ev.CallStarted) else "ended"
            self._recent.move_to_end(event.call_id)
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)
        elif isinstance(event, ev.Alert | ev.PromptCard):
            self._recent_ids[_item(event)] = event.call_id
            while len(self._recent_ids) > self._remember:
                self._recent_ids.popitem(last=False)


def _item(
    event: ev.Alert | ev.PromptCard | ev.AlertAcknowledged | ev.CardFeedback,
) -> tuple[str, str]:
    """("alert", alert_id) or ("card", card_id)."""
    if isinstance(event, ev.Alert | ev.AlertAcknowledged):
        return "alert", event.alert_id
    return "card", event.card_id
