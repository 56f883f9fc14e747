"""Vosk (Kaldi) streaming recognition: one shared model, one KaldiRecognizer per channel.

Vosk gives partials while a person speaks and finals with word times and confidences. Only
speech goes to Kaldi (see :class:`VoskRecognizer`), in 100 ms blocks so an endpoint of Vosk's
own inside a long chunk is found where it happens.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from monitor.asr.base import (
    DamagedModelError,
    EngineUnavailableError,
    Hypothesis,
    StreamClock,
    check_chunk,
    to_pcm16,
)
from monitor.asr.endpoint import Boundary, Endpointer
from monitor.asr.models import check_vosk_model
from monitor.events import Word
from monitor.priority import ASR_NICENESS, lowered_executor

BLOCK_S = 0.1
PARTIAL_EVERY_S = 0.5  # a partial per half second of speech is plenty for a live transcript


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:
        raise EngineUnavailableError(
            "the vosk engine needs the vosk package: pip install vosk"
        ) from exc
    vosk.SetLogLevel(-2)  # Kaldi's warnings are level -1; errors still show
    return vosk


class VoskEngine:
    name = "vosk"

    def __init__(
        self,
        path: str | Path,
        sample_rate: int = 16000,
        workers: int = 2,
        niceness: int = ASR_NICENESS,
    ) -> None:
        vosk = _import_vosk()
        self.path = check_vosk_model(path)
        self.sample_rate = sample_rate
        self._vosk = vosk
        try:
            self.model = vosk.Model(str(self.path))  # by path: never Model(lang=...)
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise DamagedModelError(
                f"Vosk could not load the model at {self.path} ({exc}); the folder is damaged "
                "or not a Vosk model: delete it and run `callmon models fetch vosk-en`"
            ) from None
        # One executor per model: recognizers of all calls share these threads (Kaldi
        # releases the GIL while decoding), below the scorer's priority (monitor/priority.py).
        self.niceness = niceness
        self.executor = lowered_executor(workers, "asr-vosk", niceness)
        self._lock = threading.Lock()

    def new_recognizer(self) -> VoskRecognizer:
        return VoskRecognizer(self)


class VoskRecognizer:
    """Vosk behind the shared :class:`Endpointer`: only speech is fed to Kaldi.

    Skipping silence saves most of the CPU of a call (each party is silent more than half
    the time) and gives a dependable endpoint (the pause length of the Endpointer) on top
    of Vosk's own rules, which the Python API cannot tune. Vosk counts time in samples fed,
    so each utterance remembers where its first fed sample lies in the stream.
    """

    def __init__(self, engine: VoskEngine) -> None:
        self.engine = engine
        self._rec = engine._vosk.KaldiRecognizer(engine.model, engine.sample_rate)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)
        self._clock = StreamClock(engine.sample_rate)
        self._endpointer = Endpointer(engine.sample_rate)
        self._block = int(BLOCK_S * engine.sample_rate)
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # stream sample index of _buf[0]
        self._in_utterance = False
        self._fed_to = 0  # stream sample index up to which this utterance went to Kaldi
        self._kaldi_fed = 0  # samples Kaldi has seen in all (its clock)
        self._offset = 0  # stream index = Kaldi index + offset, for the open utterance
        self._last_partial = ""
        self._next_partial = 0  # stream sample index after which the next partial is due
        self._finished = False
        # the voice-activity boundaries of the last accept()/finish(): the call transcriber
        # reuses them for talk-over instead of running a second detector on the channel
        self.boundaries: list[Boundary] = []

    @property
    def origin(self) -> float | None:
        """Call time of stream sample 0 (the boundaries count samples from there)."""
        return self._clock.origin

    def accept(self, samples: np.ndarray, start: float) -> list[Hypothesis]:
        if self._finished:
            raise RuntimeError("accept() after finish(): use a new recognizer for a new stream")
        audio = self._clock.align(check_chunk(samples), start)
        self._buf = np.concatenate([self._buf, audio])
        out: list[Hypothesis] = []
        self.boundaries = self._endpointer.push(audio)
        for b in self.boundaries:
            if b.kind == "start":
                self._in_utterance = True
                self._fed_to = max(b.sample, self._buf_start)
                self._offset = self._fed_to - self._kaldi_fed
            elif self._in_utterance:
                out += self._feed_until(b.sample)
                out += self._close(self._rec.FinalResult())
                self._in_utterance = False
        if self._in_utterance:
            out += self._feed_until(self._clock.fed)
            if self._fed_to >= self._next_partial:
                self._next_partial = self._fed_to + int(PARTIAL_EVERY_S * self.engine.sample_rate)
                partial = self._partial()
                if partial is not None:
                    out.append(partial)
        self._trim()
        return out

    def finish(self) -> list[Hypothesis]:
        if self._finished:
            return []
        self._finished = True
        out: list[Hypothesis] = []
        self.boundaries = self._endpointer.flush()
        for b in self.boundaries:
            if b.kind == "end" and self._in_utterance:
                out += self._feed_until(b.sample)
        if self._in_utterance:
            out += self._close(self._rec.FinalResult())
        self._in_utterance = False
        self._buf = np.zeros(0, dtype=np.float32)
        return out

    def _feed_until(self, stop: int) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        while self._fed_to < stop:
            hi = min(stop, self._fed_to + self._block)
            block = self._buf[self._fed_to - self._buf_start : hi - self._buf_start]
            self._fed_to = hi
            self._kaldi_fed += block.size
            if self._rec.AcceptWaveform(to_pcm16(block)):  # Vosk's own endpoint
                out += self._close(self._rec.Result())
        return out

    def _time(self, kaldi_seconds: float) -> float:
        sr = self.engine.sample_rate
        return round(self._clock.time_of(round(kaldi_seconds * sr) + self._offset), 3)

    def _words(self, items: list[dict[str, Any]]) -> tuple[Word, ...]:
        return tuple(
            Word(
                text=str(w["word"]),
                start=self._time(float(w["start"])),
                end=self._time(float(w["end"])),
                confidence=round(float(w["conf"]), 3) if "conf" in w else None,
            )
            for w in items
        )

    def _partial(self) -> Hypothesis | None:
        result = json.loads(self._rec.PartialResult())
        text = str(result.get("partial", "")).strip()
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        words = self._words(result.get("partial_result", []))
        now = self._clock.time_of(self._fed_to)
        start = words[0].start if words else now
        return Hypothesis(text, min(start, now), now, final=False)

    def _close(self, raw: str) -> list[Hypothesis]:
        self._last_partial = ""
        result = json.loads(raw)
        text = str(result.get("text", "")).strip()
        words = self._words(result.get("result", []))
        if not text or not words:
            return []
        return [Hypothesis(text, words[0].start, words[-1].end, final=True, words=words)]

    def _trim(self) -> None:
        # Keep the unfed part of an open utterance, or 1 s of history for the pre-roll.
        keep_from = (
            self._fed_to if self._in_utterance else self._clock.fed - self.engine.sample_rate
        )
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop
