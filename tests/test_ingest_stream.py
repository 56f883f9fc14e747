"""PushSource: bounded, push waits when full, close flushes, fail errors after the audio."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from monitor.sources.base import SourceError
from monitor.sources.stream import PushSource, SourceClosedError


def block(n: int = 800, value: float = 0.1) -> np.ndarray:
    return np.full((n, 2), value, np.float32)


async def test_push_waits_when_full_and_resumes_when_read():
    src = PushSource("t", channels=2, sample_rate=8000, max_frames=2)
    await src.push(block())
    await src.push(block())
    third = asyncio.create_task(src.push(block()))
    await asyncio.sleep(0.05)
    assert not third.done() and len(src) == 2  # backpressure: the network side waits
    frames = src.frames("c1")
    first = await anext(frames)
    await asyncio.wait_for(third, 1.0)
    assert first.call_id == "c1" and first.start == 0.0 and first.samples.shape == (800, 2)
    src.close()
    rest = [f async for f in frames]
    assert [f.start for f in rest] == [0.1, 0.2]
    assert src.high_water == 2


async def test_close_ends_normally_after_the_queued_audio():
    src = PushSource("t", channels=1, sample_rate=8000)
    await src.push(np.zeros(160, np.float32))  # mono accepts a 1-D block
    src.close()
    got = [f async for f in src.frames("c")]
    assert len(got) == 1 and got[0].samples.shape == (160, 1)
    with pytest.raises(SourceClosedError, match="after the source was closed"):
        await src.push(np.zeros(160, np.float32))


async def test_fail_delivers_the_queued_audio_then_raises_the_reason():
    src = PushSource("t", channels=2, sample_rate=8000)
    await src.push(block())
    src.fail("the stream disconnected without a 'stop' message")
    frames = src.frames("c")
    assert (await anext(frames)).samples.shape == (800, 2)
    with pytest.raises(SourceError, match="without a 'stop'"):
        await anext(frames)


async def test_reader_gone_wakes_a_waiting_pusher_with_an_error():
    src = PushSource("t", channels=2, sample_rate=8000, max_frames=1)
    await src.push(block())
    waiting = asyncio.create_task(src.push(block()))
    await asyncio.sleep(0.02)
    await src.aclose()  # the pipeline stopped reading (its call was cancelled)
    with pytest.raises(SourceClosedError, match="no longer being monitored"):
        await asyncio.wait_for(waiting, 1.0)


async def test_wrong_shape_is_refused_with_the_expected_shape():
    src = PushSource("t", channels=2, sample_rate=8000)
    with pytest.raises(SourceError, match=r"expected \(n, 2\)"):
        await src.push(np.zeros((10, 3), np.float32))
    with pytest.raises(SourceError, match="1 or 2"):
        PushSource("t", channels=3, sample_rate=8000)
