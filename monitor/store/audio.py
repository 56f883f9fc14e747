"""A call's recording, written as the call goes: one 16-bit PCM WAV, every channel.

The header's sizes are rewritten after every block, and every block is flushed to the OS, so a
process killed mid-call leaves a WAV that any reader opens; :func:`repair_wav` fixes the header
(and drops a torn last sample frame) when even that last rewrite did not happen.

Spans can be silenced after they were written (PII read out loud is only known once the
recogniser's final text is redacted, a second or two later): :meth:`AudioWriter.silence`
zeroes what is on disk and remembers the span for samples still to come, on one channel (the
speaker's: the other party stays audible) or on all. Spans are given in seconds; the writer's
own sample rate (the source's, e.g. 8 kHz telephone audio, not the recogniser's 16 kHz) turns
them into sample frames.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

HEADER_BYTES = 44
SAMPLE_BYTES = 2  # PCM_16


def _header(sample_rate: int, channels: int, data_bytes: int) -> bytes:
    block = channels * SAMPLE_BYTES
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", 36 + data_bytes),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block, block, 16),
            b"data",
            struct.pack("<I", data_bytes),
        )
    )


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return np.round(clipped * 32767.0).astype("<i2")


class AudioWriter:
    """Appends float32 frames of shape (n, channels) to a WAV file; thread-safe."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise ValueError(
                f"a recording needs a positive sample rate and channel count, "
                f"got {sample_rate} Hz x {channels}"
            )
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames_written = 0
        # sample-frame ranges to keep at zero, and on which channel (None: every channel)
        self._silenced: list[tuple[int, int, int | None]] = []
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w+b")  # noqa: SIM115 - open for the life of the call
        self._file.write(_header(sample_rate, channels, 0))
        self._file.flush()
        self.closed = False

    @property
    def duration(self) -> float:
        return self.frames_written / self.sample_rate

    def write(self, samples: np.ndarray) -> None:
        """Append a block; mono input to a 1-channel writer may be 1-D."""
        block = np.asarray(samples, dtype=np.float32)
        if block.ndim == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(
                f"{self.path.name}: expected frames of shape (n, {self.channels}), "
                f"got {block.shape}; write every channel of the call"
            )
        with self._lock:
            if self.closed:
                raise ValueError(f"{self.path.name}: the recording is already closed")
            start = self.frames_written
            end = start + block.shape[0]
            for s0, s1, channel in self._silenced:
                lo, hi = max(s0, start), min(s1, end)
                if lo < hi:
                    block = block.copy()
                    cols = slice(None) if channel is None else channel
                    block[lo - start : hi - start, cols] = 0.0
            self._file.seek(0, os.SEEK_END)
            self._file.write(to_pcm16(block).tobytes())
            self.frames_written = end
            self._write_sizes()
            self._file.flush()

    def silence(self, start: float, end: float, channel: int | None = None) -> None:
        """Zero [start, end) seconds of call audio on ``channel`` (None: all), on disk now and
        in blocks still to come."""
        if channel is not None and not 0 <= channel < self.channels:
            raise ValueError(f"{self.path.name}: no channel {channel} in {self.channels}")
        s0 = max(0, int(np.floor(start * self.sample_rate)))
        s1 = max(s0, int(np.ceil(end * self.sample_rate)))
        with self._lock:
            self._silenced.append((s0, s1, channel))
            if self.closed:
                _zero_span(self.path, s0, s1, self.channels, channel)
                return
            _zero_open(self._file, s0, min(s1, self.frames_written), self.channels, channel)
            self._file.flush()

    def _write_sizes(self) -> None:
        data_bytes = self.frames_written * self.channels * SAMPLE_BYTES
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + data_bytes))
        self._file.seek(40)
        self._file.write(struct.pack("<I", data_bytes))

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self._write_sizes()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self.closed = True


def _zero_open(f: BinaryIO, s0: int, hi: int, channels: int, channel: int | None) -> None:
    """Zero frames [s0, hi) of an open WAV, on one channel or all."""
    if s0 >= hi:
        return
    block = channels * SAMPLE_BYTES
    f.seek(HEADER_BYTES + s0 * block)
    if channel is None:
        f.write(bytes((hi - s0) * block))
        return
    data = np.frombuffer(f.read((hi - s0) * block), dtype="<i2").reshape(-1, channels).copy()
    data[:, channel] = 0
    f.seek(HEADER_BYTES + s0 * block)
    f.write(data.tobytes())


def _zero_span(path: Path, s0: int, s1: int, channels: int, channel: int | None = None) -> None:
    block = channels * SAMPLE_BYTES
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        frames = (size - HEADER_BYTES) // block
        _zero_open(f, s0, min(s1, frames), channels, channel)


def repair_wav(path: Path) -> float:
    """Make a WAV written by :class:`AudioWriter` readable after a crash; returns its duration.

    The header's sizes are set from the file's length and a torn last sample frame is dropped.
    """
    with open(path, "r+b") as f:
        head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(
                f"{path} is not a recording written by callmon (no RIFF/WAVE header); "
                "it cannot be repaired, remove it or restore it from a backup"
            )
        channels, sample_rate = struct.unpack("<HI", head[22:28])
        block = channels * SAMPLE_BYTES
        size = f.seek(0, os.SEEK_END)
        frames = (size - HEADER_BYTES) // block
        data_bytes = frames * block
        f.truncate(HEADER_BYTES + data_bytes)
        f.seek(4)
        f.write(struct.pack("<I", 36 + data_bytes))
        f.seek(40)
        f.write(struct.pack("<I", data_bytes))
    return frames / sample_rate if sample_rate else 0.0


def read_span(path: Path, start: float, end: float) -> tuple[np.ndarray, int]:
    """Samples of [start, end) seconds as int16 (n, channels), and the sample rate."""
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
        channels, sample_rate = struct.unpack("<HI", head[22:28])
        block = channels * SAMPLE_BYTES
        s0 = max(0, int(start * sample_rate))
        s1 = max(s0, int(end * sample_rate))
        f.seek(HEADER_BYTES + s0 * block)
        raw = f.read((s1 - s0) * block)
    usable = len(raw) - len(raw) % block
    data = np.frombuffer(raw[:usable], dtype="<i2").reshape(-1, channels)
    return data, sample_rate


def write_pcm16(path: Path, data: np.ndarray, sample_rate: int) -> None:
    """Write int16 (n, channels) samples as a WAV file."""
    channels = data.shape[1] if data.ndim == 2 else 1
    raw = np.ascontiguousarray(data, dtype="<i2").tobytes()
    path.write_bytes(_header(sample_rate, channels, len(raw)) + raw)


def zero_span_seconds(path: Path, start: float, end: float, channel: int | None = None) -> None:
    """Silence [start, end) seconds of a closed recording (one channel or all), in place."""
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    channels, sample_rate = struct.unpack("<HI", head[22:28])
    s0 = max(0, int(np.floor(start * sample_rate)))
    s1 = max(s0, int(np.ceil(end * sample_rate)))
    _zero_span(path, s0, s1, channels, channel)
