"""The websocket side of Genesys AudioHook: one connection = one session = one live call.

``AudioHookIngest.handle`` is a :class:`~monitor.server.app.MonitorServer` websocket route
(``/ingest/audiohook``). Per connection it

1. authenticates the upgrade request before reading anything: ``X-API-KEY`` must be the
   configured key and the request must carry a fresh, unreplayed RFC 9421 signature by the
   configured client secret (:mod:`monitor.ingest.signatures`); any failure is answered with
   ``disconnect`` (reason ``unauthorized``), a wait for the client's ``close``, and 1008;
2. feeds every frame to :class:`~monitor.ingest.audiohook.AudioHookSession` and sends its
   replies; ``open`` must come within ``open_timeout_s``; its ``organizationId`` must match
   the signed ``Audiohook-Organization-Id`` header;
3. starts the call on ``open`` and answers ``opened`` at once (Genesys gives up after a few
   seconds); pushes audio blocks into a bounded :class:`PushSource` (a full buffer stops the
   reading: TCP pushes back) and gaps as silence;
4. ends the call: ``close`` -> completed (``closed`` is sent after the flush is queued);
   a protocol error -> ``disconnect`` error, call ``error``; no frame for ``idle_timeout_s``
   or a dropped connection -> call ``interrupted``, everything received kept.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from monitor.ingest.audiohook import (
    Audio,
    AudioHookDefaults,
    AudioHookError,
    AudioHookResult,
    AudioHookSession,
    Gap,
    Reply,
    SessionClosed,
    SessionOpened,
)
from monitor.ingest.calls import CallRefused, CallRunner, LiveCall, LiveCalls, MessageRate
from monitor.ingest.settings import check_positive
from monitor.ingest.signatures import (
    MIN_NONCE_CHARS,
    NonceCache,
    SignatureError,
    SignedRequest,
    verify_hmac_sha256,
)
from monitor.server.config import Role
from monitor.sources.stream import SourceClosedError
from monitor.wire import WireError, load_json

log = logging.getLogger(__name__)
AUDIOHOOK_PATH = "/ingest/audiohook"
SIGNED_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


@dataclass(frozen=True, slots=True)
class AudioHookConfig:
    """``[ingest.audiohook]``: the ingest runs only when ``api_key`` and ``client_secret``
    are both set (AudioHook without authentication is not offered)."""

    api_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)  # base64, as Genesys shows it
    organization_id: str = ""  # optional: only this Genesys organisation may connect
    agent_id: str = "agent-1"  # CallMeta defaults; customConfig in the integration wins
    queue: str = "default"
    language: str = "en"
    max_calls: int = 50  # live sessions at once; then disconnect (error)
    open_timeout_s: float = 5.0  # from the upgrade to 'open'
    idle_timeout_s: float = 30.0  # no frame at all (Genesys pings every few seconds)
    close_timeout_s: float = 5.0  # after our disconnect, for the client's 'close'
    max_frame_bytes: int = 16_000  # one binary frame (1 s of stereo L16 is 32 000)
    max_messages_per_s: float = 1000.0  # frames a second (wall clock), burst of 1 s worth
    max_frames_per_audio_s: int = 100  # binary frames per second of audio (10 ms average)
    max_signature_age_s: float = 10.0  # 'created' older than this is refused
    max_gap_s: float = 600.0  # silence inserted for one pause/discard, at most
    position_tolerance_ms: int = 100
    queue_frames: int = 50  # PushSource buffer (0.1 s blocks)
    flush_timeout_s: float = 10.0  # at shutdown

    def __post_init__(self) -> None:
        check_positive(
            self, "max_calls", "open_timeout_s", "idle_timeout_s", "close_timeout_s",
            "max_frame_bytes", "max_messages_per_s", "max_frames_per_audio_s",
            "max_signature_age_s", "max_gap_s",
            "queue_frames", "flush_timeout_s",
        )  # fmt: skip
        if self.client_secret:
            self.secret_bytes()

    @property
    def enabled(self) -> bool:
        return bool(self.api_key and self.client_secret)

    def secret_bytes(self) -> bytes:
        try:
            return base64.b64decode(self.client_secret, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("client_secret must be base64 (as Genesys shows it)") from None


@dataclass(slots=True)
class _Conn:
    ws: ServerConnection
    session: AudioHookSession
    call: LiveCall | None = None


class AudioHookIngest:
    path = AUDIOHOOK_PATH

    def __init__(self, monitor: CallRunner, config: AudioHookConfig) -> None:
        if not config.enabled:
            raise ValueError("AudioHook needs [ingest.audiohook] api_key and client_secret")
        self.config = config
        self.secret = config.secret_bytes()
        self.calls = LiveCalls(
            monitor, "audiohook", max_calls=config.max_calls, queue_frames=config.queue_frames
        )
        self.nonces = NonceCache(ttl_s=config.max_signature_age_s + 10.0)
        self.conns: dict[int, _Conn] = {}
        self.unauthorized = 0

    # ---- authentication ----------------------------------------------------------------------
    def authenticate(self, ws: ServerConnection, now: float | None = None) -> str | None:
        """None when the upgrade request is signed by our client secret; else why not."""
        request = ws.request
        if request is None:
            return "no upgrade request"
        headers = request.headers
        api_key = headers.get("X-API-KEY", "")
        if not api_key or not hmac.compare_digest(api_key.encode(), self.config.api_key.encode()):
            return "missing or unknown X-API-KEY"
        org = headers.get("Audiohook-Organization-Id", "")
        if self.config.organization_id and org.lower() != self.config.organization_id.lower():
            return f"organization {org!r} is not the configured one"
        url = f"https://{headers.get('Host', '')}{request.path}"
        try:
            sig = verify_hmac_sha256(
                SignedRequest("GET", url, list(headers.raw_items())),
                key_id=api_key,
                secret=self.secret,
                required=SIGNED_COMPONENTS,
                max_age_s=self.config.max_signature_age_s,
            )
        except SignatureError as exc:
            return f"signature: {exc}"
        if len(sig.nonce) < MIN_NONCE_CHARS:
            return f"signature nonce shorter than {MIN_NONCE_CHARS} characters"
        if not self.nonces.add(sig.nonce, time.time() if now is None else now):
            return "signature nonce already used (a replayed request)"
        return None

    # ---- one connection ----------------------------------------------------------------------
    async def handle(self, ws: ServerConnection, role: Role | None) -> None:
        cfg = self.config
        headers = ws.request.headers if ws.request is not None else {}
        session = AudioHookSession(
            AudioHookDefaults(cfg.agent_id, cfg.queue, cfg.language),
            session_id=headers.get("Audiohook-Session-Id", ""),
            organization_id=headers.get("Audiohook-Organization-Id", ""),
            max_frame_bytes=cfg.max_frame_bytes,
            max_gap_s=cfg.max_gap_s,
            position_tolerance_ms=cfg.position_tolerance_ms,
            max_frames_per_audio_s=cfg.max_frames_per_audio_s,
        )
        conn = _Conn(ws, session)
        if self.calls.closing:
            await self._goodbye(conn, "error", "callmon is shutting down", CloseCode.GOING_AWAY)
            return
        why = self.authenticate(ws)
        if why is not None:
            self.unauthorized += 1
            self.calls.refuse()
            log.warning("audiohook connection refused: %s", why)
            # the reason stays in our log: an attacker learns only "unauthorized"
            await self._goodbye(conn, "unauthorized", "", CloseCode.POLICY_VIOLATION)
            return
        self.conns[id(conn)] = conn
        try:
            await self._run(conn)
        finally:
            self.conns.pop(id(conn), None)
            if conn.call is not None and not conn.call.ended:
                conn.call.source.fail("the AudioHook connection was dropped", interrupted=True)

    async def _run(self, conn: _Conn) -> None:
        cfg, ws, session = self.config, conn.ws, conn.session
        rate = MessageRate(cfg.max_messages_per_s)
        try:
            while session.state != "closed":
                wait = cfg.open_timeout_s if session.opened is None else cfg.idle_timeout_s
                try:
                    async with asyncio.timeout(wait):
                        raw = await ws.recv()
                except TimeoutError:
                    await self._timed_out(conn, wait)
                    return
                if not rate.take():
                    raise AudioHookError(
                        f"more than {cfg.max_messages_per_s:g} frames a second (max_messages_per_s)"
                    )
                if isinstance(raw, bytes):
                    results = session.receive_binary(raw)
                else:
                    results = session.receive_text(_parse(raw))
                await self._apply(conn, results)
            if session.disconnected == "unauthorized":  # open named another organization
                self.unauthorized += 1
                self.calls.refuse()
                await ws.close(CloseCode.POLICY_VIOLATION, "unauthorized")
                return
            await ws.close(CloseCode.NORMAL_CLOSURE, "session closed")
        except AudioHookError as exc:
            log.warning("audiohook session %s: %s", session.id, exc)
            if conn.call is not None:
                conn.call.source.fail(f"AudioHook session {session.id}: {exc}")
            else:
                self.calls.refuse()
            await self._goodbye(conn, "error", str(exc), CloseCode.POLICY_VIOLATION)
        except SourceClosedError:
            await self._goodbye(conn, "error", "the call is no longer monitored",
                                CloseCode.GOING_AWAY)  # fmt: skip
        except ConnectionClosed:
            if conn.call is not None:
                conn.call.source.fail(
                    f"the AudioHook connection of session {session.id} dropped without 'close'"
                    f" (close code {ws.close_code})",
                    interrupted=True,
                )

    async def _apply(self, conn: _Conn, results: list[AudioHookResult]) -> None:
        for r in results:
            if isinstance(r, Reply):
                await conn.ws.send(json.dumps(r.message))
            elif isinstance(r, Audio):
                if conn.call is not None:
                    await conn.call.push(r.samples)
            elif isinstance(r, Gap):
                if conn.call is not None:
                    await self._silence(conn.call, r)
            elif isinstance(r, SessionOpened):
                await self._apply(conn, self._open(conn, r))
            elif isinstance(r, SessionClosed) and conn.call is not None:
                conn.call.source.close()  # the pipeline flushes what it has, then ends

    def _open(self, conn: _Conn, opened: SessionOpened) -> list[AudioHookResult]:
        if opened.probe:
            log.info("audiohook connection probe from organization %s", opened.organization_id)
            return [conn.session.accept()]
        try:
            conn.call = self.calls.begin(
                f"{opened.session_id}",
                f"audiohook:{opened.conversation_id}",
                channels=opened.channel_count,
                sample_rate=8000,
                meta=opened.meta,
            )
        except CallRefused as exc:
            log.warning("audiohook session %s refused: %s", opened.session_id, exc)
            return conn.session.disconnect("error", str(exc))
        log.info(
            "audiohook session %s: conversation %s, participant %s, ANI %s, %s %s",
            opened.session_id, opened.conversation_id, opened.participant_id,
            opened.ani_masked, opened.media_format, "/".join(opened.channels),
        )  # fmt: skip
        return [conn.session.accept()]

    async def _silence(self, call: LiveCall, gap: Gap) -> None:
        """A gap is silence in the timeline, pushed in 0.1 s blocks like the audio."""
        n = round(gap.seconds * 8000)
        block = np.zeros((800, call.source.channels), np.float32)
        for i in range(0, n, 800):
            await call.push(block[: min(800, n - i)])
        log.info("audiohook: %.2f s %s at %.2f s (silence, nothing kept)",
                 gap.seconds, gap.why, gap.start)  # fmt: skip

    async def _timed_out(self, conn: _Conn, wait: float) -> None:
        if conn.session.opened is None:
            info = f"no 'open' for {wait:g} s (open_timeout_s)"
        else:
            info = f"nothing received for {wait:g} s (idle_timeout_s)"
        if conn.call is not None:
            conn.call.source.fail(f"AudioHook session {conn.session.id}: {info}", interrupted=True)
        elif conn.session.opened is None:
            self.calls.refuse()
        await self._goodbye(conn, "error", info, CloseCode.POLICY_VIOLATION)

    async def _goodbye(self, conn: _Conn, reason: str, info: str, code: int) -> None:
        """``disconnect``, then wait (bounded) for the client's ``close`` and answer ``closed``."""
        ws, session = conn.ws, conn.session
        try:
            for r in session.disconnect(reason, info):
                if isinstance(r, Reply):
                    await ws.send(json.dumps(r.message))
                elif isinstance(r, Audio) and conn.call is not None and not conn.call.ended:
                    await conn.call.push(r.samples)
            async with asyncio.timeout(self.config.close_timeout_s):
                while session.state != "closed":
                    raw = await ws.recv()
                    if isinstance(raw, str):
                        try:
                            for r in session.receive_text(_parse(raw)):
                                if isinstance(r, Reply):
                                    await ws.send(json.dumps(r.message))
                        except AudioHookError:
                            break
        except (TimeoutError, ConnectionClosed, SourceClosedError):
            pass
        await ws.close(code, reason)

    # ---- shutdown ----------------------------------------------------------------------------
    async def aclose(self, timeout: float | None = None) -> None:
        conns = list(self.conns.values())

        async def hang_up(conn: _Conn) -> None:
            # the connection's own handler is reading: say goodbye and close, no waiting here
            for r in conn.session.disconnect("error", "callmon is shutting down"):
                if isinstance(r, Reply):
                    await conn.ws.send(json.dumps(r.message))
            await conn.ws.close(CloseCode.GOING_AWAY, "callmon is shutting down")

        async def hang_up_all() -> None:
            await asyncio.gather(*(hang_up(c) for c in conns), return_exceptions=True)

        wait = self.config.flush_timeout_s if timeout is None else timeout
        await self.calls.aclose(wait, hang_up_all)

    def stats(self) -> dict[str, int]:
        return {**self.calls.stats(), "unauthorized": self.unauthorized}


def _parse(raw: str) -> dict[str, Any]:
    try:
        message = load_json(raw)  # nesting bounded: no RecursionError from a crafted frame
    except WireError as exc:
        raise AudioHookError(f"a text frame that is not usable JSON ({exc})") from None
    if not isinstance(message, dict):
        raise AudioHookError("a text frame that is not a JSON object")
    return message
