"""No unmasked card or phone number reaches a websocket client, nor the store: a real server on
a free port, real websockets clients (supervisor and the call's agent), the store as the bus's
sink, events redacted the way the pipeline does before publishing them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from monitor import events as ev
from monitor.bus import EventBus
from monitor.qa.example import CARD_DIGITS, CARD_SPOKEN, example_call
from monitor.redact.pii import redact_event
from monitor.server import MonitorServer, ServerConfig
from monitor.store.db import CallStore

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUP = "sup-token-redaction-0123"
AGENT = "agent7-token-redaction-01"
TOKENS = {SUP: "supervisor", AGENT: "agent:agent-7"}
SECRETS = (CARD_DIGITS, CARD_SPOKEN[:30], "7946", "0958", "4572")


async def _collect(url: str, ready: asyncio.Event, out: list[str]) -> None:
    async with connect(url) as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
        out.append(str(first))
        ready.set()
        while True:  # until the call ends, or the test stops listening
            msg = str(await ws.recv())
            out.append(msg)
            if json.loads(msg).get("type") == "call_ended":
                return


async def test_no_digits_reach_clients_or_store(tmp_path: Path) -> None:
    bus = EventBus()
    store = CallStore(tmp_path / "calls.db")
    bus.add_sink(store.sink)
    server = MonitorServer(bus, ServerConfig(port=0, tokens=TOKENS))
    await server.start()
    try:
        seen: dict[str, list[str]] = {"supervisor": [], "agent": []}
        ready = {k: asyncio.Event() for k in seen}
        base = f"ws://127.0.0.1:{server.port}/ws?token="
        tasks = [
            asyncio.create_task(_collect(base + SUP, ready["supervisor"], seen["supervisor"])),
            asyncio.create_task(_collect(base + AGENT, ready["agent"], seen["agent"])),
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready.values())), 10)
        events = example_call("pii-call", agent_id="agent-7")
        raw_texts = [e.text for e in events if isinstance(e, ev.FinalUtterance)]
        assert any(CARD_SPOKEN in t for t in raw_texts)  # the unredacted call does say it
        for e in events:
            await bus.publish(redact_event(e))
            await asyncio.sleep(0)
        await asyncio.wait_for(tasks[0], 20)  # the supervisor saw the call end
        await asyncio.sleep(0.5)  # the agent's panel may not get call_ended: give it time
        tasks[1].cancel()
        await asyncio.gather(tasks[1], return_exceptions=True)
    finally:
        await server.stop(timeout=2.0)
        store.close()
    assert len(seen["agent"]) > 1, "the agent panel received the call's cards"
    sup = "\n".join(seen["supervisor"])
    assert "[card]" in sup and "[phone]" in sup, "the supervisor saw the transcript"
    for who, messages in seen.items():
        text = "\n".join(messages)
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} reached the {who} client"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} reached the store"
