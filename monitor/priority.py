"""CPU priority: speech recognition is bulk work; scoring and the event loop answer people.

On a small machine the recognizer's decodes keep every core busy during a call. A supervisor
waits on the text classifier and the event loop (a final utterance -> a score -> the board),
which each need a few milliseconds at a time; under a fair scheduler they would wait behind
Whisper's or Kaldi's threads and take about twice as long (on the demo's load, in one-off
runs with the earlier fp32 model: 21.8 ms p95 with ASR at the same priority, 15.5-18 ms with
it lowered; models/README.md, "Speed"). So the ASR threads run at a lower
priority (a higher *nice* value): they still get every cycle nobody else wants, the
latency-critical threads no longer queue behind them.

Linux only: there a thread id is a valid ``PRIO_PROCESS`` target and the nice value is per
thread. Elsewhere (macOS, Windows) the same call would renice the whole process, so nothing
is done. Lowering priority needs no privileges; raising it back would, so the engines build
their native thread pools in a fresh thread that lowers itself first (threads inherit it).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

ASR_NICENESS = 10  # added to the process's nice value for ASR threads; 0 disables
MAX_NICE = 19


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "setpriority")


def thread_nice() -> int:
    """The calling OS thread's nice value (the process's where per-thread is unsupported)."""
    if not supported():
        return 0
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lower_this_thread(niceness: int = ASR_NICENESS) -> bool:
    """Add ``niceness`` to the calling thread's nice value (capped at 19); True if applied."""
    if niceness <= 0 or not supported():
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(MAX_NICE, current + niceness))
    except OSError as exc:  # a sandbox may forbid it: run at normal priority
        log.info("could not lower the priority of ASR threads: %s", exc)
        return False
    return True


def run_lowered(fn: Callable[[], T], niceness: int = ASR_NICENESS) -> T:
    """Call ``fn`` in a fresh thread that first lowers its priority, and return its result.

    Native libraries (CTranslate2's workers) start their threads in the constructor; built
    here, those threads inherit the lower priority while the caller keeps its own.
    """
    if niceness <= 0 or not supported():
        return fn()

    def lowered() -> T:
        lower_this_thread(niceness)
        return fn()

    with ThreadPoolExecutor(1, thread_name_prefix="asr-load") as pool:
        return pool.submit(lowered).result()


def lowered_executor(workers: int, prefix: str, niceness: int = ASR_NICENESS) -> ThreadPoolExecutor:
    """A thread pool whose threads run at the lowered priority."""
    return ThreadPoolExecutor(
        workers, thread_name_prefix=prefix, initializer=lower_this_thread, initargs=(niceness,)
    )
