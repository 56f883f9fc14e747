"""The microphone source: the device callback never blocks, and no device is a clear error."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from monitor.sources.base import SourceError
from monitor.sources.mic import MicSource, list_input_devices


async def test_callback_drops_and_counts_when_the_pipeline_is_behind() -> None:
    mic = MicSource(queue_blocks=4)
    mic._loop = asyncio.get_running_loop()  # what frames() sets before opening the device
    block = np.zeros((1600, 1), dtype=np.float32)
    for _ in range(10):  # PortAudio's thread delivering faster than anyone reads
        mic.callback(block, 1600, None, None)
    await asyncio.sleep(0)  # the loop runs the hand-overs
    assert mic._queue.qsize() == 4
    assert mic.dropped_blocks == 6
    await mic.aclose()  # the end marker gets through even though the queue is full
    assert mic.dropped_blocks == 7


async def test_callback_copies_the_device_buffer() -> None:
    mic = MicSource()
    mic._loop = asyncio.get_running_loop()
    buf = np.ones((1600, 1), dtype=np.float32)
    mic.callback(buf, 1600, None, None)
    buf[:] = 0  # PortAudio reuses its buffer
    await asyncio.sleep(0)
    assert mic._queue.get_nowait().max() == 1.0  # type: ignore[union-attr]


def test_bad_channel_count() -> None:
    with pytest.raises(SourceError, match="3 channels"):
        MicSource(channels=3)


async def test_no_device_is_a_clear_error() -> None:
    if list_input_devices():
        pytest.skip("this machine has an audio input device")
    mic = MicSource()
    with pytest.raises(SourceError, match=r"cannot open.*callmon devices"):
        async for _ in mic.frames("c1"):
            pass
