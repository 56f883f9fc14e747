"""A finished call's recording on the shared path (``[cluster] audio_dir``): what the SQLite
store's audio writer does on one machine, done once per call by the worker that ended it.

The audio comes from the call's Redis stream (gaps become silence, as the worker heard them),
is written to a temporary name and renamed (a reader of the shared folder never sees half a
file), and the spans of redacted words are muted on the speaker's channel before the file
gets its final name: spoken card numbers never reach the shared path.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from monitor import events as ev
from monitor.cluster.streams import CallInfo
from monitor.redact.audio import MUTE_MARGIN_S, MutedSpan, spans_to_mute
from monitor.store.audio import write_pcm16, zero_span_seconds

if TYPE_CHECKING:
    from redis.asyncio import Redis

PAGE = 500  # stream entries read per request


async def read_audio(redis: Redis, key: str, channels: int, chunk_samples: int) -> np.ndarray:
    """The call's audio as int16 (n, channels), missing chunks as silence."""
    blocks: list[np.ndarray] = []
    start, expected = "-", 0
    while True:
        entries = await redis.xrange(key, start, "+", count=PAGE)
        for _entry_id, fields in entries:
            if fields.get(b"t") != b"a":
                continue
            n = int(fields[b"n"])
            if n > expected:
                blocks.append(np.zeros((chunk_samples * (n - expected), channels), "<i2"))
            if n >= expected:
                blocks.append(np.frombuffer(fields[b"pcm"], "<i2").reshape(-1, channels))
                expected = n + 1
        if len(entries) < PAGE:
            break
        last = entries[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
    return np.concatenate(blocks) if blocks else np.zeros((0, channels), "<i2")


def _write(path: Path, audio: np.ndarray, rate: int, spans: Sequence[MutedSpan]) -> None:
    tmp = path.with_name(path.name + ".part")
    write_pcm16(tmp, audio, rate)
    for s in spans:
        channel = ev.SPEAKERS.index(s.speaker) if audio.shape[1] == 2 else None
        zero_span_seconds(tmp, s.start, s.end, channel)
    os.replace(tmp, path)


async def save_recording(
    redis: Redis,
    key: str,
    info: CallInfo,
    finals: Sequence[ev.FinalUtterance],
    audio_dir: Path,
    chunk_s: float,
) -> tuple[Path, tuple[MutedSpan, ...]]:
    """Write ``{audio_dir}/{call_id}.wav`` with redacted speech muted; returns the path and
    the muted spans."""
    audio = await read_audio(redis, key, info.channels, round(chunk_s * info.sample_rate))
    spans = tuple(s for f in finals for s in spans_to_mute(f, MUTE_MARGIN_S))
    path = audio_dir / f"{info.call_id}.wav"
    await asyncio.to_thread(audio_dir.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(_write, path, audio, info.sample_rate, spans)
    return path, spans
