"""The event bus's bounded fan-out and the wire format's round trip."""

from __future__ import annotations

import asyncio
import json

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.wire import PROTOCOL_VERSION, WireError, from_dict, to_dict, to_json

SAMPLES: list[ev.Event] = [
    ev.CallStarted("c1", "calm_billing", "agent-ana", "billing", "ro", "calm.wav", 2),
    ev.PartialUtterance("c1", "customer", 3, "i want to", 1.0, 1.8),
    ev.FinalUtterance(
        "c1",
        "customer",
        3,
        "i want to cancel",
        1.0,
        2.4,
        words=(ev.Word("i", 1.0, 1.1, 0.9), ev.Word("cancel", 1.9, 2.4, None)),
        features=ev.AcousticFeatures(-18.5, 210.0, 3.2, 1.4, 0.6),
        engine="whisper",
    ),
    ev.TalkOver("c1", "agent", 5.0, 5.8),
    ev.UtteranceScore(
        "c1", 3, "customer", 2.4, "negative", (0.8, 0.15, 0.05), (("cancel_threat", 0.93),)
    ),
    ev.CallRisk("c1", 2.4, 61.0, "at_risk", -0.7, ("threatened to cancel",)),
    ev.Alert("c1", "c1-a1", 2.4, "warning", "cancel_threat", "Customer threatens to cancel"),
    ev.PromptCard("c1", "c1-k1", 2.4, "ro", "acknowledge", "Recunoaște", "..."),
    ev.CallEnded("c1", 30.0, "completed"),
    ev.AlertAcknowledged("c1-a1", "c1", "supervisor", "sam"),
    ev.CardFeedback("c1-k1", "c1", "used", "agent-ana"),
    ev.AgentStrain("agent-ana", 3, 4, "take a short break"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json(event: ev.Event) -> None:
    data = json.loads(to_json(event))
    assert data["v"] == PROTOCOL_VERSION and data["type"] == ev.EVENT_TYPES[type(event)]
    assert from_dict(data) == event


def test_wire_rejects_unknown_types_and_fields() -> None:
    with pytest.raises(WireError, match="unknown event type 'nope'"):
        from_dict({"type": "nope"})
    with pytest.raises(WireError, match="unknown field 'x'"):
        from_dict({"type": "call_ended", "call_id": "c", "at": 1.0, "x": 1})
    with pytest.raises(WireError, match="call_ended"):
        from_dict({"type": "call_ended"})
    with pytest.raises(WireError, match="not a wire event"):
        to_dict(ev.AudioChunk("c", "agent", 0.0, None, 16000))  # type: ignore[arg-type]


async def test_sinks_run_before_any_subscriber_sees_the_event() -> None:
    bus = EventBus()
    seen: list[str] = []
    sub = bus.subscribe("board")
    bus.add_sink(lambda e: seen.append(f"sink:{e.call_id}"))  # type: ignore[union-attr]
    await bus.publish(ev.CallEnded("c9", 1.0))
    assert seen == ["sink:c9"]
    assert sub.get_nowait() == ev.CallEnded("c9", 1.0)


async def test_a_failing_sink_stops_the_broadcast() -> None:
    bus = EventBus()
    sub = bus.subscribe("board")

    def broken(_e: ev.Event) -> None:
        raise OSError("disk full")

    bus.add_sink(broken)
    with pytest.raises(OSError, match="disk full"):
        await bus.publish(ev.CallEnded("c1", 1.0))
    assert sub.qsize() == 0  # nothing unpersisted is shown


async def test_drop_oldest_keeps_memory_bounded_and_counts() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow", maxsize=3)
    for i in range(10):
        await bus.publish(ev.CallEnded(f"c{i}", float(i)))
    assert slow.qsize() == 3 and slow.dropped == 7
    assert [slow.get_nowait().call_id for _ in range(3)] == ["c7", "c8", "c9"]  # type: ignore[union-attr]


async def test_wait_subscriber_applies_backpressure() -> None:
    bus = EventBus()
    sub = bus.subscribe("console", maxsize=1, overflow="wait")
    await bus.publish(ev.CallEnded("a", 0.0))
    blocked = asyncio.create_task(bus.publish(ev.CallEnded("b", 0.0)))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert (await sub.get()).call_id == "a"  # type: ignore[union-attr]
    await asyncio.wait_for(blocked, 1)
    assert (await sub.get()).call_id == "b"  # type: ignore[union-attr]


async def test_closed_subscription_ends_iteration_after_queued_events() -> None:
    bus = EventBus()
    sub = bus.subscribe("x", maxsize=2)
    await bus.publish(ev.CallEnded("a", 0.0))
    await bus.publish(ev.CallEnded("b", 0.0))
    sub.close()  # full queue: the oldest makes room for the end marker
    got = [e.call_id async for e in sub]  # type: ignore[union-attr]
    assert got == ["b"] and sub.dropped == 1
    await bus.publish(ev.CallEnded("c", 0.0))
    assert bus.subscribers == ()
