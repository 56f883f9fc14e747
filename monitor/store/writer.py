"""The store's one writer thread: jobs queued by anyone, committed in batched transactions.

SQLite allows one writer at a time, and a commit costs the same for one row as for a hundred.
So every write of the store is a *job* (a function of the write connection) handed to one
thread, which runs whatever has queued since its last commit in ONE transaction:

    BEGIN IMMEDIATE
      SAVEPOINT job; job_1(conn); RELEASE job      (a failing job rolls back alone)
      ...
    COMMIT
    -> then, and only then, every job's future is resolved

A job's future therefore resolves once its writes are committed: that is what lets the bus
broadcast an event only after it is stored (persist before broadcast), without any SQLite
call on the event loop. Under load, batches grow by themselves (jobs queue while the previous
batch commits); when idle, a single job is committed at once.

A job submitted with ``transaction=False`` (a WAL checkpoint, which SQLite refuses inside a
transaction) runs alone, between two batches.

The queue is bounded (``max_queued``): a producer that outruns the disk blocks in
:meth:`WriterThread.submit` until there is room. The pipeline awaits each event's commit, so
in practice it holds at most one event per publishing task.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_Item = tuple[Job, "Future[Any]", bool]  # the job, its future, whether it runs in a transaction

MAX_BATCH = 512  # jobs per transaction: bounds one commit's latency under a burst
MAX_QUEUED = 10_000


class StoreClosedError(RuntimeError):
    """A write was submitted after the store was closed."""


class WriterThread:
    """Runs jobs on one connection, in batched transactions, in one thread."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        max_batch: int = MAX_BATCH,
        max_queued: int = MAX_QUEUED,
        name: str = "store-writer",
    ) -> None:
        if max_batch < 1 or max_queued < 1:
            raise ValueError("max_batch and max_queued must be at least 1")
        self._connect = connect
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(max_queued)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._state_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._stopped = False  # the thread has ended: nothing queued would ever run
        self.batches = 0  # transactions committed
        self.jobs = 0  # jobs run

    def start(self) -> None:
        """Open the write connection in the thread and start taking jobs (idempotent)."""
        with self._state_lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            if self._started:
                return
            self._started = True
            self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    def submit(
        self, job: Callable[[sqlite3.Connection], T], *, transaction: bool = True
    ) -> Future[T]:
        """Queue ``job``; its future resolves (with the job's result) once it is committed."""
        if not self._started:
            self.start()
        fut: Future[T] = Future()
        # under the lock: nothing is queued behind close()'s end marker, or to a dead thread
        with self._state_lock:
            if self._closed or self._stopped:
                raise StoreClosedError("the store is closed: nothing more can be written")
            self._queue.put((job, fut, transaction))  # blocks while the queue is full
        return fut

    def run(self, job: Callable[[sqlite3.Connection], T], *, transaction: bool = True) -> T:
        """Submit ``job`` and wait for its commit; returns its result or raises its error."""
        return self.submit(job, transaction=transaction).result()

    def close(self) -> None:
        """Commit everything queued so far, then stop the thread (idempotent)."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            started = self._started and not self._stopped
            if started:
                self._queue.put(None)
        if started:
            self._thread.join()

    # ---- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to start()'s caller
            self._open_error = exc
            self._stop()
            self._ready.set()
            return
        self._ready.set()
        try:
            stopping = False
            carried: _Item | None = None
            while not stopping:
                first = carried if carried is not None else self._queue.get()
                carried = None
                if first is None:
                    break
                if not first[2]:
                    self._alone(conn, first)
                    continue
                batch = [first]
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                        break
                    if not item[2]:
                        carried = item  # after this batch's commit
                        break
                    batch.append(item)
                self._commit(conn, batch)
                if stopping and carried is not None:
                    self._alone(conn, carried)
        finally:
            self._stop()
            conn.close()

    def _stop(self) -> None:
        """The thread ends: refuse new jobs, fail any still queued (never leave one waiting)."""
        self._stopped = True  # not under the lock: a submit may hold it, waiting for room
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and item[1].set_running_or_notify_cancel():
                item[1].set_exception(StoreClosedError("the store's writer stopped"))

    def _alone(self, conn: sqlite3.Connection, item: _Item) -> None:
        job, fut, _ = item
        if not fut.set_running_or_notify_cancel():
            return
        try:
            result = job(conn)
        except Exception as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def _commit(self, conn: sqlite3.Connection, batch: list[_Item]) -> None:
        done: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, fut, _ in batch:
                if not fut.set_running_or_notify_cancel():
                    continue
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except Exception as exc:  # this job's error is its caller's, not the batch's
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    done.append((fut, None, exc))
                    continue
                conn.execute("RELEASE job")
                done.append((fut, result, None))
            conn.execute("COMMIT")
        except BaseException as exc:
            log.error("the call store could not commit %d write(s): %s", len(batch), exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for job_fut in (f for _, f, _ in batch):
                if job_fut.running():
                    job_fut.set_exception(
                        sqlite3.OperationalError(f"the call store could not commit: {exc}")
                    )
            return
        self.batches += 1
        self.jobs += len(done)
        # only now, after COMMIT: whoever waits may show the event to the world
        for fut, result, error in done:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
