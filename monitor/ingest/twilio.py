"""Twilio Media Streams, decoded without I/O: parsed JSON messages in, typed results out.

A ``<Start><Stream track="both_tracks">`` stream sends, per 20 ms, one ``media`` message per
track (``inbound`` = the caller, our *customer*; ``outbound`` = what the platform plays to
the caller, our *agent*), each with a base64 G.711 µ-law payload at 8 kHz and a
``timestamp`` in milliseconds since the stream started. The two tracks arrive interleaved,
sometimes out of order, and a track may skip packets (silence). :class:`TwilioStreamDecoder`

- decodes µ-law with a 256-entry table (``audioop`` is gone in Python 3.13);
- places every packet at ``timestamp * 8`` samples, so gaps become silence and a packet that
  arrives late but within the jitter window still lands in the right place;
- releases stereo blocks (customer in column 0, agent in column 1) once both tracks have
  covered them, or once the other track is more than ``jitter_ms`` ahead (a stalled track
  is silence, not a reason to hold the call back): memory stays bounded by the window;
- checks ``sequenceNumber``: Twilio numbers every message after ``connected`` from 1 up, and
  over one TCP connection nothing is lost or reordered, so a number that is not the previous
  one plus one means a broken or forged stream;
- counts messages against the audio they carry (``max_messages_per_audio_s`` plus a burst):
  a flood of tiny frames costs per message, not per second of audio, and is refused;
- raises :class:`TwilioProtocolError`, naming the problem, for anything it cannot use
  (:class:`TwilioLimitError` when a limit, not the format, was broken).

A stream with a single track (``track="inbound_track"``) yields mono blocks.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor import languages
from monitor.events import Speaker
from monitor.pipeline import CallMeta
from monitor.wire_schema import MAX_ID_CHARS, MAX_LABEL_CHARS

SAMPLE_RATE = 8000
SAMPLES_PER_MS = SAMPLE_RATE // 1000
ENCODING = "audio/x-mulaw"
LANGUAGES = languages.LANGUAGE_CODES
TRACK_SPEAKER: dict[str, Speaker] = {"inbound": "customer", "outbound": "agent"}
IGNORED_EVENTS = frozenset({"connected", "dtmf", "mark"})
PARAM_CHARS = {"name": MAX_LABEL_CHARS, "agent_id": MAX_ID_CHARS, "queue": MAX_ID_CHARS}


def _mulaw_table() -> np.ndarray:
    """G.711 µ-law byte -> float32 in [-1, 1): the exact 16-bit values of ITU-T G.711."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    linear = np.where(u & 0x80, -magnitude, magnitude)
    return (linear / 32768.0).astype(np.float32)


MULAW_TO_FLOAT = _mulaw_table()


def decode_mulaw(payload: bytes) -> np.ndarray:
    """µ-law bytes to float32 samples in [-1, 1)."""
    return MULAW_TO_FLOAT[np.frombuffer(payload, dtype=np.uint8)]


class TwilioProtocolError(ValueError):
    """A Media Streams message callmon cannot use; the message says what was wrong."""


class TwilioLimitError(TwilioProtocolError):
    """A well-formed stream that broke a limit (too many messages for its audio)."""


@dataclass(frozen=True, slots=True)
class StreamStart:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]  # "inbound" and/or "outbound", in column order
    meta: CallMeta
    token: str = field(default="", repr=False)  # customParameters.token; never logged

    @property
    def channels(self) -> int:
        return len(self.tracks)

    @property
    def mono_speaker(self) -> Speaker:
        return TRACK_SPEAKER[self.tracks[0]]


@dataclass(frozen=True, slots=True, eq=False)
class AudioBlock:
    """Contiguous audio from ``start`` seconds of stream time: float32 (n, channels) at 8 kHz."""

    start: float
    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class StreamStop:
    stream_sid: str
    at: float  # seconds of stream audio released in all


TwilioResult = StreamStart | AudioBlock | StreamStop


