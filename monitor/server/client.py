"""One connected board, agent panel or ingest client: its outbox, its wake-up and its rate."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection

from monitor.server.outbox import ClientOutbox
from monitor.server.state import Viewer


@dataclass(slots=True, eq=False)  # identity semantics: clients live in a set
class Client:
    name: str
    ws: ServerConnection
    viewer: Viewer
    outbox: ClientOutbox
    rate: float
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    allowance: float = 0.0
    last_check: float = field(default_factory=time.monotonic)
    violations: int = 0
    sent: int = 0
    resync_times: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def push(self, text: str, key: Hashable | None = None) -> None:
        self.outbox.put(text, key)
        self.wake.set()

    def take_token(self) -> bool:
        """Token bucket: ``rate`` messages a second, bursts of one second's worth."""
        now = time.monotonic()
        self.allowance = min(self.rate, self.allowance + (now - self.last_check) * self.rate)
        self.last_check = now
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True
