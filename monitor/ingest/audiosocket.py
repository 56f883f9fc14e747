"""Asterisk AudioSocket, decoded without I/O: TCP bytes in, typed frames out; two legs mixed.

Every frame is a 1-byte kind, a big-endian 16-bit payload length and the payload (the kinds
are ``enum ast_audiosocket_msg_kind`` of Asterisk's ``res_audiosocket``):

| kind | payload |
|---|---|
| ``0x00`` hang-up | none |
| ``0x01`` call id | the 16-byte UUID; always the first frame |
| ``0x03`` DTMF | one ASCII digit |
| ``0x10`` audio | signed linear 16-bit little-endian mono at 8 kHz (320 bytes = 20 ms) |
| ``0x11``-``0x18`` audio | the same at 12, 16, 24, 32, 44.1, 48, 96, 192 kHz (newer Asterisk) |
| ``0xFF`` error | an optional 1-byte code (1: the caller hung up, 2: frame forwarding, 4: memory) |

:class:`AudioSocketDecoder` buffers partial frames (at most one frame's worth), refuses a
frame over ``max_payload_bytes`` from its header alone, audio before the UUID, a second UUID,
odd-length audio, a rate that changes mid-stream, unknown kinds, thousands of tiny frames
(``max_frames_per_audio_s``), and a connection that ends inside a frame (:meth:`eof`).

AudioSocket carries one mono stream per connection. :class:`LegMixer` aligns the customer and
agent legs of one call into stereo blocks (customer in column 0): each leg is placed by its
own sample count from where it joined; a leg that falls more than ``jitter`` samples behind
is heard as silence rather than holding the call back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_ERROR = 0xFF
AUDIO_RATES = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
ERROR_CODES = {0x00: "no error", 0x01: "the caller hung up", 0x02: "frame forwarding error",
               0x04: "memory error"}  # fmt: skip
FRAME_BURST = 50


class AudioSocketError(ValueError):
    """A frame callmon cannot use; the text says what was wrong."""


@dataclass(frozen=True, slots=True)
class CallId:
    uuid: str


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    samples: np.ndarray  # float32 mono
    rate: int


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


@dataclass(frozen=True, slots=True)
class RemoteError:
    code: int
    text: str


AudioSocketFrame = CallId | Audio | Dtmf | Hangup | RemoteError


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One AudioSocket frame (what Asterisk writes)."""
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


class AudioSocketDecoder:
    """One connection's bytes -> frames. Synchronous, no I/O."""

    def __init__(self, *, max_payload_bytes: int = 8192, max_frames_per_audio_s: int = 200) -> None:
        self.max_payload = max_payload_bytes
        self.max_fps = max_frames_per_audio_s
        self.call_id: str | None = None
        self.rate: int | None = None
        self.ended = False
        self._buf = bytearray()
        self.frames = 0
        self.audio_seconds = 0.0
        self.dtmf = ""
        self.error: AudioSocketError | None = None  # found after good frames; raised next

    def feed(self, data: bytes) -> list[AudioSocketFrame]:
        """The frames ``data`` completes. A bad frame raises :class:`AudioSocketError`; when
        good frames came before it in the same ``data``, they are returned first and the
        error is kept in :attr:`error` (raised by the next call): nothing received is lost."""
        if self.error is not None:
            raise self.error
        if self.ended:
            return []  # after hang-up or error, nothing more counts
        self._buf += data
        out: list[AudioSocketFrame] = []
        try:
            self._frames_into(out)
        except AudioSocketError as exc:
            if not out:
                raise
            self.error = exc
        return out

    def _frames_into(self, out: list[AudioSocketFrame]) -> None:
        while len(self._buf) >= 3 and not self.ended:
            kind = self._buf[0]
            length = int.from_bytes(self._buf[1:3], "big")
            if length > self.max_payload:
                raise AudioSocketError(
                    f"a frame of kind 0x{kind:02x} announces {length} bytes, over the limit of"
                    f" {self.max_payload} (max_payload_bytes)"
                )
            if len(self._buf) < 3 + length:
                break
            payload = bytes(self._buf[3 : 3 + length])
            del self._buf[: 3 + length]
            out.append(self._frame(kind, payload))

    def eof(self) -> None:
        """The connection ended: a partial frame is an error (the rest was delivered)."""
        if self._buf and not self.ended:
            need = 3 + int.from_bytes(self._buf[1:3], "big") if len(self._buf) >= 3 else 3
            raise AudioSocketError(
                f"the connection ended inside a frame ({len(self._buf)} of {need} bytes)"
            )

    def _frame(self, kind: int, payload: bytes) -> AudioSocketFrame:
        self.frames += 1
        if self.frames > FRAME_BURST and self.frames > self.max_fps * (self.audio_seconds + 0.5):
            raise AudioSocketError(
                f"{self.frames} frames for {self.audio_seconds:.2f} s of audio: over"
                f" {self.max_fps} frames per second of audio (max_frames_per_audio_s)"
            )
        if kind == KIND_UUID:
            if self.call_id is not None:
                raise AudioSocketError("a second call id on the same connection")
            if len(payload) != 16:
                raise AudioSocketError(f"a call id of {len(payload)} bytes; a UUID has 16")
            self.call_id = str(uuid.UUID(bytes=payload))
            return CallId(self.call_id)
        if self.call_id is None:
            raise AudioSocketError(f"a frame of kind 0x{kind:02x} before the call id (0x01)")
        if kind in AUDIO_RATES:
            rate = AUDIO_RATES[kind]
            if self.rate is not None and rate != self.rate:
                raise AudioSocketError(f"the audio rate changed from {self.rate} to {rate} Hz")
            if len(payload) % 2:
                raise AudioSocketError(f"{len(payload)} bytes of audio: not whole 16-bit samples")
            self.rate = rate
            samples = np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0
            self.audio_seconds += len(samples) / rate
            return Audio(samples, rate)
        if kind == KIND_HANGUP:
            self.ended = True
            return Hangup()
        if kind == KIND_DTMF:
            digit = payload[:1].decode("ascii", errors="replace")
            self.dtmf += digit
            return Dtmf(digit)
        if kind == KIND_ERROR:
            self.ended = True
            code = payload[0] if payload else 0
            return RemoteError(code, ERROR_CODES.get(code, f"error code {code}"))
        raise AudioSocketError(f"unknown frame kind 0x{kind:02x}")


