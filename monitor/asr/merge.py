"""The synchronous core of one call's recognition: both parties, merged in time order.

Like whisper_streaming's ``OnlineASRProcessor``, the core holds no threads, no clock and no I/O;
:class:`monitor.asr.transcriber.CallTranscriber` drives it (live, real-time replay or as fast as
possible). Voice activity is detected **once** per channel and serves both the endpointing and
the talk-over detection.

Two kinds of engine:

- **segment** engines (Whisper) decode whole utterances. ``insert`` runs each party's
  :class:`Endpointer` and returns :class:`DecodeRequest` s: a final when an utterance ends, a
  partial every ``partial_interval`` seconds of speech. The driver decodes them (shared
  scheduler) and hands the text back with ``resolve``.
- **streaming** engines (Vosk) recognise as the audio comes: the driver runs the party's
  recognizer and hands its hypotheses and its endpointer's boundaries to ``add``.

``events`` returns what is ready, in order: a final (``seq`` 1, 2, 3... per call) only once no
earlier-ending final of either party is still being decoded, talk-over (``speaker`` = who started
second, emitted when the overlap ends) in the same time order, partials as they come
(``seq`` = the number the final would get if it were the call's next).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.asr.base import Hypothesis, StreamClock
from monitor.asr.endpoint import DEFAULT_TAIL_S, Boundary, Endpointer
from monitor.asr.features import utterance_features
from monitor.events import Event, FinalUtterance, PartialUtterance, Speaker, TalkOver, Word

MIN_DECODE_S = 0.25  # shorter blips are clicks, not words
HISTORY_S = 40.0  # streaming engines: audio kept per party for the features of an utterance
# A pause this long ends an utterance (segment engines). 0.4 s, not the endpointer's 0.5 s:
# 0.1 s off every final's latency for +0.2 WER points at 8 kHz (7.5 -> 7.8 %, 11 % more,
# shorter utterances), measured on the sample calls.
END_SILENCE_S = 0.4
PAUSED_S = 0.2  # the speaker paused this long: the final is due, a partial would add nothing


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    """One utterance (or the open part of one, for a partial) to decode."""

    speaker: Speaker
    utterance: int  # per party: 1, 2, 3...
    final: bool
    start: float  # call time of audio[0]
    end: float  # call time one past the last sample
    audio: np.ndarray


class AudioHistory:
    """The last ``seconds`` of one party's audio, addressable by call time (bounded)."""

    def __init__(self, sample_rate: int, seconds: float) -> None:
        self.sample_rate = sample_rate
        self.capacity = int(seconds * sample_rate)
        self._parts: list[np.ndarray] = []
        self._size = 0
        self.start = 0.0  # call time of the first sample kept

    def append(self, samples: np.ndarray, start: float) -> None:
        # chunks are kept as a list and joined only when read: no 40 s copy per 0.1 s chunk
        if self._size == 0:
            self.start = start
        self._parts.append(samples.astype(np.float32, copy=False))
        self._size += samples.size
        while self._size - self._parts[0].size >= self.capacity:
            dropped = self._parts.pop(0)
            self._size -= dropped.size
            self.start += dropped.size / self.sample_rate

    def slice(self, start: float, end: float) -> np.ndarray:
        buf = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        lo = max(round((start - self.start) * self.sample_rate), 0)
        hi = max(round((end - self.start) * self.sample_rate), lo)
        return buf[lo:hi]


@dataclass(slots=True)
class _Party:
    speaker: Speaker
    activity: Endpointer | None  # segment engines: the party's one voice-activity detector
    clock: StreamClock
    history: AudioHistory
    utterances: int = 0
    resolved: int = 0  # the last utterance whose final text came back
    open_from: int | None = None  # stream sample where the open utterance started
    next_partial: int = 0
    last_end: float = 0.0  # end of this party's previous final
    active_since: float | None = None  # talk-over: start of the open speech region
    tail: int = 0  # samples the endpointer adds after the last voiced frame


@dataclass(slots=True)
class _Pending:
    request_end: float
    result: Hypothesis | None = None
    done: bool = False


@dataclass(slots=True)
class _Ready:
    end: float
    order: int
    event: Event | Hypothesis
    speaker: Speaker
    audio: np.ndarray | None = None
    audio_start: float = 0.0


