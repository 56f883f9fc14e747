"""Audio redaction, end to end: a rendered call in which the customer reads a test card number
goes through the real pipeline into the store; the real recogniser, run again on the STORED
recording, hears none of its digits (while it hears them in the original), and the QA report
lists the muted spans that the QA page marks on its timeline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor.config import MonitorConfig
from monitor.pipeline import CallMeta
from monitor.qa.report import build_report
from monitor.sources import FileSource
from monitor.sources.resample import StreamResampler
from monitor.store.db import CallStore
from tests.conftest import write_script

pytestmark = pytest.mark.slow

# A test card number (Luhn-valid, not a real card), read out in four groups.
CARD_SAID = "four five seven two, three four five six, seven eight nine zero, one two three one"
DIGIT_WORDS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
               "nine"}  # fmt: skip
RATE = 8_000  # telephone audio: the WAV holds 8 kHz, the recogniser hears 16 kHz


def digits_heard(text: str) -> int:
    """How many digits a transcript holds, as numerals or as spoken words."""
    numerals = len(re.sub(r"\D", "", text))
    words = sum(w in DIGIT_WORDS for w in re.findall(r"[a-z]+", text.lower()))
    return numerals + words


def transcribe_channel(engine: Any, path: Path, channel: int) -> str:
    """The real recogniser over one channel of a WAV, as one stream."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = StreamResampler(rate, engine.sample_rate).push(data[:, channel])
    rec = engine.new_recognizer()
    hyps = []
    step = engine.sample_rate // 10
    for i in range(0, audio.size, step):
        hyps += rec.accept(audio[i : i + step], i / engine.sample_rate)
    hyps += rec.finish()
    return " ".join(h.text for h in hyps if h.final)


@pytest.fixture(scope="module")
def card_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monitor.samples import load_script, render

    d = tmp_path_factory.mktemp("card-audio")
    script = write_script(
        d / "card.toml",
        "card_audio",
        [
            {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, how can I help?"},
            {"speaker": "customer", "mood": "calm", "text": "I would like to pay my bill."},
            {"speaker": "agent", "mood": "calm", "text": "Of course. What is the card number?"},
            {"speaker": "customer", "mood": "calm", "text": f"My card number is {CARD_SAID}."},
            {
                "speaker": "agent",
                "mood": "calm",
                "text": "Thank you, the payment has gone through.",
            },
        ],
    )
    wav = d / "card.wav"
    render(load_script(script), wav, sample_rate=RATE)
    return wav


async def test_stored_recording_has_no_audible_card_digits(
    make_monitor: Any, asr_engine: Any, card_call: Path, tmp_path: Path
) -> None:
    heard_before = transcribe_channel(asr_engine, card_call, 0)
    assert digits_heard(heard_before) >= 12, f"the original must say the number: {heard_before}"

    db = tmp_path / "calls.db"
    monitor = await make_monitor(MonitorConfig(store_path=db))
    summary = await monitor.run_call(
        FileSource(card_call), CallMeta("card_audio", agent_id="agent-pay", call_id="card-1")
    )
    assert summary.ended == "completed"
    await monitor.aclose()

    store = CallStore(db)
    try:
        wav = store.audio_path("card-1")
        assert wav is not None
        info = sf.info(wav)
        assert info.samplerate == RATE and info.channels == 2
        report = build_report(store.get_call("card-1"))
    finally:
        store.close()

    heard_after = transcribe_channel(asr_engine, wav, 0)
    assert digits_heard(heard_after) == 0, f"digits still audible in the stored WAV: {heard_after}"
    assert "pay my bill" in heard_after.lower(), "only the number is muted, not the whole call"

    spans = report["muted_audio"]
    assert spans, "the report lists the muted spans"
    for s in spans:
        assert s["speaker"] == "customer" and s["end"] > s["start"]
        data, rate = sf.read(wav, dtype="float32", always_2d=True)
        muted = data[int(s["start"] * rate) : int(s["end"] * rate), 0]
        assert muted.size and np.abs(muted).max() == 0.0
