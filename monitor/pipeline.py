"""One process, many calls: each call is a task group of stages joined by bounded queues.

    source ──audio_q──▶ transcribe (resample, ASR) ──text_q──▶ score + rules ──▶ bus

- ``audio_q`` is bounded: a file source simply waits when recognition falls behind
  (a live microphone drops and counts inside its own callback queue instead).
- Utterance text is redacted before anything downstream sees it, so the store and
  the board never receive an unmasked card or phone number.
- Ending a call flushes every stage (resampler tails, the recognizers' last words,
  closing rules); a source that fails half-way ends the call with ``reason="error"``
  after flushing what it had already delivered.
- Shutdown (monitor/runtime.py) first *interrupts* the calls in flight: each stops reading
  its source and flushes what it already read, then ends ``interrupted``. A call still
  running after the flush timeout is *cancelled*; it too ends ``interrupted`` (without the
  flush). Neither path waits on a queue whose consumer is gone.
- ``Monitor.calls`` holds the calls in flight only; an ended call's summary is returned by
  ``run_call`` and the last ``MAX_RECENT_CALLS`` are kept in ``Monitor.recent``, so a server
  that runs for months holds no per-call state for calls long gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import events as ev
from monitor import languages
from monitor.capacity import CapacityConfig, CapacityError, LagTracker
from monitor.capacity import refusal as capacity_refusal
from monitor.config import MonitorConfig
from monitor.seams import Bus, Scorer
from monitor.sources.base import AudioSource, SourceError, SourceInterrupted
from monitor.sources.resample import StreamResampler
from monitor.summary import CallMeta, CallSummary, new_call_id

if TYPE_CHECKING:
    from monitor.asr import Engine
    from monitor.rules import Playbook, StrainTracker
    from monitor.scoring.classifier import TextClassifier
    from monitor.store.db import CallStore

__all__ = ["CallMeta", "CallSummary", "Monitor", "MonitorStoppingError", "new_call_id"]

log = logging.getLogger(__name__)

AUDIO_QUEUE_FRAMES = 50  # 5 s of audio at 0.1 s frames
TEXT_QUEUE_ITEMS = 200
MAX_RECENT_CALLS = 100  # ended calls' summaries kept in Monitor.recent
# a customer's partial transcript is scored for early alerts once it has this many words,
# and again only when its text changed (monitor/rules/engine.py CallRules.on_partial)
PARTIAL_MIN_WORDS = 3
INTERRUPTED = "the monitor was stopped mid-call"


class MonitorStoppingError(RuntimeError):
    """run_call() after stop_intake(): the process is shutting down and takes no new calls."""


Redactor = Callable[[ev.Event], ev.Event]
_Item = tuple[list[ev.Event], float]


class Monitor:
    """Shared models and services for every call in the process."""

    def __init__(
        self,
        *,
        engine: Engine,
        scoring: Scorer,
        playbook: Playbook,
        strain: StrainTracker,
        bus: Bus,
        config: MonitorConfig,
        store: CallStore | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.engine = engine
        self.scoring = scoring
        self.playbook = playbook
        self.strain = strain
        self.bus = bus
        self.config = config
        self.store = store
        self.redactor = redactor
        self.calls: dict[str, CallSummary] = {}  # in flight only: removed when a call ends
        # overload: the call limit and when a call counts as delayed (monitor/capacity.py)
        self.capacity = CapacityConfig(max_calls=config.max_calls)
        self.recent: deque[CallSummary] = deque(maxlen=MAX_RECENT_CALLS)
        self._runs: dict[str, _CallRun] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}  # the task running each call
        self._endings: set[asyncio.Future[None]] = set()  # shielded ends of cancelled calls
        self._idle = asyncio.Event()
        self._idle.set()
        self.stopping = False
        self._closed = False
        # An offline run with time to spare (eval/) queues every partial and waits for each
        # decode in flight, so every partial is decoded and scored, as on a live call with a
        # spare decoder, and the same audio gives the same text run after run; live calls
        # never wait (partials are shed under load, and their early alerts with them).
        self.decode_every_partial = False

    @classmethod
    async def create(
        cls,
        config: MonitorConfig | None = None,
        bus: Bus | None = None,
        progress: Callable[[str], None] | None = None,
        *,
        engine: Engine | None = None,
        classifier: TextClassifier | None = None,
    ) -> Monitor:
        """Load the models (ASR, text classifier), the playbook and the store.

        ``engine`` and ``classifier`` may be passed in already loaded (they are shared,
        thread-safe models: tests and benchmarks load them once per process).
        """
        from monitor.asr import load_engine
        from monitor.bus import EventBus
        from monitor.rules import Playbook, strain_tracker
        from monitor.scoring.classifier import TextClassifier
        from monitor.scoring.service import ScoringService

        config = config or MonitorConfig()
        bus = bus or EventBus()
        say = progress or (lambda _msg: None)
        if engine is None:
            say(f"loading speech recognition (engine={config.engine})")
            engine = await asyncio.to_thread(
                load_engine, config.engine, config.vosk_model, config.asr_niceness
            )
        if classifier is None:
            say(f"speech engine: {engine.name}; loading the text classifier")
            classifier = await asyncio.to_thread(
                TextClassifier.load, config.classifier_path, precision=config.scoring_precision
            )
            say(f"text classifier: {classifier.backend}")
        scoring = ScoringService(classifier)
        await scoring.start()
        playbook = Playbook.load(config.playbook)
        store = None
        if config.store_path is not None:
            from monitor.store.db import CallStore

            store = CallStore(config.store_path, retention_days=config.retention_days)
            interrupted = store.recover()
            if interrupted:
                say(f"marked {len(interrupted)} unfinished call(s) as interrupted")
            removed = store.apply_retention()
            if removed:
                say(f"retention: deleted the audio of {removed} call(s)")
            bus.add_sink(store.sink)  # awaits each event's commit
        redactor = None
        if config.redact:
            from monitor.redact import CallRedactor

            # remembers a number being read out across utterances, per call and speaker
            redactor = CallRedactor()
        return cls(
            engine=engine,
            scoring=scoring,
            playbook=playbook,
            strain=strain_tracker(playbook),
            bus=bus,
            config=config,
            store=store,
            redactor=redactor,
        )

    async def engine_for(self, language: str) -> Engine:
        """The recogniser for a call in ``language`` (monitor/asr/multilingual.py, issue #12)."""
        from monitor.asr.multilingual import engine_for_language

        return await asyncio.to_thread(
            engine_for_language, self.engine, language, self.config.asr_niceness
        )

    async def language_detector(self) -> Any:
        """A detector for one call whose language is "auto": the multilingual Whisper's
        (loaded by the first such call), restricted to ``[asr] detect_languages``."""
        import functools

        from monitor.asr.detect import LanguageDetector, detect
        from monitor.asr.multilingual import multilingual_engine

        engine = await asyncio.to_thread(multilingual_engine, self.config.asr_niceness)
        return LanguageDetector(functools.partial(detect, engine, allowed=self.detect_languages))

    @property
    def detect_languages(self) -> tuple[str, ...]:
        """What a call in "auto" may be detected as (``[asr] detect_languages``, else all)."""
        from monitor.asr.detect import allowed_languages

        return allowed_languages(self.config.detect_languages)

    # ---- shutdown, in the order monitor/runtime.py calls it ---------------------------------
    def stop_intake(self) -> None:
        """Take no new calls: run_call raises MonitorStoppingError from now on."""
        self.stopping = True

    def interrupt_calls(self) -> int:
        """Ask every call in flight to stop reading its source and flush what it read; each
        then ends ``interrupted``. Returns how many were asked."""
        for run in self._runs.values():
            run.interrupt()
        return len(self._runs)

    async def wait_calls(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s) until no call is in flight; True when none is."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        return self._idle.is_set()

    async def cancel_calls(self, timeout: float = 5.0) -> None:
        """Cancel the calls still in flight; each is still ended ``interrupted`` and stored."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        if self._endings:  # a task cancelled twice leaves its shielded end running
            await asyncio.wait(self._endings, timeout=timeout)

    async def aclose(self) -> None:
        """Cancel what is left, stop the scorer, close the store last."""
        if self._closed:
            return
        self._closed = True
        self.stopping = True
        await self.cancel_calls()
        await self.scoring.aclose()
        if self.store is not None:
            self.store.close()

    async def run_calls(
        self, calls: Sequence[tuple[AudioSource, CallMeta]], stagger_s: float = 0.0
    ) -> list[CallSummary]:
        """Run several calls at once; ``stagger_s`` starts them that far apart."""

        async def one(i: int, source: AudioSource, meta: CallMeta) -> CallSummary | None:
            if stagger_s:
                await asyncio.sleep(i * stagger_s)
            if self.stopping:
                return None  # shutting down: a call not yet started is not started
            return await self.run_call(source, meta)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(i, s, m)) for i, (s, m) in enumerate(calls)]
        # a call cancelled by cancel_calls() leaves its task cancelled: it has no summary
        return [s for t in tasks if not t.cancelled() and (s := t.result()) is not None]

    def refusal(self) -> str | None:
        """Why a new call may not start now (shutting down, at capacity), or None."""
        if self.stopping:
            return "callmon is shutting down and takes no new calls"
        return capacity_refusal(len(self._runs), self.capacity)

    def lags(self) -> dict[str, float]:
        """Each call in flight: how far (s) its analysis is behind its audio."""
        return {call_id: run.lag.lag_s for call_id, run in self._runs.items()}

    def delayed_calls(self) -> list[str]:
        """The calls in flight marked delayed (monitor/capacity.py)."""
        return [call_id for call_id, run in self._runs.items() if run.lag.delayed]

    def queue_depths(self) -> dict[str, int]:
        """Items waiting between the stages, summed over the calls in flight (/metrics)."""
        runs = list(self._runs.values())
        return {
            "audio": sum(r.audio_q.qsize() for r in runs),
            "text": sum(r.text_q.qsize() for r in runs),
        }

    async def run_call(self, source: AudioSource, meta: CallMeta) -> CallSummary:
        if self.stopping:
            raise MonitorStoppingError("callmon is shutting down and takes no new calls")
        if (full := capacity_refusal(len(self._runs), self.capacity)) is not None:
            raise CapacityError(full)
        # id/ms/ro calls get the multilingual Whisper (loaded by the first such call; a
        # missing model fails here, before the call is announced). A call in "auto" starts
        # in the fallback language and gets its engine once its language is detected.
        detector = None
        if languages.is_auto(meta.language) and len(self.detect_languages) == 1:
            # one configured language: nothing to detect
            meta = dataclasses.replace(meta, language=self.detect_languages[0])
        if languages.is_auto(meta.language):
            detector = await self.language_detector()
            meta = dataclasses.replace(meta, language=languages.DEFAULT_LANGUAGE)
            engine = None
        else:
            engine = await self.engine_for(meta.language)
        call_id = meta.call_id or new_call_id(meta.name)
        speakers: tuple[ev.Speaker, ...] = (
            ev.SPEAKERS if source.channels == 2 else (meta.mono_speaker,)
        )
        summary = CallSummary(call_id, meta.name, meta.agent_id, meta.language)
        started = ev.CallStarted(
            call_id=call_id,
            name=meta.name,
            agent_id=meta.agent_id,
            queue=meta.queue,
            language=meta.language,
            source=source.name,
            channels=source.channels,
            language_source="detecting" if detector is not None else "given",
        )
        run = _CallRun(self, source, meta, started, speakers, summary, engine, detector)
        self.calls[call_id] = summary  # from here on, _forget() removes it again
        self._runs[call_id] = run
        task = asyncio.current_task()
        if task is not None:
            self._tasks[call_id] = task
        self._idle.clear()
        try:
            await run.publish(started)
            await run.run()
        except asyncio.CancelledError:
            # shielded: a second cancellation must not leave the call `live` in the store
            ending = asyncio.ensure_future(run.end("interrupted", INTERRUPTED))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)
            await asyncio.shield(ending)
            raise
        finally:
            self._forget(call_id, summary)
        return summary

    def _forget(self, call_id: str, summary: CallSummary) -> None:
        """A call ended: drop its per-call state (Monitor.calls stays bounded)."""
        self.calls.pop(call_id, None)
        self._runs.pop(call_id, None)
        self._tasks.pop(call_id, None)
        self.recent.append(summary)
        if not self._runs:
            self._idle.set()


class _CallRun:
    """The stages of one call."""

    def __init__(
        self,
        monitor: Monitor,
        source: AudioSource,
        meta: CallMeta,
        started: ev.CallStarted,
        speakers: tuple[ev.Speaker, ...],
        summary: CallSummary,
        engine: Engine | None = None,
        detector: Any = None,
    ) -> None:
        self.m = monitor
        self.source = source
        self.meta = meta
        self.started = started
        self.call_id = call_id = started.call_id
        self.speakers = speakers
        self.summary = summary
        # a call in "auto": its first audio is held until the detector names its language
        # (monitor/asr/detect.py), then the engine, cues and cards of that language are set
        self.detector = detector
        self._route(engine or monitor.engine, started)
        self.lag = LagTracker(call_id, monitor.capacity)
        self.transcribed = asyncio.Event()  # the transcriber finished: the lag watch stops
        self.frame_s = 0.1  # duration of the source's frames (the audio backlog's unit)
        self.audio_pos = 0  # samples at the recognizer's rate handed to ASR so far
        self.audio_q: asyncio.Queue[ev.AudioFrame | None] = asyncio.Queue(AUDIO_QUEUE_FRAMES)
        self.text_q: asyncio.Queue[_Item | None] = asyncio.Queue(TEXT_QUEUE_ITEMS)
        self.source_error = ""
        self.source_interrupted = False  # the stream broke off: "interrupted", not "error"
        self.interrupted = False  # shutdown asked this call to stop reading (interrupt())
        self.ended = False
        self._last_partial: tuple[int, str] | None = None  # the customer's last scored partial
        self._reader: asyncio.Task[None] | None = None
        self.writer: Any = None
        if monitor.store is not None:
            self.writer = monitor.store.open_audio(call_id, source.sample_rate, source.channels)

    def _route(self, engine: Engine, started: ev.CallStarted) -> None:
        """The stages that depend on the call's language: its recogniser, rules and cards."""
        from monitor.asr.transcriber import CallTranscriber
        from monitor.rules import CallRules

        self.engine = engine
        self.rate = engine.sample_rate
        self.transcriber = CallTranscriber(engine, self.call_id, self.speakers)
        self.transcriber.every_partial = self.m.decode_every_partial
        self.rules = CallRules(self.m.playbook, started)
        self.resamplers = [
            StreamResampler(self.source.sample_rate, self.rate) for _ in self.speakers
        ]

    async def _detect_language(self) -> list[ev.AudioFrame | None]:
        """Read the call's first frames until its language is known; route the call to that
        language's engine, cues and cards and announce it (CallStarted ``detected``).
        Returns the frames read meanwhile (None last when the source ended), to be
        transcribed as any others."""
        from monitor.asr.detect import SAMPLE_RATE, Detection

        speaker = "customer" if "customer" in self.speakers else self.speakers[0]
        channel = self.speakers.index(speaker)
        resampler = StreamResampler(self.source.sample_rate, SAMPLE_RATE)
        held: list[ev.AudioFrame | None] = []
        found: Detection | None = None
        while found is None:
            frame = await self.audio_q.get()
            held.append(frame)
            if frame is None:
                found = await asyncio.to_thread(self.detector.finish, resampler.flush())
                break
            block = resampler.push(frame.samples[:, channel])
            found = await asyncio.to_thread(self.detector.push, block)
        assert found is not None
        language = found.language
        log.info(
            "call %s: language %s detected (%.2f, %.1f s of %s speech)",
            self.call_id, language, found.probability, found.speech_s, speaker,
        )  # fmt: skip
        started = dataclasses.replace(
            self.started,
            language=language,
            language_source="detected",
            language_probability=round(float(found.probability), 4),
        )
        self.started = started
        self.meta = dataclasses.replace(self.meta, language=language)
        self.summary.language = language
        self._route(await self.m.engine_for(language), started)
        await self.publish(started)
        return held

    async def publish(self, event: ev.Event) -> ev.Event:
        """Redact, count, persist and broadcast one event; returns what was published."""
        if self.m.redactor is not None:
            # every event passes, so the redactor also sees CallEnded and drops its state
            event = self.m.redactor(event)
        self.summary.observe(event)
        await self.m.bus.publish(event)
        return event

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._reader = tg.create_task(self._read())
            tg.create_task(self._transcribe())
            tg.create_task(self._score())
            # a replay as fast as possible is behind by design (the file outruns the
            # recognizer): only paced and live sources can be late
            if getattr(self.source, "realtime", True):
                tg.create_task(self._watch_lag())
        if self.interrupted:
            await self.end("interrupted", INTERRUPTED)
            return
        reason = "completed"
        if self.source_error:
            reason = "interrupted" if self.source_interrupted else "error"
        await self.end(reason, self.source_error)

    def interrupt(self) -> None:
        """Stop reading the source; the stages flush what was read, then the call ends."""
        if self.interrupted or self.ended:
            return
        self.interrupted = True
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()

    async def end(self, reason: str, error: str = "") -> None:
        if self.ended:
            return
        self.ended = True
        at = self.audio_pos / self.rate
        for event in self.rules.finish(at):
            await self.publish(event)
        if self.writer is not None:
            self.writer.close()
        await self.publish(ev.CallEnded(self.call_id, at, reason, error))  # type: ignore[arg-type]
        strain = self.m.strain.on_call_ended(
            self.meta.agent_id, bool(self.rules.summary.get("hostile"))
        )
        if strain is not None:
            await self.publish(strain)

    async def _read(self) -> None:
        try:
            async for frame in self.source.frames(self.call_id):
                self.frame_s = frame.samples.shape[0] / frame.sample_rate
                if self.writer is not None:
                    self.writer.write(frame.samples)
                await self.audio_q.put(frame)  # waits while ASR is behind
        except SourceError as exc:
            # keep what was already read: the stages after us flush it normally
            self.source_error = str(exc)
            self.source_interrupted = isinstance(exc, SourceInterrupted)
            log.warning("call %s: %s", self.call_id, exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            # interrupt() cancelled only this reader: the other stages flush what was read.
            # Any other cancellation (the whole call) propagates.
            if not self.interrupted or task is None or task.uncancel() > 0:
                raise
        finally:
            await self.source.aclose()
        # Only here, never in a `finally`: when the call is cancelled, the consumer of
        # audio_q is cancelled too, and waiting for room in a full queue would never end
        # (the shutdown hang of issue #11).
        await self.audio_q.put(None)

    def _chunks(self, blocks: Sequence[np.ndarray]) -> list[ev.AudioChunk]:
        start = self.audio_pos / self.rate
        chunks = [
            ev.AudioChunk(self.call_id, spk, start, block, self.rate)
            for spk, block in zip(self.speakers, blocks, strict=True)
        ]
        self.audio_pos += len(blocks[0])
        return chunks

    async def _frames(self) -> Any:
        """The call's frames for the recogniser: those held while its language was being
        detected first (issue #12), then the rest of the source."""
        if self.detector is not None:
            for frame in await self._detect_language():
                if frame is None:
                    return
                yield frame
        while (frame := await self.audio_q.get()) is not None:
            yield frame

    async def _transcribe(self) -> None:
        async for frame in self._frames():
            blocks = [r.push(frame.samples[:, i]) for i, r in enumerate(self.resamplers)]
            if len(blocks[0]):
                events = await self.transcriber.feed(self._chunks(blocks))
                if self.m.decode_every_partial:
                    events += await self.transcriber.drain()
                await self.text_q.put((events, self.audio_pos / self.rate))
        tails = [r.flush() for r in self.resamplers]
        events = await self.transcriber.feed(self._chunks(tails)) if len(tails[0]) else []
        events += await self.transcriber.finish()
        self.transcribed.set()
        await self.text_q.put((events, self.audio_pos / self.rate))
        await self.text_q.put(None)

    async def _watch_lag(self) -> None:
        """Once a second: this call's lag (audio waiting + its oldest final waiting for text);
        a delayed call is published as such (overload is explicit: monitor/capacity.py)."""
        while not self.transcribed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.transcribed.wait(), 1.0)
                return  # done: the call's end says the rest
            lag = self.audio_q.qsize() * self.frame_s + self.transcriber.lag_s
            event = self.lag.observe(lag, self.audio_pos / self.rate, time.monotonic())
            if event is not None:
                await self.publish(event)

    async def _score(self) -> None:
        emit: Callable[[ev.Event], Awaitable[ev.Event]] = self.publish
        while (item := await self.text_q.get()) is not None:
            events, at = item
            for raw in events:
                event = await emit(raw)  # redacted: the scorer sees what the board shows
                if isinstance(event, ev.FinalUtterance):
                    score = await self.m.scoring.score(event, self.meta.language)
                    await emit(score)
                    for out in self.rules.on_utterance(event, score):
                        await emit(out)
                elif isinstance(event, ev.PartialUtterance) and self._worth_scoring(event):
                    early = await self.m.scoring.score_partial(
                        event, self.meta.language, wait=self.m.decode_every_partial
                    )
                    if early is not None:  # None: the scorer was busy with finals
                        for out in self.rules.on_partial(event, early):
                            await emit(out)
                elif isinstance(event, ev.TalkOver):
                    for out in self.rules.on_talk_over(event):
                        await emit(out)
            for out in self.rules.tick(at):
                await emit(out)

    def _worth_scoring(self, partial: ev.PartialUtterance) -> bool:
        """A customer's partial with new words, while early alerts are on in the playbook."""
        if (
            partial.speaker != "customer"
            or not self.rules.early_alerts
            or len(partial.text.split()) < PARTIAL_MIN_WORDS
            or self._last_partial == (partial.seq, partial.text)
        ):
            return False
        self._last_partial = (partial.seq, partial.text)
        return True
