"""A client's bounded outbox: conflates "latest value" messages, resyncs on overflow.

Broadcast has no backpressure of its own (websockets' docs/topics/broadcast.rst),
so every client gets one of these. Synchronous; the connection's sender task
drains it. When a client falls ``maxsize`` messages behind, its backlog is
dropped and replaced by one RESYNC marker: the sender then sends a fresh
snapshot of the board state, which already contains everything dropped. Memory
per client is therefore bounded by ``maxsize`` messages whatever the client does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Final

RESYNC: Final = "\x00resync"  # the marker pop() returns; never a valid JSON message


class ClientOutbox:
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("an outbox needs room for at least one message")
        self.maxsize = maxsize
        self._items: deque[list[object]] = deque()  # [key | None, text]
        self._keyed: dict[Hashable, list[object]] = {}
        self._resync = False
        self.conflated = 0  # messages replaced by a newer one with the same key
        self.dropped = 0  # messages dropped by overflows (covered by a resync snapshot)
        self.resyncs = 0
        self.high_water = 0

    def __len__(self) -> int:
        return len(self._items) + (1 if self._resync else 0)

    @property
    def resync_pending(self) -> bool:
        return self._resync

    def put(self, text: str, key: Hashable | None = None) -> None:
        if self._resync:
            self.dropped += 1  # the pending snapshot will include it
            return
        if key is not None:
            entry = self._keyed.get(key)
            if entry is not None:
                entry[1] = text  # keep the position, send the latest value
                self.conflated += 1
                return
        if len(self._items) >= self.maxsize:
            self.request_resync()
            self.dropped += 1
            return
        entry = [key, text]
        self._items.append(entry)
        if key is not None:
            self._keyed[key] = entry
        self.high_water = max(self.high_water, len(self._items))

    def request_resync(self, *, initial: bool = False) -> None:
        """Drop the backlog; the next pop() is RESYNC (send a fresh snapshot).

        ``initial``: the snapshot a new client starts with, not counted as a resync.
        """
        self.dropped += len(self._items)
        self._items.clear()
        self._keyed.clear()
        if not self._resync:
            self._resync = True
            self.resyncs += 0 if initial else 1

    def pop(self) -> str | None:
        """The next message, RESYNC, or None when empty."""
        if self._resync:
            self._resync = False
            return RESYNC
        if not self._items:
            return None
        key, text = self._items.popleft()
        if key is not None:
            self._keyed.pop(key, None)
        assert isinstance(text, str)
        return text
