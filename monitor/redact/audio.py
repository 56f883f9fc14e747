"""Which spans of a call's recording to mute: those where redacted words were said.

:func:`monitor.redact.pii.redact_words` replaces the words of a card number (a phone number,
an e-mail ...) by one placeholder word that keeps their time span. The recording must not
keep what the transcript no longer shows, so that span is muted on the speaker's channel.

A recogniser's word times are estimates (Whisper's come from cross-attention and are often
a tenth of a second off, more at the edges of an utterance), so the span is widened by
``margin_s`` on each side: a few tenths of a second of silence around a card number cost a
QA reviewer nothing, one audible digit would be a PCI finding. Times are call-audio seconds;
the recording's own sample rate turns them into samples (:meth:`AudioWriter.silence`).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.events import FinalUtterance, Speaker
from monitor.redact.pii import is_redacted

MUTE_MARGIN_S = 0.3


@dataclass(frozen=True, slots=True)
class MutedSpan:
    speaker: Speaker
    start: float  # call-audio seconds
    end: float
    label: str  # the placeholder that replaced the words: [card], [phone], ...


def spans_to_mute(utt: FinalUtterance, margin_s: float = MUTE_MARGIN_S) -> tuple[MutedSpan, ...]:
    """The spans of ``utt``'s speaker to mute, widened by ``margin_s`` and merged."""
    if margin_s < 0:
        raise ValueError(f"margin_s must be >= 0, got {margin_s}")
    spans: list[MutedSpan] = []
    for w in utt.words:
        if not is_redacted(w):
            continue
        start, end = max(0.0, w.start - margin_s), w.end + margin_s
        if spans and start <= spans[-1].end:
            last = spans.pop()
            start, end, label = last.start, max(end, last.end), last.label
        else:
            label = w.text
        spans.append(MutedSpan(utt.speaker, round(start, 3), round(end, 3), label))
    return tuple(spans)
