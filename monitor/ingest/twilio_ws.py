"""The websocket side of Twilio Media Streams: one connection = one live call.

:class:`TwilioIngest` is a :class:`~monitor.server.app.MonitorServer` websocket route
(``/ingest/twilio``; pass the object itself in ``ws_routes`` so its handshake check runs).

1. At the upgrade (``check_handshake``), with ``auth_token`` configured: ``X-Twilio-Signature``
   must be Twilio's signature of ``public_url`` (+ the request's query) with that token,
   checked by the ``twilio`` package's ``RequestValidator``; otherwise **403**, no websocket.
2. It waits (at most ``start_timeout_s``) for ``start``, ignoring ``connected``.
3. It authorises the stream: the handshake's ``?token=`` or, since Twilio drops query strings
   on some setups, ``customParameters.token``, must be an ``ingest`` token (the second factor
   beside the signature), and ``accountSid`` must be ``account_sid`` when that is set;
   otherwise it closes with **1008** before any call exists.
4. It refuses a call over ``max_calls`` live calls with **1013** (try again later).
5. It runs ``monitor.run_call(PushSource, CallMeta)`` as a task it owns, and pushes every
   decoded block into the source; a full source makes it stop reading the socket (TCP
   backpressure on Twilio), never drop audio.
6. The call ends, always after the pipeline flushed what arrived:

   - ``stop``: the source closes normally; the call ends ``completed``; closed 1000;
   - no message for ``idle_timeout_s``: the stream is treated as dropped; ``interrupted``,
     closed 1008;
   - a disconnect without ``stop`` (network loss): ``interrupted``, with the close code that
     ended the connection;
   - a message it cannot use (closed **1007**, or **1008** for a broken limit, or **1009** by
     websockets for one over ``[server].max_message_bytes``): ``error`` with the reason.

``aclose()`` (shutdown) refuses new streams, ends every live call's source as interrupted,
hangs up with 1001, waits up to ``flush_timeout_s`` for the flushes, then cancels what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator, get_signature_algorithm
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from monitor import wire
from monitor.ingest.twilio import (
    AudioBlock,
    CallDefaults,
    StreamStart,
    StreamStop,
    TwilioLimitError,
    TwilioProtocolError,
    TwilioStreamDecoder,
)
from monitor.ingest.twilio_config import TwilioConfig
from monitor.pipeline import CallMeta, CallSummary
from monitor.server.config import Role
from monitor.server.handshake import close_code_of, closed_by_server, describe_close
from monitor.server.http import text_response
from monitor.sources.base import AudioSource
from monitor.sources.stream import PushSource, SourceClosedError

log = logging.getLogger(__name__)
TWILIO_PATH = "/ingest/twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


class CallRunner(Protocol):
    """What the ingest needs from :class:`monitor.pipeline.Monitor`."""

    async def run_call(self, source: AudioSource, meta: CallMeta) -> CallSummary: ...

    def refusal(self) -> str | None:
        """Why the monitor takes no new call now (at capacity: monitor/capacity.py), or None."""
        ...


@dataclass(slots=True)
class _LiveCall:
    ws: ServerConnection
    start: StreamStart
    source: PushSource
    task: asyncio.Task[CallSummary]


class _Idle(Exception):
    """No message from Twilio within idle_timeout_s."""


class TwilioIngest:
    path = TWILIO_PATH

    def __init__(
        self,
        monitor: CallRunner,
        role_of: Callable[[str | None], Role | None],
        *,
        defaults: CallDefaults | None = None,
        config: TwilioConfig | None = None,
    ) -> None:
        self.monitor = monitor
        self.role_of = role_of
        self.defaults = defaults or CallDefaults()
        self.config = config or TwilioConfig()
        self.calls: dict[str, _LiveCall] = {}  # by stream sid
        self._closing = False
        self._validator = RequestValidator(self.config.auth_token)
        # upgrades whose signature check_handshake verified (handle() checks the others)
        self._signed: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        self.refused = 0  # streams closed before a call started (auth, limits, bad start)
        self.bad_signatures = 0
        if not self.config.auth_token:  # info: a local demo has no Twilio account to set
            log.info(
                "twilio ingest: X-Twilio-Signature is not checked; set [ingest.twilio]"
                " auth_token and public_url (the ingest token is still required)"
            )

    # ---- the upgrade ------------------------------------------------------------------------
    def check_handshake(
        self, ws: ServerConnection, request: Request, role: Role | None
    ) -> Response | None:
        """403 unless the upgrade carries Twilio's signature (when auth_token is set)."""
        problem = self.signature_problem(request)
        if problem is None:
            self._signed.add(ws)
            return None
        self.bad_signatures += 1
        log.warning("twilio upgrade refused: %s", problem)
        return text_response(403, f"{problem}\n")

    def signature_problem(self, request: Request) -> str | None:
        """Why the request's X-Twilio-Signature is not valid; None when it is (or unchecked)."""
        cfg = self.config
        if not cfg.auth_token:
            return None
        signatures = request.headers.get_all(SIGNATURE_HEADER)
        if len(signatures) != 1 or not signatures[0]:
            return f"missing {SIGNATURE_HEADER}: only Twilio may open a media stream here"
        query = urlsplit(request.path).query
        # Twilio signs the URL it was given (public_url, query included), not the one the
        # proxy forwards to; a websocket upgrade has no POST parameters.
        url = cfg.public_url + (f"?{query}" if query else "")
        settings = request.headers.get_all(SIGNATURE_SETTINGS_HEADER)
        algorithm = get_signature_algorithm(settings[0] if settings else None)
        if not self._validator.validate(url, {}, signatures[0], algorithm):
            return (
                f"{SIGNATURE_HEADER} does not match {cfg.public_url}: check [ingest.twilio]"
                " auth_token and that public_url is the <Stream url> of your TwiML"
            )
        return None

    # ---- one connection ---------------------------------------------------------------------
    async def handle(self, ws: ServerConnection, role: Role | None) -> None:
        if self._closing:
            await ws.close(CloseCode.GOING_AWAY, "callmon is shutting down")
            return
        if ws not in self._signed and ws.request is not None:
            # wired as a bare handler, the handshake check did not run: check here instead
            problem = self.signature_problem(ws.request)
            if problem is not None:
                self.bad_signatures += 1
                await ws.close(CloseCode.POLICY_VIOLATION, _reason(problem))
                return
        cfg = self.config
        decoder = TwilioStreamDecoder(
            self.defaults,
            jitter_ms=cfg.jitter_ms,
            max_gap_s=cfg.max_gap_s,
            max_payload_bytes=cfg.max_payload_bytes,
            max_messages_per_audio_s=cfg.max_messages_per_audio_s,
            message_burst=cfg.message_burst,
        )
        live: _LiveCall | None = None
        try:
            try:
                async with asyncio.timeout(cfg.start_timeout_s):
                    while decoder.start is None:  # 'start' yields no audio of its own
                        decoder.feed(_parse(await ws.recv()))
            except TimeoutError:
                self.refused += 1
                await ws.close(
                    CloseCode.POLICY_VIOLATION,
                    f"no valid 'start' within {cfg.start_timeout_s:g} s; is this a Twilio stream?",
                )
                return
            live = await self._begin(ws, role, decoder.start)
            if live is None:
                return
            while True:
                if await self._deliver(live, decoder.feed(_parse(await self._recv(ws)))):
                    self._stopped(live, decoder)
                    await ws.close(CloseCode.NORMAL_CLOSURE, "stream stopped")
                    return
        except _Idle:
            why = (
                f"no message from Twilio for {cfg.idle_timeout_s:g} s (idle_timeout_s);"
                " the stream is treated as dropped"
            )
            assert live is not None
            await self._keep(live, decoder)
            live.source.fail(f"the Twilio stream {live.start.stream_sid}: {why}", interrupted=True)
            log.warning("twilio stream %s: %s", live.start.stream_sid, why)
            await ws.close(CloseCode.POLICY_VIOLATION, _reason(why))
        except TwilioProtocolError as exc:
            if live is None:
                self.refused += 1
            else:
                await self._keep(live, decoder)
                live.source.fail(f"Twilio stream {live.start.stream_sid}: {exc}")
            log.warning("twilio stream refused: %s", exc)
            code = CloseCode.POLICY_VIOLATION if isinstance(exc, TwilioLimitError) else None
            await ws.close(code or CloseCode.INVALID_DATA, _reason(str(exc)))
        except SourceClosedError:
            # the call ended on our side (shutdown, or the pipeline failed): hang up
            await ws.close(CloseCode.GOING_AWAY, "the call is no longer monitored")
        except ConnectionClosed:
            if live is not None:
                await self._keep(live, decoder)
                self._disconnected(live, ws)
        finally:
            if live is not None and not live.source.ended:
                live.source.fail(
                    f"the Twilio stream {live.start.stream_sid} was dropped", interrupted=True
                )

    async def _recv(self, ws: ServerConnection) -> str | bytes:
        """The next message, or _Idle after idle_timeout_s of silence from Twilio.

        Only the wait for the socket counts: time spent pushing into a full source (the
        pipeline behind) is backpressure, not idleness.
        """
        try:
            async with asyncio.timeout(self.config.idle_timeout_s):
                return await ws.recv()  # cancelling recv() loses no message (websockets)
        except TimeoutError:
            raise _Idle from None

    async def _keep(self, live: _LiveCall, decoder: TwilioStreamDecoder) -> None:
        """Push what the decoder still holds (the jitter window) before the call ends."""
        with contextlib.suppress(SourceClosedError):
            for block in decoder.drain():
                await live.source.push(block.samples)

    def _disconnected(self, live: _LiveCall, ws: ServerConnection) -> None:
        """The connection closed without 'stop'; record the close code that really ended it."""
        code = describe_close(close_code_of(ws))
        sid = live.start.stream_sid
        if closed_by_server(ws):  # websockets refused a frame (1009 too big, 1002, 1007)
            sent = ws.protocol.close_sent
            why = f": {sent.reason}" if sent is not None and sent.reason else ""
            live.source.fail(f"the Twilio stream {sid} was closed {code}{why}")
        else:
            live.source.fail(
                f"the Twilio stream {sid} disconnected without a 'stop' message (close code"
                f" {code}); everything received was kept",
                interrupted=True,
            )

    def _stopped(self, live: _LiveCall, decoder: TwilioStreamDecoder) -> None:
        if decoder.late_dropped:
            log.warning(
                "twilio stream %s: %d packet(s) came later than jitter_ms and were dropped"
                " (heard as silence)",
                live.start.stream_sid,
                decoder.late_dropped,
            )

    async def _begin(
        self, ws: ServerConnection, role: Role | None, start: StreamStart
    ) -> _LiveCall | None:
        """Authorise the stream and start its call; None when the stream was refused."""
        if role is None:
            role = self.role_of(start.token)
        why = ""
        if role is None or role.kind != "ingest":
            why = "no ingest token" if role is None else f"a {role.kind} token cannot ingest"
            why += ': pass an ingest token as ?token= or <Parameter name="token">'
        elif self.config.account_sid and start.account_sid != self.config.account_sid:
            why = f"accountSid {start.account_sid!r} is not this server's Twilio account"
        if why:
            self.refused += 1
            log.info("twilio stream %s refused: %s", start.stream_sid, why)
            await ws.close(CloseCode.POLICY_VIOLATION, _reason(why))
            return None
        if self._closing or len(self.calls) >= self.config.max_calls:
            self.refused += 1
            log.warning(
                "twilio stream %s refused: %d live calls", start.stream_sid, len(self.calls)
            )
            await ws.close(
                CloseCode.TRY_AGAIN_LATER,
                f"callmon already monitors {len(self.calls)} live calls (max_calls)",
            )
            return None
        if (full := self.monitor.refusal()) is not None:  # the whole monitor's [capacity]
            self.refused += 1
            log.warning("twilio stream %s refused: %s", start.stream_sid, full)
            await ws.close(CloseCode.TRY_AGAIN_LATER, _reason(full))
            return None
        if start.stream_sid in self.calls:
            self.refused += 1
            await ws.close(CloseCode.POLICY_VIOLATION, "this streamSid is already live")
            return None
        source = PushSource(
            f"twilio:{start.call_sid}",
            channels=start.channels,
            sample_rate=8000,
            max_frames=self.config.queue_frames,
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
            call.source.fail("callmon was stopped while the call was still live", interrupted=True)
        # hang up: Twilio stops streaming (the handlers then return on their own)
        await asyncio.gather(
            *(c.ws.close(CloseCode.GOING_AWAY, "callmon is shutting down") for c in live)
        )
        tasks = [c.task for c in live]
        if not tasks:
            return
        wait = self.config.flush_timeout_s if timeout is None else timeout
        _, pending = await asyncio.wait(tasks, timeout=wait)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def stats(self) -> dict[str, int]:
        return {
            "live_calls": len(self.calls),
            "refused": self.refused,
            "bad_signatures": self.bad_signatures,
        }


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")


def _parse(raw: str | bytes) -> dict[str, object]:
    if isinstance(raw, bytes):
        raise TwilioProtocolError("a binary frame; Twilio Media Streams send JSON text frames")
    try:
        message = wire.load_json(raw)  # nesting bounded (wire_schema.MAX_JSON_DEPTH)
    except wire.WireError as exc:
        raise TwilioProtocolError(f"a message that is not usable JSON ({exc})") from None
    if not isinstance(message, dict):
        raise TwilioProtocolError("a message that is not a JSON object")
    return message
