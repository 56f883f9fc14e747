"""A call whose language is detected (issue #12), as the console, store, cluster and QA page
tests need it."""

from __future__ import annotations

import dataclasses

from monitor import events as ev


def auto_call(
    call_id: str = "auto-1", agent_id: str = "agent-7", source: str = ""
) -> tuple[ev.CallStarted, ev.CallStarted]:
    """A call in "auto" as the pipeline announces it: first ``detecting`` in the placeholder
    language (en), then ``detected`` as Indonesian with the detector's confidence 0.7143."""
    detecting = ev.CallStarted(
        call_id, "auto call", agent_id, language="en", source=source,
        language_source="detecting",
    )  # fmt: skip
    detected = dataclasses.replace(
        detecting, language="id", language_source="detected", language_probability=0.7143
    )
    return detecting, detected
