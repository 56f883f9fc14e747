"""The worker's bus: persist each event in PostgreSQL, then append it to the events stream,
fenced by the call's lease and numbered so that a replay publishes nothing twice.

It implements :class:`monitor.seams.Bus`, so the pipeline (:class:`monitor.pipeline.Monitor`)
runs unchanged on a worker. Every event of a call gets the next *ordinal*; the pipeline is
deterministic in audio time, so a worker that takes a call over and replays its audio from
the start produces the same events with the same ordinals (interim text, whose timing
depends on how fast the audio arrives, has none). Ordinals at or below the
checkpoint (``published``) were already delivered: they only rebuild the pipeline's state
(rules, recogniser, redactor) and go nowhere. The rest are upserted by id in PostgreSQL
(persist before broadcast) and appended with :data:`monitor.cluster.streams.PUBLISH_LUA`,
which checks the lease and advances the checkpoint in the same atomic step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor import events as ev
from monitor.bus import EventBus, Overflow, Sink, Subscription
from monitor.cluster import streams
from monitor.cluster.streams import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from monitor.store.postgres import PgStore


class LeaseLost(RuntimeError):
    """Another worker owns the call now: this one must stop publishing it."""


@dataclass(slots=True)
class _CallState:
    token: str
    skip: int  # ordinals up to this one are already on the events stream
    base: int = 0  # added to every ordinal (a replay that cannot start at the call's start)
    ordinal: int = 0
    at: float = 0.0
    suppressed: int = 0
    finals: list[ev.FinalUtterance] = field(default_factory=list)


class WorkerBus:
    """One per worker process; calls are registered before they run."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        store: PgStore | None = None,
        events_maxlen: int = 200_000,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.events_maxlen = events_maxlen
        self._local = EventBus()  # in-process subscribers (a console, tests)
        self._calls: dict[str, _CallState] = {}
        self._publish = redis.register_script(streams.PUBLISH_LUA)
        self.published = 0
        self.suppressed = 0  # replayed events not published again
        self.latency_ms: list[float] = []  # persist + append, per published event (bounded)

    # ---- the Bus seam ------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        self._local.add_sink(sink)

    def subscribe(
        self, name: str, maxsize: int = 10_000, overflow: Overflow = "drop_oldest"
    ) -> Subscription:
        return self._local.subscribe(name, maxsize, overflow)

    async def publish(self, event: ev.Event) -> None:
        call_id = ev.call_id_of(event)
        if call_id is None:  # an agent's strain: not part of any call's sequence
            await self._send(None, streams.strain_event_id(getattr(event, "agent_id", "")), 0,
                             event)  # fmt: skip
            return
        state = self._calls.get(call_id)
        if state is None:
            raise LeaseLost(f"call {call_id} is not registered on this worker")
        if isinstance(event, ev.PartialUtterance):
            # interim text depends on how fast the audio came (a replay runs faster than the
            # call did), so it has no ordinal: shown only once the replay has caught up,
            # never stored, superseded by the final anyway
            if state.ordinal >= state.skip:
                await self._send(state, streams.partial_event_id(call_id), 0, event)
            return
        if isinstance(event, ev.FinalUtterance):
            state.finals.append(event)  # replayed ones too: the recording mutes their PII
        state.ordinal += 1
        state.at = max(state.at, float(getattr(event, "at", getattr(event, "end", 0.0)) or 0.0))
        if state.ordinal <= state.skip:
            state.suppressed += 1
            self.suppressed += 1
            return
        n = state.base + state.ordinal
        await self._send(state, streams.event_id(call_id, n), n, event)

    async def publish_side(self, call_id: str, key: str, event: ev.Event) -> None:
        """An event outside the call's sequence (a move, a gap), published once per ``key``
        (which the caller derives from what happened: the move's number, the gap's chunk)."""
        state = self._calls.get(call_id)
        if state is None:
            raise LeaseLost(f"call {call_id} is not registered on this worker")
        await self._send(state, streams.side_event_id(call_id, key), -1, event)

    async def _send(self, state: _CallState | None, eid: str, n: int, event: ev.Event) -> None:
        t0 = time.perf_counter()
        if self.store is not None and not isinstance(event, ev.PartialUtterance):
            await self.store.persist(eid, event)
        data = streams.encode_event(eid, event)
        if state is None:
            await self.redis.xadd(
                self.keys.events, {"id": eid, "data": data},
                maxlen=self.events_maxlen, approximate=True,
            )  # fmt: skip
        else:
            call_id = ev.call_id_of(event) or ""
            # side events (n = -1) are made idempotent by a field per id in the checkpoint
            ok = await self._publish(
                keys=[self.keys.ckpt(call_id), self.keys.events],
                args=[state.token, max(n, 0) if n >= 0 else 0, eid, data, self.events_maxlen,
                      f"{state.at:.3f}", eid if n < 0 else ""],
            )  # fmt: skip
            if int(ok) < 0:
                raise LeaseLost(f"call {call_id} was taken over by another worker")
        self.published += 1
        if len(self.latency_ms) < 100_000:
            self.latency_ms.append((time.perf_counter() - t0) * 1000)
        await self._local.publish(event)

    # ---- calls -------------------------------------------------------------------------------
    def register(self, call_id: str, token: str, skip: int, base: int = 0) -> None:
        self._calls[call_id] = _CallState(token=token, skip=skip, base=base)

    def finals(self, call_id: str) -> list[ev.FinalUtterance]:
        """The call's final utterances as published (redacted), replayed ones included."""
        state = self._calls.get(call_id)
        return list(state.finals) if state is not None else []

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def revoke_all(self) -> None:
        """Publish nothing more (a worker handing its calls over at shutdown)."""
        for state in self._calls.values():
            state.token = "\x00revoked"

    def stats(self) -> dict[str, Any]:
        return {"published": self.published, "suppressed": self.suppressed,
                "calls": len(self._calls)}  # fmt: skip