class LegMixer:
    """One call's legs (1 or 2 columns) -> contiguous blocks of (n, columns). No I/O."""

    def __init__(self, columns: int, rate: int, *, block_s: float = 0.1, jitter_s: float = 1.0):
        self.columns = columns
        self.rate = rate
        self.block = max(1, int(rate * block_s))
        self.jitter = int(rate * jitter_s)
        self.emitted = 0
        self._bufs = [np.zeros(0, np.float32) for _ in range(columns)]
        self.heads: list[int | None] = [None] * columns  # None: not joined yet
        self.done = [False] * columns
        self.late_dropped = 0  # samples of a leg that arrived after their time was released

    def join(self, column: int, at_start: bool) -> None:
        """Place a leg: at the start of the call, or where the call is now."""
        if self.heads[column] is None:
            now = max([h for h in self.heads if h is not None], default=0)
            self.heads[column] = 0 if at_start else max(now, self.emitted)

    def push(self, column: int, samples: np.ndarray) -> list[np.ndarray]:
        self.join(column, at_start=False)
        head = self.heads[column]
        assert head is not None
        end = head + len(samples)
        self.heads[column] = end
        if end <= self.emitted:
            self.late_dropped += len(samples)
            return []
        skip = max(0, self.emitted - head)
        self.late_dropped += skip
        buf = self._bufs[column]
        need = end - self.emitted
        if len(buf) < need:
            buf = self._bufs[column] = np.concatenate([buf, np.zeros(need - len(buf), np.float32)])
        buf[head + skip - self.emitted : need] = samples[skip:]
        return self._release(self._ready())

    def ahead(self, column: int) -> int:
        """How far this leg is past the slowest active leg (samples)."""
        head = self.heads[column] or 0
        others = [h for i, h in enumerate(self.heads) if i != column and h is not None
                  and not self.done[i]]  # fmt: skip
        return head - min(others, default=head)

    def end(self, column: int) -> list[np.ndarray]:
        """This leg is over: it no longer holds the others back."""
        self.done[column] = True
        return self._release(self._ready())

    def flush(self) -> list[np.ndarray]:
        upto = max([h for h in self.heads if h is not None], default=self.emitted)
        return self._release(upto, final=True)

    def _ready(self) -> int:
        heads = [h for h in self.heads if h is not None]
        active = [h for i, h in enumerate(self.heads) if h is not None and not self.done[i]]
        if not heads:
            return self.emitted
        if not active:
            return max(heads)
        # every active leg has arrived up to min(active); a stalled one is silence after jitter
        return max(min(active), max(heads) - self.jitter)

    def _release(self, upto: int, final: bool = False) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        while upto - self.emitted >= self.block or (final and upto > self.emitted):
            n = min(self.block, upto - self.emitted)
            cols = []
            for i, buf in enumerate(self._bufs):
                col = buf[:n]
                if len(col) < n:
                    col = np.concatenate([col, np.zeros(n - len(col), np.float32)])
                cols.append(col)
                self._bufs[i] = buf[n:]
            out.append(np.stack(cols, axis=1))
            self.emitted += n
        return out
