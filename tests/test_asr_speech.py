"""Speech for the ASR tests (no tests here): real synthesised voices, placed on a call.

English comes from hibari-tts, Korean from espeak-ng (for the Korean-only Vosk model that
is the one Vosk model available offline).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Sequence

import numpy as np
import pytest
from scipy.signal import resample_poly

from monitor.asr.base import Engine
from monitor.asr.transcriber import CallTranscriber
from monitor.events import SPEAKERS, AudioChunk, Event, Speaker

SR = 16000


def _to_16k(audio: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return audio.astype(np.float32)
    g = np.gcd(sr, SR)
    return resample_poly(audio, SR // g, sr // g).astype(np.float32)


@functools.lru_cache(maxsize=64)
def english(text: str) -> np.ndarray:
    """``text`` spoken by hibari's bundled voice, 16 kHz float32."""
    try:
        from hibari import SAMPLE_RATE
    except ImportError:
        pytest.skip("hibari-tts is not installed: pip install hibari-tts")
    audio = np.asarray(_hibari()(text), dtype=np.float32)
    return _to_16k(audio, SAMPLE_RATE)


@functools.lru_cache(maxsize=1)
def _hibari() -> object:
    from hibari import Hibari

    return Hibari()


@functools.lru_cache(maxsize=64)
def korean(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng's Korean voice, 16 kHz float32."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: apt-get install espeak-ng")
    import soundfile as sf

    wav = subprocess.run(
        ["espeak-ng", "-v", "ko", "-s", "150", "--stdout", text], capture_output=True, check=True
    ).stdout
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return _to_16k(audio, sr)


def place(turns: Sequence[tuple[int, float, np.ndarray]], duration: float) -> np.ndarray:
    """A stereo call (n, 2): each turn is (channel, start seconds, mono audio)."""
    call = np.zeros((int(duration * SR), 2), dtype=np.float32)
    for channel, start, audio in turns:
        lo = int(start * SR)
        hi = min(lo + audio.size, call.shape[0])
        call[lo:hi, channel] += audio[: hi - lo]
    return call


def chunked(
    stereo: np.ndarray, call_id: str, chunk_s: float = 0.1, speakers: Sequence[Speaker] = SPEAKERS
) -> list[list[AudioChunk]]:
    n = int(chunk_s * SR)
    return [
        [
            AudioChunk(call_id, sp, i / SR, np.ascontiguousarray(stereo[i : i + n, ch]), SR)
            for ch, sp in enumerate(speakers)
        ]
        for i in range(0, stereo.shape[0], n)
    ]


async def transcribe(
    engine: Engine, stereo: np.ndarray, call_id: str = "c1", *, spare: bool = False
) -> list[Event]:
    """Feed a whole stereo call through a CallTranscriber; every event, in order.

    ``spare``: wait for each chunk's decodes before the next chunk, as a machine with
    capacity to spare would (partials are only decoded then; fed as fast as possible,
    they are shed)."""
    transcriber = CallTranscriber(engine, call_id, SPEAKERS)
    events: list[Event] = []
    for chunks in chunked(stereo, call_id):
        events += await transcriber.feed(chunks)
        if spare:
            events += await transcriber.drain()
    events += await transcriber.finish()
    return events
