"""A live microphone via sounddevice (agent desktop mode).

The audio-device callback runs on PortAudio's thread and must never block: it hands
each block to the event loop through a bounded queue, and when the pipeline falls
behind it drops the block and counts it (``dropped_blocks``) rather than stall the
device or grow memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from monitor.events import AudioFrame
from monitor.sources.base import SourceError

QUEUE_BLOCKS = 50  # 5 s of audio at the default 0.1 s block


def _sounddevice() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio missing: the import itself fails
        raise SourceError(
            f"microphone input needs PortAudio ({exc}); install it with "
            "`apt-get install libportaudio2`"
        ) from None
    return sd


def list_input_devices() -> list[dict[str, Any]]:
    sd = _sounddevice()
    return [
        {"index": i, "name": d["name"], "channels": d["max_input_channels"]}
        for i, d in enumerate(sd.query_devices())
        if d["max_input_channels"] > 0
    ]


class MicSource:
    """With one input channel only the agent is heard (the customer's side needs a loopback
    or a second channel from the telephony client); with two, one party per channel,
    the customer on channel 0 as in recordings.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        channels: int = 1,
        sample_rate: int = 16000,
        block_seconds: float = 0.1,
        queue_blocks: int = QUEUE_BLOCKS,
    ) -> None:
        if channels not in (1, 2):
            raise SourceError(f"microphone: {channels} channels; use 1 (agent) or 2 (both)")
        self.device = device
        self.channels = channels
        self.sample_rate = sample_rate
        self.block = max(1, int(sample_rate * block_seconds))
        self.name = f"microphone {device if device is not None else '(default)'}"
        self.dropped_blocks = 0
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue(queue_blocks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None

    def _enqueue(self, block: np.ndarray | None) -> None:
        try:
            self._queue.put_nowait(block)
        except asyncio.QueueFull:
            self.dropped_blocks += 1

    def callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy the block and hand it over without waiting."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._enqueue, indata.copy())

    def _open(self) -> None:
        sd = _sounddevice()
        try:
            sd.check_input_settings(
                device=self.device, channels=self.channels, samplerate=self.sample_rate
            )
            self._stream = sd.InputStream(
                device=self.device,
                channels=self.channels,
                samplerate=self.sample_rate,
                blocksize=self.block,
                dtype="float32",
                callback=self.callback,
            )
        except Exception as exc:  # PortAudioError / ValueError: no such device, bad rate
            raise SourceError(
                f"{self.name}: cannot open for {self.channels} channel(s) at "
                f"{self.sample_rate} Hz ({exc}); list devices with `callmon devices`"
            ) from None
        self._stream.start()

    async def frames(self, call_id: str) -> AsyncIterator[AudioFrame]:
        self._loop = asyncio.get_running_loop()
        self._open()
        pos = 0
        while True:
            block = await self._queue.get()
            if block is None:
                break
            yield AudioFrame(call_id, pos / self.sample_rate, block, self.sample_rate)
            pos += block.shape[0]

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        # the end marker must get through even when the queue is full of audio
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped_blocks += 1
