"""An ingest node: takes calls (here: recordings, paced live or not) and appends their audio
to Redis, one ``audio:{call}`` entry per chunk, after announcing the call on ``calls``.

Redis may be unreachable for a while (a restart, a failover). The node keeps sending order:
entries wait in a bounded buffer (``[cluster] ingest_buffer_s`` of audio) and a sender task
retries with backoff. When the buffer is full the *oldest* audio is dropped and counted; the
next chunk that does reach Redis is preceded by a ``gap`` entry naming the loss, so the
worker reports it (an alert on the board) instead of joining the audio silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.exceptions

from monitor.cluster.config import ClusterConfig
from monitor.cluster.streams import CallInfo, Keys, encode_pcm
from monitor.pipeline import new_call_id
from monitor.sources.file import FileSource

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
RETRY_MAX_S = 2.0
AUDIO_TTL_S = 24 * 3600  # an audio stream nobody ended expires a day after its last chunk


@dataclass(slots=True)
class IngestReport:
    call_id: str
    chunks: int = 0
    lost_chunks: int = 0
    retries: int = 0


class _Sender:
    """Ordered, bounded, retrying delivery of one call's entries."""

    def __init__(self, r: Redis, key: str, cfg: ClusterConfig, report: IngestReport) -> None:
        self.r = r
        self.key = key
        self.cfg = cfg
        self.report = report
        self.buf: deque[dict[str, str | bytes]] = deque()
        self.capacity = max(1, round(cfg.ingest_buffer_s / cfg.chunk_s))
        self.lost = 0  # dropped since the last entry that reached Redis
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.healthy = True  # the last send reached Redis
        self.inflight: dict[str, str | bytes] | None = None
        self.last_n = -1  # the last chunk number that reached Redis
        self.closed = False

    def _audio(self) -> list[int]:
        return [i for i, e in enumerate(self.buf) if e.get("t") == "a"]

    async def put(self, entry: dict[str, str | bytes]) -> None:
        """Queue one entry. While Redis answers, a full buffer makes the caller wait (a file
        is read no faster than Redis takes it); while it does not, the oldest audio goes."""
        while entry.get("t") == "a" and self.healthy and len(self._audio()) >= self.capacity:
            self.room.clear()
            await self.room.wait()
        audio = self._audio()
        if entry.get("t") == "a" and len(audio) >= self.capacity:
            # the oldest audio goes (the end marker never does), but never the entry being
            # sent: Redis may have applied it before the connection broke, and it would be
            # counted lost while it is in the stream (the buffer holds one more meanwhile)
            droppable = [i for i in audio if self.buf[i] is not self.inflight]
            if droppable:
                del self.buf[droppable[0]]
                self.lost += 1
                self.report.lost_chunks += 1
        self.buf.append(entry)
        self.wake.set()

    async def run(self) -> None:
        delay = 0.05
        while True:
            if not self.buf:
                if self.closed:
                    return
                self.wake.clear()
                await self.wake.wait()
                continue
            entry = self.inflight = self.buf[0]
            try:
                n = int(entry["n"]) if entry.get("t") == "a" else -1
                if self.lost and n > self.last_n + 1:  # right before the jump it explains
                    why = f"{self.lost} chunk(s) of audio dropped at ingest: Redis was unreachable"
                    await self.r.xadd(self.key, {"t": "g", "why": why})
                    self.lost = 0
                await self.r.xadd(
                    self.key, dict[Any, Any](entry), maxlen=self.cfg.audio_maxlen, approximate=True
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                self.report.retries += 1
                self.healthy = False
                self.room.set()  # a waiting put() now drops the oldest audio instead
                log.warning("Redis unreachable (%s); %d entries buffered", exc, len(self.buf))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 0.05
            self.healthy = True
            self.last_n = max(self.last_n, n)
            # the entry reached Redis; it may have been dropped from the buffer meanwhile
            if self.buf and self.buf[0] is entry:
                self.buf.popleft()
            self.room.set()


class IngestNode:
    def __init__(self, redis: Redis, config: ClusterConfig) -> None:
        self.redis = redis
        self.config = config
        self.keys = Keys(config.prefix)

    async def announce(self, info: CallInfo) -> None:
        delay = 0.05
        while True:
            try:
                await self.redis.xadd(self.keys.calls, info.fields())  # type: ignore[arg-type]
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def send_file(
        self,
        path: Path | str,
        *,
        agent_id: str = "agent-1",
        queue: str = "default",
        language: str = "en",
        realtime: bool = False,
        call_id: str | None = None,
    ) -> IngestReport:
        """Announce one recording as a call and stream its audio; returns what happened."""
        source = FileSource(path, realtime=realtime, block_seconds=self.config.chunk_s)
        call_id = call_id or new_call_id(source.name.rsplit(".", 1)[0])
        info = CallInfo(call_id, source.name.rsplit(".", 1)[0], agent_id, queue, language,
                        source.sample_rate, source.channels, source.name)  # fmt: skip
        report = IngestReport(call_id)
        key = self.keys.audio(call_id)
        sender = _Sender(self.redis, key, self.config, report)
        task = asyncio.create_task(sender.run(), name=f"ingest-send-{call_id}")
        try:
            await self.announce(info)
            n = 0
            async for frame in source.frames(call_id):
                await sender.put({"t": "a", "n": str(n), "pcm": encode_pcm(frame.samples)})
                n += 1
                report.chunks += 1
            await sender.put({"t": "e"})
            sender.closed = True
            sender.wake.set()
            await task
            await self.redis.expire(key, AUDIO_TTL_S)
        finally:
            if not task.done():
                task.cancel()
            await source.aclose()
        return report
