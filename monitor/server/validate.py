"""What an ``ingest`` client may publish, beyond each event's own schema: calls it knows.

:func:`monitor.server.messages.parse_ingest` checks one event against its schema (types,
ranges, enums, lengths). :class:`IngestGate` checks it against the calls the server knows,
so a client cannot hang risk or alerts on a call that never started, start a call twice
(stealing its agent panel), or keep writing to a call that has ended:

- ``call_started`` for a call id the server already knows (live or ended) is refused;
- every other event with a ``call_id`` needs a call that started, and, except an
  ``alert_ack`` or ``card_feedback`` (a supervisor may act on a finished call), one that has
  not ended yet.

The board state learns about an event only when the server's pump applies it, a moment after
it was published; the gate therefore also remembers the last calls it let start or end itself,
so a client's ``call_started`` followed at once by its first ``partial`` is not refused.
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

    def record(self, event: ev.Event) -> None:
        """Remember a call the client started or ended (after it was published)."""
        if isinstance(event, ev.CallStarted | ev.CallEnded):
            self._recent[event.call_id] = "live" if isinstance(event, ev.CallStarted) else "ended"
            self._recent.move_to_end(event.call_id)
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)
