"""The async driver of one call's recognition: both parties, merged in time order.

Each party (one channel) has its own recognizer and its own voice-activity tracker. ``feed``
takes one :class:`AudioChunk` per party covering the same span, runs the recognizers on the
engine's executor (never on the event loop), and turns their hypotheses into events:

- :class:`PartialUtterance` while someone speaks (``seq`` is the number the final would get
  if it were the next final of the call; the other party finishing first bumps it),
- :class:`FinalUtterance` per utterance, ``seq`` 1, 2, 3... per call in order of emission,
  with words and :class:`AcousticFeatures`,
- :class:`TalkOver` when both parties speak at once for at least ``talk_over_min`` seconds
  (``speaker`` is who started second), emitted when the overlap ends.

Within one ``feed`` the events are sorted by their end time.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from monitor.asr.base import Engine, Hypothesis, Recognizer
from monitor.asr.endpoint import Boundary, Endpointer
from monitor.asr.features import utterance_features
from monitor.events import (
    AudioChunk,
    Event,
    FinalUtterance,
    PartialUtterance,
    Speaker,
    TalkOver,
)

T = TypeVar("T")

HISTORY_S = 40.0  # audio kept per party for the features of the utterance in progress


class AudioHistory:
    """The last ``seconds`` of one party's audio, addressable by call time (bounded)."""

    def __init__(self, sample_rate: int, seconds: float) -> None:
        self.sample_rate = sample_rate
        self.capacity = int(seconds * sample_rate)
        self._buf = np.zeros(0, dtype=np.float32)
        self.start = 0.0  # call time of _buf[0]

    def append(self, samples: np.ndarray, start: float) -> None:
        if self._buf.size == 0:
            self.start = start
        self._buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        excess = self._buf.size - self.capacity
        if excess > 0:
            self._buf = self._buf[excess:]
            self.start += excess / self.sample_rate

    def slice(self, start: float, end: float) -> np.ndarray:
        lo = max(round((start - self.start) * self.sample_rate), 0)
        hi = max(round((end - self.start) * self.sample_rate), lo)
        return self._buf[lo:hi]


@dataclass(slots=True)
class _Party:
    speaker: Speaker
    recognizer: Recognizer
    activity: Endpointer
    history: AudioHistory
    last_end: float = 0.0  # end of this party's previous final utterance
    active_since: float | None = None  # voice activity: start of the open speech region
    origin: float | None = None  # call time of the activity tracker's sample 0


@dataclass(frozen=True, slots=True)
class _Step:
    speaker: Speaker
    hypotheses: list[Hypothesis]
    boundaries: list[Boundary]


