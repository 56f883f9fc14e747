"""A worker: takes calls from the ``calls`` stream through the ``workers`` consumer group and
runs each through the ordinary pipeline (:class:`monitor.pipeline.Monitor`), reading its audio
from Redis (:class:`~monitor.cluster.source.StreamSource`) and publishing through the
:class:`~monitor.cluster.bus.WorkerBus`.

The lease is the call's pending entry in the group. While the call runs, the owner resets
that entry's idle time every ``lease_s / 3`` (``XCLAIM`` to itself). Every worker looks for
entries idle longer than ``lease_s`` (``XAUTOCLAIM``): their worker died or hung, and the
call is taken over. Taking over makes the new worker the checkpoint's owner (the fencing
token the bus checks on every publish), announces the move on the board (an ``info`` alert,
``call_moved``), and replays the call's audio from its start with everything already
published suppressed. A call is acknowledged (``XACK``) only after its ``call_ended``
was published, so a call is never lost with a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import redis.exceptions

from monitor import events as ev
from monitor.cluster import streams
from monitor.cluster.bus import LeaseLost, WorkerBus
from monitor.cluster.config import ClusterConfig
from monitor.cluster.recording import save_recording
from monitor.cluster.source import StreamSource
from monitor.cluster.streams import GROUP, CallInfo, Keys
from monitor.pipeline import CallMeta

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from monitor.pipeline import Monitor

log = logging.getLogger(__name__)
DONE_TTL_S = 3600  # an ended call's audio and checkpoint stay this long (late takeovers)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        redis: Redis,
        monitor: Monitor,
        bus: WorkerBus,
        config: ClusterConfig,
        *,
        name: str | None = None,
        max_calls: int = 4,
    ) -> None:
        self.redis = redis
        self.monitor = monitor
        self.bus = bus
        self.config = config
        self.keys = Keys(config.prefix)
        self.name = name or worker_name()
        self.max_calls = max_calls
        self.running: dict[str, tuple[str, asyncio.Task[Any], StreamSource]] = {}
        self.taken_over = 0
        self.finished = 0
        self._slots = asyncio.Semaphore(max_calls)
        self._take = redis.register_script(streams.TAKE_LUA)
        self._renew = redis.register_script(streams.RENEW_LUA)
        self._tokens: dict[str, str] = {}  # call id -> this worker's fencing token for it
        self._stop = asyncio.Event()
        self._acks: set[asyncio.Future[Any]] = set()

    async def ensure_group(self) -> None:
        with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(self.keys.calls, GROUP, id="0", mkstream=True)

    async def run(self) -> None:
        """Take and run calls until :meth:`stop`."""
        await self.ensure_group()
        loops = [self._read_loop(), self._claim_loop(), self._renew_loop()]
        tasks = [asyncio.create_task(c) for c in loops]
        try:
            await self._stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()

    async def hand_over(self) -> None:
        """Stop without ending the calls: they stay pending and another worker takes them
        after the lease (a rolling restart). Nothing more is published from here."""
        self.bus.revoke_all()
        for _entry, task, _src in list(self.running.values()):
            task.cancel()
        await asyncio.gather(*(t for _, t, _ in self.running.values()), return_exceptions=True)

    # ---- the three loops ---------------------------------------------------------------------
    async def _read_loop(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                resp = await self.redis.xreadgroup(
                    GROUP, self.name, {self.keys.calls: ">"}, count=1, block=1000
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                self._slots.release()
                log.info("worker %s: Redis unreachable (%s)", self.name, exc)
                await asyncio.sleep(0.5)
                await self._ensure_group_quietly()
                continue
            except redis.exceptions.ResponseError:  # NOGROUP after a Redis without its data
                self._slots.release()
                await self._ensure_group_quietly()
                continue
            if not resp or not resp[0][1]:
                self._slots.release()
                continue
            entry_id, fields = resp[0][1][0]
            self._start(_s(entry_id), fields, takeover=False)

    async def _claim_loop(self) -> None:
        lease_ms = int(self.config.lease_s * 1000)
        while True:
            await asyncio.sleep(self.config.lease_s / 4)
            free = self.max_calls - len(self.running)
            if free <= 0 or self._slots.locked():
                continue
            try:
                resp = await self.redis.xautoclaim(
                    self.keys.calls, GROUP, self.name, lease_ms, "0-0", count=free
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                continue
            except redis.exceptions.ResponseError:
                await self._ensure_group_quietly()
                continue
            for entry_id, fields in resp[1]:
                if fields is None or _s(entry_id) in {e for e, _, _ in self.running.values()}:
                    continue
                await self._slots.acquire()
                self._start(_s(entry_id), fields, takeover=True)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease_s / 3)
            for call_id, (entry, task, src) in list(self.running.items()):
                try:
                    ok = await self._renew(
                        keys=[self.keys.ckpt(call_id), self.keys.calls],
                        args=[self._tokens.get(call_id, ""), GROUP, self.name, entry,
                              round(src.lag_ms), src.chunks],
                    )  # fmt: skip
                except redis.exceptions.RedisError:
                    continue  # Redis away: the next round tries again
                if not int(ok):  # another worker owns the call now: stop this copy
                    log.warning("worker %s: lost the lease of call %s", self.name, call_id)
                    task.cancel()

    async def _ensure_group_quietly(self) -> None:
        with contextlib.suppress(redis.exceptions.RedisError):
            await self.ensure_group()

    # ---- one call ----------------------------------------------------------------------------
    def _start(self, entry_id: str, fields: dict[Any, Any], takeover: bool) -> None:
        try:
            info = CallInfo.parse(fields)
        except ValueError as exc:
            log.error("worker %s: %s; acknowledged and skipped", self.name, exc)
            self._slots.release()
            self._acks.add(asyncio.ensure_future(self.redis.xack(self.keys.calls, GROUP, entry_id)))
            return
        task = asyncio.create_task(self._run_call(entry_id, info, takeover), name=info.call_id)
        task.add_done_callback(lambda _t: self._slots.release())

    async def _run_call(self, entry_id: str, info: CallInfo, takeover: bool) -> None:
        call_id = info.call_id
        token = f"{self.name}:{entry_id}"
        self._tokens[call_id] = token
        prev, moves, published = await self._take(keys=[self.keys.ckpt(call_id)], args=[token])
        prev = _s(prev).rsplit(":", 1)[0] if prev else ""
        first = await self.redis.xrange(self.keys.audio(call_id), "-", "+", count=1)
        exact = not first or int(first[0][1].get(b"n", b"0")) == 0
        # a replay that cannot start at the call's start (MAXLEN trimmed it) cannot reproduce
        # the ordinals: its events get new ones after the checkpoint instead
        self.bus.register(call_id, token, skip=int(published) if exact else 0,
                          base=0 if exact else int(published))  # fmt: skip

        async def on_gap(chunk: int, lost: int, at: float, why: str) -> None:
            seconds = lost * self.config.chunk_s
            await self.bus.publish_side(call_id, f"gap-{chunk}", ev.Alert(
                call_id=call_id, alert_id=f"{call_id}-gap-{chunk}", at=at, severity="warning",
                kind="audio_gap", message=f"{seconds:.1f} s of audio missing: {why}",
            ))  # fmt: skip

        source = StreamSource(self.redis, self.keys.audio(call_id), info, self.config.chunk_s,
                              on_gap)  # fmt: skip
        task = asyncio.current_task()
        assert task is not None
        self.running[call_id] = (entry_id, task, source)
        try:
            if takeover or int(moves) > 0:
                self.taken_over += 1
                await self._announce_move(call_id, int(moves), prev)
            meta = CallMeta(name=info.name, agent_id=info.agent_id, queue=info.queue,
                            language=info.language, call_id=call_id)  # fmt: skip
            await self.monitor.run_call(source, meta)
            if self.config.audio_dir:
                path, _spans = await save_recording(
                    self.redis, self.keys.audio(call_id), info, self.bus.finals(call_id),
                    Path(self.config.audio_dir), self.config.chunk_s,
                )  # fmt: skip
                if self.bus.store is not None:
                    await self.bus.store.set_audio(call_id, str(path))
            await self.redis.xack(self.keys.calls, GROUP, entry_id)
            await self.redis.expire(self.keys.audio(call_id), DONE_TTL_S)
            await self.redis.expire(self.keys.ckpt(call_id), DONE_TTL_S)
            self.finished += 1
        except* LeaseLost as eg:
            log.warning("worker %s: %s", self.name, eg.exceptions[0])
        except* Exception as eg:
            # not acknowledged and no longer renewed: the lease runs out and a worker (maybe
            # this one) replays the call; nothing it already published is published again
            log.error("worker %s: call %s stopped: %r", self.name, call_id, eg.exceptions[0])
        finally:
            self.running.pop(call_id, None)
            self._tokens.pop(call_id, None)
            self.bus.forget(call_id)

    async def _announce_move(self, call_id: str, moves: int, prev: str) -> None:
        ckpt = await cast(Awaitable[Any], self.redis.hgetall(self.keys.ckpt(call_id)))
        at = float(ckpt.get(b"at", b"0") or 0)
        who = f"worker {prev}" if prev else "its worker"
        await self.bus.publish_side(call_id, f"moved-{moves}", ev.Alert(
            call_id=call_id, alert_id=f"{call_id}-moved-{moves}", at=at, severity="info",
            kind="call_moved",
            message=f"{who} stopped; worker {self.name} took the call over at {at:.1f} s",
        ))  # fmt: skip

    def stats(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": sorted(self.running),
            "lag_ms": {c: round(s.lag_ms) for c, (_, _, s) in self.running.items()},
            "finished": self.finished,
            "taken_over": self.taken_over,
            **self.bus.stats(),
        }


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
