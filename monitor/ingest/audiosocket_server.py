"""The TCP side of Asterisk AudioSocket: connections (legs) become calls.

AudioSocket has no authentication of its own, so the server accepts connections only from
``allowed_networks`` (localhost by default) and closes any other at once, before reading.

**Pairing.** Each connection carries one party. With ``pairing = "uuid-last-digit"`` (the
default), two connections whose UUIDs differ only in the last hex digit are one call: the
digit ``customer_digit`` (``0``) marks the customer's leg, ``agent_digit`` (``1``) the
agent's. The dialplan chooses the UUIDs, so it sets the pairing (docs/protocol.md has an
example). A UUID ending in another digit, or ``pairing = "none"``, is a single-leg (mono)
call attributed to ``single_leg_speaker``.

A call starts at its first audio frame. Legs that sent their UUID before that are placed at
the start; a leg that joins later is placed where the call is then. A leg that runs more
than half of ``jitter_ms`` ahead of its partner stops being read until the partner catches up
(TCP pushes back), so a recording played faster than real time stays aligned; a partner
silent for ``idle_timeout_s`` no longer holds it back.

**Ends.** The call ends when all its legs have: hang-up (or error frame 0x01, the caller hung
up) -> completed; a protocol error (including a frame cut off by the end of the connection)
-> error; the connection closing without a hang-up, or nothing for ``idle_timeout_s`` ->
interrupted. In every case the audio received is flushed and kept.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass, field

from monitor.events import Speaker
from monitor.ingest.audiosocket import (
    Audio,
    AudioSocketDecoder,
    AudioSocketError,
    CallId,
    Dtmf,
    Hangup,
    LegMixer,
    RemoteError,
)
from monitor.ingest.calls import CallRefused, CallRunner, LiveCall, LiveCalls
from monitor.ingest.settings import check_positive
from monitor.pipeline import CallMeta
from monitor.sources.stream import SourceClosedError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AudioSocketConfig:
    """``[ingest.audiosocket]``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9093  # 0: a free port (tests)
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    pairing: str = "uuid-last-digit"  # or "none"
    customer_digit: str = "0"
    agent_digit: str = "1"
    single_leg_speaker: str = "customer"
    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"
    max_calls: int = 50
    max_connections: int = 200
    start_timeout_s: float = 10.0  # from connect to the UUID and the first audio
    idle_timeout_s: float = 10.0  # Asterisk sends audio every 20 ms, silence included
    max_payload_bytes: int = 8192  # one frame (20 ms at 192 kHz is 7680)
    max_frames_per_audio_s: int = 200
    jitter_ms: int = 1000
    queue_frames: int = 50
    flush_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        check_positive(
            self, "max_calls", "max_connections", "start_timeout_s", "idle_timeout_s",
            "max_payload_bytes", "max_frames_per_audio_s", "jitter_ms", "queue_frames",
            "flush_timeout_s",
        )  # fmt: skip
        if self.pairing not in ("uuid-last-digit", "none"):
            raise ValueError(f'pairing {self.pairing!r}: use "uuid-last-digit" or "none"')
        for d in (self.customer_digit, self.agent_digit):
            if len(d) != 1 or d not in "0123456789abcdef":
                raise ValueError(f"{d!r} is not one hex digit (customer_digit / agent_digit)")
        if self.customer_digit == self.agent_digit:
            raise ValueError("customer_digit and agent_digit must differ")
        if self.single_leg_speaker not in ("customer", "agent"):
            raise ValueError("single_leg_speaker must be customer or agent")
        self.networks()

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        try:
            return [ipaddress.ip_network(n, strict=False) for n in self.allowed_networks]
        except ValueError as exc:
            raise ValueError(f"allowed_networks: {exc}") from None


@dataclass(slots=True)
class _Call:
    key: str
    columns: int
    meta: CallMeta
    attached: set[int] = field(default_factory=set)
    done: dict[int, str] = field(default_factory=dict)  # column -> completed/error/interrupted
    errors: list[str] = field(default_factory=list)
    mixer: LegMixer | None = None
    live: LiveCall | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)


