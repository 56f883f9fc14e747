"""Asterisk AudioSocket: the frame decoder, the leg mixer, and the real TCP server end to end.

The client writes frames as res_audiosocket does (kind, big-endian length, payload; the
16-byte UUID first; 320-byte slin frames of 20 ms; 0x00 to hang up).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.ingest.audiosocket import (
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    Audio,
    AudioSocketDecoder,
    AudioSocketError,
    CallId,
    Dtmf,
    Hangup,
    LegMixer,
    RemoteError,
    frame,
)
from monitor.ingest.audiosocket_server import AudioSocketConfig, AudioSocketIngest
from monitor.ingest.settings import IngestConfigError, from_section
from tests.ingest_e2e import CALL, Outcome, Seen, phone_call, reference, write_wav

CALL_UUID = uuid.UUID("4b3c2a10-5d6e-4f70-8a9b-0c1d2e3f4a50")


def uuid_frame(u: uuid.UUID = CALL_UUID) -> bytes:
    return frame(KIND_UUID, u.bytes)


def slin(samples: np.ndarray, kind: int = 0x10) -> bytes:
    return frame(kind, samples.astype("<i2").tobytes())


# ---- decoder ------------------------------------------------------------------------------------


def test_frames_decode_in_any_split_and_higher_rates_are_known():
    pcm = (np.arange(160) * 50).astype(np.int16)
    data = uuid_frame() + slin(pcm) + frame(KIND_DTMF, b"5") + frame(KIND_HANGUP)
    dec = AudioSocketDecoder()
    out: list[Any] = []
    for i in range(len(data)):  # one byte at a time: TCP may split anywhere
        out += dec.feed(data[i : i + 1])
    assert out[0] == CallId(str(CALL_UUID))
    assert isinstance(out[1], Audio) and out[1].rate == 8000
    np.testing.assert_array_equal(out[1].samples, pcm / 32768)
    assert out[2:] == [Dtmf("5"), Hangup()] and dec.ended
    dec16 = AudioSocketDecoder()
    (_, audio) = dec16.feed(uuid_frame() + slin(pcm, 0x12))
    assert audio.rate == 16000


def test_error_frames_carry_their_code():
    dec = AudioSocketDecoder()
    assert dec.feed(uuid_frame() + frame(KIND_ERROR, b"\x01"))[1] == RemoteError(
        1, "the caller hung up"
    )
    assert dec.feed(slin(np.zeros(160))) == []  # nothing counts after the end


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (slin(np.zeros(160)), "before the call id"),
        (uuid_frame() + uuid_frame(), "second call id"),
        (frame(KIND_UUID, b"short"), "16"),
        (uuid_frame() + frame(0x10, b"\x00" * 3), "whole 16-bit"),
        (uuid_frame() + slin(np.zeros(160)) + slin(np.zeros(160), 0x12), "rate changed"),
        (uuid_frame() + frame(0x42, b"x"), "unknown frame kind 0x42"),
        (uuid_frame() + b"\x10\xff\xff", "over the limit of 8192"),
    ],
)
def test_bad_frames_name_the_problem(data: bytes, match: str):
    dec = AudioSocketDecoder(max_payload_bytes=8192)
    with pytest.raises(AudioSocketError, match=match):
        dec.feed(data)
        dec.feed(b"")  # an error after good frames comes with the next call


def test_good_frames_before_a_bad_one_are_delivered_then_the_error_raised():
    dec = AudioSocketDecoder()
    out = dec.feed(uuid_frame() + slin(np.zeros(160)) + frame(0x42, b"?"))
    assert [type(f) for f in out] == [CallId, Audio]
    assert dec.error is not None and "0x42" in str(dec.error)
    with pytest.raises(AudioSocketError, match="0x42"):
        dec.feed(b"")


def test_a_connection_ending_inside_a_frame_is_truncated():
    dec = AudioSocketDecoder()
    dec.feed(uuid_frame() + slin(np.zeros(160))[:100])
    with pytest.raises(AudioSocketError, match="inside a frame \\(100 of 323 bytes\\)"):
        dec.eof()


def test_thousands_of_tiny_frames_are_refused():
    dec = AudioSocketDecoder(max_frames_per_audio_s=200)
    dec.feed(uuid_frame())
    with pytest.raises(AudioSocketError, match="max_frames_per_audio_s"):
        dec.feed(frame(0x10, b"\x00\x00") * 5000)
        dec.feed(b"")


# ---- mixer --------------------------------------------------------------------------------------


def test_two_legs_align_by_sample_count_into_customer_first_blocks():
    mix = LegMixer(2, 8000, jitter_s=1.0)
    mix.join(0, at_start=True)
    mix.join(1, at_start=True)
    a, b = np.full(1600, 0.5, np.float32), np.full(1600, -0.5, np.float32)
    out = mix.push(0, a)  # the agent leg has sent nothing yet: nothing is released
    assert out == []
    out = mix.push(1, b[:800]) + mix.push(1, b[800:])
    got = np.concatenate(out + mix.flush())
    assert got.shape == (1600, 2) and (got[:, 0] == 0.5).all() and (got[:, 1] == -0.5).all()


def test_a_stalled_leg_is_silence_after_the_jitter_window_and_a_late_leg_joins_now():
    mix = LegMixer(2, 8000, jitter_s=0.5)
    mix.join(0, at_start=True)
    mix.join(1, at_start=True)
    out = mix.push(0, np.ones(8000, np.float32))  # agent silent: released after 0.5 s
    assert sum(len(b) for b in out) == 4000
    rest = mix.end(1) + mix.flush()
    assert sum(len(b) for b in out + rest) == 8000
    late = LegMixer(2, 8000)
    late.join(0, at_start=True)
    late.end(0)
    late.push(0, np.ones(800, np.float32))
    late.join(1, at_start=False)
    assert late.heads[1] == 800


# ---- settings ----------------------------------------------------------------------------------


def test_audiosocket_settings_are_checked():
    cfg = from_section(AudioSocketConfig, {"enabled": True, "port": 0,
                       "allowed_networks": ["10.0.0.0/8"]}, "audiosocket")  # fmt: skip
    assert cfg.allowed_networks == ("10.0.0.0/8",)
    for bad, match in [
        ({"allowed_networks": ["nope"]}, "allowed_networks"),
        ({"pairing": "magic"}, "pairing"),
        ({"agent_digit": "0"}, "must differ"),
        ({"customer_digit": "x"}, "hex digit"),
        ({"port": "9093"}, "must be int"),
    ]:
        with pytest.raises(IngestConfigError, match=match):
            from_section(AudioSocketConfig, bad, "audiosocket")


def test_only_allowed_networks_are_accepted():
    ingest = AudioSocketIngest(object(), AudioSocketConfig())  # type: ignore[arg-type]
    assert ingest.allowed("127.0.0.1") and ingest.allowed("::1")
    assert ingest.allowed("::ffff:127.0.0.1")
    assert not ingest.allowed("10.1.2.3") and not ingest.allowed("garbage")


# ---- the real server ----------------------------------------------------------------------------


@dataclass
class Rig:
    ingest: AudioSocketIngest
    seen: Seen

    async def leg(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.ingest.port)


@pytest.fixture
async def rig(make_monitor: Any) -> AsyncIterator[Rig]:
    bus = EventBus()
    seen = Seen()
    bus.add_sink(seen.events.append)
    monitor = await make_monitor(MonitorConfig(), bus)
    cfg = AudioSocketConfig(enabled=True, port=0, idle_timeout_s=2.0, start_timeout_s=2.0)
    ingest = AudioSocketIngest(monitor, cfg)
    await ingest.start()
    yield Rig(ingest, seen)
    await ingest.aclose(timeout=5.0)


async def stream(writer: asyncio.StreamWriter, pcm: np.ndarray, frame_samples: int = 160) -> None:
    for i in range(0, len(pcm), frame_samples):
        writer.write(slin(pcm[i : i + frame_samples]))
        if i % (frame_samples * 25) == 0:
            await writer.drain()
    await writer.drain()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """EOF, or a reset when the server closed with our bytes still unread."""
    try:
        async with asyncio.timeout(10):
            return await reader.read() == b""
    except ConnectionResetError:
        return True


@pytest.mark.slow
async def test_two_paired_legs_give_the_same_utterances_and_alerts_as_the_file_replay(
    rig: Rig, sample_calls: Any, make_monitor: Any, tmp_path: Path
):
    pcm = phone_call(sample_calls[CALL].wav_path)
    expected = await reference(make_monitor, write_wav(tmp_path / "call8k.wav", pcm), pcm)
    base = str(uuid.uuid4())[:-1]
    legs = [await rig.leg() for _ in range(2)]
    for (_, w), digit in zip(legs, "01", strict=True):  # customer leg ...0, agent leg ...1
        w.write(uuid_frame(uuid.UUID(base + digit)))
        await w.drain()
    await asyncio.sleep(0.2)  # both legs announced before the first audio (as Asterisk does)
    await asyncio.gather(stream(legs[0][1], pcm[:, 0]), stream(legs[1][1], pcm[:, 1]))
    for _, w in legs:
        w.write(frame(KIND_HANGUP))
        await w.drain()
    ended = await rig.seen.ended()
    assert ended.reason == "completed"
    started = rig.seen.of_type(ev.CallStarted)[0]
    assert started.channels == 2 and started.source == f"audiosocket:{base}"
    got = Outcome.of(rig.seen.events, started.call_id)
    assert got.finals == expected.finals and got.alerts == expected.alerts and got.alerts
    for _, w in legs:
        w.close()


@pytest.mark.slow
async def test_a_single_leg_is_a_mono_call(rig: Rig):
    _, writer = await rig.leg()
    writer.write(uuid_frame(uuid.UUID("4b3c2a10-5d6e-4f70-8a9b-0c1d2e3f4a5c")))
    await stream(writer, np.full(8000, 1000, np.int16))
    writer.write(frame(KIND_HANGUP))
    await writer.drain()
    ended = await rig.seen.ended()
    started = rig.seen.of_type(ev.CallStarted)[0]
    assert started.channels == 1 and ended.reason == "completed"
    assert ended.at == pytest.approx(1.0, abs=0.05)
    writer.close()


@pytest.mark.slow
async def test_a_connection_from_outside_allowed_networks_is_closed_unread(make_monitor: Any):
    monitor = await make_monitor(MonitorConfig(), EventBus())
    cfg = AudioSocketConfig(enabled=True, port=0, allowed_networks=("10.0.0.0/8",))
    ingest = AudioSocketIngest(monitor, cfg)
    await ingest.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", ingest.port)
        writer.write(uuid_frame() + slin(np.zeros(160)))
        assert await closed_by_server(reader)
        assert ingest.stats()["refused_peers"] == 1 and ingest.stats()["started"] == 0
        writer.close()
    finally:
        await ingest.aclose(timeout=2.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (frame(0x42, b"?"), "unknown frame kind"),
        (uuid_frame(), "second call id"),
        (b"\x10\xff\xff", "over the limit"),
        (frame(0x10, b"\x00\x00") * 3000, "max_frames_per_audio_s"),
        (slin(np.zeros(160))[:50], "inside a frame"),  # then the connection ends
    ],
)
async def test_bad_frames_end_the_call_as_error_keeping_what_arrived(
    rig: Rig, bad: bytes, match: str
):
    reader, writer = await rig.leg()
    writer.write(uuid_frame())
    await stream(writer, np.full(4000, 1000, np.int16))
    writer.write(bad)
    await writer.drain()
    if match == "inside a frame":
        writer.close()
    else:
        assert await closed_by_server(reader)
    ended = await rig.seen.ended()
    assert ended.reason == "error" and match in ended.error
    assert ended.at >= 0.5
    writer.close()


@pytest.mark.slow
async def test_silence_on_the_wire_times_out_interrupted_and_a_drop_too(rig: Rig):
    reader, writer = await rig.leg()
    writer.write(uuid_frame())
    await stream(writer, np.full(8000, 1000, np.int16))
    assert await closed_by_server(reader)  # idle_timeout_s
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and "nothing received" in ended.error
    assert ended.at == pytest.approx(1.0, abs=0.05)
    writer.close()
    rig.seen.events.clear()
    reader, writer = await rig.leg()
    writer.write(uuid_frame(uuid.uuid4()))
    await stream(writer, np.full(12_000, 1000, np.int16))
    writer.transport.abort()  # no hang-up frame
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and "without a hang-up" in ended.error
    assert ended.at == pytest.approx(1.5, abs=0.05)


@pytest.mark.slow
async def test_a_uuid_but_no_audio_starts_no_call(rig: Rig):
    reader, writer = await rig.leg()
    writer.write(uuid_frame())
    await writer.drain()
    assert await closed_by_server(reader)  # start_timeout_s
    assert not rig.seen.of_type(ev.CallStarted)
    writer.close()


@pytest.mark.slow
async def test_shutdown_mid_call_closes_the_legs_and_keeps_what_arrived(rig: Rig):
    reader, writer = await rig.leg()
    writer.write(uuid_frame(uuid.uuid4()))
    await stream(writer, np.full(8000, 1000, np.int16))
    async with asyncio.timeout(10):
        while not rig.seen.of_type(ev.CallStarted):
            await asyncio.sleep(0.02)
    await rig.ingest.aclose(timeout=10.0)
    assert await closed_by_server(reader)
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and ended.at <= 1.0
    with pytest.raises(OSError):  # the port is closed: no new legs
        await rig.leg()
    writer.close()
