"""Acoustic features of one utterance for the escalation scorer (pure numpy, no I/O).

- loudness: RMS in dBFS over the *voiced* frames only (frames within 30 dB of the loudest
  and above -60 dBFS), so pauses inside the utterance don't lower it;
- pitch: median F0 of voiced frames by normalised autocorrelation (60-400 Hz), or None;
- speech rate: words per second over the word span; without words, a syllable estimate from
  peaks of the loudness envelope.
"""

from __future__ import annotations

import numpy as np

from monitor.events import AcousticFeatures, Word

FRAME_S = 0.04
HOP_S = 0.02
F0_MIN, F0_MAX = 60.0, 400.0
SILENT_DBFS = -60.0


def _frames(audio: np.ndarray, sr: int) -> np.ndarray:
    n, hop = int(FRAME_S * sr), int(HOP_S * sr)
    if audio.size < n:
        return np.zeros((0, n), dtype=np.float32)
    count = 1 + (audio.size - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    return audio[idx]


def _db(x: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(x, 1e-10))


def voiced_mask(frames: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    level = _db(rms)
    if level.size == 0:
        return np.zeros(0, dtype=bool)
    return (level > SILENT_DBFS) & (level > level.max() - 30.0)


def loudness_dbfs(audio: np.ndarray, sr: int) -> float:
    frames = _frames(audio, sr)
    mask = voiced_mask(frames)
    if not mask.any():
        rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
        return max(float(_db(np.array(rms))), -100.0)
    rms = float(np.sqrt(np.mean(frames[mask].astype(np.float64) ** 2)))
    return float(_db(np.array(rms)))


def median_f0(audio: np.ndarray, sr: int) -> float | None:
    frames = _frames(audio, sr)
    mask = voiced_mask(frames)
    if not mask.any():
        return None
    x = frames[mask].astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    spec = np.fft.rfft(x, 2 * n, axis=1)
    ac = np.fft.irfft(spec * np.conj(spec), axis=1)[:, :n]
    lo, hi = int(sr / F0_MAX), min(int(sr / F0_MIN), n - 1)
    if hi <= lo + 1:
        return None
    energy = ac[:, :1] + 1e-12
    norm = ac[:, lo:hi] / energy
    lag = np.argmax(norm, axis=1)
    peak = norm[np.arange(norm.shape[0]), lag]
    periodic = peak > 0.45
    if not periodic.any():
        return None
    f0 = sr / (lag[periodic] + lo)
    return float(np.median(f0))


def syllable_estimate(audio: np.ndarray, sr: int) -> int:
    """Count loudness-envelope peaks (about one per syllable) when no words are known."""
    frames = _frames(audio, sr)
    if frames.shape[0] < 3:
        return 0
    level = _db(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)))
    smooth = np.convolve(level, np.ones(3) / 3, mode="same")
    floor = max(SILENT_DBFS, float(smooth.max()) - 25.0)
    peaks = (smooth[1:-1] > smooth[:-2]) & (smooth[1:-1] >= smooth[2:]) & (smooth[1:-1] > floor)
    # a syllable lasts at least ~100 ms: drop peaks closer than that to the previous one
    count, last = 0, -10
    for i in np.flatnonzero(peaks).tolist():
        if i - last >= 5:
            count, last = count + 1, i
    return count


def utterance_features(
    audio: np.ndarray,
    sr: int,
    *,
    start: float,
    end: float,
    words: tuple[Word, ...],
    text: str,
    silence_before: float,
) -> AcousticFeatures:
    """Features of one utterance; ``audio`` covers [start, end] of the speaker's channel."""
    if words:
        span_start, span_end = words[0].start, words[-1].end
        count = len(words)
    else:
        span_start, span_end = start, end
        count = len(text.split()) or syllable_estimate(audio, sr)
    duration = max(span_end - span_start, 0.0)
    rate = count / duration if duration > 0.05 else 0.0
    return AcousticFeatures(
        loudness_dbfs=round(loudness_dbfs(audio, sr), 2),
        pitch_hz=None if (f0 := median_f0(audio, sr)) is None else round(f0, 1),
        speech_rate=round(rate, 3),
        duration=round(duration, 3),
        silence_before=round(max(silence_before, 0.0), 3),
    )
