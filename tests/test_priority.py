"""ASR threads run below the scorer and the event loop (monitor/priority.py).

Read back from the kernel: the nice value of each OS thread of this process.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from monitor import priority

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread priority is Linux only"
)


def thread_nices() -> dict[int, int]:
    """{thread id: nice} for every thread of this process, from /proc."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        stat = (task / "stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        out[int(task.name)] = int(fields[16])  # field 19 of stat: nice
    return out


def test_lowered_executor_and_run_lowered_leave_the_caller_alone() -> None:
    base = priority.thread_nice()
    pool = priority.lowered_executor(1, "test-low", niceness=3)
    try:
        in_pool = pool.submit(priority.thread_nice).result()
    finally:
        pool.shutdown()
    assert in_pool == min(priority.MAX_NICE, base + 3)
    started: list[int] = []

    def spawn() -> int:  # a "native library" starting its own thread while being built
        t = threading.Thread(target=lambda: started.append(priority.thread_nice()))
        t.start()
        t.join()
        return priority.thread_nice()

    assert priority.run_lowered(spawn, niceness=4) == min(priority.MAX_NICE, base + 4)
    assert started == [min(priority.MAX_NICE, base + 4)]  # inherited
    assert priority.thread_nice() == base  # the caller keeps its priority
    assert priority.run_lowered(priority.thread_nice, niceness=0) == base  # 0: off


def test_whisper_decoders_run_below_the_process(asr_engine: Any) -> None:
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    assert priority.thread_nice() == base
    assert asr_engine.niceness == priority.ASR_NICENESS
    want = min(priority.MAX_NICE, base + priority.ASR_NICENESS)
    # the Python side (endpointing, features) runs in the engine's executor ...
    assert asr_engine.executor.submit(priority.thread_nice).result() == want
    if asr_engine.name == "whisper":
        # ... and CTranslate2's own worker threads, one per decoder, inherited it
        lowered = [n for n in thread_nices().values() if n == want]
        assert len(lowered) >= asr_engine.workers + 1
