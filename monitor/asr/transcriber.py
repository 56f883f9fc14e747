"""The async driver of one call's recognition; the work itself is :class:`CallMerger`'s.

``feed`` takes one :class:`AudioChunk` per party covering the same span and returns the events
that are ready (:mod:`monitor.asr.merge` says which and in what order); ``finish`` flushes
everything. Nothing heavy runs on the event loop:

- voice activity and the merge run on the engine's executor (one job per chunk, both parties);
- a **segment** engine's decodes (Whisper) go to its shared :class:`DecodeScheduler`, so a
  call never waits for its own decodes to keep detecting speech; their text is merged in on
  a later ``feed``. A call keeps at most ``MAX_DECODING`` finals in decode: beyond that
  ``feed`` waits for the oldest (a file source then waits too; a live call's lag grows);
- a **streaming** engine's recognizers (Vosk) run on the executor, one per party.

``lag_s`` is how long the oldest final of this call has been waiting for its text.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

import numpy as np

from monitor.asr.base import Engine, Recognizer
from monitor.asr.merge import CallMerger, DecodeRequest
from monitor.events import AudioChunk, Event, Speaker, Word

T = TypeVar("T")

MAX_DECODING = 3  # finals of one call in the decode queue before feed() waits


class CallTranscriber:
    def __init__(
        self,
        engine: Engine,
        call_id: str,
        speakers: Sequence[Speaker],
        *,
        talk_over_min: float = 0.5,
    ) -> None:
        self.engine = engine
        self.call_id = call_id
        self.speakers = tuple(speakers)
        self._scheduler: Any = getattr(engine, "scheduler", None)
        self._executor: Executor | None = getattr(engine, "executor", None)
        self.core = CallMerger(
            call_id,
            self.speakers,
            engine.sample_rate,
            engine.name,
            segment=self._scheduler is not None,
            partial_interval=getattr(engine, "partial_interval", None),
            talk_over_min=talk_over_min,
        )
        self._recognizers: dict[Speaker, Recognizer] = (
            {} if self._scheduler is not None else {s: engine.new_recognizer() for s in speakers}
        )
        # decodes in flight, oldest first: (request, future, time.monotonic() when submitted)
        self._decoding: list[tuple[DecodeRequest, Future[tuple[str, list[Word]]], float]] = []
        self._lock = asyncio.Lock()  # the core is not thread-safe: one feed at a time
        self._finished = False
        self.partials_shed = 0
        # offline runs that wait for each decode (Monitor.decode_every_partial) queue every
        # partial instead of offering it: the same text for the same audio, run after run
        self.every_partial = False

    @property
    def lag_s(self) -> float:
        """Seconds the oldest final of this call has waited for its text (0: none waiting)."""
        finals = [at for r, _, at in self._decoding if r.final]
        return max(0.0, time.monotonic() - min(finals)) if finals else 0.0

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            return await asyncio.to_thread(fn, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def feed(self, chunks: Sequence[AudioChunk]) -> list[Event]:
        by_speaker = self._check(chunks)
        async with self._lock:
            if self._finished:
                raise RuntimeError(f"call {self.call_id}: feed() after finish()")
            if self._scheduler is not None:
                requests = await self._run(self._insert, by_speaker)
                self._submit(requests)
                while sum(r.final for r, _, _ in self._decoding) > MAX_DECODING:
                    await asyncio.wrap_future(self._decoding[0][1])
                    self._collect()
            else:
                await self._run(self._stream, by_speaker)
            self._collect()
            return self.core.events()

    async def drain(self) -> list[Event]:
        """Wait for this call's decodes in flight and return what is then ready: a driver
        with time to spare (a test, an offline run that wants every partial) calls it after
        ``feed``; a live driver never does."""
        async with self._lock:
            if self._decoding:
                await asyncio.wait([asyncio.wrap_future(f) for _, f, _ in self._decoding])
            self._collect()
            return self.core.events()

    async def finish(self) -> list[Event]:
        async with self._lock:
            if self._finished:
                return []
            self._finished = True
            if self._scheduler is not None:
                requests = [r for s in self.speakers for r in self.core.flush(s)]
                self._submit(requests)
                if self._decoding:
                    await asyncio.wait([asyncio.wrap_future(f) for _, f, _ in self._decoding])
            else:
                await self._run(self._stream_finish)
            self._collect()
            return self.core.events()

    # ------------------------------------------------------------ segment engines

    def _insert(self, chunks: dict[Speaker, AudioChunk]) -> list[DecodeRequest]:
        out: list[DecodeRequest] = []
        for speaker in self.speakers:
            c = chunks[speaker]
            out += self.core.insert(speaker, c.samples, c.start)
        return out

    def _submit(self, requests: Sequence[DecodeRequest]) -> None:
        decode = self.engine.decode  # type: ignore[attr-defined]
        now = time.monotonic()
        for r in requests:
            run = functools.partial(decode, r.audio, final=r.final)
            if r.final:
                future = self._scheduler.submit_final(run, now)
            elif self.every_partial:
                future = self._scheduler.queue_partial(run)
            else:
                future = self._scheduler.offer_partial(run)
                if future is None:
                    self.partials_shed += 1
                    continue
            self._decoding.append((r, future, now))

    def _collect(self) -> None:
        """Merge the decodes that are done, oldest first (a failed one raises here)."""
        still: list[tuple[DecodeRequest, Future[tuple[str, list[Word]]], float]] = []
        for request, future, at in self._decoding:
            if not future.done():
                still.append((request, future, at))
                continue
            try:
                text, words = future.result()
            except Exception:
                self.core.abandon(request)
                raise
            self.core.resolve(request, text, words)
        self._decoding = still

    # ------------------------------------------------------------ streaming engines

    def _stream(self, chunks: dict[Speaker, AudioChunk]) -> None:
        for speaker in self.speakers:
            c = chunks[speaker]
            rec = self._recognizers[speaker]
            hyps = rec.accept(c.samples, c.start)
            self.core.add(
                speaker,
                c.samples,
                c.start,
                hyps,
                getattr(rec, "boundaries", ()),
                getattr(rec, "origin", None),
            )

    def _stream_finish(self) -> None:
        for speaker in self.speakers:
            rec = self._recognizers[speaker]
            hyps = rec.finish()
            self.core.add(
                speaker,
                np.zeros(0, dtype=np.float32),
                0.0,
                hyps,
                getattr(rec, "boundaries", ()),
                getattr(rec, "origin", None),
            )

    # ------------------------------------------------------------ validation

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
