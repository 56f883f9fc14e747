"""Streaming sample-rate conversion with no seams at block boundaries.

``scipy.signal.resample_poly`` is zero-phase, so output sample ``k`` depends on input
around position ``k * down / up``. Each push resamples a window of (history + new input)
and emits only the output samples whose input neighbourhood is complete on both sides;
``flush`` emits the rest. The result matches resampling the whole signal at once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly


class StreamResampler:
    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
        g = math.gcd(src_rate, dst_rate)
        self.up = dst_rate // g
        self.down = src_rate // g
        # resample_poly's default filter spans 10*max(up, down) samples each side of the
        # upsampled signal; that is this many input samples, rounded up to whole `down` steps
        # so the window always starts on an output sample.
        reach = math.ceil(10 * max(self.up, self.down) / self.up) + 1
        self.margin = math.ceil(reach / self.down) * self.down
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute input index of _buf[0]; always a multiple of `down`
        self._out_pos = 0  # absolute index of the next output sample to emit

    @property
    def passthrough(self) -> bool:
        return self.up == self.down

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self.passthrough:
            return samples.astype(np.float32, copy=False)
        self._buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        return self._emit(final=False)

    def flush(self) -> np.ndarray:
        if self.passthrough:
            return np.zeros(0, dtype=np.float32)
        out = self._emit(final=True)
        self._buf = np.zeros(0, dtype=np.float32)
        return out

    def _emit(self, final: bool) -> np.ndarray:
        end_in = self._buf_start + len(self._buf)
        safe_in = end_in if final else end_in - self.margin
        # output k is complete when its input position k*down/up is below safe_in
        k_end = (
            math.ceil(safe_in * self.up / self.down) if final else (safe_in * self.up) // self.down
        )
        if k_end <= self._out_pos or len(self._buf) == 0:
            return np.zeros(0, dtype=np.float32)
        y = resample_poly(self._buf, self.up, self.down).astype(np.float32)
        first_k = self._buf_start * self.up // self.down
        out = y[self._out_pos - first_k : k_end - first_k]
        self._out_pos = k_end
        # keep enough history for the next window's left edge
        keep_from = max(self._buf_start, (self._out_pos * self.down) // self.up - self.margin)
        keep_from -= keep_from % self.down
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :]
            self._buf_start = keep_from
        return out
