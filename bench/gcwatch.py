"""Python's garbage-collector pauses during a bench run, per generation.

A collection holds the GIL from start to stop, so every Python thread (the event loop, the
scoring thread's pre- and post-processing, the ASR drivers) stands still for as long as it
runs. ``GcWatch`` times each collection through ``gc.callbacks`` and reports, per generation,
how many ran, the total and the longest pause, and how many of them the event loop's thread ran.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any


class GcWatch:
    """Times every collection between ``start()`` and ``stop()`` (also a context manager)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, bool]] = []  # generation, ms, on the watching thread
        self._began: dict[int, float] = {}  # thread id -> perf_counter at the collection's start
        self._thread = threading.get_ident()
        self.frozen = 0  # objects frozen out of collection (gc.freeze) when the watch stopped

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        thread = threading.get_ident()
        if phase == "start":
            self._began[thread] = time.perf_counter()
            return
        began = self._began.pop(thread, None)
        if began is not None:
            ms = (time.perf_counter() - began) * 1000
            self.pauses.append((int(info["generation"]), ms, thread == self._thread))

    def start(self) -> GcWatch:
        self._thread = threading.get_ident()
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> None:
        self.frozen = gc.get_freeze_count()
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def __enter__(self) -> GcWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def figures(self) -> dict[str, Any]:
        """Per generation: collections, total and longest pause (ms), and those the watching
        thread (the event loop's, in the benches) ran; plus the objects frozen out of
        collection (``gc.freeze``, monitor/heap.py) when the watch stopped."""
        out: dict[str, Any] = {"frozen_objects": self.frozen}
        for generation in (0, 1, 2):
            ms = [p for g, p, _ in self.pauses if g == generation]
            out[f"gen{generation}"] = {
                "collections": len(ms),
                "total_ms": round(sum(ms), 1),
                "max_ms": round(max(ms), 1) if ms else 0.0,
                "on_watching_thread": sum(
                    1 for g, _, mine in self.pauses if g == generation and mine
                ),
            }
        return out
