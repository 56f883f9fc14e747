"""PushSource: a call's audio pushed in from the network (a telephony media stream).

The network side ``await push(samples)``; the pipeline reads ``frames()``. The buffer between
them is bounded: when it is full, ``push`` waits, so the ingest stops reading its socket and
TCP pushes back on the sender (a network ingest never drops audio and never grows memory).

Ending is explicit: ``close()`` ends the call normally (the pipeline flushes and the call
ends ``completed``); ``fail(reason)`` ends it after the audio already pushed with a
:class:`SourceError` (the pipeline flushes too, and the call ends ``error`` with the reason).
If the pipeline stops reading (``aclose``), a waiting or later ``push`` raises
:class:`SourceClosedError` so the network side can hang up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

import numpy as np

from monitor.events import AudioFrame
from monitor.sources.base import SourceError, SourceInterrupted

QUEUE_FRAMES = 50  # 5 s of audio at 0.1 s blocks, like the pipeline's own audio queue


class SourceClosedError(SourceError):
    """Audio pushed to a source whose call has already ended."""


class PushSource:
    def __init__(
        self, name: str, *, channels: int, sample_rate: int, max_frames: int = QUEUE_FRAMES
    ) -> None:
        if channels not in (1, 2):
            raise SourceError(f"{name}: {channels} channels; a call has 1 or 2 (one per party)")
        if max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        self.name = name
        self.channels = channels
        self.sample_rate = sample_rate
        self.max_frames = max_frames
        self._buf: deque[np.ndarray] = deque()
        self._data = asyncio.Event()  # set when there is something for frames() to do
        self._space = asyncio.Event()  # set when push() may append
        self._space.set()
        self._end: str | None = None  # None: open; "": closed normally; else the failure
        self._reader_gone = False
        self._interrupted = False
        self.pushed_samples = 0
        self.high_water = 0  # most frames ever buffered

    @property
    def ended(self) -> bool:
        return self._end is not None

    def __len__(self) -> int:
        return len(self._buf)

    async def push(self, samples: np.ndarray) -> None:
        """Queue a block of shape (n, channels); waits while the buffer is full."""
        data = np.asarray(samples, dtype=np.float32)
        if data.ndim == 1 and self.channels == 1:
            data = data[:, None]
        if data.ndim != 2 or data.shape[1] != self.channels:
            raise SourceError(
                f"{self.name}: pushed audio of shape {data.shape}; expected (n, {self.channels})"
            )
        while len(self._buf) >= self.max_frames and not self._stopped():
            self._space.clear()
            await self._space.wait()
        if self._reader_gone:
            raise SourceClosedError(f"{self.name}: the call is no longer being monitored")
        if self._end is not None:
            raise SourceClosedError(f"{self.name}: audio pushed after the source was closed")
        if len(data):
            self._buf.append(data)
            self.pushed_samples += len(data)
            self.high_water = max(self.high_water, len(self._buf))
            self._data.set()

    def close(self) -> None:
        """End the call normally after the audio already pushed (idempotent)."""
        self._finish("")

    def fail(self, reason: str, *, interrupted: bool = False) -> None:
        """End the call after the audio already pushed, as an error with ``reason``;
        ``interrupted``: the stream broke off (a dropped connection), so the call ends
        ``interrupted`` rather than ``error``."""
        if self._end is None:
            self._interrupted = interrupted
        self._finish(reason or "the audio stream failed")

    def _finish(self, reason: str) -> None:
        if self._end is None:
            self._end = reason
        self._data.set()
        self._space.set()

    def _stopped(self) -> bool:
        return self._end is not None or self._reader_gone

    async def frames(self, call_id: str) -> AsyncIterator[AudioFrame]:
        pos = 0
        while True:
            if self._buf:
                samples = self._buf.popleft()
                self._space.set()
                yield AudioFrame(call_id, pos / self.sample_rate, samples, self.sample_rate)
                pos += len(samples)
            elif self._end is not None:
                if self._end:
                    raise (SourceInterrupted if self._interrupted else SourceError)(self._end)
                return
            else:
                self._data.clear()
                await self._data.wait()

    async def aclose(self) -> None:
        """The reader is done (the pipeline calls this): wake and refuse further pushes."""
        self._reader_gone = True
        self._buf.clear()
        self._space.set()
