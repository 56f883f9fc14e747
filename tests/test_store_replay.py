"""A real call (rendered by the real TTS) replayed through the real pipeline into the store,
twice: identical stored results, the card number masked in text and silenced in the audio."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor.config import MonitorConfig
from monitor.pipeline import CallMeta
from monitor.sources import FileSource
from monitor.store.db import CallStore
from tests.conftest import render_call

pytestmark = pytest.mark.slow

CARD = "4572345678901231"
CARD_SAID = "four five seven two, three four five six, seven eight nine zero, one two three one"


@pytest.fixture(scope="module")
def card_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_call(
        tmp_path_factory.mktemp("card"),
        "card_payment",
        [
            {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, how can I help?"},
            {
                "speaker": "customer",
                "mood": "annoyed",
                "text": f"I want to pay the bill. My card number is {CARD_SAID}.",
            },
            {"speaker": "agent", "mood": "calm", "text": "Thank you, I have taken the payment."},
            {
                "speaker": "customer",
                "mood": "annoyed",
                "text": "This is the third time I call. I want to speak to your manager.",
            },
        ],
        expected="escalates",
    )


async def test_replaying_twice_stores_identical_results(
    make_monitor: Any, card_call: Path, tmp_path: Path
) -> None:
    db = tmp_path / "calls.db"
    ids = []
    for run in range(2):
        monitor = await make_monitor(MonitorConfig(store_path=db))
        summary = await monitor.run_call(
            FileSource(card_call), CallMeta("card_payment", agent_id="agent-pay", call_id=f"r{run}")
        )
        assert summary.ended == "completed"
        ids.append(summary.call_id)
        await monitor.aclose()

    store = CallStore(db)
    try:
        first, second = (store.export_call(i) for i in ids)
        assert first["utterances"], "the pipeline stored the transcript"
        assert first == second
        a, b = (store.audio_path(i) for i in ids)
        assert a is not None and b is not None and a.read_bytes() == b.read_bytes()

        # what the recogniser heard of the card number never reached the store
        text = " ".join(u["text"] for u in first["utterances"])
        assert len(re.sub(r"\D", "", text)) < 4, text
        assert "seven eight nine" not in text.lower()
        masked = [w for u in first["utterances"] for w in u["words"] if w["text"].startswith("[")]
        if masked:  # words carry times: that span of the recording is silent
            data, rate = sf.read(a)
            w = masked[0]
            span = data[int(w["start"] * rate) : int(w["end"] * rate), 0]  # the customer's
            assert np.abs(span).max() == 0.0
        assert store.integrity_check() == "ok"
    finally:
        store.close()