@dataclass(slots=True)
class CallMerger:
    call_id: str
    speakers: tuple[Speaker, ...]
    sample_rate: int
    engine_name: str
    segment: bool = True  # False: a streaming engine (its recognizers endpoint themselves)
    partial_interval: float | None = 1.0
    talk_over_min: float = 0.5
    _parties: dict[Speaker, _Party] = field(init=False)
    _pending: dict[tuple[Speaker, int], _Pending] = field(init=False, default_factory=dict)
    _ready: list[_Ready] = field(init=False, default_factory=list)
    # interim text waiting for events(): (speaker, utterance or 0 for streaming, hypothesis)
    _partials: list[tuple[Speaker, int, Hypothesis]] = field(init=False, default_factory=list)
    _seq: int = field(init=False, default=0)
    _overlap: tuple[Speaker, float] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.speakers or len(set(self.speakers)) != len(self.speakers):
            raise ValueError(f"speakers must be distinct and non-empty, got {list(self.speakers)}")
        sr = self.sample_rate
        self._parties = {}
        for s in self.speakers:
            activity = Endpointer(sr, end_silence=END_SILENCE_S) if self.segment else None
            self._parties[s] = _Party(
                s,
                activity,
                StreamClock(sr),
                AudioHistory(sr, HISTORY_S),
                # a streaming recognizer's own endpointer has the default tail
                tail=activity.tail_samples if activity else round(DEFAULT_TAIL_S * sr),
            )

    # ------------------------------------------------------------ segment engines

    def insert(self, speaker: Speaker, samples: np.ndarray, start: float) -> list[DecodeRequest]:
        """Audio of one party (float32 mono, engine rate): the decodes it makes due."""
        party = self._parties[speaker]
        assert party.activity is not None, "insert() is for segment engines; use add()"
        audio = party.clock.align(samples.astype(np.float32, copy=False), start)
        party.history.append(audio, party.clock.time_of(party.clock.fed - audio.size))
        out: list[DecodeRequest] = []
        boundaries = party.activity.push(audio)
        for b in boundaries:
            if b.kind == "start":
                party.open_from = b.sample
                party.next_partial = b.sample + int((self.partial_interval or 0) * self.sample_rate)
            elif party.open_from is not None:
                out += self._request(party, party.open_from, b.sample, final=True)
                party.open_from = None
        self._activity(party, boundaries)
        if party.open_from is not None and self.partial_interval:
            fed = party.clock.fed
            if fed >= party.next_partial:
                party.next_partial = fed + int(self.partial_interval * self.sample_rate)
                if party.activity.trailing_silence < PAUSED_S:
                    out += self._request(party, party.open_from, fed, final=False)
        return out

    def flush(self, speaker: Speaker) -> list[DecodeRequest]:
        """End of stream for one party: the final of its open utterance, if any."""
        party = self._parties[speaker]
        assert party.activity is not None, "flush() is for segment engines"
        out: list[DecodeRequest] = []
        boundaries = party.activity.flush()
        for b in boundaries:
            if b.kind == "end" and party.open_from is not None:
                out += self._request(party, party.open_from, b.sample, final=True)
        party.open_from = None
        self._activity(party, boundaries)
        return out

    def _request(self, party: _Party, first: int, last: int, *, final: bool) -> list[DecodeRequest]:
        t0, t1 = party.clock.time_of(first), party.clock.time_of(last)
        if final:
            party.utterances += 1
        if t1 - t0 < MIN_DECODE_S:
            return []
        audio = party.history.slice(t0, t1)
        utterance = party.utterances if final else party.utterances + 1
        if final:
            self._pending[(party.speaker, utterance)] = _Pending(t1)
        return [DecodeRequest(party.speaker, utterance, final, t0, t1, audio)]

    def resolve(self, request: DecodeRequest, text: str, words: Sequence[Word]) -> None:
        """The text of a request (``words`` in seconds from the start of its audio)."""
        hyp = _hypothesis(text, words, request.start, request.end, request.final)
        party = self._parties[request.speaker]
        if not request.final:
            if hyp is not None:
                self._partials.append((request.speaker, request.utterance, hyp))
            return
        party.resolved = max(party.resolved, request.utterance)
        pending = self._pending[(request.speaker, request.utterance)]
        pending.done = True
        if hyp is not None:
            self._queue(hyp, request.speaker, request.audio, request.start)

    def abandon(self, request: DecodeRequest) -> None:
        """A final whose decode failed: it no longer holds back the ones after it."""
        if request.final:
            self._pending[(request.speaker, request.utterance)].done = True

    # ------------------------------------------------------------ streaming engines

    def add(
        self,
        speaker: Speaker,
        samples: np.ndarray,
        start: float,
        hypotheses: Sequence[Hypothesis],
        boundaries: Sequence[Boundary],
        origin: float | None,
    ) -> None:
        """A streaming recognizer's output for one chunk (``origin``: its sample 0's time)."""
        party = self._parties[speaker]
        if samples.size:
            party.history.append(samples.astype(np.float32, copy=False), start)
        if party.clock.origin is None:
            party.clock.origin = origin if origin is not None else start
        for hyp in hypotheses:
            if hyp.final:
                self._queue(hyp, speaker, None, 0.0)
            else:
                self._partials.append((speaker, 0, hyp))
        self._activity(party, boundaries)

    # ------------------------------------------------------------ merged output

    @property
    def decoding(self) -> int:
        """Finals submitted and not yet resolved."""
        return sum(not p.done for p in self._pending.values())

    def events(self) -> list[Event]:
        """Everything ready, in time order; finals wait for earlier-ending finals in decode."""
        waiting = [p.request_end for p in self._pending.values() if not p.done]
        horizon = min(waiting) if waiting else float("inf")
        self._pending = {k: p for k, p in self._pending.items() if not p.done}
        self._ready.sort(key=lambda r: (r.end, r.order))
        out: list[Event] = []
        keep: list[_Ready] = []
        for item in self._ready:
            if item.end > horizon:
                keep.append(item)
            elif isinstance(item.event, Hypothesis):
                out.append(self._final(item))
            else:
                out.append(item.event)
        self._ready = keep
        # interim text last: its seq is the one its final would get if it were the call's
        # next, counting the finals still held back; one whose final text is back is stale
        held = sum(isinstance(r.event, Hypothesis) for r in keep)
        for speaker, utterance, hyp in self._partials:
            if utterance == 0 or utterance > self._parties[speaker].resolved:
                seq = self._seq + 1 + held
                out.append(
                    PartialUtterance(self.call_id, speaker, seq, hyp.text, hyp.start, hyp.end)
                )
        self._partials = []
        return out

    def _queue(
        self, hyp: Hypothesis, speaker: Speaker, audio: np.ndarray | None, audio_start: float
    ) -> None:
        order = self.speakers.index(speaker)
        self._ready.append(_Ready(hyp.end, order, hyp, speaker, audio, audio_start))

    def _final(self, item: _Ready) -> FinalUtterance:
        hyp = item.event
        assert isinstance(hyp, Hypothesis)
        party = self._parties[item.speaker]
        self._seq += 1
        sr = self.sample_rate
        if item.audio is not None:
            lo = max(round((hyp.start - item.audio_start) * sr), 0)
            hi = max(round((hyp.end - item.audio_start) * sr), lo)
            audio = item.audio[lo:hi]
        else:
            audio = party.history.slice(hyp.start, hyp.end)
        features = utterance_features(
            audio,
            sr,
            start=hyp.start,
            end=hyp.end,
            words=hyp.words,
            text=hyp.text,
            silence_before=hyp.start - party.last_end,
        )
        party.last_end = hyp.end
        return FinalUtterance(
            self.call_id,
            item.speaker,
            self._seq,
            hyp.text,
            hyp.start,
            hyp.end,
            words=hyp.words,
            features=features,
            engine=self.engine_name,
        )

    def _activity(self, party: _Party, boundaries: Sequence[Boundary]) -> None:
        """Talk-over from the voice-activity boundaries (the overlap is timed on voiced audio:
        the endpointer's tail after the last voiced frame is not counted)."""
        for b in boundaries:
            at = party.clock.time_of(b.sample if b.kind == "start" else b.sample - party.tail)
            if b.kind == "start":
                others = [p for p in self._parties.values() if p is not party]
                if self._overlap is None and any(p.active_since is not None for p in others):
                    self._overlap = (party.speaker, at)
                party.active_since = at
                continue
            at = max(at, party.active_since or at)
            party.active_since = None
            if self._overlap is not None:
                second, since = self._overlap
                self._overlap = None
                if at - since >= self.talk_over_min:
                    talk = TalkOver(self.call_id, second, round(since, 3), round(at, 3))
                    self._ready.append(_Ready(talk.end, -1, talk, second))


def _hypothesis(
    text: str, words: Sequence[Word], t0: float, t1: float, final: bool
) -> Hypothesis | None:
    """A decode's text and word times (relative to its audio) as a call-time hypothesis."""
    if not text:
        return None
    shifted = tuple(
        Word(w.text, round(min(t0 + w.start, t1), 3), round(min(t0 + w.end, t1), 3), w.confidence)
        for w in words
        if w.text
    )
    start = shifted[0].start if shifted else t0
    end = shifted[-1].end if shifted else t1
    return Hypothesis(text, round(start, 3), round(end, 3), final=final, words=shifted)
