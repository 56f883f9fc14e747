"""One decode queue for every call in the process: finals first, oldest first, partials on spare
capacity only.

Whisper decodes whole utterances on a few CTranslate2 workers. Left to itself, CTranslate2 takes
requests first come, first served, and a recognizer that decodes inline blocks its call while it
waits: a partial (interim text, a nicety) could hold up another call's final, and one slow decode
held up the voice-activity detection of its own call. Here the calls only *submit* work:

- a **final** is queued by when its speech ended (the oldest waits least), ahead of any partial;
- a **partial** is only started when it leaves a decoder free for the next final (with two
  decoders: when both are idle) and no final has had to wait in the last ``calm_after_s``
  (near capacity, interim text would only compete with finals); otherwise it is shed
  (counted) — the overload path's first step;
- ``workers`` threads take jobs off the queue; CTranslate2 releases the GIL while it decodes.

The queue is unbounded in count but not in practice: each call keeps at most a few finals in it
(:mod:`monitor.asr.transcriber` waits for the oldest beyond that, which stops its source).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.priority import lower_this_thread

R = TypeVar("R")

FINAL, PARTIAL = 0, 1
CALM_AFTER_S = 3.0  # no partials for this long after a final found every decoder busy
# (kind, queue wait s, decode s) after each decode: the metrics' histograms
Observer = Callable[[str, float, float], None]


@dataclass(order=True)
class _Job(Generic[R]):
    rank: tuple[int, float, int]
    run: Callable[[], R] = field(compare=False)
    future: Future[R] = field(compare=False)
    queued_at: float = field(compare=False)


class DecodeScheduler(Generic[R]):
    """Runs decode jobs on ``workers`` threads at lowered priority (monitor/priority.py)."""

    def __init__(
        self,
        workers: int,
        niceness: int = 0,
        name: str = "asr-decode",
        *,
        calm_after_s: float = CALM_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1:
            raise ValueError(f"a decode scheduler needs at least 1 worker, got {workers}")
        self.workers = workers
        self.niceness = niceness
        self._heap: list[_Job[R]] = []
        self._cv = threading.Condition()
        self._order = itertools.count()
        self._running = {FINAL: 0, PARTIAL: 0}
        self._closed = False
        self.counts = {"final": 0, "partial": 0, "partial_shed": 0}
        self.calm_after_s = calm_after_s
        self._clock = clock
        self._contended_at = -float("inf")  # when a final last found no free decoder
        self.observers: list[Observer] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()
        # before the interpreter finalises (like concurrent.futures' own executors)
        threading._register_atexit(self.close)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- submitting (any thread)

    def submit_final(self, run: Callable[[], R], ended_at: float) -> Future[R]:
        """Queue a final; ``ended_at`` (time.monotonic() of the end of its speech) ranks it."""
        with self._cv:
            if self._running[FINAL] + self._running[PARTIAL] + len(self._heap) >= self.workers:
                self._contended_at = self._clock()  # this final will wait
        return self._push(FINAL, ended_at, run)

    def offer_partial(self, run: Callable[[], R]) -> Future[R] | None:
        """Start a partial now if there is spare capacity, else shed it and return None."""
        with self._cv:
            busy = self._running[FINAL] + self._running[PARTIAL] + len(self._heap)
            # partials never wait, and one decoder always stays free for the next final: with
            # two decoders a partial starts only when both are idle (one worker: when it is)
            # and none while finals have recently had to wait: the load is near capacity
            recently_full = self._clock() - self._contended_at < self.calm_after_s
            if (
                busy > max(0, self.workers - 2)
                or self._running[PARTIAL] >= max(1, self.workers - 1)
                or recently_full
            ):
                self.counts["partial_shed"] += 1
                return None
        return self._push(PARTIAL, time.monotonic(), run)

    def queue_partial(self, run: Callable[[], R]) -> Future[R]:
        """Queue a partial behind every final, never shed: for offline runs that wait for each
        decode (eval/), where which partials are decoded must not depend on the wall clock or
        on what the other party's decode was doing at that moment."""
        return self._push(PARTIAL, time.monotonic(), run)

    def _push(self, kind: int, at: float, run: Callable[[], R]) -> Future[R]:
        future: Future[R] = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("the decode scheduler is closed")
            heapq.heappush(
                self._heap, _Job((kind, at, next(self._order)), run, future, time.monotonic())
            )
            self._cv.notify()
        return future

    # ---------------------------------------------------------------- state (for metrics)

    @property
    def queued(self) -> int:
        with self._cv:
            return len(self._heap)

    @property
    def running(self) -> int:
        with self._cv:
            return self._running[FINAL] + self._running[PARTIAL]

    def oldest_wait(self) -> float:
        """Seconds the oldest queued job has waited (0 when the queue is empty)."""
        with self._cv:
            if not self._heap:
                return 0.0
            return time.monotonic() - min(j.queued_at for j in self._heap)

    def close(self, timeout: float | None = 5.0) -> None:
        """Refuse new jobs, cancel the queued ones and wait for the running ones.

        Runs at interpreter exit too: a worker still inside CTranslate2 (GIL released) while
        Python finalises aborts the process when it returns (SIGABRT instead of a clean exit).
        """
        with self._cv:
            self._closed = True
            dropped, self._heap = self._heap, []
            self._cv.notify_all()
        for job in dropped:
            job.future.cancel()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    # ---------------------------------------------------------------- the workers

    def _work(self) -> None:
        lower_this_thread(self.niceness)
        while True:
            with self._cv:
                while not self._heap and not self._closed:
                    self._cv.wait()
                if not self._heap:
                    return
                job = heapq.heappop(self._heap)
                kind = job.rank[0]
                self._running[kind] += 1
            started = time.monotonic()
            if job.future.set_running_or_notify_cancel():
                try:
                    job.future.set_result(job.run())
                except BaseException as exc:  # handed to the waiting call, never lost
                    job.future.set_exception(exc)
            took = time.monotonic() - started
            with self._cv:
                self._running[kind] -= 1
                self.counts["final" if kind == FINAL else "partial"] += 1
            name = "final" if kind == FINAL else "partial"
            for observe in self.observers:
                observe(name, started - job.queued_at, took)
