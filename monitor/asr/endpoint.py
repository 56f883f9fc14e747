"""Voice activity and utterance endpointing on one channel (synchronous, I/O-free).

Frame decisions come from pocketsphinx's WebRTC-style ``Vad`` (30 ms frames, offline, cheap);
this module adds the utterance logic on top: speech *starts* when most of the last few frames
are voiced (with a little pre-roll so the first phoneme is not clipped) and *ends* after
``end_silence`` seconds without voice, or when an utterance runs past ``max_utterance``.
Positions are absolute sample indices of the stream the caller feeds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from monitor.asr.base import EngineUnavailableError, to_pcm16

DEFAULT_TAIL_S = 0.15  # kept after the last voiced frame of an utterance


@dataclass(frozen=True, slots=True)
class Boundary:
    kind: Literal["start", "end"]
    sample: int  # absolute index in the fed stream: first sample of speech / one past the last


def _new_vad(sample_rate: int, mode: int) -> tuple[object, int]:
    try:
        from pocketsphinx import Vad
    except ImportError as exc:  # pragma: no cover - pocketsphinx is a hard dependency
        raise EngineUnavailableError(
            "voice activity detection needs pocketsphinx: pip install pocketsphinx"
        ) from exc
    vad = Vad(mode, sample_rate, 0.03)
    return vad, int(vad.frame_bytes) // 2


class Endpointer:
    """Splits one channel's stream into utterances.

    ``push`` returns the boundaries found in the new audio; ``in_speech`` tells whether an
    utterance is open; ``flush`` closes an open one at the end of the stream.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        mode: int = 2,
        start_window: int = 6,
        start_voiced: int = 4,
        end_silence: float = 0.5,
        pre_roll: float = 0.2,
        tail: float = DEFAULT_TAIL_S,
        max_utterance: float = 20.0,
    ) -> None:
        self._vad, self.frame_samples = _new_vad(sample_rate, mode)
        self.sample_rate = sample_rate
        self._start_window: deque[bool] = deque(maxlen=start_window)
        self._start_voiced = start_voiced
        self._end_frames = max(1, round(end_silence * sample_rate / self.frame_samples))
        self._pre_roll = round(pre_roll * sample_rate)
        self._tail = round(tail * sample_rate)
        self._max_samples = round(max_utterance * sample_rate)
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0  # absolute index of the first sample of _pending
        self.in_speech = False
        self.speech_start = 0
        self._last_voiced_end = 0
        self._silent_frames = 0

    @property
    def tail_samples(self) -> int:
        """Samples an utterance's end boundary lies after its last voiced frame (at most)."""
        return self._tail

    @property
    def trailing_silence(self) -> float:
        """Seconds of non-speech at the end of the open utterance."""
        return self._silent_frames * self.frame_samples / self.sample_rate

    def frame_is_speech(self, frame: np.ndarray) -> bool:
        return bool(self._vad.is_speech(to_pcm16(frame)))  # type: ignore[attr-defined]

    def push(self, samples: np.ndarray) -> list[Boundary]:
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = self.frame_samples
        out: list[Boundary] = []
        whole = (buf.size // n) * n
        for off in range(0, whole, n):
            at = self._pos + off
            boundary = self._frame(at, self.frame_is_speech(buf[off : off + n]))
            if boundary is not None:
                out.append(boundary)
        self._pending = buf[whole:].copy()
        self._pos += whole
        return out

    def _frame(self, at: int, voiced: bool) -> Boundary | None:
        n = self.frame_samples
        if not self.in_speech:
            self._start_window.append(voiced)
            if sum(self._start_window) >= self._start_voiced:
                first = at + n - len(self._start_window) * n
                self.speech_start = max(0, first - self._pre_roll)
                self.in_speech = True
                self._last_voiced_end = at + n
                self._silent_frames = 0
                self._start_window.clear()
                return Boundary("start", self.speech_start)
            return None
        if voiced:
            self._silent_frames = 0
            self._last_voiced_end = at + n
        else:
            self._silent_frames += 1
        too_long = at + n - self.speech_start >= self._max_samples
        if self._silent_frames >= self._end_frames or too_long:
            end = at + n if too_long else min(at + n, self._last_voiced_end + self._tail)
            self.in_speech = False
            return Boundary("end", end)
        return None

    def flush(self) -> list[Boundary]:
        """End of stream: close an open utterance at the last voiced sample (plus tail)."""
        if not self.in_speech:
            return []
        self.in_speech = False
        end = min(self._pos + self._pending.size, self._last_voiced_end + self._tail)
        return [Boundary("end", max(end, self.speech_start))]
