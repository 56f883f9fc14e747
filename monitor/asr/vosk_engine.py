"""Vosk (Kaldi) streaming recognition: one shared model, one KaldiRecognizer per channel.

Vosk gives partials while a person speaks, finals with word times and confidences, and
its own endpointing (the model's ``conf/model.conf`` trailing-silence rules). Audio is fed in
100 ms blocks so an endpoint inside a long chunk is found where it happens.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
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
from monitor.asr.models import check_vosk_model
from monitor.events import Word

BLOCK_S = 0.1


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:
        raise EngineUnavailableError(
            "the vosk engine needs the vosk package: pip install vosk"
        ) from exc
    vosk.SetLogLevel(-1)
    return vosk


class VoskEngine:
    name = "vosk"

    def __init__(self, path: str | Path, sample_rate: int = 16000, workers: int = 2) -> None:
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
        # releases the GIL while decoding).
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="asr-vosk")
        self._lock = threading.Lock()

    def new_recognizer(self) -> VoskRecognizer:
        return VoskRecognizer(self)


def _words(result: dict[str, Any], clock: StreamClock) -> tuple[Word, ...]:
    origin = clock.origin or 0.0
    return tuple(
        Word(
            text=str(w["word"]),
            start=round(origin + float(w["start"]), 3),
            end=round(origin + float(w["end"]), 3),
            confidence=round(float(w["conf"]), 3) if "conf" in w else None,
        )
        for w in result.get("result", [])
    )


class VoskRecognizer:
    def __init__(self, engine: VoskEngine) -> None:
        self.engine = engine
        self._rec = engine._vosk.KaldiRecognizer(engine.model, engine.sample_rate)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)
        self._clock = StreamClock(engine.sample_rate)
        self._block = int(BLOCK_S * engine.sample_rate)
        self._last_partial = ""
        self._utterance_start: float | None = None
        self._finished = False

    def accept(self, samples: np.ndarray, start: float) -> list[Hypothesis]:
        if self._finished:
            raise RuntimeError("accept() after finish(): use a new recognizer for a new stream")
        audio = self._clock.align(check_chunk(samples), start)
        fed_before = self._clock.fed - audio.size
        out: list[Hypothesis] = []
        for off in range(0, audio.size, self._block):
            block = audio[off : off + self._block]
            if self._rec.AcceptWaveform(to_pcm16(block)):
                end = self._clock.time_of(fed_before + off + block.size)
                hyp = self._final(json.loads(self._rec.Result()), end)
                if hyp is not None:
                    out.append(hyp)
        partial = self._partial(self._clock.time_of(self._clock.fed))
        if partial is not None:
            out.append(partial)
        return out

    def finish(self) -> list[Hypothesis]:
        if self._finished:
            return []
        self._finished = True
        hyp = self._final(json.loads(self._rec.FinalResult()), self._clock.time_of(self._clock.fed))
        return [hyp] if hyp is not None else []

    def _partial(self, now: float) -> Hypothesis | None:
        result = json.loads(self._rec.PartialResult())
        text = str(result.get("partial", "")).strip()
        if not text or text == self._last_partial:
            return None
        self._last_partial = text
        words = _words({"result": result.get("partial_result", [])}, self._clock)
        if self._utterance_start is None:
            self._utterance_start = words[0].start if words else now
        return Hypothesis(text, self._utterance_start, now, final=False)

    def _final(self, result: dict[str, Any], at: float) -> Hypothesis | None:
        self._last_partial = ""
        first = self._utterance_start
        self._utterance_start = None
        text = str(result.get("text", "")).strip()
        if not text:
            return None
        words = _words(result, self._clock)
        start = words[0].start if words else (first if first is not None else at)
        end = words[-1].end if words else at
        return Hypothesis(text, start, end, final=True, words=words)
