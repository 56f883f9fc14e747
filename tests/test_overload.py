"""Overload is explicit (monitor/capacity.py): partials shed first, late calls marked delayed on
a real board client and /metrics, new calls beyond ``[capacity] max_calls`` refused with a reason.

The overload is real: while a call plays in real time, the shared decode scheduler is given a
backlog of real decodes (30 s windows of real speech, ranked older than the call's finals, as
the finals of calls that came first would be) — more decoder work than the machine can do in
real time, whatever its speed. Nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from monitor import events as ev
from monitor.capacity import CapacityConfig, CapacityError, LagTracker, refusal
from monitor.config import MonitorConfig
from monitor.pipeline import CallMeta
from monitor.runtime import Runtime, RuntimeConfig
from monitor.server import ServerConfig
from monitor.sources import FileSource

SUP = "overload-test-supervisor-token"
INGEST = "overload-test-ingest-token"
CALL_S = 14.0


@pytest.fixture
def factory(asr_engine: Any, text_classifier: Any) -> Any:
    from monitor.pipeline import Monitor

    async def make(cfg: MonitorConfig, bus: Any) -> Monitor:
        return await Monitor.create(cfg, bus, engine=asr_engine, classifier=text_classifier)

    return make


def _short_call(sample_calls: Any, tmp_path: Path, seconds: float = CALL_S) -> Path:
    audio, rate = sf.read(sample_calls["escalates_manager"].wav_path, dtype="float32")
    path = tmp_path / "short.wav"
    sf.write(path, audio[: int(seconds * rate)], rate, subtype="PCM_16")
    return path


def _backlog(engine: Any, sample_calls: Any, jobs: int) -> list[Any]:
    """Real encoder passes over 30 s of real speech (Whisper's full window), queued as finals
    older than the call's: the decoders are taken, as by the calls that came first."""
    import ctranslate2

    from monitor.asr import whisper_engine as we

    audio, rate = sf.read(sample_calls["calm_billing"].wav_path, dtype="float32")
    speech = resample_poly(audio[: 30 * rate, 1], 16000, rate).astype(np.float32)
    feats = engine.model.feature_extractor(speech, padding=0)[:, : we.MAX_FRAMES]
    window = np.ascontiguousarray(feats[None])

    def encode() -> tuple[str, list[Any]]:
        engine.model.model.encode(ctranslate2.StorageView.from_array(window))
        return "", []

    return [engine.scheduler.submit_final(encode, 0.0) for _ in range(jobs)]


# ---- the synchronous core of "delayed" ------------------------------------------------------


def test_lag_tracker_marks_a_call_delayed_repeats_and_clears_with_hysteresis() -> None:
    t = LagTracker("c1", CapacityConfig(delayed_after_s=2.0, recovered_below_s=1.0, repeat_s=5.0))
    assert t.observe(1.5, at=10.0, now=100.0) is None  # under the limit: nothing to say
    first = t.observe(2.5, at=11.0, now=101.0)
    assert first == ev.CallLag("c1", 11.0, 2.5, "delayed")
    assert t.observe(3.0, at=12.0, now=102.0) is None  # said already, too soon to repeat
    again = t.observe(4.0, at=17.0, now=106.5)
    assert again is not None and again.delayed and again.lag_s == 4.0
    assert t.observe(1.5, at=18.0, now=107.0) is None  # between the two limits: still delayed
    back = t.observe(0.5, at=19.0, now=108.0)
    assert back is not None and back.state == "ok"
    assert (t.times_delayed, t.max_lag_s) == (1, 4.0)


def test_capacity_settings_are_checked_and_refusal_names_the_limit() -> None:
    with pytest.raises(ValueError, match="max_calls must be at least 1"):
        CapacityConfig(max_calls=0)
    with pytest.raises(ValueError, match="recovered_below_s <= delayed_after_s"):
        CapacityConfig(delayed_after_s=1.0, recovered_below_s=2.0)
    cfg = CapacityConfig(max_calls=3)
    assert refusal(2, cfg) is None
    why = refusal(3, cfg)
    assert why is not None and "at capacity: 3 live calls" in why and "max_calls = 3" in why
    assert refusal(10_000, CapacityConfig()) is None  # no limit of our own


# ---- overload through the real pipeline -----------------------------------------------------


async def test_overload_sheds_partials_and_marks_the_call_delayed_on_board_and_metrics(
    factory: Any, asr_engine: Any, sample_calls: Any, tmp_path: Path
) -> None:
    if getattr(asr_engine, "scheduler", None) is None:
        pytest.skip("the overload path is the decode scheduler's (the Whisper engine)")
    config = RuntimeConfig(
        monitor=MonitorConfig(store_path=tmp_path / "c.db"),
        server=ServerConfig(port=0, tokens={SUP: "supervisor"}),
    )
    rt = Runtime(config, monitor_factory=factory)
    await rt.start()
    try:
        assert rt.monitor is not None and rt.server is not None
        rt.monitor.capacity = CapacityConfig(delayed_after_s=1.0, recovered_below_s=0.5)
        port = rt.server.port
        shed_before = asr_engine.scheduler.counts["partial_shed"]
        board: list[dict[str, Any]] = []
        async with connect(f"ws://127.0.0.1:{port}/ws?token={SUP}", max_size=None) as ws:
            await ws.recv()  # the snapshot

            async def read() -> None:
                async for raw in ws:
                    board.append(json.loads(raw))

            reader = asyncio.create_task(read())
            backlog = _backlog(asr_engine, sample_calls, jobs=4 * asr_engine.workers)
            source = FileSource(_short_call(sample_calls, tmp_path), realtime=True)
            call = asyncio.create_task(
                rt.monitor.run_call(source, CallMeta("overloaded", call_id="late-1"))
            )
            # Keep the decoders taken by older work until the call is marked delayed, however
            # fast this machine decodes (a one-off backlog drains before the call's first
            # final on a quiet machine); then stop feeding, so the call can catch up. The
            # bound is a safety stop, not a timing assertion: the asserts below say what failed.
            scraped = ""
            loop = asyncio.get_running_loop()
            feed_until = loop.time() + 6 * CALL_S
            while not call.done() and loop.time() < feed_until:
                pending = sum(not f.done() for f in backlog)
                if pending < 2 * asr_engine.workers:
                    backlog += _backlog(asr_engine, sample_calls, jobs=2 * asr_engine.workers)
                scraped = await asyncio.to_thread(_get, port, f"/metrics?token={SUP}")
                if "callmon_calls_delayed 1.0" in scraped:
                    break
                await asyncio.sleep(0.25)
            summary = await call
            await asyncio.wait([asyncio.wrap_future(f) for f in backlog])
            await asyncio.sleep(0.5)
            reader.cancel()
        # 1. partials went first: shed while the decoders were taken
        assert asr_engine.scheduler.counts["partial_shed"] > shed_before
        # 2. the board was told the call is delayed, with its lag
        lags = [m for m in board if m["type"] == "call_lag" and m["call_id"] == "late-1"]
        assert lags and lags[0]["state"] == "delayed" and lags[0]["lag_s"] > 1.0
        assert "callmon_calls_delayed 1.0" in scraped
        assert 'callmon_call_lag_seconds{call_id="late-1"}' in scraped
        # nothing accepted is lost: the late call still got its text and its scores
        finals = [m for m in board if m["type"] == "final" and m["call_id"] == "late-1"]
        scores = [m for m in board if m["type"] == "utterance_score" and m["call_id"] == "late-1"]
        assert summary.ended == "completed" and finals and len(scores) == len(finals)
        after = await asyncio.to_thread(_get, port, f"/metrics?token={SUP}")
        assert "callmon_delay_marks_total 1.0" in after
    finally:
        await rt.shutdown()


async def test_calls_beyond_max_calls_are_refused_with_the_reason(
    factory: Any, sample_calls: Any, tmp_path: Path
) -> None:
    config = RuntimeConfig(
        monitor=MonitorConfig(store_path=tmp_path / "c.db", max_calls=1),
        server=ServerConfig(port=0, tokens={SUP: "supervisor", INGEST: "ingest"}),
    )
    rt = Runtime(config, monitor_factory=factory)
    await rt.start()
    try:
        assert rt.monitor is not None and rt.server is not None
        source = FileSource(_short_call(sample_calls, tmp_path, 4.0), realtime=True)
        first = asyncio.create_task(rt.monitor.run_call(source, CallMeta("first")))
        while not rt.monitor.calls:
            await asyncio.sleep(0.05)
        # in process: a clear error
        with pytest.raises(CapacityError, match=r"at capacity: 1 live calls .*max_calls = 1"):
            await rt.monitor.run_call(FileSource(source.path), CallMeta("second"))
        # over the wire: the ingest client is closed 1013 (try again later) with the reason
        url = f"ws://127.0.0.1:{rt.server.port}/ingest/pcm?token={INGEST}"
        async with connect(url) as ws:
            start = {"type": "start", "sample_rate": 8000, "channels": ["customer", "agent"]}
            await ws.send(json.dumps(start))
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(30):
                    while True:
                        await ws.recv()
            assert ws.close_code == 1013
            assert ws.close_reason.startswith("callmon is at capacity")
        assert (await first).ended == "completed"
    finally:
        await rt.shutdown()


def _get(port: int, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return str(r.read().decode())


@pytest.mark.browser
async def test_the_board_marks_a_delayed_call_and_clears_the_mark(browser: Any) -> None:
    """Real events on a real bus, a real server, the real board page in Chromium."""
    from monitor.bus import EventBus
    from monitor.server import MonitorServer

    bus = EventBus()
    server = MonitorServer(bus, ServerConfig(port=0, tokens={SUP: "supervisor"}))
    await server.start()
    try:
        await bus.publish(ev.CallStarted("slow-1", "slow call", "agent-ana", "q", "en", "t", 2))
        await bus.publish(ev.CallStarted("fine-1", "fine call", "agent-bo", "q", "en", "t", 2))
        await bus.publish(ev.CallLag("slow-1", 30.0, 4.25, "delayed"))
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://127.0.0.1:{server.port}/?token={SUP}")
        # from the snapshot: the delayed call has the badge and its lag, the other none
        badge = page.locator('tr[data-call-id="slow-1"] .delayed')
        await badge.wait_for(timeout=10_000)
        assert "delayed 4.3 s" in await badge.inner_text()
        assert await page.locator('tr[data-call-id="fine-1"] .delayed').count() == 0
        # live: it catches up, the mark goes
        await bus.publish(ev.CallLag("slow-1", 40.0, 0.2, "ok"))
        await badge.wait_for(state="detached", timeout=10_000)
        assert not errors
        await page.close()
    finally:
        await server.stop()
