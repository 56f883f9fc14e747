"""Audio sources on real files: the formats a contact centre exports, and the bad ones."""

from __future__ import annotations

import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from monitor.sources import FileSource, SourceError, StreamResampler, probe_file


async def collect(source: FileSource) -> list:
    return [f async for f in source.frames("c1")]


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


async def test_stereo_wav_splits_parties_in_order(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    left, right = tone(1.0, 8000, 300), tone(1.0, 8000, 600, amp=0.1)
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    frames = await collect(FileSource(path))
    data = np.concatenate([f.samples for f in frames])
    assert data.shape == (8000, 2)
    assert np.allclose(data[:, 0], left, atol=1e-3)  # customer = channel 0
    assert [f.start for f in frames] == sorted(f.start for f in frames)
    assert frames[1].start == pytest.approx(0.1)


async def test_customer_channel_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    left, right = tone(0.5, 16000, 300, 0.5), tone(0.5, 16000, 300, 0.05)
    sf.write(path, np.stack([left, right], axis=1), 16000)
    src = FileSource(path, customer_channel=1)
    assert (src.customer_channel, src.agent_channel) == (1, 0)
    data = np.concatenate([f.samples for f in await collect(src)])
    assert np.abs(data[:, 0]).max() < 0.1  # the quiet one is now the customer


async def test_mulaw_telephone_audio_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ulaw.wav"
    sf.write(path, tone(0.5, 8000), 8000, subtype="ULAW")
    info = probe_file(path)
    assert (info.subtype, info.sample_rate, info.channels) == ("ULAW", 8000, 1)
    frames = await collect(FileSource(path))
    assert sum(len(f.samples) for f in frames) == 4000


async def test_flac_is_read(tmp_path: Path) -> None:
    path = tmp_path / "call.flac"
    sf.write(path, np.stack([tone(0.3, 44100)] * 2, axis=1), 44100)
    frames = await collect(FileSource(path))
    assert frames[0].sample_rate == 44100 and frames[0].samples.shape[1] == 2


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not a wave header" * 3)
    with pytest.raises(SourceError, match=r"broken\.wav: not a readable audio file"):
        FileSource(path)


def test_text_file_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(SourceError, match=r"not a readable audio file.*reads WAV"):
        FileSource(path)


def test_unsupported_container_names_the_format(tmp_path: Path) -> None:
    path = tmp_path / "call.aiff"
    sf.write(path, tone(0.2, 16000), 16000, format="AIFF")
    with pytest.raises(SourceError, match="unsupported format AIFF"):
        FileSource(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        FileSource(tmp_path / "empty.wav")
    with pytest.raises(SourceError, match="no such file"):
        FileSource(tmp_path / "nope.wav")
    with pytest.raises(SourceError, match="is a folder"):
        FileSource(tmp_path)


def test_header_only_wav_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "header.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    with pytest.raises(SourceError, match="no audio samples"):
        FileSource(path)


def test_five_channels_needs_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "five.wav"
    sf.write(path, np.zeros((8000, 5), dtype=np.float32), 8000)
    with pytest.raises(SourceError, match=r"5 channels.*--customer-channel N --agent-channel M"):
        FileSource(path)
    src = FileSource(path, customer_channel=3, agent_channel=4)
    assert src.channels == 2 and src.picks == [3, 4]
    with pytest.raises(SourceError, match="agent channel 7 does not exist"):
        FileSource(path, customer_channel=0, agent_channel=7)


async def test_truncated_file_keeps_what_was_readable(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, np.stack([tone(2.0, 16000)] * 2, axis=1), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header still claims 2 s
    frames = await collect(FileSource(path))
    got = sum(len(f.samples) for f in frames) / 16000
    assert 0.9 < got <= 1.01  # the first half is delivered, nothing invented


async def test_one_hour_file_streams_in_small_memory(tmp_path: Path) -> None:
    path = tmp_path / "hour.wav"
    rate = 8000
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        block = np.zeros((rate * 60, 2), dtype=np.float32)
        for _ in range(60):
            f.write(block)
    src = FileSource(path, block_seconds=1.0)
    assert src.duration == pytest.approx(3600.0)
    tracemalloc.start()
    total = 0
    async for frame in src.frames("hour"):
        total += frame.samples.shape[0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == rate * 3600
    assert peak < 5_000_000  # blocks, never the whole 115 MB of samples


async def test_realtime_pacing_uses_the_audio_clock(tmp_path: Path) -> None:
    import time

    path = tmp_path / "short.wav"
    sf.write(path, tone(0.5, 16000), 16000)
    t0 = time.monotonic()
    frames = await collect(FileSource(path, realtime=True))
    elapsed = time.monotonic() - t0
    assert len(frames) == 5
    assert elapsed >= 0.45  # a paced replay cannot finish before the audio would have


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (44100, 16000), (48000, 16000)])
def test_stream_resampler_matches_whole_signal(src: int, dst: int) -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(src) * 0.1).astype(np.float32)
    g = np.gcd(src, dst)
    want = resample_poly(x, dst // g, src // g)
    r = StreamResampler(src, dst)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 4000))
        parts.append(r.push(x[i : i + n]))
        i += n
    parts.append(r.flush())
    got = np.concatenate(parts)
    assert len(got) == len(want)
    assert np.max(np.abs(got - want)) < 1e-5


def test_resampler_passthrough_and_bad_rates() -> None:
    r = StreamResampler(16000, 16000)
    x = np.ones(100, dtype=np.float32)
    assert r.push(x) is not None and len(r.push(x)) == 100 and len(r.flush()) == 0
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 16000)
