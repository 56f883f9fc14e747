"""The recognizer seam: what every speech engine offers, and the errors it raises.

A :class:`Recognizer` is a synchronous, I/O-free core for ONE channel of ONE call:
``accept`` audio (float32 mono at ``engine.sample_rate``), get back hypotheses;
``finish`` flushes what is still pending. The async driver
(:mod:`monitor.asr.transcriber`) runs it off the event loop. An :class:`Engine`
holds the one loaded model of a process and hands out recognizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from monitor.events import Word


class AsrError(Exception):
    """A speech-recognition problem, with a message that names the problem and the fix."""


class ModelNotFoundError(AsrError):
    """No model at the path tried (or none found anywhere it was looked for)."""


class DamagedModelError(AsrError):
    """A model folder exists but files are missing or cannot be loaded."""


class EngineUnavailableError(AsrError):
    """The engine's Python package is not installed."""


class FetchError(AsrError):
    """A model download failed (offline, bad size, damaged archive); nothing was changed."""


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """What a recognizer heard, in call-audio seconds.

    ``final=False`` is interim text for the utterance in progress (replaced by later
    hypotheses); ``final=True`` closes the utterance and the next one starts fresh.
    """

    text: str
    start: float
    end: float
    final: bool
    words: tuple[Word, ...] = ()


class Recognizer(Protocol):
    """One channel's streaming recognizer. Synchronous, I/O-free, not thread-safe."""

    def accept(self, samples: np.ndarray, start: float) -> list[Hypothesis]:
        """Take float32 mono samples starting at call time ``start``; return new hypotheses."""
        ...

    def finish(self) -> list[Hypothesis]:
        """End of stream: return the finals of whatever is still pending."""
        ...


class Engine(Protocol):
    """A loaded model, shared (thread-safely) by all recognizers of the process."""

    name: str
    sample_rate: int

    def new_recognizer(self) -> Recognizer: ...


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 [-1, 1] -> little-endian 16-bit PCM bytes (clipped, not wrapped)."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def check_chunk(samples: np.ndarray) -> np.ndarray:
    """Validate one channel's audio for a recognizer; return it as float32 1-D."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ValueError(
            f"a recognizer takes mono audio (1-D), got shape {arr.shape}; "
            "split the channels first (one recognizer per party)"
        )
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


MAX_GAP_S = 60.0


class StreamClock:
    """Maps a recognizer's fed-sample count to call time, filling small gaps with silence.

    Recognizers count samples; the pipeline speaks call time. The first chunk fixes the
    origin; a later chunk that starts after the expected time gets zeros for the gap (so
    word times stay right); one that overlaps what was already fed is trimmed.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.origin: float | None = None
        self.fed = 0  # samples fed so far

    def time_of(self, sample: int) -> float:
        return (self.origin or 0.0) + sample / self.sample_rate

    def align(self, samples: np.ndarray, start: float) -> np.ndarray:
        """The samples to feed so that the stream stays contiguous in call time."""
        if self.origin is None:
            self.origin = start
        expected = self.origin + self.fed / self.sample_rate
        gap = round((start - expected) * self.sample_rate)
        if gap > 0:
            if gap > MAX_GAP_S * self.sample_rate:
                raise ValueError(
                    f"audio jumps {gap / self.sample_rate:.1f} s ahead (chunk at {start:.2f} s, "
                    f"expected {expected:.2f} s); feed contiguous chunks or start a new recognizer"
                )
            samples = np.concatenate([np.zeros(gap, dtype=np.float32), samples])
        elif gap < 0:
            samples = samples[min(-gap, samples.size) :]
        self.fed += samples.size
        return samples
