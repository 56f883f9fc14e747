"""The plain PCM stream, decoded without I/O: for platforms that have no protocol of their own.

A client sends one JSON text message first, then binary frames of interleaved signed 16-bit
little-endian PCM, then ``{"type": "stop"}``::

    {"type": "start", "sample_rate": 8000, "channels": ["customer", "agent"],
     "agent_id": "agent-7", "queue": "billing", "language": "en", "name": "call 1234"}

:func:`parse_start` checks that message against :data:`START_SCHEMA` (every key known, every
type right, the values in range) and names the first problem. :class:`PcmStream` turns frames
into 0.1 s blocks with the customer in column 0, refuses a frame that is not a whole number
of samples or is over ``max_frame_bytes``, and more than ``max_frames_per_audio_s`` frames
per second of audio (thousands of tiny frames).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from monitor.events import Speaker
from monitor.languages import LANGUAGE_CODES, normalise
from monitor.pipeline import CallMeta

RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
LAYOUTS: tuple[tuple[str, ...], ...] = (
    ("customer", "agent"),
    ("agent", "customer"),
    ("customer",),
    ("agent",),
)
LANGUAGES = LANGUAGE_CODES
FRAME_BURST = 50
# key -> (type, required, what it is); the whole schema of the first message
START_SCHEMA: dict[str, tuple[type, bool, str]] = {
    "type": (str, True, '"start"'),
    "sample_rate": (int, True, f"one of {', '.join(map(str, RATES))}"),
    "channels": (list, True, '["customer", "agent"], ["agent", "customer"], or one of them'),
    "encoding": (str, False, '"s16le" (the only one)'),
    "agent_id": (str, False, "whose agent panel shows the call"),
    "queue": (str, False, "the queue on the board"),
    "language": (str, False, f"one of {', '.join(LANGUAGES)}"),
    "name": (str, False, "the call's name on the board"),
}


class PcmProtocolError(ValueError):
    """A message or frame callmon cannot use; the text says what was wrong."""


@dataclass(frozen=True, slots=True)
class PcmStart:
    sample_rate: int
    channels: tuple[str, ...]  # on the wire, in order
    meta: CallMeta

    @property
    def channel_count(self) -> int:
        return len(self.channels)


@dataclass(frozen=True, slots=True)
class PcmDefaults:
    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"


def parse_start(message: object, defaults: PcmDefaults | None = None) -> PcmStart:
    """Validate the first message against :data:`START_SCHEMA`."""
    d = defaults or PcmDefaults()
    if not isinstance(message, Mapping):
        raise PcmProtocolError("the first message must be a JSON object: the call's metadata")
    for key in message:
        if key not in START_SCHEMA:
            raise PcmProtocolError(
                f"unknown key {key!r} in the start message (known: {', '.join(START_SCHEMA)})"
            )
    for key, (kind, required, what) in START_SCHEMA.items():
        if key not in message:
            if required:
                raise PcmProtocolError(f"the start message needs {key!r}: {what}")
            continue
        value = message[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise PcmProtocolError(f"start.{key} must be {what}, got {value!r}")
        if isinstance(value, str) and len(value) > 100:
            raise PcmProtocolError(f"start.{key} is longer than 100 characters")
    if message["type"] != "start":
        raise PcmProtocolError(
            f'the first message must have "type": "start", not {message["type"]!r}'
        )
    if message["sample_rate"] not in RATES:
        raise PcmProtocolError(
            f"start.sample_rate {message['sample_rate']} is not one of {', '.join(map(str, RATES))}"
        )
    layout = tuple(message["channels"])
    if layout not in LAYOUTS:
        raise PcmProtocolError(
            f"start.channels {list(layout)} must be {START_SCHEMA['channels'][2]}"
        )
    if message.get("encoding", "s16le") != "s16le":
        raise PcmProtocolError(f'start.encoding {message["encoding"]!r}: only "s16le" is read')
    asked = message.get("language") or d.language
    language = normalise(asked)  # "en-US", "ms_MY" read as en, ms
    if language is None:
        raise PcmProtocolError(f"start.language {asked!r} is not one of {', '.join(LANGUAGES)}")
    speaker: Speaker = "agent" if layout[0] == "agent" else "customer"
    meta = CallMeta(
        name=message.get("name") or "PCM stream",
        agent_id=message.get("agent_id") or d.agent_id,
        queue=message.get("queue") or d.queue,
        language=language,
        mono_speaker=speaker,
    )
    return PcmStart(message["sample_rate"], layout, meta)


class PcmStream:
    """Binary frames -> 0.1 s blocks (customer first). Synchronous, no I/O."""

    def __init__(
        self, start: PcmStart, *, max_frame_bytes: int = 16_000, max_frames_per_audio_s: int = 100
    ) -> None:
        self.start = start
        self.block = start.sample_rate // 10
        self.width = 2 * start.channel_count
        self.max_frame_bytes = max_frame_bytes
        self.max_fps = max_frames_per_audio_s
        self.swap = start.channels == ("agent", "customer")
        self.frames = 0
        self.samples = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0

    def feed(self, data: bytes) -> list[np.ndarray]:
        if len(data) > self.max_frame_bytes:
            raise PcmProtocolError(
                f"a frame of {len(data)} bytes is over the limit of {self.max_frame_bytes}"
            )
        if len(data) % self.width:
            raise PcmProtocolError(
                f"a frame of {len(data)} bytes is not a whole number of samples"
                f" ({self.width} bytes each: s16le x {self.start.channel_count} channel(s))"
            )
        self.frames += 1
        rate = self.start.sample_rate
        if self.frames > FRAME_BURST and self.frames > self.max_fps * (self.samples / rate + 0.5):
            raise PcmProtocolError(
                f"{self.frames} frames for {self.samples / rate:.2f} s of audio: over"
                f" {self.max_fps} frames per second of audio (max_frames_per_audio_s)"
            )
        n = len(data) // self.width
        if not n:
            return []
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        samples = samples.reshape(n, self.start.channel_count)
        if self.swap:
            samples = samples[:, ::-1]
        self.samples += n
        self._pending.append(samples)
        self._pending_n += n
        return self._release(whole=True)

    def flush(self) -> list[np.ndarray]:
        return self._release(whole=False)

    def _release(self, whole: bool) -> list[np.ndarray]:
        if not self._pending_n or (whole and self._pending_n < self.block):
            return []
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = (len(data) // self.block) * self.block if whole else len(data)
        out = [data[i : min(i + self.block, cut)] for i in range(0, cut, self.block)]
        rest = data[cut:]
        self._pending = [rest] if len(rest) else []
        self._pending_n = len(rest)
        return out
