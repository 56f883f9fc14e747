"""The websocket side of the plain PCM stream (``/ingest/pcm``): one connection = one call.

Authorisation is the handshake's: an ``ingest`` token (``?token=`` or ``Authorization:
Bearer``); a connection without one is closed 1008 before anything is read. Then the start
message (within ``start_timeout_s``), binary frames, ``{"type": "stop"}``.

| what happened | websocket | the call |
|---|---|---|
| ``stop`` | 1000 | completed, after a full flush |
| a bad frame or message after start | 1007 + reason | error, what arrived is kept |
| nothing for ``idle_timeout_s`` | 1008 + reason | interrupted, what arrived is kept |
| the connection drops | — | interrupted, what arrived is kept |
| no/invalid start, no ingest token | 1007 / 1008 | never started |
| ``max_calls`` live already | 1013 | never started |
| callmon shuts down | 1001 | flushed for ``flush_timeout_s``, then interrupted |
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from monitor.ingest.calls import (
    CallRefused,
    CallRunner,
    LiveCall,
    LiveCalls,
    MessageRate,
    reason_text,
)
from monitor.ingest.pcm import PcmDefaults, PcmProtocolError, PcmStream, parse_start
from monitor.ingest.settings import check_positive
from monitor.server.config import Role
from monitor.sources.stream import SourceClosedError
from monitor.wire import WireError, load_json

log = logging.getLogger(__name__)
PCM_PATH = "/ingest/pcm"


@dataclass(frozen=True, slots=True)
class PcmConfig:
    """``[ingest.pcm]``."""

    enabled: bool = True
    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"
    max_calls: int = 50
    start_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0
    max_frame_bytes: int = 16_000  # one binary frame (0.1 s of 48 kHz stereo is 19 200)
    max_frames_per_audio_s: int = 100
    max_messages_per_s: float = 1000.0
    queue_frames: int = 50
    flush_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        check_positive(
            self, "max_calls", "start_timeout_s", "idle_timeout_s", "max_frame_bytes",
            "max_frames_per_audio_s", "max_messages_per_s", "queue_frames", "flush_timeout_s",
        )  # fmt: skip


class PcmIngest:
    path = PCM_PATH

    def __init__(self, monitor: CallRunner, config: PcmConfig | None = None) -> None:
        self.config = config or PcmConfig()
        cfg = self.config
        self.defaults = PcmDefaults(cfg.agent_id, cfg.queue, cfg.language)
        self.calls = LiveCalls(
            monitor, "pcm", max_calls=cfg.max_calls, queue_frames=cfg.queue_frames
        )
        self.conns: set[ServerConnection] = set()

    async def handle(self, ws: ServerConnection, role: Role | None) -> None:
        if role is None or role.kind != "ingest":
            self.calls.refuse()
            why = "no ingest token" if role is None else f"a {role.kind} token cannot ingest"
            await ws.close(CloseCode.POLICY_VIOLATION, f"{why}: connect with ?token=<ingest token>")
            return
        if self.calls.closing:
            await ws.close(CloseCode.GOING_AWAY, "callmon is shutting down")
            return
        self.conns.add(ws)
        call: LiveCall | None = None
        cfg = self.config
        try:
            try:
                async with asyncio.timeout(cfg.start_timeout_s):
                    first = await ws.recv()
            except TimeoutError:
                self.calls.refuse()
                await ws.close(CloseCode.POLICY_VIOLATION,
                               f"no start message within {cfg.start_timeout_s:g} s")  # fmt: skip
                return
            try:
                start = parse_start(_json(first), self.defaults)
            except PcmProtocolError as exc:
                self.calls.refuse()
                await ws.close(CloseCode.INVALID_DATA, reason_text(str(exc)))
                return
            try:
                call = self.calls.begin(
                    uuid.uuid4().hex,
                    "pcm:" + (start.meta.name if start.meta.name != "PCM stream" else "stream"),
                    channels=start.channel_count,
                    sample_rate=start.sample_rate,
                    meta=start.meta,
                )
            except CallRefused as exc:
                await ws.close(CloseCode.TRY_AGAIN_LATER, reason_text(str(exc)))
                return
            await self._stream(ws, call, PcmStream(start, max_frame_bytes=cfg.max_frame_bytes,
                               max_frames_per_audio_s=cfg.max_frames_per_audio_s))  # fmt: skip
        finally:
            self.conns.discard(ws)
            if call is not None and not call.ended:
                call.source.fail("the PCM connection was dropped", interrupted=True)

    async def _stream(self, ws: ServerConnection, call: LiveCall, stream: PcmStream) -> None:
        cfg = self.config
        rate = MessageRate(cfg.max_messages_per_s)
        try:
            while True:
                try:
                    async with asyncio.timeout(cfg.idle_timeout_s):
                        raw = await ws.recv()
                except TimeoutError:
                    why = f"nothing received for {cfg.idle_timeout_s:g} s (idle_timeout_s)"
                    for block in stream.flush():
                        await call.push(block)
                    call.source.fail(f"PCM stream: {why}", interrupted=True)
                    await ws.close(CloseCode.POLICY_VIOLATION, why)
                    return
                if not rate.take():
                    raise PcmProtocolError(
                        f"more than {cfg.max_messages_per_s:g} messages a second"
                    )
                if isinstance(raw, bytes):
                    for block in stream.feed(raw):
                        await call.push(block)
                    continue
                message = _json(raw)
                if not isinstance(message, dict) or message.get("type") != "stop":
                    raise PcmProtocolError('after start, text messages are {"type": "stop"} only')
                for block in stream.flush():
                    await call.push(block)
                call.source.close()
                await ws.close(CloseCode.NORMAL_CLOSURE, "stream stopped")
                return
        except PcmProtocolError as exc:
            for block in stream.flush():  # what arrived whole is kept
                await call.push(block)
            call.source.fail(f"PCM stream: {exc}")
            await ws.close(CloseCode.INVALID_DATA, reason_text(str(exc)))
        except SourceClosedError:
            await ws.close(CloseCode.GOING_AWAY, "the call is no longer monitored")
        except ConnectionClosed:
            for block in stream.flush():
                if not call.ended:
                    await call.push(block)
            call.source.fail(
                f"the PCM connection dropped without a stop (close code {ws.close_code})",
                interrupted=True,
            )

    async def aclose(self, timeout: float | None = None) -> None:
        conns = list(self.conns)

        async def hang_up() -> None:
            await asyncio.gather(
                *(c.close(CloseCode.GOING_AWAY, "callmon is shutting down") for c in conns),
                return_exceptions=True,
            )

        await self.calls.aclose(
            self.config.flush_timeout_s if timeout is None else timeout, hang_up
        )

    def stats(self) -> dict[str, int]:
        return self.calls.stats()


def _json(raw: str | bytes) -> object:
    if isinstance(raw, bytes):
        raise PcmProtocolError("the first message must be JSON text (the call's metadata)")
    try:
        return load_json(raw)  # nesting bounded: no RecursionError from a crafted message
    except WireError as exc:
        raise PcmProtocolError(f"a text message that is not usable JSON ({exc})") from None
