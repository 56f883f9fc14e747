"""Genesys AudioHook (protocol version 2), decoded without I/O: frames in, typed results out.

One websocket is one *session*. JSON text frames are control messages, binary frames are
audio. Every message carries ``version`` ("2"), ``id`` (the session), ``type``, ``seq`` and
``parameters``; a client message also carries ``serverseq`` (the last server ``seq`` it saw)
and ``position`` (an ISO 8601 duration, ``PT12.34S``: how far into the stream it is, paused
and discarded spans included). :class:`AudioHookSession`

- checks that ``seq`` goes up by one, that ``serverseq`` is not ahead of what we sent, that
  the session ``id`` never changes and that ``position`` agrees with the audio received plus
  the gaps announced (within ``position_tolerance_ms``); any of these is a protocol error;
- answers ``open`` (after the adapter's :meth:`AudioHookSession.accept`) with ``opened``,
  checking ``organizationId`` against the signed header and choosing one media offer:
  PCMU or L16 (little-endian 16-bit, as Genesys sends it) at 8 kHz, channels ``external``
  (the customer) and ``internal`` (the agent), interleaved in the offered order; stereo is
  preferred;
- answers ``ping`` with ``pong``, ``update`` with ``updated``, ``close`` with ``closed``;
- turns ``paused``/``resumed`` (secure pause, e.g. while a card number is read) and
  ``discarded`` (audio lost upstream) into a :class:`Gap`: silence of the announced length.
  Audio that arrives while paused is dropped and counted, never released: a paused span is
  never transcribed, stored or replayed;
- releases audio in 0.1 s blocks (customer in column 0), and refuses more than
  ``max_frames_per_audio_s`` frames per second of audio: thousands of tiny frames are ended,
  not paid for one loop turn each;
- refuses an unknown message type, a malformed message and a frame that is not a whole
  number of samples with :class:`AudioHookError`; the adapter then sends ``disconnect``
  (``reason: error``) built by :meth:`AudioHookSession.disconnect`.

A ``conversationId`` of all zeros is Genesys' connection probe: it is opened and closed like
any session, but no call starts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor import languages
from monitor.events import Speaker
from monitor.ingest.twilio import decode_mulaw
from monitor.pipeline import CallMeta

log = logging.getLogger(__name__)

VERSION = "2"
SAMPLE_RATE = 8000
NULL_UUID = "00000000-0000-0000-0000-000000000000"
CHANNEL_SPEAKER: dict[str, Speaker] = {"external": "customer", "internal": "agent"}
FORMATS = ("PCMU", "L16")
# languages callmon recognises, as Genesys names them (BCP 47)
GENESYS_LANGUAGES = {language.code: language.locale for language in languages.LANGUAGES}
CLIENT_TYPES = frozenset(
    {"open", "close", "ping", "paused", "resumed", "discarded", "update", "error"}
)
FRAME_BURST = 50  # frames allowed before the frames-per-audio-second check applies
_DURATION = re.compile(r"^PT(\d+(?:\.\d+)?)S$")


class AudioHookError(ValueError):
    """A message or frame callmon cannot use; the text says what was wrong."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A server message to send as a JSON text frame."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """``open`` accepted: start the call (unless ``probe``)."""

    session_id: str
    organization_id: str
    conversation_id: str
    participant_id: str
    ani_masked: str
    media_format: str
    channels: tuple[str, ...]  # as offered on the wire
    meta: CallMeta
    probe: bool = False

    @property
    def channel_count(self) -> int:
        return len(self.channels)


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    """Audio from ``start`` seconds of stream time: float32 (n, channels), customer first."""

    start: float
    samples: np.ndarray


@dataclass(frozen=True, slots=True)
class Gap:
    """``seconds`` of stream time with no audio (paused or discarded): becomes silence."""

    start: float
    seconds: float
    why: str  # "paused" or "discarded"


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """``close`` received: everything is flushed; the call ends normally."""

    reason: str  # the client's: end, error, disconnect, reconnect


