"""A recorded call read from a file: mono, or stereo with one party per channel.

Files are streamed block by block (a 1-hour recording is never held in memory).
``realtime=True`` paces frames like a live call: a frame is released when the audio
in it would have finished being spoken; otherwise frames come as fast as the
pipeline takes them (the bounded queue behind the source makes the reader wait).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from monitor.events import AudioFrame
from monitor.sources.base import SourceError

# Containers a contact centre exports recordings in; libsndfile reads them all.
SUPPORTED_FORMATS = ("WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "MP3")
MAX_CHANNELS_WITHOUT_MAPPING = 2


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: Path
    format: str
    subtype: str
    channels: int
    sample_rate: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe_file(path: Path | str) -> FileInfo:
    """Check that a file is audio callmon can read; raise SourceError saying why not."""
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    if p.is_dir():
        raise SourceError(f"{p}: is a folder; give an audio file (WAV or FLAC)")
    if p.stat().st_size == 0:
        raise SourceError(f"{p}: the file is empty (0 bytes)")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise SourceError(
            f"{p}: not a readable audio file ({exc}). callmon reads "
            f"{', '.join(SUPPORTED_FORMATS)}; convert with e.g. `sox in.xxx -c 2 out.wav`"
        ) from None
    if info.format not in SUPPORTED_FORMATS:
        raise SourceError(
            f"{p}: unsupported format {info.format} ({info.format_info}); callmon reads "
            f"{', '.join(SUPPORTED_FORMATS)}. Convert with `sox {p.name} out.wav`"
        )
    if info.frames <= 0:
        raise SourceError(f"{p}: contains no audio samples")
    return FileInfo(p, info.format, info.subtype, info.channels, info.samplerate, info.frames)


class FileSource:
    """Reads a recording; picks the customer's and the agent's channel out of it."""

    def __init__(
        self,
        path: Path | str,
        *,
        realtime: bool = False,
        customer_channel: int = 0,
        agent_channel: int | None = None,
        block_seconds: float = 0.1,
    ) -> None:
        self.info = probe_file(path)
        self.path = self.info.path
        self.name = self.path.name
        self.realtime = realtime
        self.sample_rate = self.info.sample_rate
        self.block_seconds = block_seconds
        n = self.info.channels
        if agent_channel is None:
            if n > MAX_CHANNELS_WITHOUT_MAPPING:
                raise SourceError(
                    f"{self.path}: {n} channels; callmon expects mono or stereo (one party per "
                    f"channel). Say which channels hold the parties: --customer-channel N "
                    f"--agent-channel M (0..{n - 1})"
                )
            agent_channel = 1 - customer_channel if n == 2 else None
        for label, ch in (("customer", customer_channel), ("agent", agent_channel)):
            if ch is not None and not 0 <= ch < n:
                raise SourceError(
                    f"{self.path}: has {n} channel(s); {label} channel {ch} does not exist"
                )
        if agent_channel is not None and agent_channel == customer_channel:
            raise SourceError(f"{self.path}: customer and agent cannot both be channel {ch}")
        self.customer_channel = customer_channel
        self.agent_channel = agent_channel
        # the frames this source yields: column 0 = customer, column 1 = agent (when present)
        self.picks = [customer_channel] + ([agent_channel] if agent_channel is not None else [])
        self.channels = len(self.picks)
        # time.monotonic() at which call time 0 is "spoken" when paced in real time: maps an
        # utterance's audio time to the wall clock (latency from end of speech, lag per call)
        self.clock_origin: float | None = None

    @property
    def duration(self) -> float:
        return self.info.duration

    async def frames(self, call_id: str) -> AsyncIterator[AudioFrame]:
        block = max(1, int(self.sample_rate * self.block_seconds))
        clock0 = self.clock_origin = time.monotonic()
        pos = 0
        try:
            f = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise SourceError(f"{self.path}: cannot open: {exc}") from None
        with f:
            while True:
                try:
                    data = f.read(block, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise SourceError(
                        f"{self.path}: read failed at {pos / self.sample_rate:.1f}s: {exc}"
                    ) from None
                if data.shape[0] == 0:
                    break
                frame = AudioFrame(
                    call_id=call_id,
                    start=pos / self.sample_rate,
                    samples=np.ascontiguousarray(data[:, self.picks]),
                    sample_rate=self.sample_rate,
                )
                pos += data.shape[0]
                if self.realtime:
                    delay = clock0 + pos / self.sample_rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)  # let the rest of the process breathe
                yield frame

    async def aclose(self) -> None:
        return None