@dataclass(frozen=True, slots=True)
class CallDefaults:
    """CallMeta values for what a stream's customParameters leave out."""

    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"


class TwilioStreamDecoder:
    """One stream's messages -> StreamStart, AudioBlocks, StreamStop. Synchronous, no I/O."""

    def __init__(
        self,
        defaults: CallDefaults | None = None,
        *,
        block_ms: int = 100,
        jitter_ms: int = 500,
        max_gap_s: float = 60.0,
        max_payload_bytes: int = 8000,
        max_messages_per_audio_s: int = 200,
        message_burst: int = 500,
    ) -> None:
        if block_ms < 20 or block_ms % 20 or jitter_ms < 0:
            raise ValueError("block_ms must be a positive multiple of 20; jitter_ms >= 0")
        self.defaults = defaults or CallDefaults()
        self.block = block_ms * SAMPLES_PER_MS
        self.jitter = jitter_ms * SAMPLES_PER_MS
        self.max_gap = int(max_gap_s * SAMPLE_RATE)
        self.max_payload_bytes = max_payload_bytes
        self.max_messages_per_audio_s = max_messages_per_audio_s
        self.message_burst = message_burst
        self.messages = 0  # every message fed
        self.last_seq: int | None = None  # the last sequenceNumber seen
        self.start: StreamStart | None = None
        self.stopped = False
        self.emitted = 0  # samples released so far (both tracks)
        self._bufs: list[np.ndarray] = []  # per track: samples from `emitted` on
        self._filled: list[np.ndarray] = []  # per track: which of those samples arrived
        self._heads: list[int] = []  # per track: end of the furthest packet seen
        self.late_dropped = 0  # packets older than what was already released
        self.ignored = 0  # connected/dtmf/mark and unknown events

    # ---- messages -----------------------------------------------------------------------
    def feed(self, message: Mapping[str, Any]) -> list[TwilioResult]:
        """Handle one parsed message; returns what it completed (often nothing)."""
        if not isinstance(message, Mapping):
            raise TwilioProtocolError(f"a message must be a JSON object, got {_kind(message)}")
        self._count(message.get("sequenceNumber"))
        event = message.get("event")
        if event == "media":
            return self._media(message)
        if event == "start":
            return [self._start(message)]
        if event == "stop":
            return self._stop(message)
        if not isinstance(event, str):
            raise TwilioProtocolError('a message without an "event" name; is this Twilio?')
        # connected, dtmf, mark, and events newer than this decoder: nothing to monitor
        self.ignored += 1
        return []

    def _count(self, seq: object) -> None:
        """The message budget, and the sequence number when the message carries one."""
        self.messages += 1
        audio_s = max(self._heads, default=0) / SAMPLE_RATE
        budget = self.max_messages_per_audio_s * audio_s + self.message_burst
        if self.messages > budget:
            raise TwilioLimitError(
                f"{self.messages} messages for {audio_s:.1f} s of audio; at most"
                f" {self.max_messages_per_audio_s} per second of audio (Twilio sends 100)"
                f" plus {self.message_burst}"
            )
        if seq is None:
            return  # 'connected' carries none
        text = str(seq) if isinstance(seq, str | int) and not isinstance(seq, bool) else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            raise TwilioProtocolError(f"sequenceNumber {str(seq)[:24]!r} is not a whole number")
        number = int(text)
        if self.last_seq is not None and number != self.last_seq + 1:
            raise TwilioProtocolError(
                f"sequenceNumber {number} after {self.last_seq}: a message was lost, repeated"
                " or reordered, which one websocket connection cannot do"
            )
        self.last_seq = number

    def _start(self, message: Mapping[str, Any]) -> StreamStart:
        if self.start is not None:
            raise TwilioProtocolError("a second 'start' on the same stream")
        start = _obj(message, "start")
        fmt = _obj(start, "mediaFormat")
        encoding, rate, channels = fmt.get("encoding"), fmt.get("sampleRate"), fmt.get("channels")
        if encoding != ENCODING or rate != SAMPLE_RATE or channels not in (1, None):
            raise TwilioProtocolError(
                f"unsupported media format {encoding!r} at {rate} Hz, {channels} channel(s);"
                f" callmon reads Twilio's {ENCODING} at {SAMPLE_RATE} Hz mono per track"
            )
        tracks_in = start.get("tracks", ["inbound", "outbound"])
        if not isinstance(tracks_in, list) or not tracks_in:
            raise TwilioProtocolError("start.tracks must be a non-empty list")
        unknown = [t for t in tracks_in if t not in TRACK_SPEAKER]
        if unknown:
            raise TwilioProtocolError(f"unknown track(s) {unknown}; expected inbound/outbound")
        tracks = tuple(t for t in TRACK_SPEAKER if t in tracks_in)  # customer column first
        params = start.get("customParameters") or {}
        if not isinstance(params, Mapping):
            raise TwilioProtocolError("start.customParameters must be an object")
        params = {str(k): str(v) for k, v in params.items()}
        # they become the call's CallStarted: the same bounds as any event from outside
        for key, most in PARAM_CHARS.items():
            if len(params.get(key, "")) > most:
                raise TwilioProtocolError(
                    f"customParameters.{key} is {len(params[key])} characters long; at most {most}"
                )
        for key in ("callSid", "streamSid", "accountSid"):
            value = start.get(key, "")
            if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
                raise TwilioProtocolError(f"start.{key} must be a string of at most {MAX_ID_CHARS}")
        asked = params.get("language") or self.defaults.language
        language = languages.normalise(asked)  # "en-US", "id-ID", "ms_MY" read as en, id, ms
        if language is None:
            raise TwilioProtocolError(
                f"customParameters.language {asked!r} is not supported; use one of"
                f' {", ".join(LANGUAGES)} (<Parameter name="language" value="en"/>)'
            )
        call_sid = _str(start, "callSid")
        stream_sid = _str(start if "streamSid" in start else message, "streamSid")
        meta = CallMeta(
            name=params.get("name") or f"Twilio {call_sid}",
            agent_id=params.get("agent_id") or self.defaults.agent_id,
            queue=params.get("queue") or self.defaults.queue,
            language=language,
            mono_speaker=TRACK_SPEAKER[tracks[0]],
        )
        self.start = StreamStart(
            stream_sid=stream_sid,
            call_sid=call_sid,
            account_sid=str(start.get("accountSid", "")),
            tracks=tracks,
            meta=meta,
            token=params.get("token", ""),
        )
        self._bufs = [np.zeros(0, np.float32) for _ in tracks]
        self._filled = [np.zeros(0, bool) for _ in tracks]
        self._heads = [0 for _ in tracks]
        return self.start

    def _media(self, message: Mapping[str, Any]) -> list[TwilioResult]:
        if self.start is None:
            raise TwilioProtocolError("'media' before 'start': the stream must start first")
        if self.stopped:
            return []  # Twilio may flush a last packet after stop; the call is over
        media = _obj(message, "media")
        track = media.get("track", self.start.tracks[0])
        if track not in self.start.tracks:
            raise TwilioProtocolError(
                f"media for track {track!r}, but the stream announced {list(self.start.tracks)}"
            )
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise TwilioProtocolError("media.payload must be a base64 string")
        if len(payload) > (self.max_payload_bytes * 4) // 3 + 4:
            raise TwilioProtocolError(
                f"a media payload of {len(payload)} base64 characters is over the limit of"
                f" {self.max_payload_bytes} µ-law bytes ({self.max_payload_bytes / 8:.0f} ms)"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TwilioProtocolError(f"media.payload is not valid base64 ({exc})") from None
        i = self.start.tracks.index(track)
        stamp = media.get("timestamp")
        try:
            pos = int(stamp) * SAMPLES_PER_MS if stamp is not None else self._heads[i]
        except (TypeError, ValueError):
            raise TwilioProtocolError(f"media.timestamp {stamp!r} is not a number") from None
        if pos < 0:
            raise TwilioProtocolError(f"media.timestamp {stamp!r} is negative")
        return self._place(i, pos, decode_mulaw(raw))

    def _stop(self, message: Mapping[str, Any]) -> list[TwilioResult]:
        if self.start is None:
            raise TwilioProtocolError("'stop' before 'start'")
        if self.stopped:
            return []
        out: list[TwilioResult] = list(self.drain())
        out.append(StreamStop(self.start.stream_sid, self.emitted / SAMPLE_RATE))
        return out

    def drain(self) -> list[AudioBlock]:
        """Everything received and not yet released, up to the furthest packet of any track;
        for a stream that ends (with or without 'stop'): nothing that arrived is lost."""
        if self.start is None or self.stopped:
            return []
        self.stopped = True
        return self._release(max(self._heads))

    # ---- alignment ----------------------------------------------------------------------
    def _place(self, track: int, pos: int, samples: np.ndarray) -> list[TwilioResult]:
        end = pos + len(samples)
        if end <= self.emitted:
            self.late_dropped += 1  # older than the jitter window: already released as silence
            return []
        if pos - self.emitted > self.max_gap + self.jitter:
            raise TwilioProtocolError(
                f"track {self.start.tracks[track] if self.start else track!r} jumped"
                f" {(pos - self.emitted) / SAMPLE_RATE:.1f} s ahead of the audio released so"
                f" far (limit {self.max_gap / SAMPLE_RATE:.0f} s); timestamps are broken"
            )
        out: list[TwilioResult] = []
        # release what the other track will never fill now, before growing this buffer
        out.extend(self._release(max(self._heads[track], end) - self.jitter))
        if end <= self.emitted:  # released just now as silence
            self.late_dropped += 1
            return out
        skip = max(0, self.emitted - pos)  # the head of a straddling packet was released
        samples, pos = samples[skip:], pos + skip
        buf, filled = self._bufs[track], self._filled[track]
        need = end - self.emitted
        if len(buf) < need:
            grow = need - len(buf)
            buf = self._bufs[track] = np.concatenate([buf, np.zeros(grow, np.float32)])
            filled = self._filled[track] = np.concatenate([filled, np.zeros(grow, bool)])
        buf[pos - self.emitted : end - self.emitted] = samples
        filled[pos - self.emitted : end - self.emitted] = True
        self._heads[track] = max(self._heads[track], end)
        # both tracks complete up to here (a packet still missing in the middle is waited for)
        out.extend(self._release(min(self._contiguous(i) for i in range(len(self._bufs)))))
        return out

    def _contiguous(self, track: int) -> int:
        """The stream position up to which this track has no hole."""
        filled = self._filled[track]
        holes = np.flatnonzero(~filled)
        return self.emitted + (int(holes[0]) if len(holes) else len(filled))

    def _release(self, upto: int) -> list[AudioBlock]:
        """Blocks from ``emitted`` to ``upto`` (whole blocks; the tail too after stop)."""
        out: list[AudioBlock] = []
        while upto - self.emitted >= self.block or (self.stopped and upto > self.emitted):
            n = min(self.block, upto - self.emitted)
            cols = []
            for i, buf in enumerate(self._bufs):
                col = buf[:n]
                if len(col) < n:  # this track has nothing here yet: silence
                    col = np.concatenate([col, np.zeros(n - len(col), np.float32)])
                cols.append(col)
                self._bufs[i] = buf[n:]
                self._filled[i] = self._filled[i][n:]
            out.append(AudioBlock(self.emitted / SAMPLE_RATE, np.stack(cols, axis=1)))
            self.emitted += n
        return out


def _kind(value: object) -> str:
    return type(value).__name__


def _obj(message: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = message.get(key)
    if not isinstance(value, Mapping):
        raise TwilioProtocolError(f"{message.get('event', 'message')}.{key} must be an object")
    return value


def _str(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise TwilioProtocolError(f"{message.get('event', 'start')}: {key} is missing")
    return value
