"""One process, many calls: each call is a task group of stages joined by bounded queues.

    source ──audio_q──▶ transcribe (resample, ASR) ──text_q──▶ score + rules ──▶ bus

- ``audio_q`` is bounded: a file source simply waits when recognition falls behind
  (a live microphone drops and counts inside its own callback queue instead).
- Utterance text is redacted before anything downstream sees it, so the store and
  the board never receive an unmasked card or phone number.
- Ending a call flushes every stage (resampler tails, the recognizers' last words,
  closing rules); a source that fails half-way ends the call with ``reason="error"``
  after flushing what it had already delivered. Cancelling (shutdown) marks the call
  ``interrupted``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor import events as ev
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.sources.base import AudioSource, SourceError
from monitor.sources.resample import StreamResampler

if TYPE_CHECKING:
    from monitor.asr import Engine
    from monitor.rules import Playbook, StrainTracker
    from monitor.scoring.classifier import TextClassifier
    from monitor.scoring.service import ScoringService
    from monitor.store.db import CallStore

log = logging.getLogger(__name__)

AUDIO_QUEUE_FRAMES = 50  # 5 s of audio at 0.1 s frames
TEXT_QUEUE_ITEMS = 200


@dataclass(frozen=True, slots=True)
class CallMeta:
    name: str
    agent_id: str = "agent-1"
    queue: str = "default"
    language: str = "en"
    call_id: str | None = None
    mono_speaker: ev.Speaker = "customer"  # who a mono recording is attributed to


@dataclass(slots=True)
class CallSummary:
    call_id: str
    name: str
    agent_id: str
    language: str
    utterances: int = 0
    alerts: int = 0
    critical_alerts: int = 0
    cards: int = 0
    max_risk: float = 0.0
    final_level: str = "calm"
    final_sentiment: float = 0.0
    final_sentiment_label: str = "neutral"
    duration: float = 0.0
    ended: str = ""
    error: str = ""
    alert_kinds: list[str] = field(default_factory=list)
    card_kinds: list[str] = field(default_factory=list)
    first_alert_at: dict[str, float] = field(default_factory=dict)  # level/kind -> audio time

    def observe(self, event: ev.Event) -> None:
        if isinstance(event, ev.FinalUtterance):
            self.utterances += 1
        elif isinstance(event, ev.CallRisk):
            self.max_risk = max(self.max_risk, event.risk)
            self.final_level = event.level
            self.final_sentiment = event.sentiment
            self.final_sentiment_label = (
                "negative"
                if event.sentiment < -0.25
                else "positive"
                if event.sentiment > 0.25
                else "neutral"
            )
            self.first_alert_at.setdefault(f"level:{event.level}", event.at)
        elif isinstance(event, ev.Alert):
            self.alerts += 1
            self.critical_alerts += event.severity == "critical"
            self.alert_kinds.append(event.kind)
            self.first_alert_at.setdefault("alert", event.at)
            self.first_alert_at.setdefault(f"alert:{event.kind}", event.at)
        elif isinstance(event, ev.PromptCard):
            self.cards += 1
            self.card_kinds.append(event.kind)
        elif isinstance(event, ev.CallEnded):
            self.duration = event.at
            self.ended = event.reason
            self.error = event.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "agent_id": self.agent_id,
            "language": self.language,
            "utterances": self.utterances,
            "alerts": self.alerts,
            "critical_alerts": self.critical_alerts,
            "cards": self.cards,
            "max_risk": round(self.max_risk, 1),
            "final_level": self.final_level,
            "final_sentiment": self.final_sentiment_label,
            "final_sentiment_score": round(self.final_sentiment, 3),
            "duration_s": round(self.duration, 2),
            "ended": self.ended,
            "error": self.error,
            "alert_kinds": self.alert_kinds,
            "card_kinds": self.card_kinds,
            "first_alert_at": {k: round(v, 2) for k, v in self.first_alert_at.items()},
        }


def new_call_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "call"
    return f"{slug}-{uuid.uuid4().hex[:8]}"


Redactor = Callable[[ev.Event], ev.Event]
_Item = tuple[list[ev.Event], float]


class Monitor:
    """Shared models and services for every call in the process."""

    def __init__(
        self,
        *,
        engine: Engine,
        scoring: ScoringService,
        playbook: Playbook,
        strain: StrainTracker,
        bus: EventBus,
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
        self.calls: dict[str, CallSummary] = {}
        self._closed = False

    @classmethod
    async def create(
        cls,
        config: MonitorConfig | None = None,
        bus: EventBus | None = None,
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
            classifier = await asyncio.to_thread(TextClassifier.load, config.classifier_path)
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
            bus.add_sink(store.persist)
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

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.scoring.aclose()
        if self.store is not None:
            self.store.close()

    async def run_calls(
        self, calls: Sequence[tuple[AudioSource, CallMeta]], stagger_s: float = 0.0
    ) -> list[CallSummary]:
        """Run several calls at once; ``stagger_s`` starts them that far apart."""

        async def one(i: int, source: AudioSource, meta: CallMeta) -> CallSummary:
            if stagger_s:
                await asyncio.sleep(i * stagger_s)
            return await self.run_call(source, meta)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(i, s, m)) for i, (s, m) in enumerate(calls)]
        return [t.result() for t in tasks]

    async def run_call(self, source: AudioSource, meta: CallMeta) -> CallSummary:
        call_id = meta.call_id or new_call_id(meta.name)
        speakers: tuple[ev.Speaker, ...] = (
            ev.SPEAKERS if source.channels == 2 else (meta.mono_speaker,)
        )
        summary = CallSummary(call_id, meta.name, meta.agent_id, meta.language)
        self.calls[call_id] = summary
        started = ev.CallStarted(
            call_id=call_id,
            name=meta.name,
            agent_id=meta.agent_id,
            queue=meta.queue,
            language=meta.language,
            source=source.name,
            channels=source.channels,
        )
        run = _CallRun(self, source, meta, started, speakers, summary)
        await run.publish(started)
        try:
            await run.run()
        except asyncio.CancelledError:
            await asyncio.shield(run.end("interrupted", "the monitor was stopped mid-call"))
            raise
        return summary


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
    ) -> None:
        from monitor.asr.transcriber import CallTranscriber
        from monitor.rules import CallRules

        self.m = monitor
        self.source = source
        self.meta = meta
        self.call_id = call_id = started.call_id
        self.speakers = speakers
        self.summary = summary
        self.rate = monitor.engine.sample_rate
        self.transcriber = CallTranscriber(monitor.engine, call_id, speakers)
        self.rules = CallRules(monitor.playbook, started)
        self.resamplers = [StreamResampler(source.sample_rate, self.rate) for _ in speakers]
        self.audio_pos = 0  # samples at the recognizer's rate handed to ASR so far
        self.audio_q: asyncio.Queue[ev.AudioFrame | None] = asyncio.Queue(AUDIO_QUEUE_FRAMES)
        self.text_q: asyncio.Queue[_Item | None] = asyncio.Queue(TEXT_QUEUE_ITEMS)
        self.source_error = ""
        self.ended = False
        self.writer: Any = None
        if monitor.store is not None:
            self.writer = monitor.store.open_audio(call_id, source.sample_rate, source.channels)

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
            tg.create_task(self._read())
            tg.create_task(self._transcribe())
            tg.create_task(self._score())
        await self.end("error" if self.source_error else "completed", self.source_error)

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
                if self.writer is not None:
                    self.writer.write(frame.samples)
                await self.audio_q.put(frame)  # waits while ASR is behind
        except SourceError as exc:
            # keep what was already read: the stages after us flush it normally
            self.source_error = str(exc)
            log.warning("call %s: %s", self.call_id, exc)
        finally:
            await self.source.aclose()
            await self.audio_q.put(None)

    def _chunks(self, blocks: Sequence[np.ndarray]) -> list[ev.AudioChunk]:
        start = self.audio_pos / self.rate
        chunks = [
            ev.AudioChunk(self.call_id, spk, start, block, self.rate)
            for spk, block in zip(self.speakers, blocks, strict=True)
        ]
        self.audio_pos += len(blocks[0])
        return chunks

    async def _transcribe(self) -> None:
        while (frame := await self.audio_q.get()) is not None:
            blocks = [r.push(frame.samples[:, i]) for i, r in enumerate(self.resamplers)]
            if len(blocks[0]):
                events = await self.transcriber.feed(self._chunks(blocks))
                await self.text_q.put((events, self.audio_pos / self.rate))
        tails = [r.flush() for r in self.resamplers]
        events = await self.transcriber.feed(self._chunks(tails)) if len(tails[0]) else []
        events += await self.transcriber.finish()
        await self.text_q.put((events, self.audio_pos / self.rate))
        await self.text_q.put(None)

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
                elif isinstance(event, ev.TalkOver):
                    for out in self.rules.on_talk_over(event):
                        await emit(out)
            for out in self.rules.tick(at):
                await emit(out)
