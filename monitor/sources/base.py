"""The seam every audio source implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from monitor.events import AudioFrame


class SourceError(Exception):
    """Audio that cannot be used, with a message that names the problem and the fix."""


class SourceInterrupted(SourceError):
    """The stream broke off (a dropped network connection): the call ends ``interrupted``
    after everything that arrived is flushed, not ``error`` (nothing it sent was wrong)."""


class AudioSource(Protocol):
    name: str  # a human name: the file name, "microphone"
    channels: int
    sample_rate: int

    def frames(self, call_id: str) -> AsyncIterator[AudioFrame]:
        """Audio frames in order, float32 (n, channels), ``start`` in seconds of call time."""
        ...

    async def aclose(self) -> None: ...
