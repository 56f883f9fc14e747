"""A board server in cluster mode: the ordinary :class:`monitor.server.MonitorServer`, fed from
the ``events`` stream instead of an in-process pipeline.

Every board reads the whole stream on its own (``XREAD``, no consumer group: each board needs
every event) from the oldest entry Redis keeps, so a board started late, or restarted,
rebuilds the same state as the others and its clients get the same snapshots. Events are
checked against their schema like any input and delivered once each, in each call's order:
an event whose ordinal is not past the call's last one is dropped and counted.

What the board's own clients do (acknowledge an alert, mark a card) is persisted in
PostgreSQL and appended to the stream, not applied locally: every board, this one included,
applies it when it comes back from Redis, so all boards agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import redis.exceptions

from monitor import events as ev
from monitor import wire
from monitor.bus import EventBus
from monitor.cluster.streams import Keys, decode_event, encode_event

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from monitor.store.postgres import PgStore

log = logging.getLogger(__name__)
MAX_TRACKED_CALLS = 20_000  # calls whose last ordinal a board remembers (oldest forgotten)
MAX_SEEN_SIDE_IDS = 50_000


def ordinal_of(event_id: str) -> tuple[str, int | None]:
    """``call:0000012`` -> (call, 12); ids outside a call's sequence -> (id, None)."""
    head, _, tail = event_id.rpartition(":")
    if head and tail.isdigit():
        return head, int(tail)
    return event_id, None


class BoardBus(EventBus):
    """The server's bus: ``publish`` (from the server's clients) goes to Redis; ``deliver``
    (from the events stream) reaches the server."""

    def __init__(self, redis: Redis, keys: Keys, store: PgStore | None, maxlen: int) -> None:
        super().__init__()
        self.redis = redis
        self.keys = keys
        self.store = store
        self.maxlen = maxlen

    async def publish(self, event: ev.Event) -> None:
        eid = f"{ev.call_id_of(event) or 'board'}:x-{type(event).__name__}-{uuid.uuid4().hex}"
        if self.store is not None:
            await self.store.persist(eid, event)
        await self.redis.xadd(
            self.keys.events, {"id": eid, "data": encode_event(eid, event)},
            maxlen=self.maxlen, approximate=True,
        )  # fmt: skip

    async def deliver(self, event: ev.Event) -> None:
        await EventBus.publish(self, event)


class EventsReader:
    """Reads the events stream into a :class:`BoardBus`, once each and in order."""

    def __init__(self, redis: Redis, keys: Keys, bus: BoardBus) -> None:
        self.redis = redis
        self.keys = keys
        self.bus = bus
        self.last: OrderedDict[str, int] = OrderedDict()
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.delivered = 0
        self.duplicates = 0
        self.missing = 0  # ordinals skipped over (trimmed before this board read them)
        self.invalid = 0
        self.latency_ms: list[float] = []  # stream entry time -> delivered here (bounded)
        self.position = "0-0"

    async def run(self) -> None:
        down = False
        while True:
            try:
                resp = await self.redis.xread(
                    {self.keys.events: self.position}, count=500, block=1000
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                if not down:  # once per outage, not twice a second
                    log.warning("board: Redis unreachable (%s); retrying", exc)
                down = True
                await asyncio.sleep(0.5)
                continue
            if down:
                log.warning("board: Redis is back; reading from %s", self.position)
                down = False
            for _key, entries in resp or ():
                for entry_id, fields in entries:
                    self.position = _s(entry_id)
                    await self._one(self.position, fields)

    async def _one(self, stream_id: str, fields: dict[Any, Any]) -> None:
        eid = _s(fields.get(b"id", b""))
        try:
            event = decode_event(fields.get(b"data", b""))
        except wire.WireError as exc:
            self.invalid += 1
            log.error("board: events entry %s refused: %s", stream_id, exc)
            return
        call, n = ordinal_of(eid)
        if eid.endswith(":partial"):
            pass  # interim text: superseded by the final, shown as it comes
        elif n is None:
            if eid in self.seen:
                self.duplicates += 1
                return
            self.seen[eid] = None
            if len(self.seen) > MAX_SEEN_SIDE_IDS:
                self.seen.popitem(last=False)
        else:
            last = self.last.get(call, 0)
            if n <= last:
                self.duplicates += 1
                return
            self.missing += n - last - 1
            self.last[call] = n
            self.last.move_to_end(call)
            if len(self.last) > MAX_TRACKED_CALLS:
                self.last.popitem(last=False)
        with contextlib.suppress(ValueError):
            ms = int(stream_id.split("-")[0])
            if len(self.latency_ms) < 100_000:
                self.latency_ms.append(max(0.0, time.time() * 1000 - ms))
        self.delivered += 1
        await self.bus.deliver(event)

    def stats(self) -> dict[str, int]:
        return {"delivered": self.delivered, "duplicates": self.duplicates,
                "missing": self.missing, "invalid": self.invalid}  # fmt: skip


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
