"""The shared decode queue (monitor/asr/scheduler.py): finals first, oldest first; partials only
on a spare decoder, otherwise shed; closing cancels what is queued. Real threads; the jobs are
plain functions gated by events, so the order is deterministic and nothing is timed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from monitor.asr.scheduler import DecodeScheduler


def _gate() -> tuple[threading.Event, threading.Event, Callable[[], str]]:
    started, release = threading.Event(), threading.Event()

    def job() -> str:
        started.set()
        release.wait(10)
        return "gate"

    return started, release, job


def test_finals_run_oldest_first_before_partials_and_partials_are_shed_when_busy() -> None:
    now = [100.0]
    s: DecodeScheduler[str] = DecodeScheduler(workers=1, calm_after_s=3.0, clock=lambda: now[0])
    order: list[str] = []
    started, release, gate = _gate()
    blocker = s.submit_final(gate, ended_at=0.0)
    assert started.wait(10)  # the only decoder is taken
    # a partial now would wait: it is shed instead
    assert s.offer_partial(lambda: order.append("partial") or "p") is None
    assert s.counts["partial_shed"] == 1
    late = s.submit_final(lambda: order.append("ended at 5") or "b", ended_at=5.0)
    early = s.submit_final(lambda: order.append("ended at 2") or "a", ended_at=2.0)
    assert s.queued == 2
    release.set()
    assert (blocker.result(10), early.result(10), late.result(10)) == ("gate", "a", "b")
    assert order == ["ended at 2", "ended at 5"]  # the oldest speech first
    while s.running:  # the worker is finishing its bookkeeping
        threading.Event().wait(0.01)
    # idle, but finals had to wait a moment ago: near capacity, still no partials
    assert s.offer_partial(lambda: "too soon") is None
    now[0] += 3.5  # calm for longer than calm_after_s: a partial runs
    partial = s.offer_partial(lambda: "interim")
    assert partial is not None and partial.result(10) == "interim"
    assert s.counts == {"final": 3, "partial": 1, "partial_shed": 2}
    s.close()


def test_with_two_decoders_a_partial_never_takes_the_last_free_one() -> None:
    s: DecodeScheduler[str] = DecodeScheduler(workers=2)
    started, release, gate = _gate()
    running = s.submit_final(gate, ended_at=0.0)
    assert started.wait(10)
    # one decoder is busy: a partial would leave none for the next final
    assert s.offer_partial(lambda: "p") is None
    release.set()
    running.result(10)
    while s.running:  # the worker is finishing its bookkeeping
        threading.Event().wait(0.01)
    p_started, p_release, p_gate = _gate()
    partial = s.offer_partial(p_gate)
    assert partial is not None and p_started.wait(10)
    # a partial runs: a final still gets the other decoder at once
    assert s.submit_final(lambda: "final", ended_at=1.0).result(10) == "final"
    assert s.offer_partial(lambda: "second partial") is None
    p_release.set()
    assert partial.result(10) == "gate"
    s.close()


def test_a_queued_partial_waits_behind_finals_and_is_never_shed() -> None:
    # offline runs (eval/) queue every partial: busy or recently full, it runs after the finals
    now = [100.0]
    s: DecodeScheduler[str] = DecodeScheduler(workers=1, calm_after_s=3.0, clock=lambda: now[0])
    order: list[str] = []
    started, release, gate = _gate()
    blocker = s.submit_final(gate, ended_at=0.0)
    assert started.wait(10)
    partial = s.queue_partial(lambda: order.append("partial") or "p")
    final = s.submit_final(lambda: order.append("final") or "f", ended_at=1.0)
    assert s.offer_partial(lambda: "offered") is None  # the live path still sheds
    release.set()
    assert (blocker.result(10), final.result(10), partial.result(10)) == ("gate", "f", "p")
    assert order == ["final", "partial"]
    assert s.counts == {"final": 2, "partial": 1, "partial_shed": 1}
    s.close()


def test_close_cancels_queued_jobs_and_refuses_new_ones() -> None:
    s: DecodeScheduler[str] = DecodeScheduler(workers=1)
    started, release, gate = _gate()
    running = s.submit_final(gate, ended_at=0.0)
    assert started.wait(10)
    queued = s.submit_final(lambda: "never", ended_at=1.0)
    closer = threading.Thread(target=s.close)
    closer.start()
    release.set()  # the running decode finishes; close() waits for it
    closer.join(10)
    assert running.result(10) == "gate" and queued.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        s.submit_final(lambda: "late", ended_at=2.0)


def test_a_failing_decode_reaches_its_caller_and_the_worker_goes_on() -> None:
    s: DecodeScheduler[str] = DecodeScheduler(workers=1)

    def broken() -> str:
        raise ValueError("bad audio")

    with pytest.raises(ValueError, match="bad audio"):
        s.submit_final(broken, ended_at=0.0).result(10)
    assert s.submit_final(lambda: "fine", ended_at=1.0).result(10) == "fine"
    with pytest.raises(ValueError):
        DecodeScheduler(workers=0)
    s.close()