class CallTranscriber:
    def __init__(
        self,
        engine: Engine,
        call_id: str,
        speakers: Sequence[Speaker],
        *,
        talk_over_min: float = 0.5,
    ) -> None:
        if not speakers or len(set(speakers)) != len(speakers):
            raise ValueError(f"speakers must be distinct and non-empty, got {list(speakers)}")
        self.engine = engine
        self.call_id = call_id
        self.speakers = tuple(speakers)
        self.talk_over_min = talk_over_min
        self._executor: Executor | None = getattr(engine, "executor", None)
        sr = engine.sample_rate
        self._parties = {
            s: _Party(
                s,
                engine.new_recognizer(),
                Endpointer(sr, end_silence=0.3, tail=0.0, max_utterance=1e9),
                AudioHistory(sr, HISTORY_S),
            )
            for s in self.speakers
        }
        self._seq = 0
        self._overlap: tuple[Speaker, float] | None = None  # who started second, and when
        self._lock = asyncio.Lock()  # recognizers are not thread-safe: one feed at a time
        self._finished = False

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            return await asyncio.to_thread(fn, *args)
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def feed(self, chunks: Sequence[AudioChunk]) -> list[Event]:
        by_speaker = self._check(chunks)
        async with self._lock:
            if self._finished:
                raise RuntimeError(f"call {self.call_id}: feed() after finish()")
            steps = await asyncio.gather(
                *(self._run(self._accept, sp, by_speaker[sp]) for sp in self.speakers)
            )
            return await self._run(self._events, steps)

    async def finish(self) -> list[Event]:
        async with self._lock:
            if self._finished:
                return []
            self._finished = True
            steps = await asyncio.gather(*(self._run(self._finish, sp) for sp in self.speakers))
            return await self._run(self._events, steps)

    # ------------------------------------------------------------ synchronous work (threads)

    def _check(self, chunks: Sequence[AudioChunk]) -> dict[Speaker, AudioChunk]:
        by_speaker = {c.speaker: c for c in chunks}
        if sorted(by_speaker) != sorted(self.speakers) or len(chunks) != len(self.speakers):
            raise ValueError(
                f"call {self.call_id}: feed() needs exactly one chunk per speaker "
                f"{list(self.speakers)}, got {[c.speaker for c in chunks]}"
            )
        for c in chunks:
            if c.sample_rate != self.engine.sample_rate:
                raise ValueError(
                    f"call {self.call_id}: {c.speaker} chunk is {c.sample_rate} Hz but the "
                    f"{self.engine.name} engine takes {self.engine.sample_rate} Hz; resample it "
                    "first (monitor.sources.resample)"
                )
            if c.samples.ndim != 1:
                raise ValueError(f"call {self.call_id}: {c.speaker} chunk must be mono (1-D)")
        return by_speaker

    def _accept(self, speaker: Speaker, chunk: AudioChunk) -> _Step:
        party = self._parties[speaker]
        samples = chunk.samples.astype(np.float32, copy=False)
        if party.origin is None:
            party.origin = chunk.start
        party.history.append(samples, chunk.start)
        hyps = party.recognizer.accept(samples, chunk.start)
        return _Step(speaker, hyps, party.activity.push(samples))

    def _finish(self, speaker: Speaker) -> _Step:
        party = self._parties[speaker]
        return _Step(speaker, party.recognizer.finish(), party.activity.flush())

    def _events(self, steps: Sequence[_Step]) -> list[Event]:
        timed: list[tuple[float, int, Event | Hypothesis, Speaker]] = []
        order = {s: i for i, s in enumerate(self.speakers)}
        for step in steps:
            for hyp in step.hypotheses:
                timed.append((hyp.end, order[step.speaker], hyp, step.speaker))
        for talk in self._talk_over(steps):
            timed.append((talk.end, -1, talk, talk.speaker))
        timed.sort(key=lambda item: (item[0], item[1]))
        events: list[Event] = []
        for _, _, item, speaker in timed:
            if isinstance(item, Hypothesis):
                events.append(self._utterance(speaker, item))
            else:
                events.append(item)
        return events

    def _utterance(self, speaker: Speaker, hyp: Hypothesis) -> Event:
        if not hyp.final:
            return PartialUtterance(
                self.call_id, speaker, self._seq + 1, hyp.text, hyp.start, hyp.end
            )
        party = self._parties[speaker]
        self._seq += 1
        features = utterance_features(
            party.history.slice(hyp.start, hyp.end),
            self.engine.sample_rate,
            start=hyp.start,
            end=hyp.end,
            words=hyp.words,
            text=hyp.text,
            silence_before=hyp.start - party.last_end,
        )
        party.last_end = hyp.end
        return FinalUtterance(
            self.call_id,
            speaker,
            self._seq,
            hyp.text,
            hyp.start,
            hyp.end,
            words=hyp.words,
            features=features,
            engine=self.engine.name,
        )

    def _talk_over(self, steps: Sequence[_Step]) -> list[TalkOver]:
        sr = self.engine.sample_rate
        marks = sorted(
            (
                (self._parties[s.speaker].origin or 0.0) + b.sample / sr,
                b.kind == "start",  # ends before starts at the same instant
                s.speaker,
            )
            for s in steps
            for b in s.boundaries
        )
        found: list[TalkOver] = []
        for at, is_start, speaker in marks:
            party = self._parties[speaker]
            if is_start:
                others = [p for p in self._parties.values() if p is not party]
                if self._overlap is None and any(p.active_since is not None for p in others):
                    self._overlap = (speaker, at)
                party.active_since = at
                continue
            party.active_since = None
            if self._overlap is not None:
                second, since = self._overlap
                self._overlap = None
                if at - since >= self.talk_over_min:
                    found.append(TalkOver(self.call_id, second, round(since, 3), round(at, 3)))
        return found
