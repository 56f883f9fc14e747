"""A call's audio read back from its Redis stream: the worker's :class:`AudioSource`.

It reads ``audio:{call}`` from its first entry (a worker that takes a call over replays it
from the start: see :mod:`monitor.cluster.bus`), yields each chunk as a frame, and ends at the
``end`` entry. Audio that never reached the worker is *reported*, never skipped silently:

- a ``gap`` entry (the ingest node lost chunks while Redis was unreachable), or
- a jump in the chunk numbers (MAXLEN trimmed chunks this worker had not read yet: it fell
  more than ``audio_maxlen`` chunks behind)

both become silence of the same length (call time stays true) and a call to ``on_gap``.
``lag_ms`` is how far behind the ingest node the worker reads (the per-call lag metric).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import numpy as np
import redis.exceptions

from monitor.cluster.streams import CallInfo, decode_pcm
from monitor.events import AudioFrame
from monitor.sources.base import SourceInterrupted

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# (chunk number where the gap starts, chunks lost, why) -> awaited before the silence is fed
GapHandler = Callable[[int, int, float, str], Awaitable[None]]
TRIMMED = "the worker fell behind by more than [cluster] audio_maxlen chunks; Redis trimmed them"


class StreamSource:
    def __init__(
        self,
        redis: Redis,
        key: str,
        info: CallInfo,
        chunk_s: float,
        on_gap: GapHandler | None = None,
        idle_timeout_s: float = 60.0,
    ) -> None:
        self.redis = redis
        self.key = key
        self.name = info.source or info.name
        self.channels = info.channels
        self.sample_rate = info.sample_rate
        self.chunk_samples = round(chunk_s * info.sample_rate)
        self.on_gap = on_gap
        self.idle_timeout_s = idle_timeout_s
        self.lag_ms = 0.0
        self.chunks = 0  # chunks read (the audio checkpoint of the lag metric)
        self.first_chunk: int | None = None
        self.gaps: list[tuple[int, int, str]] = []

    async def frames(self, call_id: str) -> AsyncIterator[AudioFrame]:
        last = "0-0"
        expected = 0
        pos = 0  # samples yielded (call time)
        pending_gap = ""
        quiet_since = time.monotonic()
        down = False
        while True:
            try:
                resp = await self.redis.xread({self.key: last}, count=50, block=1000)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                # Redis restarting: keep the position, try again (the lease may expire
                # meanwhile; the bus then refuses to publish and the call moves)
                if not down:  # once per outage
                    log.warning("call %s: Redis unreachable (%s); retrying", call_id, exc)
                down = True
                await asyncio.sleep(0.5)
                continue
            down = False
            if not resp:
                if time.monotonic() - quiet_since > self.idle_timeout_s:
                    raise SourceInterrupted(
                        f"no audio for {self.idle_timeout_s:.0f} s and no end: the ingest node"
                        " stopped sending"
                    )
                continue
            quiet_since = time.monotonic()
            for entry_id, raw in resp[0][1]:
                last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                fields = {k.decode(): v for k, v in raw.items()}
                kind = fields.get("t", b"").decode()
                if kind == "e":
                    return
                if kind == "g":
                    pending_gap = fields.get("why", b"").decode() or "audio lost at ingest"
                    continue
                if kind != "a":
                    continue
                n = int(fields["n"])
                if self.first_chunk is None:
                    self.first_chunk = n  # > 0: the call's start was trimmed (reported below)
                if n > expected:  # chunks missing: report, then feed silence for them
                    lost = n - expected
                    why = pending_gap or TRIMMED
                    self.gaps.append((expected, lost, why))
                    if self.on_gap is not None:
                        await self.on_gap(expected, lost, pos / self.sample_rate, why)
                    silence = np.zeros((self.chunk_samples, self.channels), np.float32)
                    for _ in range(lost):  # chunk by chunk: memory stays one chunk
                        yield AudioFrame(call_id, pos / self.sample_rate, silence, self.sample_rate)
                        pos += self.chunk_samples
                pending_gap = ""
                if n < expected:
                    continue  # a chunk sent twice (an ingest retry): already fed
                expected = n + 1
                samples = decode_pcm(fields["pcm"], self.channels)
                with contextlib.suppress(ValueError):
                    self.lag_ms = max(0.0, time.time() * 1000 - int(last.split("-")[0]))
                self.chunks += 1
                yield AudioFrame(call_id, pos / self.sample_rate, samples, self.sample_rate)
                pos += samples.shape[0]

    async def aclose(self) -> None:
        return None
