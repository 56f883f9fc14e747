"""Hostile input at the live server's doors, against a real server on a free port.

Forged ingest events (issue #11, defect 3), JSON nested past the limit (defect 4), a request
with two Host headers (defect 5), and the close code a call records (defect 7) over /ws.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from monitor import events as ev
from monitor import wire
from monitor.wire_schema import MAX_JSON_DEPTH
from tests.test_server_protocol import INGEST, SUP, Harness, call_events, recv_json, snapshot_of

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    await harness.server.start()
    yield harness
    await harness.server.stop(timeout=2.0)


def risk(**fields: Any) -> str:
    base = wire.to_dict(ev.CallRisk("c7", 2.0, 40.0, "watch", -0.2, ("rising",)))
    return json.dumps({**base, **fields})


FORGERIES = [
    (risk(risk=1e308), "bad_message", "'risk' must be a number from 0 to 100"),
    (risk(level="bogus"), "bad_message", "'level' must be one of calm, watch"),
    (risk(sentiment="NaN"), "bad_message", "'sentiment' must be a number, got a string"),
    (risk().replace('"sentiment": -0.2', '"sentiment": NaN'), "bad_json", "NaN is not a number"),
    (risk(call_id="never-started"), "not_found", "unknown call 'never-started'"),
    (risk(reasons=["x" * 5000]), "bad_message", "'reasons[0]' is 5000 characters long"),
    (wire.to_json(ev.CallEnded("c7", 1.0)).replace('"at":1.0', '"at":-5'), "bad_message", "'at'"),
    (wire.to_json(ev.CallStarted("c7", "again", "a2")), "bad_message", "has already started"),
]


async def test_forged_ingest_events_are_refused_and_reach_no_one(h: Harness):
    async with connect(h.url(INGEST)) as ing, connect(h.url(SUP)) as board:
        await snapshot_of(board)
        await ing.send(wire.to_json(ev.CallStarted("c7", "call c7", "a1")))
        for i, (text, code, words) in enumerate(FORGERIES):
            await ing.send(text[:-1] + f',"id":{i}}}')
            err = await recv_json(ing)
            ref = None if code == "bad_json" else i  # JSON that does not parse has no id
            assert (err["type"], err["code"], err.get("id")) == ("error", code, ref), err
            assert words in err["message"], (words, err["message"])
        # the connection survived every refusal; a valid event still goes through
        good = ev.CallRisk("c7", 2.0, 40.0, "watch", -0.2, ("rising",))
        await ing.send(wire.to_json(good))
        await ing.send(wire.to_json(ev.CallEnded("c7", 3.0)))
        # a call that ended takes no more pipeline events
        await ing.send(wire.to_json(good))
        assert "which has ended" in (await recv_json(ing))["message"]
        got = [(await recv_json(board))["type"] for _ in range(3)]
        assert got == ["call_started", "risk", "call_ended"]
    published = [e for e in h.seen if ev.call_id_of(e) in ("c7", "never-started")]
    assert published == [ev.CallStarted("c7", "call c7", "a1"), good, ev.CallEnded("c7", 3.0)]


async def test_an_ingest_client_may_refer_to_a_call_it_started_at_once(h: Harness):
    """The gate knows a call it let start before the board state has applied it."""
    async with connect(h.url(INGEST)) as ing:
        events = call_events("c8", "a1", n_utts=4)
        for e in events:  # no pause: the pump applies them later
            await ing.send(wire.to_json(e))
        await ing.send(json.dumps({"v": 1, "type": "ping", "id": "end"}))
        err = await recv_json(ing)  # ping is not an event: the first reply is about it
        assert err["id"] == "end" and err["code"] == "unknown_type", err
    assert [e for e in h.seen if ev.call_id_of(e) == "c8"] == events


@pytest.mark.parametrize("token", [SUP, INGEST])
async def test_json_nested_past_the_limit_is_an_error_not_a_close(h: Harness, token: str):
    async with connect(h.url(token)) as ws:
        if token == SUP:
            await snapshot_of(ws)
        for text in ("[" * 8000 + "]" * 8000, '{"v":1,"type":"ping","x":' + "[" * 5000):
            await ws.send(text)
            err = await recv_json(ws)
            assert err["code"] == "bad_json", err
            assert f"nested deeper than {MAX_JSON_DEPTH} levels" in err["message"]
        await ws.send(json.dumps({"v": 1, "type": "ping", "id": 1}))
        reply = await recv_json(ws)
        assert reply["id"] == 1 and ws.close_code is None  # still open


def raw_request(port: int, head: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def upgrade(port: int, *extra: str, path: str = f"/ws?token={SUP}") -> str:
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *extra,
    ]
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize(
    "extra",
    [
        ("Host: evil.example",),
        ("Upgrade: websocket",),
        ("Origin: http://a.example", "Origin: http://b.example"),
        (f"Authorization: Bearer {SUP}", f"Authorization: Bearer {INGEST}"),
    ],
    ids=["host", "upgrade", "origin", "authorization"],
)
async def test_a_repeated_single_value_header_gets_400_not_500(h: Harness, extra: tuple[str]):
    port = h.server.port
    status, body = await asyncio.to_thread(raw_request, port, upgrade(port, *extra))
    name = extra[-1].split(":")[0]
    assert status == 400, body
    assert f"more than one {name} header".encode() in body
    assert b"Traceback" not in body
    # the same request without the repeat is upgraded
    status, _ = await asyncio.to_thread(raw_request, port, upgrade(port))
    assert status == 101


async def test_a_plain_http_request_with_two_host_headers_gets_400(h: Harness):
    port = h.server.port
    head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: other\r\n\r\n"
    status, body = await asyncio.to_thread(raw_request, port, head)
    assert status == 400 and b"more than one Host header" in body


async def test_ingest_alert_and_card_ids_cannot_take_over_another_calls(h: Harness):
    await h.publish(call_events("local", "a1"))  # a call of this server's own pipeline
    async with connect(h.url(INGEST)) as ing:
        await ing.send(wire.to_json(ev.CallStarted("remote", "call remote", "a2")))
        forged = [
            ev.Alert("remote", "local-al1", 1.0, "info", "abuse", "x"),  # another call's id
            ev.PromptCard("remote", "local-c1", 1.0, "en", "k", "t", "b"),
            ev.AlertAcknowledged("local-al1", "remote", "me"),  # not this call's alert
            ev.CardFeedback("nope", "remote", "used"),
        ]
        for i, event in enumerate(forged):
            await ing.send(wire.to_json(event)[:-1] + f',"id":{i}}}')
            err = await recv_json(ing)
            assert err["id"] == i and err["code"] in ("bad_message", "not_found"), err
        # its own alert, acknowledged at once (before the board state has applied it)
        own = [
            ev.Alert("remote", "remote-al1", 1.0, "info", "abuse", "x"),
            ev.AlertAcknowledged("remote-al1", "remote", "me"),
            ev.PromptCard("remote", "remote-c1", 1.0, "en", "k", "t", "b"),
            ev.CardFeedback("remote-c1", "remote", "used"),
        ]
        for event in own:
            await ing.send(wire.to_json(event))
        await ing.send(json.dumps({"v": 1, "type": "ping", "id": "end"}))
        assert (await recv_json(ing))["id"] == "end"  # no error came before it
    assert [e for e in h.seen if ev.call_id_of(e) == "remote"][1:] == own
    assert h.server.state.alert("local-al1").call_id == "local"  # type: ignore[union-attr]
