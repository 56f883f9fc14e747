"""Names, entry formats and the one fenced publish of the Redis side of cluster mode.

Keys (``{p}`` is :attr:`ClusterConfig.prefix`):

- ``{p}:calls`` — one entry per call (its metadata); consumer group ``workers``. The pending
  entry of a call *is* its lease: the owner resets its idle time while the call runs, and a
  worker that finds it idle past the lease takes it (``XAUTOCLAIM``).
- ``{p}:audio:{call}`` — the call's audio, one entry per chunk (int16 PCM, interleaved), then
  an ``end`` entry; ``gap`` entries say how much audio an ingest node lost. Capped by MAXLEN.
- ``{p}:ckpt:{call}`` — the checkpoint hash: ``owner`` (the fencing token), ``published``
  (how many of the call's events are on the events stream), ``audio`` (chunks consumed),
  ``moves`` (how many times the call changed worker).
- ``{p}:events`` — every event for the boards: ``id`` (deterministic), ``data`` (wire JSON).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from monitor import events as ev
from monitor import wire

GROUP = "workers"

# Append one event to the events stream and advance the checkpoint, atomically, only while
# the caller still owns the call and only if that ordinal is not published yet. A worker
# that lost its lease (a long stall, then another worker took the call) gets -1 and stops.
PUBLISH_LUA = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return -1 end
local n = tonumber(ARGV[2])
if n > 0 then
  local done = tonumber(redis.call('HGET', KEYS[1], 'published') or '0')
  if done >= n then return 0 end
  redis.call('HSET', KEYS[1], 'published', n, 'at', ARGV[6])
elseif ARGV[7] ~= '' then
  if redis.call('HSETNX', KEYS[1], 'side:' .. ARGV[7], 1) == 0 then return 0 end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[3], 'data', ARGV[4])
return 1
"""

# Renew a lease: reset the call's entry's idle time, only while the caller still owns the
# call (a plain XCLAIM would take the entry back from a worker that took the call over).
RENEW_LUA = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('XCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, ARGV[4], 'JUSTID')
redis.call('HSET', KEYS[1], 'lag_ms', ARGV[5], 'audio', ARGV[6])
return 1
"""

# Take over a call's checkpoint: become its owner and count the move.
TAKE_LUA = """
local prev = redis.call('HGET', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
local moves = 0
if prev and prev ~= ARGV[1] then moves = redis.call('HINCRBY', KEYS[1], 'moves', 1) end
return {prev or '', moves, tonumber(redis.call('HGET', KEYS[1], 'published') or '0')}
"""


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.calls = f"{prefix}:calls"
        self.events = f"{prefix}:events"

    def audio(self, call_id: str) -> str:
        return f"{self.prefix}:audio:{call_id}"

    def ckpt(self, call_id: str) -> str:
        return f"{self.prefix}:ckpt:{call_id}"


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a worker needs to run a call, announced on the ``calls`` stream."""

    call_id: str
    name: str
    agent_id: str
    queue: str
    language: str
    sample_rate: int
    channels: int
    source: str = ""

    def fields(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def parse(cls, raw: dict[Any, Any]) -> CallInfo:
        d = {_s(k): _s(v) for k, v in raw.items()}
        try:
            return cls(
                call_id=d["call_id"],
                name=d["name"],
                agent_id=d["agent_id"],
                queue=d["queue"],
                language=d["language"],
                sample_rate=int(d["sample_rate"]),
                channels=int(d["channels"]),
                source=d.get("source", ""),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"bad call announcement {d!r}: {exc}") from None


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def event_id(call_id: str, ordinal: int) -> str:
    """The id of a call's ``ordinal``-th event (1-based). The pipeline is deterministic in
    audio time, so a replay of the same audio gives every event the same id."""
    return f"{call_id}:{ordinal:07d}"


def side_event_id(call_id: str, key: str) -> str:
    """Events outside the pipeline's sequence (a move, a gap), keyed by what happened."""
    return f"{call_id}:x-{key}"


def partial_event_id(call_id: str) -> str:
    """Interim text: no ordinal (its timing is not deterministic), never deduplicated."""
    return f"{call_id}:partial"


def strain_event_id(agent_id: str) -> str:
    return f"strain:{agent_id}:{uuid.uuid4().hex[:12]}"


def encode_pcm(samples: np.ndarray) -> bytes:
    """float32 (n, channels) in [-1, 1] -> int16 little-endian, interleaved (what telephony
    carries; half the bytes of float32)."""
    clipped = np.clip(samples, -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def decode_pcm(data: bytes, channels: int) -> np.ndarray:
    pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0
    return pcm.reshape(-1, channels)


def encode_event(eid: str, event: ev.Event) -> str:
    return wire.to_json(event)


def decode_event(data: bytes | str) -> ev.Event:
    """An event off the events stream, checked against its schema like any input."""
    raw = wire.load_json(data)
    if not isinstance(raw, dict):
        raise wire.WireError("an events-stream entry must hold a JSON object")
    return wire.from_dict(raw)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
