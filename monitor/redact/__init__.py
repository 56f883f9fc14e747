"""PII redaction, a pipeline stage between recognition and everything downstream: card and
phone numbers, e-mails and spoken digit runs masked in transcripts (:mod:`monitor.redact.pii`),
with the masked words' time spans for muting the recording."""

from monitor.redact.pii import (
    PLACEHOLDERS,
    CallRedactor,
    find_pii,
    is_redacted,
    luhn_ok,
    redact_event,
    redact_text,
    redact_words,
)

__all__ = [
    "PLACEHOLDERS",
    "CallRedactor",
    "find_pii",
    "is_redacted",
    "luhn_ok",
    "redact_event",
    "redact_text",
    "redact_words",
]
