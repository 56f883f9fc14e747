"""Keep the garbage collector off the models' objects while a runtime runs.

Loading the models leaves about 400,000 Python objects that live as long as the process
(PyTorch's and transformers' modules, the tokenizer, the playbook). Python's full collection
walks every one of them: on the demo's load one ran every few minutes and held the GIL for
about 230 ms (issue 10, twenty-sixth round, ``bench.gcwatch``), stalling the event loop, the
scorer's thread and every ASR driver at once; the one final it caught took 249 ms to score
instead of about 5. ``gc.freeze()`` moves the objects alive once the runtime has started into
a generation the collector never walks; what the calls allocate afterwards is collected as
before. Objects freed by reference counting are still freed; only reference cycles among the
frozen objects would outlive their use, and those are what the runtime keeps anyway.

One cost: Python starts a full collection only once the objects promoted to the oldest
generation since the last one reach a quarter of those it found alive then (here, the heap
just frozen), so reference cycles that live long enough to be promoted wait for about 100,000
such objects before they are freed. The twenty-sixth round's 20-minute soak stayed within
1086-1101 MB from its tenth minute on, ending at 1092 MB. A second collection right after the
freeze would restore the usual cadence; tried, its soak rose to 1152 MB by the thirteenth
minute and was dropped (not understood; no soak without the freeze ran on that machine).

:func:`freeze` collects first, so no garbage is frozen with the heap, and :func:`thaw` gives
the objects back to the collector when the last runtime that froze them stops (tests run many
runtimes in one process).
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holders = 0


def freeze() -> int:
    """Collect, then freeze every object alive now; returns how many are frozen."""
    global _holders
    with _lock:
        _holders += 1
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()


def thaw() -> None:
    """One holder less; the last one gives every frozen object back to the collector."""
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()
