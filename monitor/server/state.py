"""The board's state, kept so a client that connects late gets a snapshot, then deltas.

Synchronous and free of I/O: :meth:`BoardState.apply` takes every event in bus
order; :meth:`BoardState.snapshot` returns the shortest list of events that
rebuilds what a given viewer may see. Clients therefore have one reducer for
both the snapshot and the live deltas. Everything kept is bounded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Literal

from monitor import events as ev
from monitor.server.config import Role

# What an agent's panel receives about the agent's own call; never scores, risk or alerts.
AGENT_EVENT_TYPES: tuple[type, ...] = (
    ev.CallStarted,
    ev.CallEnded,
    ev.PartialUtterance,
    ev.FinalUtterance,
    ev.PromptCard,
    ev.CardFeedback,
)
RISK_HISTORY = 120  # risk points per call kept for the sparkline


@dataclass(slots=True)
class Viewer:
    """Who is looking: a role, and for supervisors an optional queue filter."""

    role: Role
    queue: str = ""


@dataclass(slots=True)
class _Call:
    started: ev.CallStarted | None
    log: deque[ev.Event]
    partials: dict[str, ev.PartialUtterance] = field(default_factory=dict)
    risks: deque[ev.CallRisk] = field(default_factory=lambda: deque(maxlen=RISK_HISTORY))
    ended: ev.CallEnded | None = None
    lag: ev.CallLag | None = None  # the latest: is the call delayed, by how much


def conflation_key(event: ev.Event) -> tuple[str, ...] | None:
    """Events that only matter as the latest value of something; a newer one replaces it."""
    if isinstance(event, ev.CallRisk):
        return ("risk", event.call_id)
    if isinstance(event, ev.CallLag):
        return ("lag", event.call_id)
    if isinstance(event, ev.PartialUtterance):
        return ("partial", event.call_id, event.speaker)
    if isinstance(event, ev.AgentStrain):
        return ("strain", event.agent_id)
    return None


class BoardState:
    def __init__(
        self, max_ended_calls: int = 50, max_log_per_call: int = 900, max_alerts: int = 500
    ) -> None:
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._alerts: OrderedDict[str, ev.Alert] = OrderedDict()
        self._acks: dict[str, ev.AlertAcknowledged] = {}
        self._cards: dict[str, ev.PromptCard] = {}
        self._strain: dict[str, ev.AgentStrain] = {}
        self._max_ended = max_ended_calls
        self._max_log = max_log_per_call
        self._max_alerts = max_alerts
        self.applied = 0

    # ---- reading ----------------------------------------------------------------------------
    def owner_of(self, call_id: str) -> str | None:
        call = self._calls.get(call_id)
        return call.started.agent_id if call and call.started else None

    def queue_of(self, call_id: str) -> str | None:
        call = self._calls.get(call_id)
        return call.started.queue if call and call.started else None

    def alert(self, alert_id: str) -> ev.Alert | None:
        return self._alerts.get(alert_id)

    def card(self, card_id: str) -> ev.PromptCard | None:
        return self._cards.get(card_id)

    @property
    def call_ids(self) -> tuple[str, ...]:
        return tuple(self._calls)

    def call_status(self, call_id: str) -> Literal["live", "ended"] | None:
        """None for a call this state has never seen (or has evicted after it ended)."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        return "live" if call.ended is None else "ended"

    def active_call_ids(self) -> tuple[str, ...]:
        return tuple(cid for cid, c in self._calls.items() if c.ended is None)

    def visible(self, event: ev.Event, viewer: Viewer) -> bool:
        role = viewer.role
        if role.kind == "ingest":
            return False
        call_id = ev.call_id_of(event)
        if role.kind == "agent":
            return (
                isinstance(event, AGENT_EVENT_TYPES)
                and call_id is not None
                and self.owner_of(call_id) == role.agent_id
            )
        if viewer.queue and call_id is not None:
            return self.queue_of(call_id) == viewer.queue
        return True

    # ---- writing ----------------------------------------------------------------------------
    def apply(self, event: ev.Event) -> None:
        self.applied += 1
        if isinstance(event, ev.AgentStrain):
            self._strain[event.agent_id] = event
            return
        if isinstance(event, ev.AlertAcknowledged):
            if event.alert_id in self._alerts:
                self._acks[event.alert_id] = event
            return
        if isinstance(event, ev.Alert):
            self._alerts[event.alert_id] = event
            while len(self._alerts) > self._max_alerts:
                old, _ = self._alerts.popitem(last=False)
                self._acks.pop(old, None)
        call_id = ev.call_id_of(event)
        if call_id is None:
            return
        call = self._calls.get(call_id)
        if call is None:
            started = event if isinstance(event, ev.CallStarted) else None
            call = _Call(started, deque(maxlen=self._max_log))
            self._calls[call_id] = call
        if isinstance(event, ev.CallStarted):
            call.started = event
        elif isinstance(event, ev.CallEnded):
            call.ended = event
            call.partials.clear()
            self._evict_ended()
        elif isinstance(event, ev.PartialUtterance):
            call.partials[event.speaker] = event
        elif isinstance(event, ev.CallRisk):
            call.risks.append(event)
        elif isinstance(event, ev.CallLag):
            call.lag = event
        elif isinstance(event, ev.Alert):
            pass  # kept in the alert list, with its acknowledgement
        else:
            if isinstance(event, ev.FinalUtterance):
                partial = call.partials.get(event.speaker)
                if partial is not None and partial.seq <= event.seq:
                    del call.partials[event.speaker]
            elif isinstance(event, ev.PromptCard):
                self._cards[event.card_id] = event
            call.log.append(event)

    def _evict_ended(self) -> None:
        ended = [cid for cid, c in self._calls.items() if c.ended is not None]
        for cid in ended[: max(0, len(ended) - self._max_ended)]:
            call = self._calls.pop(cid)
            for item in call.log:
                if isinstance(item, ev.PromptCard):
                    self._cards.pop(item.card_id, None)
            for alert_id in [a for a, al in self._alerts.items() if al.call_id == cid]:
                del self._alerts[alert_id]
                self._acks.pop(alert_id, None)

    # ---- snapshot ---------------------------------------------------------------------------
    def snapshot(self, viewer: Viewer) -> list[ev.Event]:
        """Events that rebuild this viewer's view, oldest first; replaying them is idempotent."""
        out: list[ev.Event] = []
        for call in self._calls.values():
            items: list[ev.Event] = []
            if call.started is not None:
                items.append(call.started)
            items.extend(call.risks)
            items.extend(call.log)
            items.extend(call.partials.values())
            if call.lag is not None:
                items.append(call.lag)
            if call.ended is not None:
                items.append(call.ended)
            out.extend(e for e in items if self.visible(e, viewer))
        for alert_id, alert in self._alerts.items():
            if self.visible(alert, viewer):
                out.append(alert)
                ack = self._acks.get(alert_id)
                if ack is not None:
                    out.append(ack)
        out.extend(s for s in self._strain.values() if self.visible(s, viewer))
        return out
