"""The websocket side of Twilio Media Streams: one connection = one live call.

``TwilioIngest.handle`` is a :class:`~monitor.server.app.MonitorServer` websocket route
(``/ingest/twilio``). Per connection it

1. waits (at most ``start_timeout_s``) for ``start``, ignoring ``connected``;
2. authorises: the handshake's ``?token=`` or, since Twilio drops query strings on some
   setups, ``customParameters.token``, must be an ``ingest`` token — otherwise it closes
   with **1008** before any call exists;
3. refuses a call over ``max_calls`` live calls with **1013** (try again later);
4. runs ``monitor.run_call(PushSource, CallMeta)`` as a task it owns, and pushes every
   decoded block into the source; a full source makes it stop reading the socket (TCP
   backpressure on Twilio), never drop audio;
5. ends the call: ``stop`` → the source closes normally, the pipeline flushes, the call
   ends ``completed``. A disconnect without ``stop`` (network loss) or a message it cannot
   decode (closed with **1007**) → the pipeline still flushes what arrived, and the call ends
   ``error`` with the reason, so the board and QA see the call did not finish cleanly.

``aclose()`` (shutdown) refuses new streams, ends every live call's source with an error
saying callmon stopped, waits up to ``flush_timeout_s`` for the flushes, then cancels what is
left (the pipeline marks those ``interrupted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from monitor.ingest.twilio import (
    AudioBlock,
    CallDefaults,
    StreamStart,
    StreamStop,
    TwilioProtocolError,
    TwilioStreamDecoder,
)
from monitor.pipeline import CallMeta, CallSummary
from monitor.server.config import Role
from monitor.sources.base import AudioSource
from monitor.sources.stream import PushSource, SourceClosedError

log = logging.getLogger(__name__)
TWILIO_PATH = "/ingest/twilio"


class CallRunner(Protocol):
    """What the ingest needs from :class:`monitor.pipeline.Monitor`."""

    async def run_call(self, source: AudioSource, meta: CallMeta) -> CallSummary: ...


@dataclass(frozen=True, slots=True)
class TwilioLimits:
    max_calls: int = 50  # live calls at once (including ones still flushing); then 1013
    start_timeout_s: float = 10.0  # from the handshake to a valid 'start'; then 1008
    max_payload_bytes: int = 8000  # µ-law bytes in one media message (1 s); then 1007
    jitter_ms: int = 500  # how far one track may run ahead before the other counts as silent
    queue_frames: int = 50  # PushSource buffer (0.1 s blocks) before the socket stops being read
    flush_timeout_s: float = 10.0  # at shutdown, for live calls to flush before cancelling


@dataclass(slots=True)
class _LiveCall:
    ws: ServerConnection
    start: StreamStart
    source: PushSource
    task: asyncio.Task[CallSummary]


class TwilioIngest:
    path = TWILIO_PATH

    def __init__(
        self,
        monitor: CallRunner,
        role_of: Callable[[str | None], Role | None],
        *,
        defaults: CallDefaults | None = None,
        limits: TwilioLimits | None = None,
    ) -> None:
        self.monitor = monitor
        self.role_of = role_of
        self.defaults = defaults or CallDefaults()
        self.limits = limits or TwilioLimits()
        self.calls: dict[str, _LiveCall] = {}  # by stream sid
        self._closing = False
        self.refused = 0  # streams closed before a call started (auth, limits, bad start)

    # ---- one connection ---------------------------------------------------------------------
    async def handle(self, ws: ServerConnection, role: Role | None) -> None:
        if self._closing:
            await ws.close(CloseCode.GOING_AWAY, "callmon is shutting down")
            return
        lim = self.limits
        decoder = TwilioStreamDecoder(
            self.defaults, jitter_ms=lim.jitter_ms, max_payload_bytes=lim.max_payload_bytes
        )
        live: _LiveCall | None = None
        try:
            async with asyncio.timeout(lim.start_timeout_s) as deadline:
                while live is None:
                    results = decoder.feed(_parse(await ws.recv()))
                    if decoder.start is not None:
                        live = await self._begin(ws, role, decoder.start)
                        if live is None:
                            return
                        deadline.reschedule(None)
                        await self._deliver(live, results)
            async for raw in ws:
                if await self._deliver(live, decoder.feed(_parse(raw))):
                    if decoder.late_dropped:
                        log.warning(
                            "twilio stream %s: %d packet(s) came later than jitter_ms and were"
                            " dropped (heard as silence)",
                            live.start.stream_sid,
                            decoder.late_dropped,
                        )
                    await ws.close(CloseCode.NORMAL_CLOSURE, "stream stopped")
                    return
            live.source.fail(
                f"the Twilio stream {live.start.stream_sid} disconnected without a 'stop'"
                f" message (close code {ws.close_code})"
            )
        except TimeoutError:
            self.refused += 1
            await ws.close(
                CloseCode.POLICY_VIOLATION,
                f"no valid 'start' within {lim.start_timeout_s:g} s; is this a Twilio stream?",
            )
        except TwilioProtocolError as exc:
            if live is None:
                self.refused += 1
            else:
                live.source.fail(f"Twilio stream {live.start.stream_sid}: {exc}")
            log.warning("twilio stream refused: %s", exc)
            await ws.close(CloseCode.INVALID_DATA, _reason(str(exc)))
        except SourceClosedError:
            # the call ended on our side (shutdown, or the pipeline failed): hang up
            await ws.close(CloseCode.GOING_AWAY, "the call is no longer monitored")
        except ConnectionClosed:
            if live is not None:
                live.source.fail(
                    f"the Twilio stream {live.start.stream_sid} disconnected without a 'stop'"
                    f" message (close code {ws.close_code})"
                )
        finally:
            if live is not None and not live.source.ended:
                live.source.fail(f"the Twilio stream {live.start.stream_sid} was dropped")

    async def _begin(
        self, ws: ServerConnection, role: Role | None, start: StreamStart
    ) -> _LiveCall | None:
        """Authorise the stream and start its call; None when the stream was refused."""
        if role is None:
            role = self.role_of(start.token)
        if role is None or role.kind != "ingest":
            self.refused += 1
            why = "no ingest token" if role is None else f"a {role.kind} token cannot ingest"
            log.info("twilio stream %s refused: %s", start.stream_sid, why)
            await ws.close(
                CloseCode.POLICY_VIOLATION,
                f'{why}: pass an ingest token as ?token= or <Parameter name="token">',
            )
            return None
        if self._closing or len(self.calls) >= self.limits.max_calls:
            self.refused += 1
            log.warning(
                "twilio stream %s refused: %d live calls", start.stream_sid, len(self.calls)
            )
            await ws.close(
                CloseCode.TRY_AGAIN_LATER,
                f"callmon already monitors {len(self.calls)} live calls (max_calls)",
            )
            return None
        if start.stream_sid in self.calls:
            self.refused += 1
            await ws.close(CloseCode.POLICY_VIOLATION, "this streamSid is already live")
            return None
        source = PushSource(
            f"twilio:{start.call_sid}",
            channels=start.channels,
            sample_rate=8000,
            max_frames=self.limits.queue_frames,
        )
        task = asyncio.create_task(
            self.monitor.run_call(source, start.meta), name=f"twilio-{start.stream_sid}"
        )
        live = _LiveCall(ws, start, source, task)
        self.calls[start.stream_sid] = live
        task.add_done_callback(lambda t: self._call_done(start.stream_sid, t))
        log.info(
            "twilio stream %s (call %s) started for %s",
            start.stream_sid,
            start.call_sid,
            start.meta.agent_id,
        )
        return live

    async def _deliver(self, live: _LiveCall, results: Sequence[object]) -> bool:
        """Push decoded audio (waits while the pipeline is behind); True after 'stop'."""
        for r in results:
            if isinstance(r, AudioBlock):
                await live.source.push(r.samples)
            elif isinstance(r, StreamStop):
                live.source.close()
                return True
        return False

    def _call_done(self, stream_sid: str, task: asyncio.Task[CallSummary]) -> None:
        self.calls.pop(stream_sid, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("twilio call %s failed", stream_sid, exc_info=task.exception())

    # ---- shutdown ---------------------------------------------------------------------------
    async def aclose(self, timeout: float | None = None) -> None:
        """Refuse new streams; let live calls flush (bounded), then cancel the rest."""
        self._closing = True
        live = list(self.calls.values())
        for call in live:
            call.source.fail("callmon was stopped while the call was still live")
        # hang up: Twilio stops streaming (the handlers then return on their own)
        await asyncio.gather(
            *(c.ws.close(CloseCode.GOING_AWAY, "callmon is shutting down") for c in live)
        )
        tasks = [c.task for c in live]
        if not tasks:
            return
        wait = self.limits.flush_timeout_s if timeout is None else timeout
        _, pending = await asyncio.wait(tasks, timeout=wait)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def stats(self) -> dict[str, int]:
        return {"live_calls": len(self.calls), "refused": self.refused}


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")


def _parse(raw: str | bytes) -> dict[str, object]:
    if isinstance(raw, bytes):
        raise TwilioProtocolError("a binary frame; Twilio Media Streams send JSON text frames")
    try:
        message = json.loads(raw)
    except ValueError as exc:
        raise TwilioProtocolError(f"a message that is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise TwilioProtocolError("a message that is not a JSON object")
    return message
