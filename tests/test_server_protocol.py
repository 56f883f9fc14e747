"""The live protocol against a real server on a free port, with real websockets clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from monitor import events as ev
from monitor.bus import EventBus
from monitor.server import MonitorServer, ServerConfig

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUP = "sup-token-0123456789"
SUP2 = "sup-token-abcdefghij"
A1 = "agent1-token-0123456789"
A2 = "agent2-token-0123456789"
INGEST = "ingest-token-0123456789"
TOKENS = {SUP: "supervisor", SUP2: "supervisor", A1: "agent:a1", A2: "agent:a2", INGEST: "ingest"}


def call_events(call_id: str, agent: str, n_utts: int = 3, queue: str = "default") -> list[Any]:
    """A small but complete call: start, transcript with scores and risk, alert, card, end."""
    out: list[Any] = [ev.CallStarted(call_id, f"call {call_id}", agent, queue=queue)]
    for i in range(n_utts):
        t = float(i * 3)
        spk: ev.Speaker = "customer" if i % 2 == 0 else "agent"
        out.append(ev.PartialUtterance(call_id, spk, i, "this is", t, t + 1))
        out.append(ev.FinalUtterance(call_id, spk, i, f"utterance {i} of {call_id}", t, t + 2))
        out.append(ev.UtteranceScore(call_id, i, spk, t + 2, "negative", (0.7, 0.2, 0.1)))
        out.append(ev.CallRisk(call_id, t + 2, 20.0 + 10 * i, "watch", -0.6, ("falling",)))
    out.append(ev.Alert(call_id, f"{call_id}-al1", 7.0, "critical", "legal_threat", "lawyer"))
    out.append(
        ev.PromptCard(call_id, f"{call_id}-c1", 7.0, "en", "acknowledge", "Acknowledge", "Say so")
    )
    return out


class Harness:
    def __init__(self, **overrides: Any) -> None:
        self.bus = EventBus()
        self.seen: list[Any] = []
        self.bus.add_sink(self.seen.append)  # stands in for the store: sees every event
        cfg = ServerConfig(port=0, tokens=TOKENS, **overrides)
        self.server = MonitorServer(self.bus, cfg)

    def url(self, token: str | None, query: str = "") -> str:
        q = f"token={token}" if token else ""
        if query:
            q = f"{q}&{query}" if q else query
        return f"ws://127.0.0.1:{self.server.port}/ws?{q}"

    async def publish(self, events: list[Any], pause_s: float = 0.0) -> None:
        for e in events:
            await self.bus.publish(e)
            await asyncio.sleep(pause_s)  # a real pipeline awaits its stages between events


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    await harness.server.start()
    yield harness
    await harness.server.stop(timeout=2.0)


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def recv_until(ws: ClientConnection, pred: Any, timeout: float = 10.0) -> list[dict]:
    got: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            msg = await recv_json(ws, timeout)
            got.append(msg)
            if pred(msg):
                return got


async def snapshot_of(ws: ClientConnection) -> dict[str, Any]:
    msg = await recv_json(ws)
    assert msg["type"] == "snapshot", msg
    return msg


# ---- handshake / auth -----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong-token-123456"])
async def test_missing_or_wrong_token_is_refused_at_the_handshake(h: Harness, token: str | None):
    with pytest.raises(InvalidStatus) as info:
        async with connect(h.url(token)):
            pass
    assert info.value.response.status_code == 401
    assert b"token" in info.value.response.body


async def test_foreign_origin_is_refused_same_origin_accepted(h: Harness):
    with pytest.raises(InvalidStatus) as info:
        async with connect(h.url(SUP), origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    own = f"http://127.0.0.1:{h.server.port}"
    async with connect(h.url(SUP), origin=own) as ws:  # type: ignore[arg-type]
        assert (await snapshot_of(ws))["role"] == "supervisor"


async def test_tokens_never_reach_the_logs(h: Harness, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    async with connect(h.url(SUP)) as ws:
        await snapshot_of(ws)
    with pytest.raises(InvalidStatus):
        async with connect(h.url("wrong-token-123456")):
            pass
    # the server's records (the test's own client logs its side under websockets.client)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("monitor"))
    assert "GET /ws?token=<redacted>" in text  # websockets did log the request line...
    assert SUP not in text and "wrong-token-123456" not in text  # ...with the token redacted


# ---- snapshot then deltas ---------------------------------------------------------------------


async def test_late_client_gets_snapshot_then_deltas(h: Harness):
    events = call_events("c1", "a1")
    await h.publish(events[:6])
    async with connect(h.url(SUP)) as ws:
        snap = await snapshot_of(ws)
        types = [e["type"] for e in snap["events"]]
        assert types[0] == "call_started"
        assert "final" in types and "risk" in types
        await h.publish(events[6:])
        got = await recv_until(ws, lambda m: m["type"] == "card")
        assert [m["type"] for m in got][-2:] == ["alert", "card"]


async def test_snapshot_keeps_only_unfinished_partials(h: Harness):
    await h.publish(call_events("c1", "a1", n_utts=2))
    await h.bus.publish(ev.PartialUtterance("c1", "customer", 2, "I want", 6.0, 6.5))
    async with connect(h.url(SUP)) as ws:
        snap = await snapshot_of(ws)
    partials = [e for e in snap["events"] if e["type"] == "partial"]
    assert [(p["seq"], p["text"]) for p in partials] == [(2, "I want")]


# ---- bad input --------------------------------------------------------------------------------


async def test_malformed_json_and_unknown_type_get_errors_and_keep_the_connection(h: Harness):
    async with connect(h.url(SUP)) as ws:
        await snapshot_of(ws)
        await ws.send("{not json")
        err = await recv_json(ws)
        assert (err["type"], err["code"]) == ("error", "bad_json")
        await ws.send(json.dumps({"v": 1, "type": "launch_rockets", "id": 7}))
        err = await recv_json(ws)
        assert (err["code"], err["id"]) == ("unknown_type", 7)
        await ws.send(json.dumps({"v": 99, "type": "ping"}))
        assert (await recv_json(ws))["code"] == "unsupported_version"
        await ws.send(json.dumps([1, 2]))
        assert (await recv_json(ws))["code"] == "bad_message"
        await ws.send(json.dumps({"v": 1, "type": "ping", "id": "p"}))
        assert await recv_json(ws) == {"v": 1, "type": "pong", "id": "p"}


async def test_oversized_message_closes_with_1009(h: Harness):
    async with connect(h.url(SUP)) as ws:
        await snapshot_of(ws)
        await ws.send("x" * (h.server.config.max_message_bytes + 1))
        with pytest.raises(ConnectionClosed):
            while True:
                await recv_json(ws)
        assert ws.close_code == 1009


async def test_rate_limit_answers_rate_limited_then_closes_1008():
    harness = Harness(max_messages_per_s=5.0, max_rate_violations=10)
    await harness.server.start()
    try:
        async with connect(harness.url(SUP)) as ws:
            await snapshot_of(ws)
            for _ in range(8):
                await ws.send(json.dumps({"v": 1, "type": "ping"}))
            codes = [(await recv_json(ws)).get("code", "pong") for _ in range(8)]
            assert codes.count("rate_limited") >= 2 and codes.count("pong") <= 6, codes
            for _ in range(60):  # keeps hammering: closed with a policy-violation code
                await ws.send(json.dumps({"v": 1, "type": "ping"}))
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_json(ws)
            assert ws.close_code == 1008
    finally:
        await harness.server.stop(timeout=2.0)


# ---- commands -----------------------------------------------------------------------------------


async def test_ack_reaches_every_board_and_the_bus(h: Harness):
    await h.publish(call_events("c1", "a1"))
    async with connect(h.url(SUP)) as b1, connect(h.url(SUP2)) as b2:
        await snapshot_of(b1)
        await snapshot_of(b2)
        ack = {"v": 1, "type": "ack_alert", "alert_id": "c1-al1", "assign_to": "maria", "by": "sv"}
        await b1.send(json.dumps(ack))
        for ws in (b1, b2):
            got = await recv_until(ws, lambda m: m["type"] == "alert_ack")
            assert got[-1]["alert_id"] == "c1-al1" and got[-1]["assigned_to"] == "maria"
    acks = [e for e in h.seen if isinstance(e, ev.AlertAcknowledged)]
    assert acks == [ev.AlertAcknowledged("c1-al1", "c1", "sv", assigned_to="maria")]
    async with connect(h.url(SUP)) as late:  # a board that connects later sees it acknowledged
        snap = await snapshot_of(late)
        assert any(e["type"] == "alert_ack" for e in snap["events"])


async def test_ack_of_unknown_alert_is_not_found(h: Harness):
    async with connect(h.url(SUP)) as ws:
        await snapshot_of(ws)
        await ws.send(json.dumps({"v": 1, "type": "ack_alert", "alert_id": "nope"}))
        assert (await recv_json(ws))["code"] == "not_found"


async def test_agent_sees_only_own_call_and_cannot_touch_another(h: Harness):
    await h.publish(call_events("c1", "a1"))
    await h.publish(call_events("c2", "a2"))
    async with connect(h.url(A1)) as ws:
        snap = await snapshot_of(ws)
        assert snap["role"] == "agent" and snap["agent_id"] == "a1"
        assert {e["call_id"] for e in snap["events"]} == {"c1"}
        # never scores, risk or alerts on the agent's panel
        assert {e["type"] for e in snap["events"]} <= {
            "call_started",
            "final",
            "partial",
            "card",
            "card_feedback",
            "call_ended",
        }
        await h.publish([ev.FinalUtterance("c2", "customer", 9, "secret of c2", 30.0, 31.0)])
        await h.publish([ev.FinalUtterance("c1", "customer", 9, "mine", 30.0, 31.0)])
        got = await recv_until(ws, lambda m: m["type"] == "final")
        assert got[-1]["text"] == "mine" and all(m.get("call_id") == "c1" for m in got)
        # the other agent's card: same answer as a card that does not exist
        fb = {"v": 1, "type": "card_feedback", "card_id": "c2-c1", "action": "used"}
        await ws.send(json.dumps(fb))
        assert (await recv_json(ws))["code"] == "not_found"
        await ws.send(json.dumps({"v": 1, "type": "ack_alert", "alert_id": "c1-al1"}))
        assert (await recv_json(ws))["code"] == "forbidden"
        await ws.send(json.dumps({**fb, "card_id": "c1-c1", "action": "dismissed"}))
        got = await recv_until(ws, lambda m: m["type"] == "card_feedback")
        assert got[-1]["action"] == "dismissed"
    feedback = [e for e in h.seen if isinstance(e, ev.CardFeedback)]
    assert feedback == [ev.CardFeedback("c1-c1", "c1", "dismissed", by="agent:a1")]


async def test_supervisor_queue_filter(h: Harness):
    await h.publish(call_events("c1", "a1", queue="billing"))
    await h.publish(call_events("c2", "a2", queue="tech"))
    async with connect(h.url(SUP, "queue=tech")) as ws:
        snap = await snapshot_of(ws)
        assert {e.get("call_id") for e in snap["events"]} == {"c2"}


async def test_ingest_client_publishes_events_onto_the_bus(h: Harness):
    from monitor import wire

    async with connect(h.url(INGEST)) as ing, connect(h.url(SUP)) as board:
        await snapshot_of(board)
        for e in call_events("c9", "a1", n_utts=1):
            await ing.send(wire.to_json(e))
        await ing.send(json.dumps({"v": 1, "type": "bogus"}))
        assert (await recv_json(ing))["code"] == "unknown_type"
        got = await recv_until(board, lambda m: m["type"] == "card")
        assert got[0]["type"] == "call_started" and got[0]["call_id"] == "c9"
        # well-formed JSON with nonsense inside must not stop the board for everyone
        bad = {"v": 1, "type": "alert_ack", "alert_id": {"x": 1}, "call_id": "c9", "by": "?"}
        await ing.send(json.dumps(bad))
        await ing.send(wire.to_json(ev.CallEnded("c9", 9.0)))
        got = await recv_until(board, lambda m: m["type"] == "call_ended")
        assert got[-1]["call_id"] == "c9"


# ---- backpressure and fan-out -----------------------------------------------------------------


async def test_slow_reader_is_conflated_or_dropped_and_never_slows_the_pipeline():
    harness = Harness(
        outbox_size=64, send_timeout_s=1.0, max_resyncs_per_minute=3, send_buffer_bytes=16_384
    )
    await harness.server.start()
    try:
        slow = await connect(harness.url(SUP), max_queue=1, max_size=None)
        # a stalled browser: its socket stops reading, so the server's writes back up
        slow_sock = slow.transport.get_extra_info("socket")
        slow_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        slow.transport.pause_reading()
        fast = await connect(harness.url(SUP2), max_size=None)
        await snapshot_of(fast)
        events = call_events("c1", "a1", n_utts=2)
        text = "word " * 400  # 2 kB utterances fill the socket buffers sooner
        events += [
            ev.FinalUtterance("c1", "customer", 10 + i, f"{i} {text}", i, i + 1.0)
            for i in range(3000)
        ]
        events.append(ev.CallEnded("c1", 3100.0))

        received: list[dict] = []

        async def read_fast() -> None:
            async for raw in fast:
                m = json.loads(raw)
                received.append(m)
                if m["type"] == "call_ended":
                    return

        reader = asyncio.create_task(read_fast())
        # the pipeline publishes at its own pace: never blocked by the stalled client
        await asyncio.wait_for(harness.publish(events, pause_s=0.0005), 60.0)
        await asyncio.wait_for(reader, 60.0)
        assert len(received) == len(events)  # the fast board got every event, in order
        assert [m["seq"] for m in received if m["type"] == "final"][-1] == 3009
        stats = harness.server.stats()
        assert stats["outbox_high_water"] <= 64, stats
        assert stats["resyncs"] >= 1 or stats["closed_slow"] >= 1, stats
        # the slow client, once it reads again, sees a fresh snapshot or a clear close code
        slow.transport.resume_reading()
        kinds: list[str] = []
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            async with asyncio.timeout(20):
                async for raw in slow:
                    kinds.append(json.loads(raw)["type"])
        stats = harness.server.stats()
        print("slow client:", stats, len(kinds), kinds.count("snapshot"), slow.close_code)
        if stats["closed_slow"]:  # dropped: 1013 if the close frame got through, else a reset
            assert slow.state.name == "CLOSED" and slow.close_code in (1013, 1006, None)
        else:  # conflated: its backlog was replaced by a fresh snapshot
            assert kinds.count("snapshot") >= 2
        await slow.close()
        await fast.close()
    finally:
        await harness.server.stop(timeout=2.0)


async def test_a_client_that_falls_behind_gets_a_fresh_snapshot_not_the_backlog():
    harness = Harness(
        outbox_size=16, send_timeout_s=60.0, max_resyncs_per_minute=100, send_buffer_bytes=4096
    )
    await harness.server.start()
    try:
        lagging = await connect(harness.url(SUP), max_queue=1, max_size=None)
        await snapshot_of(lagging)
        sock = lagging.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lagging.transport.pause_reading()  # a browser tab that stops reading for a while
        text = "word " * 400
        events = [ev.CallStarted("c1", "c1", "a1")]
        events += [
            ev.FinalUtterance("c1", "customer", i, f"{i} {text}", i, i + 1.0) for i in range(2000)
        ]
        events.append(ev.CallEnded("c1", 2001.0))
        await asyncio.wait_for(harness.publish(events, pause_s=0.0005), 60.0)
        stats = harness.server.stats()
        assert stats["resyncs"] >= 1 and stats["outbox_high_water"] <= 16, stats
        lagging.transport.resume_reading()
        got = await recv_until(lagging, lambda m: m["type"] == "snapshot", timeout=30)
        snap = got[-1]
        assert snap["reason"] == "resync"
        assert len(got) < len(events)  # it never received the whole backlog
        # the snapshot (plus anything after it) brings it to the current state
        seen = [e["type"] for e in snap["events"]]
        with contextlib.suppress(TimeoutError):
            while "call_ended" not in seen:
                seen.append((await recv_json(lagging, timeout=5))["type"])
        assert "call_ended" in seen
        await lagging.close()
    finally:
        await harness.server.stop(timeout=2.0)


async def test_200_concurrent_boards_receive_every_event(h: Harness):
    n = 200
    clients = await asyncio.gather(*(connect(h.url(SUP), max_size=None) for _ in range(n)))
    try:
        for ws in clients:
            await snapshot_of(ws)
        events = [*call_events("c1", "a1", n_utts=10), ev.CallEnded("c1", 40.0)]

        async def collect(ws: ClientConnection) -> list[str]:
            got = await recv_until(ws, lambda m: m["type"] == "call_ended", timeout=60)
            return [m["type"] for m in got]

        readers = [asyncio.create_task(collect(ws)) for ws in clients]
        # 200 events/s: far above one call's pace; faster bursts get risk/partials conflated
        await h.publish(events, pause_s=0.005)
        results = await asyncio.gather(*readers)
        expected = [type(e) for e in events]
        names = [ev.EVENT_TYPES[t] for t in expected]
        bad = [r for r in results if r != names]
        assert not bad, (len(bad), len(names), len(bad[0]))
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))


# ---- shutdown ---------------------------------------------------------------------------------


async def test_graceful_shutdown_closes_1001_after_flushing():
    harness = Harness()
    await harness.server.start()
    port = harness.server.port
    ws = await connect(harness.url(SUP))
    await snapshot_of(ws)
    await harness.publish(call_events("c1", "a1"))
    await harness.server.stop(timeout=3.0)
    types = []
    with pytest.raises(ConnectionClosed):
        while True:
            types.append((await recv_json(ws))["type"])
    assert types[-1] == "card"  # everything published before stop() was flushed
    assert ws.close_code == 1001
    with pytest.raises(OSError):
        async with connect(f"ws://127.0.0.1:{port}/ws?token={SUP}", open_timeout=2):
            pass


# ---- plain HTTP on the same port ----------------------------------------------------------------


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def test_static_pages_and_http_hook():
    calls: list[str] = []

    def api(method: str, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes] | None:
        calls.append(path)
        if path == "/api/ping":
            return 200, "application/json", json.dumps({"q": query.get("x")}).encode()
        return None

    bus = EventBus()
    server = MonitorServer(bus, ServerConfig(port=0, tokens=TOKENS), http_handlers=[api])
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        status, headers, body = await asyncio.to_thread(_get, base + "/?token=x")
        assert status == 200 and b"<html" in body.lower()
        assert headers["Referrer-Policy"] == "no-referrer"
        status, _, body = await asyncio.to_thread(_get, base + "/api/ping?x=1")
        assert (status, json.loads(body)) == (200, {"q": ["1"]})
        status, _, _ = await asyncio.to_thread(_get, base + "/../pyproject.toml")
        assert status == 404
        status, _, _ = await asyncio.to_thread(_get, base + "/%2e%2e/pyproject.toml")
        assert status == 404
        status, _, body = await asyncio.to_thread(_get, base + "/agent.html")
        assert status == 200
        assert "board" in server.urls() and "agent:a1" in server.urls()
    finally:
        await server.stop(timeout=2.0)
