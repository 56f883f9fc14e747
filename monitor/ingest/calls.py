"""Live calls fed from the network, shared by the AudioHook, AudioSocket and PCM ingests.

Every network ingest does the same four things with a call once its wire protocol has said
who is calling: start ``Monitor.run_call`` on a bounded :class:`PushSource` (refusing calls
over ``max_calls``), push decoded audio into it, end it (``close`` = completed, ``fail`` =
error, ``fail(interrupted=True)`` = the stream broke off), and at shutdown end every live
call, wait a bounded time for the flushes, then cancel. :class:`LiveCalls` is that, once.

:class:`MessageRate` is a token bucket for "thousands of tiny frames": a client over its
budget is told so and disconnected instead of costing a Python loop turn per byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from monitor.pipeline import CallMeta, CallSummary
from monitor.sources.base import AudioSource
from monitor.sources.stream import PushSource

log = logging.getLogger(__name__)


class CallRunner(Protocol):
    """What an ingest needs from :class:`monitor.pipeline.Monitor`."""

    async def run_call(self, source: AudioSource, meta: CallMeta) -> CallSummary: ...

    def refusal(self) -> str | None:
        """Why the monitor takes no new call now (at capacity: monitor/capacity.py), or None."""
        ...


class CallRefused(Exception):
    """A call that may not start now (shutting down, ``max_calls``, a duplicate key)."""


@dataclass(slots=True)
class LiveCall:
    key: str
    source: PushSource
    task: asyncio.Task[CallSummary]

    async def push(self, samples: np.ndarray) -> None:
        await self.source.push(samples)

    @property
    def ended(self) -> bool:
        return self.source.ended


class LiveCalls:
    """The live calls of one ingest, keyed by the protocol's own stream/session id."""

    def __init__(
        self, monitor: CallRunner, kind: str, *, max_calls: int, queue_frames: int
    ) -> None:
        if max_calls < 1 or queue_frames < 1:
            raise ValueError("max_calls and queue_frames must be at least 1")
        self.monitor = monitor
        self.kind = kind
        self.max_calls = max_calls
        self.queue_frames = queue_frames
        self.calls: dict[str, LiveCall] = {}
        self.closing = False
        self.refused = 0
        self.started = 0

    def begin(
        self, key: str, source_name: str, *, channels: int, sample_rate: int, meta: CallMeta
    ) -> LiveCall:
        """Start a call now; raises :class:`CallRefused` (and counts it) when it may not."""
        if self.closing:
            self.refused += 1
            raise CallRefused("callmon is shutting down")
        if len(self.calls) >= self.max_calls:
            self.refused += 1
            raise CallRefused(f"callmon already monitors {len(self.calls)} live calls (max_calls)")
        if (why := self.monitor.refusal()) is not None:  # the whole monitor's [capacity]
            self.refused += 1
            raise CallRefused(why)
        if key in self.calls:
            self.refused += 1
            raise CallRefused(f"{self.kind} stream {key} is already live")
        source = PushSource(
            source_name, channels=channels, sample_rate=sample_rate, max_frames=self.queue_frames
        )
        task = asyncio.create_task(self.monitor.run_call(source, meta), name=f"{self.kind}-{key}")
        call = LiveCall(key, source, task)
        self.calls[key] = call
        self.started += 1
        task.add_done_callback(lambda t: self._done(key, call, t))
        log.info("%s stream %s started (%s) for %s", self.kind, key, source_name, meta.agent_id)
        return call

    def refuse(self) -> None:
        """Count a stream refused before its call started (auth, a bad first message)."""
        self.refused += 1

    def _done(self, key: str, call: LiveCall, task: asyncio.Task[CallSummary]) -> None:
        if self.calls.get(key) is call:
            del self.calls[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s call %s failed", self.kind, key, exc_info=task.exception())

    async def aclose(self, timeout: float, hang_up: Callable[[], object] | None = None) -> None:
        """Refuse new calls; end the live ones, let them flush for ``timeout`` s, cancel."""
        self.closing = True
        live = list(self.calls.values())
        for call in live:  # ends "interrupted": callmon stopped it, the stream was fine
            call.source.fail("callmon was stopped while the call was still live", interrupted=True)
        if hang_up is not None:
            result = hang_up()
            if asyncio.iscoroutine(result):
                await result
        tasks = [c.task for c in live]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def stats(self) -> dict[str, int]:
        return {"live_calls": len(self.calls), "refused": self.refused, "started": self.started}


class MessageRate:
    """A token bucket: ``rate`` messages a second, a burst of one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("a message rate must be positive")
        self.rate = rate
        self.clock = clock
        self.allowance = rate
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
        self.last = now
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True


def reason_text(text: str) -> str:
    """A websocket close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")