AudioHookResult = Reply | SessionOpened | Audio | Gap | SessionClosed


@dataclass(frozen=True, slots=True)
class AudioHookDefaults:
    """CallMeta values for what ``open`` (and its ``customConfig``) leaves out."""

    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"


def parse_duration(value: object, what: str) -> float:
    """``PT12.34S`` -> 12.34 seconds."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None:
        raise AudioHookError(f"{what} {value!r} is not an ISO 8601 duration like 'PT1.5S'")
    return float(m.group(1))


def format_duration(seconds: float) -> str:
    return f"PT{seconds:.3f}S".replace(".000S", "S")


def mask_ani(ani: str) -> str:
    """``tel:+13175550123`` -> ``tel:+*********23``: only the last two digits stay."""
    digits = [i for i, c in enumerate(ani) if c.isdigit()]
    hide = set(digits[:-2])
    return "".join("*" if i in hide else c for i, c in enumerate(ani))


class AudioHookSession:
    """One AudioHook session's frames -> replies, audio, gaps. Synchronous, no I/O."""

    def __init__(
        self,
        defaults: AudioHookDefaults | None = None,
        *,
        session_id: str = "",
        organization_id: str = "",
        block_ms: int = 100,
        max_frame_bytes: int = 16_000,
        max_gap_s: float = 600.0,
        position_tolerance_ms: int = 100,
        max_frames_per_audio_s: int = 100,
    ) -> None:
        self.defaults = defaults or AudioHookDefaults()
        self.id = session_id  # from the Audiohook-Session-Id header; else the first message
        self.organization_id = organization_id.lower()  # the signed header's; must match open
        self._opened_params: dict[str, Any] = {}
        self.block = block_ms * SAMPLE_RATE // 1000
        self.max_frame_bytes = max_frame_bytes
        self.max_gap = int(max_gap_s * SAMPLE_RATE)
        self.tolerance = position_tolerance_ms * SAMPLE_RATE // 1000
        self.max_fps = max_frames_per_audio_s
        self.frames = 0  # binary frames received
        self.state = "new"  # new -> active <-> paused -> closed; or disconnecting
        self.seq = 0  # last server seq sent
        self.clientseq = 0  # last client seq received
        self.opened: SessionOpened | None = None
        self.timeline = 0  # samples of stream time: audio received + gaps announced
        self.released = 0  # samples of stream time released (audio blocks + gap silence)
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._swap = False  # the offer was internal, external: swap into customer-first
        self.paused_dropped = 0  # samples that arrived while paused (dropped, never released)
        self.client_errors: list[str] = []
        self.disconnected = ""  # the reason of our disconnect, once sent
        self.language_updates: list[str] = []

    # ---- server messages ---------------------------------------------------------------------
    def _reply(self, type_: str, parameters: dict[str, Any] | None = None) -> Reply:
        self.seq += 1
        return Reply(
            {
                "version": VERSION,
                "type": type_,
                "seq": self.seq,
                "clientseq": self.clientseq,
                "id": self.id or NULL_UUID,
                "parameters": parameters or {},
            }
        )

    def disconnect(self, reason: str, info: str = "") -> list[AudioHookResult]:
        """``disconnect`` (completed | unauthorized | error), once; then only ``close`` counts.

        Audio still buffered is released first: what was received is kept."""
        if self.state in ("disconnecting", "closed"):
            return []
        out: list[AudioHookResult] = list(self._flush())
        self.state = "disconnecting"
        self.disconnected = reason
        params = {"reason": reason, **({"info": info[:500]} if info else {})}
        out.append(self._reply("disconnect", params))
        return out

    # ---- client frames -----------------------------------------------------------------------
    def receive_text(self, message: Mapping[str, Any]) -> list[AudioHookResult]:
        """One parsed JSON control message."""
        msg = self._check(message)
        kind = msg["type"]
        if self.state == "closed":
            raise AudioHookError(f"'{kind}' after the session was closed")
        if self.state == "disconnecting" and kind != "close":
            return []  # we already said goodbye; only the client's close matters now
        handler = getattr(self, f"_on_{kind}")
        out: list[AudioHookResult] = handler(msg, msg["parameters"])
        return out

    def receive_binary(self, data: bytes) -> list[AudioHookResult]:
        """One binary frame of interleaved audio in the selected format."""
        if self.opened is None or self.state == "new":
            raise AudioHookError("audio before the session was opened")
        if self.state in ("disconnecting", "closed"):
            return []
        if len(data) > self.max_frame_bytes:
            raise AudioHookError(
                f"an audio frame of {len(data)} bytes is over the limit of {self.max_frame_bytes}"
            )
        ch = self.opened.channel_count
        width = ch * (2 if self.opened.media_format == "L16" else 1)
        if len(data) % width:
            raise AudioHookError(
                f"an audio frame of {len(data)} bytes is not a whole number of"
                f" {self.opened.media_format} samples for {ch} channel(s) ({width} bytes each)"
            )
        n = len(data) // width
        self.frames += 1
        # frames per second of *audio*, not of wall time: a stream replayed fast is fine,
        # thousands of one-sample frames are not (each costs a loop turn for no audio)
        if self.frames > FRAME_BURST and self.frames > self.max_fps * (
            self.timeline / SAMPLE_RATE + 0.5
        ):
            raise AudioHookError(
                f"{self.frames} frames for {self.timeline / SAMPLE_RATE:.2f} s of audio: over"
                f" {self.max_fps} frames per second of audio (max_frames_per_audio_s)"
            )
        if self.state == "paused":
            self.paused_dropped += n  # secure pause: never released, never stored
            return []
        if self.opened.media_format == "L16":
            samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        else:
            samples = decode_mulaw(data)
        samples = samples.reshape(n, ch)
        if self._swap:
            samples = samples[:, ::-1]
        self.timeline += n
        if self.opened.probe or not n:
            return []
        self._pending.append(samples)
        self._pending_n += n
        return list(self._release(whole_blocks=True))

    # ---- checks ------------------------------------------------------------------------------
    def _check(self, message: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(message, Mapping):
            raise AudioHookError("a control message must be a JSON object")
        msg = dict(message)
        if msg.get("version") != VERSION:
            raise AudioHookError(f"protocol version {msg.get('version')!r}; callmon speaks '2'")
        kind = msg.get("type")
        if not isinstance(kind, str):
            raise AudioHookError("a message without a 'type'")
        for key in ("seq", "serverseq"):
            if not isinstance(msg.get(key), int) or isinstance(msg.get(key), bool):
                raise AudioHookError(f"'{kind}' without an integer '{key}'")
        if not isinstance(msg.get("parameters"), Mapping):
            raise AudioHookError(f"'{kind}' without a 'parameters' object")
        sid = msg.get("id")
        if not isinstance(sid, str) or not sid:
            raise AudioHookError(f"'{kind}' without a session 'id'")
        if self.state == "disconnecting":
            # we already ended the session (maybe over a bad seq): only its close matters
            self.clientseq = msg["seq"]
            return msg
        if msg["seq"] != self.clientseq + 1:
            raise AudioHookError(
                f"'{kind}' has seq {msg['seq']}, expected {self.clientseq + 1}"
                " (seq must go up by one)"
            )
        self.clientseq = msg["seq"]
        if msg["serverseq"] > self.seq or msg["serverseq"] < 0:
            raise AudioHookError(
                f"'{kind}' acknowledges serverseq {msg['serverseq']}, but the server has sent"
                f" {self.seq} message(s)"
            )
        if not self.id:
            self.id = sid
        elif sid != self.id:
            raise AudioHookError(f"'{kind}' is for session {sid}, this is session {self.id}")
        if kind not in CLIENT_TYPES:
            raise AudioHookError(f"'{kind}' is not a supported client message")
        position = parse_duration(msg.get("position"), f"'{kind}' position")
        msg["_position"] = round(position * SAMPLE_RATE)
        if kind not in ("resumed", "discarded"):  # those move the timeline first
            self._check_position(kind, msg["_position"])
        return msg

    def _check_position(self, kind: str, position: int) -> None:
        if abs(position - self.timeline) > self.tolerance:
            raise AudioHookError(
                f"'{kind}' is at position {position / SAMPLE_RATE:.3f} s, but the server has"
                f" {self.timeline / SAMPLE_RATE:.3f} s of stream (audio plus gaps)"
            )

    # ---- messages ----------------------------------------------------------------------------
    def _on_open(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        if self.state != "new":
            raise AudioHookError("a second 'open' on the same session")
        org, conv = _uuid(p, "organizationId"), _uuid(p, "conversationId")
        if self.organization_id and org != self.organization_id:
            log.warning("audiohook session %s: open.organizationId %s is not the signed %s",
                        self.id, org, self.organization_id)  # fmt: skip
            return self.disconnect("unauthorized", "organizationId does not match the request")
        participant = p.get("participant") or {}
        if not isinstance(participant, Mapping):
            raise AudioHookError("open.parameters.participant must be an object")
        media = self._select_media(p.get("media"))
        custom = p.get("customConfig") or {}
        if not isinstance(custom, Mapping):
            raise AudioHookError("open.parameters.customConfig must be an object")
        language = self._language(p.get("language"), custom.get("language"))
        ani = mask_ani(str(participant.get("ani", "")))
        channels = tuple(media["channels"])
        self._swap = channels == ("internal", "external")
        meta = CallMeta(
            name=_text(custom.get("name")) or f"Genesys {conv} ({ani or 'no ANI'})",
            agent_id=_text(custom.get("agent_id")) or self.defaults.agent_id,
            queue=_text(custom.get("queue")) or self.defaults.queue,
            language=language,
            mono_speaker=CHANNEL_SPEAKER[channels[0]],
        )
        self.opened = SessionOpened(
            session_id=self.id,
            organization_id=org,
            conversation_id=conv,
            participant_id=str(participant.get("id", "")),
            ani_masked=ani,
            media_format=media["format"],
            channels=channels,
            meta=meta,
            probe=conv == NULL_UUID,
        )
        self.state = "active"
        self._opened_params = {"media": [media], "startPaused": False}
        if p.get("supportedLanguages") is True:
            self._opened_params["supportedLanguages"] = list(GENESYS_LANGUAGES.values())
        return [self.opened]

    def accept(self) -> Reply:
        """``opened``, once the adapter has started the call for :class:`SessionOpened`
        (or :meth:`disconnect` instead, when the call may not start)."""
        return self._reply("opened", self._opened_params)

    def _select_media(self, offers: object) -> dict[str, Any]:
        if not isinstance(offers, list) or not offers:
            raise AudioHookError("open.parameters.media must be a non-empty list of offers")
        usable = []
        for offer in offers:
            if not isinstance(offer, Mapping):
                continue
            ch = offer.get("channels")
            if (
                offer.get("type") == "audio"
                and offer.get("format") in FORMATS
                and offer.get("rate") == SAMPLE_RATE
                and isinstance(ch, list)
                and 1 <= len(ch) <= 2
                and len(set(ch)) == len(ch)
                and all(c in CHANNEL_SPEAKER for c in ch)
            ):
                usable.append({"type": "audio", "format": offer["format"], "channels": ch,
                               "rate": SAMPLE_RATE})  # fmt: skip
        if not usable:
            raise AudioHookError(
                "no media offer callmon can use: it reads PCMU or L16 at 8000 Hz with"
                " channels 'external' and/or 'internal'"
            )
        stereo = [m for m in usable if len(m["channels"]) == 2]
        return (stereo or usable)[0]

    def _language(self, *values: object) -> str:
        for v in values:
            if isinstance(v, str) and v:
                short = languages.normalise(v)  # "id-ID" -> "id"
                if short is not None:
                    return short
                log.info("audiohook session %s: language %r not supported; using %s",
                         self.id, v, self.defaults.language)  # fmt: skip
        return self.defaults.language

    def _on_ping(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        return [self._reply("pong")]

    def _on_update(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        # the recognizers are chosen when the call starts; a new language is noted, not applied
        if isinstance(p.get("language"), str):
            self.language_updates.append(p["language"])
        return [self._reply("updated")]

    def _on_error(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        # the client reports its own trouble (e.g. 408: we were too slow); it closes next
        self.client_errors.append(f"{p.get('code')}: {p.get('message')}")
        log.warning("audiohook session %s: client error %s", self.id, self.client_errors[-1])
        return []

    def _on_paused(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        self._need_open("paused")
        out: list[AudioHookResult] = list(self._flush())
        self.state = "paused"
        return out

    def _on_resumed(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        self._need_open("resumed")
        out = self._gap(msg, p, "paused")
        if self.state == "paused":
            self.state = "active"
        return out

    def _on_discarded(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        self._need_open("discarded")
        return self._gap(msg, p, "discarded")

    def _gap(self, msg: dict[str, Any], p: Mapping[str, Any], why: str) -> list[AudioHookResult]:
        start = round(parse_duration(p.get("start"), f"{msg['type']}.start") * SAMPLE_RATE)
        length = round(parse_duration(p.get("discarded"), f"{msg['type']}.discarded") * SAMPLE_RATE)
        if abs(start - self.timeline) > self.tolerance:
            raise AudioHookError(
                f"'{msg['type']}' starts at {start / SAMPLE_RATE:.3f} s, but the stream is at"
                f" {self.timeline / SAMPLE_RATE:.3f} s"
            )
        self.timeline += length
        self._check_position(msg["type"], msg["_position"])
        out: list[AudioHookResult] = list(self._flush())
        silence = min(length, self.max_gap)  # a longer gap still counts, but as max_gap_s
        if silence and self.opened is not None and not self.opened.probe:
            out.append(Gap(self.released / SAMPLE_RATE, silence / SAMPLE_RATE, why))
            self.released += silence
        return out

    def _on_close(self, msg: dict[str, Any], p: Mapping[str, Any]) -> list[AudioHookResult]:
        out: list[AudioHookResult] = list(self._flush())
        self.state = "closed"
        out.append(SessionClosed(str(p.get("reason", "end"))))
        out.append(self._reply("closed"))
        return out

    def _need_open(self, kind: str) -> None:
        if self.opened is None:
            raise AudioHookError(f"'{kind}' before 'open'")

    # ---- audio blocks ------------------------------------------------------------------------
    def _release(self, whole_blocks: bool) -> list[Audio]:
        if not self._pending_n or (whole_blocks and self._pending_n < self.block):
            return []
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = (len(data) // self.block) * self.block if whole_blocks else len(data)
        out = [
            Audio((self.released + i) / SAMPLE_RATE, data[i : min(i + self.block, cut)])
            for i in range(0, cut, self.block)
        ]
        self.released += cut
        rest = data[cut:]
        self._pending = [rest] if len(rest) else []
        self._pending_n = len(rest)
        return out

    def _flush(self) -> list[Audio]:
        return self._release(whole_blocks=False)


def _uuid(p: Mapping[str, Any], key: str) -> str:
    value = p.get(key)
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F-]{36}", value):
        raise AudioHookError(f"open.parameters.{key} must be a UUID, got {value!r}")
    return value.lower()


def _text(value: object) -> str:
    return value.strip()[:100] if isinstance(value, str) else ""
