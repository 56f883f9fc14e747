"""The CLI's console printer, fed through a real bus (issue #12: a call whose language is
detected is announced twice; the console says "started" once, then the detection)."""

from __future__ import annotations

import asyncio
import io

from monitor import events as ev
from monitor.bus import EventBus
from monitor.console import ConsolePrinter
from tests.auto_language import auto_call

DETECTING, DETECTED = auto_call(source="file:auto.wav")


async def printed(*events: ev.Event) -> list[str]:
    bus = EventBus()
    out = io.StringIO()
    printer = ConsolePrinter(bus, out=out)
    task = asyncio.create_task(printer.run())
    for e in events:
        await bus.publish(e)
    bus.close()
    await asyncio.wait_for(task, 5.0)
    return out.getvalue().splitlines()


async def test_an_auto_call_prints_started_once_then_the_detection() -> None:
    lines = await printed(DETECTING, DETECTED, ev.CallEnded("auto-1", 3.0))
    assert lines == [
        "call auto-1 started: file:auto.wav (agent agent-7, detecting language)",
        "call auto-1 language detected: id (71%)",
        "call auto-1 ended at 00:03.0 (completed)",
    ]


async def test_a_given_language_prints_as_before() -> None:
    lines = await printed(ev.CallStarted("c", "c", "agent-2", language="ro", source="file:c.wav"))
    assert lines == ["call c started: file:c.wav (agent agent-2, ro)"]


async def test_a_detected_call_seen_first_mid_call_still_says_it_started() -> None:
    lines = await printed(DETECTED)
    assert lines == ["call auto-1 started: file:auto.wav (agent agent-7, detected id (71%))"]
