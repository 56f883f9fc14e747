"""The scorer keeps a bounded history (issue #11, defect 8: batch_sizes grew with every pass
of a server that runs for months)."""

from __future__ import annotations

from typing import Any

from monitor.events import FinalUtterance
from monitor.scoring.service import ScoringService


async def test_latencies_and_batch_sizes_keep_only_the_most_recent(text_classifier: Any) -> None:
    service = ScoringService(text_classifier, history=5)
    await service.start()
    try:
        for seq in range(12):  # one at a time: twelve passes of one utterance
            utt = FinalUtterance("c", "customer", seq, "my internet is down again", 0.0, 1.0)
            await service.score(utt)
    finally:
        await service.aclose()
    assert service.batches == 12  # every pass is counted ...
    assert list(service.batch_sizes) == [1] * 5  # ... but only the last five are kept
    assert len(service.latencies_ms) == 5
