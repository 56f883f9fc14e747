"""The in-process event bus: persist-before-broadcast sinks, then bounded fan-out.

``publish`` first calls every *sink*, in order, and awaits what it returns (the
store is a sink whose awaitable resolves once the event is committed by its writer
thread: an event is on disk before anybody sees it), then offers the event to
every subscriber's own bounded queue. Broadcast has no backpressure of its own,
so each subscriber says what happens when its queue is full:

- ``"wait"``: ``publish`` waits for room (for consumers that must see every
  event and are part of the pipeline's pace, e.g. the console printer);
- ``"drop_oldest"``: the oldest queued event is discarded and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

from monitor.events import Event

log = logging.getLogger(__name__)

Overflow = Literal["wait", "drop_oldest"]
Sink = Callable[[Event], Awaitable[None] | None]
DEFAULT_QUEUE_SIZE = 10_000


class Subscription:
    """One subscriber's bounded queue. Iterate it; ``None`` never appears."""

    def __init__(self, bus: EventBus, name: str, maxsize: int, overflow: Overflow) -> None:
        if maxsize < 1:
            raise ValueError("a subscription's queue needs room for at least one event")
        self.name = name
        self.overflow = overflow
        self.dropped = 0
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._closed = False

    async def offer(self, event: Event) -> None:
        if self._closed:
            return
        if self.overflow == "wait":
            await self._queue.put(event)
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    async def get(self) -> Event:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def get_nowait(self) -> Event | None:
        """The next queued event, or None when the queue is empty."""
        try:
            item = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if item is None:  # the close marker: keep it for the iterator
            self._queue.put_nowait(None)
        return item

    def qsize(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Stop receiving; an iterator ends after the events already queued."""
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            # make room for the end marker: a closing subscriber loses its oldest event
            self._queue.get_nowait()
            self.dropped += 1
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class EventBus:
    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._subs: list[Subscription] = []
        self.published = 0

    def add_sink(self, sink: Sink) -> None:
        """A consumer called with every event before any subscriber sees it; what it
        returns, if anything, is awaited first (the store's commit)."""
        self._sinks.append(sink)

    def subscribe(
        self, name: str, maxsize: int = DEFAULT_QUEUE_SIZE, overflow: Overflow = "drop_oldest"
    ) -> Subscription:
        sub = Subscription(self, name, maxsize, overflow)
        self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def subscribers(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)

    async def publish(self, event: Event) -> None:
        for sink in self._sinks:
            # an exception here stops the broadcast: nothing unpersisted is shown
            pending = sink(event)
            if pending is not None:
                await pending
        self.published += 1
        for sub in tuple(self._subs):
            await sub.offer(event)

    def close(self) -> None:
        for sub in tuple(self._subs):
            sub.close()
