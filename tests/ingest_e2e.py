"""Shared by the network-ingest end-to-end tests: a recorded call at 8 kHz, its file replay
through the same pipeline (the reference), and what a streamed call must match of it."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from monitor import events as ev
from monitor.pipeline import CallMeta
from monitor.sources.file import FileSource

CALL = "abusive_customer"
SECONDS = 42.0  # the first customer outburst ("You're useless ...") is in it
_REFERENCE: dict[tuple[str, float], Outcome] = {}


@dataclass(frozen=True)
class Outcome:
    """What the board shows of a call: final utterances and alerts, in order."""

    finals: tuple[tuple[str, str], ...]
    alerts: tuple[str, ...]

    @classmethod
    def of(cls, events: list[Any], call_id: str) -> Outcome:
        mine = [e for e in events if ev.call_id_of(e) == call_id]
        return cls(
            tuple((e.speaker, e.text) for e in mine if isinstance(e, ev.FinalUtterance)),
            tuple(e.kind for e in mine if isinstance(e, ev.Alert)),
        )


def phone_call(wav: Path, seconds: float = SECONDS) -> np.ndarray:
    """The first ``seconds`` of a stereo 16 kHz recording as int16 stereo at 8 kHz."""
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    assert rate == 16000 and data.shape[1] == 2
    down = resample_poly(data[: int(seconds * rate)], 1, 2, axis=0)
    return (np.clip(down, -1, 1) * 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray) -> Path:
    sf.write(str(path), pcm, 8000, subtype="PCM_16")
    return path


async def reference(make_monitor: Any, wav8k: Path, pcm: np.ndarray) -> Outcome:
    """The call replayed from an 8 kHz file through a fresh pipeline (cached per session)."""
    key = (CALL, float(len(pcm)))
    if key not in _REFERENCE:
        from monitor.bus import EventBus

        seen: list[Any] = []
        bus = EventBus()
        bus.add_sink(seen.append)
        monitor = await make_monitor(None, bus)
        summary = await monitor.run_call(FileSource(wav8k), CallMeta(name="reference"))
        _REFERENCE[key] = Outcome.of(seen, summary.call_id)
    return _REFERENCE[key]


async def wait_for(predicate: Any, timeout: float = 180.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 3}


@dataclass
class Seen:
    """Every event published on the bus, in order (stands in for the store and the board)."""

    events: list[Any] = field(default_factory=list)

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def ended(self, timeout: float = 180.0) -> ev.CallEnded:
        await wait_for(lambda: self.of_type(ev.CallEnded), timeout)
        return self.of_type(ev.CallEnded)[0]  # type: ignore[no-any-return]