class AudioSocketIngest:
    name = "audiosocket"  # a runtime service: start() after the server, aclose() before

    def __init__(self, monitor: CallRunner, config: AudioSocketConfig) -> None:
        self.config = config
        self.networks = config.networks()
        self.calls = LiveCalls(
            monitor, "audiosocket", max_calls=config.max_calls, queue_frames=config.queue_frames
        )
        self.pending: dict[str, _Call] = {}  # by pairing key, until every leg has ended
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self._port = config.port
        self.refused_peers = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.config.host, self.config.port)
        self._port = int(self.server.sockets[0].getsockname()[1])
        log.info("audiosocket listening on %s:%d", self.config.host, self.port)

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one picked for ``port = 0``)."""
        return self._port

    def allowed(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in n for n in self.networks)

    # ---- one connection = one leg ------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?",)
        if not self.allowed(str(peer[0])) or self.calls.closing:
            self.refused_peers += 1
            log.warning("audiosocket connection from %s refused: not in allowed_networks", peer[0])
            writer.close()
            return
        if len(self.writers) >= self.config.max_connections:
            self.refused_peers += 1
            writer.close()
            return
        self.writers.add(writer)
        decoder = AudioSocketDecoder(
            max_payload_bytes=self.config.max_payload_bytes,
            max_frames_per_audio_s=self.config.max_frames_per_audio_s,
        )
        leg: tuple[_Call, int] | None = None
        outcome, why = "interrupted", "the connection closed without a hang-up frame"
        try:
            while True:
                started = leg is not None and leg[0].live is not None
                wait = self.config.idle_timeout_s if started else self.config.start_timeout_s
                try:
                    async with asyncio.timeout(wait):
                        data = await reader.read(65_536)
                except TimeoutError:
                    why = f"nothing received for {wait:g} s"
                    break
                if not data:
                    decoder.eof()
                    break
                for f in decoder.feed(data):
                    if isinstance(f, CallId):
                        leg = self._attach(f.uuid)
                    elif isinstance(f, Audio) and leg is not None:
                        await self._audio(leg[0], leg[1], f)
                    elif isinstance(f, Dtmf):
                        log.info("audiosocket %s: DTMF %s", decoder.call_id, f.digit)
                    elif isinstance(f, Hangup):
                        outcome, why = "completed", ""
                    elif isinstance(f, RemoteError):
                        outcome = "completed" if f.code == 1 else "error"
                        why = "" if f.code == 1 else f"Asterisk reported {f.text}"
                if decoder.error is not None:
                    raise decoder.error  # after the good frames before it were handled
                if decoder.ended:
                    break
        except AudioSocketError as exc:
            outcome, why = "error", str(exc)
            log.warning("audiosocket %s from %s: %s", decoder.call_id, peer[0], exc)
        except (ConnectionError, SourceClosedError) as exc:
            why = f"the connection failed ({type(exc).__name__})"
        except CallRefused as exc:
            outcome, why = "refused", str(exc)
            log.warning("audiosocket %s refused: %s", decoder.call_id, exc)
        finally:
            self.writers.discard(writer)
            writer.close()
            if leg is not None:
                await self._end_leg(leg[0], leg[1], outcome, why)

    def _attach(self, call_uuid: str) -> tuple[_Call, int]:
        cfg = self.config
        last = call_uuid[-1]
        if cfg.pairing == "uuid-last-digit" and last in (cfg.customer_digit, cfg.agent_digit):
            key, columns, column = call_uuid[:-1], 2, 0 if last == cfg.customer_digit else 1
        else:
            key, columns, column = call_uuid, 1, 0
        call = self.pending.get(key)
        if call is None:
            speaker: Speaker = "agent" if cfg.single_leg_speaker == "agent" else "customer"
            meta = CallMeta(
                name=f"Asterisk {key}",
                agent_id=cfg.agent_id,
                queue=cfg.queue,
                language=cfg.language,
                mono_speaker=speaker,
            )
            call = self.pending[key] = _Call(key, columns, meta)
        if column in call.attached:
            raise AudioSocketError(f"a second connection for the same leg of call {key}")
        call.attached.add(column)
        if call.mixer is not None:
            call.mixer.join(column, at_start=False)
        return call, column

    async def _audio(self, call: _Call, column: int, audio: Audio) -> None:
        if call.mixer is None:
            call.mixer = LegMixer(call.columns, audio.rate, jitter_s=self.config.jitter_ms / 1000)
            for c in call.attached:  # every leg announced so far starts with the call
                call.mixer.join(c, at_start=True)
            call.live = self.calls.begin(
                call.key,
                f"audiosocket:{call.key}",
                channels=call.columns,
                sample_rate=audio.rate,
                meta=call.meta,
            )
        if audio.rate != call.mixer.rate:
            raise AudioSocketError(
                f"this leg sends {audio.rate} Hz, the call's other leg {call.mixer.rate} Hz"
            )
        assert call.live is not None
        for block in call.mixer.push(column, audio.samples):
            await call.live.push(block)
        call.progress.set()
        # a leg far ahead of its partner waits (its socket is not read) for the partner
        while call.mixer.ahead(column) > call.mixer.jitter // 2:
            call.progress.clear()
            try:
                async with asyncio.timeout(self.config.idle_timeout_s):
                    await call.progress.wait()
            except TimeoutError:
                break

    async def _end_leg(self, call: _Call, column: int, outcome: str, why: str) -> None:
        call.done[column] = outcome
        if why:
            call.errors.append(why)
        call.progress.set()
        live, mixer = call.live, call.mixer
        try:
            if live is not None and mixer is not None and not live.ended:
                for block in mixer.end(column):
                    await live.push(block)
            if set(call.done) < call.attached:
                return  # the partner is still streaming
            if self.pending.get(call.key) is call:
                del self.pending[call.key]
            if live is None or mixer is None or live.ended:
                return
            for block in mixer.flush():
                await live.push(block)
        except SourceClosedError:
            return
        outcomes = set(call.done.values())
        text = f"AudioSocket call {call.key}: " + "; ".join(call.errors)
        if "error" in outcomes:
            live.source.fail(text)
        elif "interrupted" in outcomes:
            live.source.fail(text, interrupted=True)
        else:
            live.source.close()

    # ---- shutdown ----------------------------------------------------------------------------
    async def aclose(self, timeout: float | None = None) -> None:
        if self.server is not None:
            self.server.close()

        def hang_up() -> None:
            for w in list(self.writers):
                w.close()

        await self.calls.aclose(
            self.config.flush_timeout_s if timeout is None else timeout, hang_up
        )

    def stats(self) -> dict[str, int]:
        return {**self.calls.stats(), "refused_peers": self.refused_peers}
