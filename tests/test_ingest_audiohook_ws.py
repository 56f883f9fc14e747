"""Genesys AudioHook into the real pipeline, over a real server on a free port.

The client here is written from the AudioHook protocol documentation: it signs the upgrade
request per RFC 9421 itself (the signature base built by hand, HMAC-SHA256 from hashlib, not
the server's library), then speaks version 2: open, binary L16 frames, ping, paused/resumed,
close, tracking seq, serverseq and position as the protocol asks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from monitor import events as ev
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.ingest.audiohook import format_duration
from monitor.ingest.audiohook_ws import AUDIOHOOK_PATH, AudioHookConfig, AudioHookIngest
from monitor.server import MonitorServer, ServerConfig
from tests.ingest_e2e import CALL, Outcome, Seen, phone_call, reference, wait_for, words, write_wav

pytestmark = pytest.mark.slow

API_KEY = "callmon-test-api-key-0001"
SECRET = b"a shared client secret of 32 by."
ORG = "d7934305-0972-4844-938e-9060eef73d05"
CONV = "090eaa2f-72fa-480a-83e0-8667ff89c0ec"
SUP = "sup-token-0123456789"
RATE = 8000
COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


def signed_headers(
    port: int,
    session_id: str,
    *,
    api_key: str = API_KEY,
    secret: bytes = SECRET,
    nonce: str | None = None,
    created: int | None = None,
    org: str = ORG,
) -> dict[str, str]:
    """The upgrade headers AudioHook sends, signed per RFC 9421 section 2.5 by hand."""
    headers = {
        "Audiohook-Organization-Id": org,
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
        "Audiohook-Session-Id": session_id,
        "X-API-KEY": api_key,
    }
    created = int(time.time()) if created is None else created
    nonce = nonce or secrets.token_urlsafe(24)
    values = {
        "@request-target": AUDIOHOOK_PATH,
        "@authority": f"127.0.0.1:{port}",
        **{k.lower(): v for k, v in headers.items()},
    }
    inner = " ".join(f'"{c}"' for c in COMPONENTS)
    params = (
        f'({inner});created={created};expires={created + 60};keyid="{api_key}"'
        f';nonce="{nonce}";alg="hmac-sha256"'
    )
    base = "".join(f'"{c}": {values[c]}\n' for c in COMPONENTS) + f'"@signature-params": {params}'
    mac = hmac.new(secret, base.encode(), hashlib.sha256).digest()
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = f"sig1=:{base64.b64encode(mac).decode()}:"
    return headers


class HookClient:
    """The AudioHook client side of one session."""

    def __init__(self, ws: ClientConnection, session_id: str) -> None:
        self.ws = ws
        self.id = session_id
        self.seq = itertools.count(1)
        self.serverseq = 0
        self.samples = 0

    async def send(self, type_: str, **params: Any) -> None:
        await self.ws.send(
            json.dumps(
                {
                    "version": "2",
                    "id": self.id,
                    "type": type_,
                    "seq": next(self.seq),
                    "serverseq": self.serverseq,
                    "position": format_duration(self.samples / RATE),
                    "parameters": params,
                }
            )
        )

    async def recv(self, timeout: float = 30.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            message = json.loads(await self.ws.recv())
        self.serverseq = message["seq"]
        return message  # type: ignore[no-any-return]

    async def open(self, fmt: str = "L16") -> dict[str, Any]:
        await self.send_open(fmt)
        return await self.recv()

    async def send_open(self, fmt: str = "L16") -> None:
        await self.send(
            "open",
            organizationId=ORG,
            conversationId=CONV,
            participant={"id": "p-1", "ani": "tel:+13175550123", "aniName": "", "dnis": ""},
            media=[
                {"type": "audio", "format": fmt, "channels": ["external", "internal"], "rate": RATE}
            ],
            language="en-US",
            customConfig={"agent_id": "agent-ana", "queue": "billing"},
        )

    async def audio(self, pcm: np.ndarray, frame_ms: int = 100) -> None:
        n = RATE * frame_ms // 1000
        for i in range(0, len(pcm), n):
            block = pcm[i : i + n]
            await self.ws.send(block.astype("<i2").tobytes())
            self.samples += len(block)

    async def close(self) -> dict[str, Any]:
        await self.send("close", reason="end")
        return await self.recv(120.0)


@dataclass
class Rig:
    server: MonitorServer
    ingest: AudioHookIngest
    seen: Seen
    monitor: Any

    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}{AUDIOHOOK_PATH}"

    def connect(self, **kw: Any) -> Any:
        session_id = kw.pop("session_id", str(uuid.uuid4()))
        headers = kw.pop("headers", None) or signed_headers(self.server.port, session_id, **kw)
        return connect(self.url(), additional_headers=headers), session_id


def hook_config(**kw: Any) -> AudioHookConfig:
    base: dict[str, Any] = {
        "api_key": API_KEY,
        "client_secret": base64.b64encode(SECRET).decode(),
        "open_timeout_s": 2.0,
        "idle_timeout_s": 2.0,
        "close_timeout_s": 1.0,
    }
    return AudioHookConfig(**(base | kw))


@pytest.fixture
async def rig(make_monitor: Any, tmp_path: Path) -> AsyncIterator[Rig]:
    bus = EventBus()
    seen = Seen()
    bus.add_sink(seen.events.append)
    monitor = await make_monitor(MonitorConfig(store_path=tmp_path / "calls.db"), bus)
    ingest = AudioHookIngest(monitor, hook_config())
    server = MonitorServer(
        bus,
        ServerConfig(port=0, tokens={SUP: "supervisor"}),
        ws_routes={AUDIOHOOK_PATH: ingest.handle},
    )
    await server.start()
    yield Rig(server, ingest, seen, monitor)
    await ingest.aclose(timeout=5.0)
    await server.stop(timeout=2.0)


async def disconnect_of(client: HookClient) -> dict[str, Any]:
    """The server's disconnect; the client answers close and gets closed, as the spec says."""
    message = await client.recv()
    assert message["type"] == "disconnect", message
    await client.send("close", reason="disconnect")
    closed = await client.recv()
    assert closed["type"] == "closed"
    return message


# ---- the whole path ---------------------------------------------------------------------------


async def test_a_genesys_call_gives_the_same_utterances_and_alerts_as_its_file_replay(
    rig: Rig, sample_calls: Any, make_monitor: Any, tmp_path: Path
):
    pcm = phone_call(sample_calls[CALL].wav_path)
    expected = await reference(make_monitor, write_wav(tmp_path / "call8k.wav", pcm), pcm)
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        opened = await client.open("L16")
        assert opened["type"] == "opened" and opened["clientseq"] == 1
        assert opened["parameters"]["media"][0]["format"] == "L16"
        await client.send("ping")
        assert (await client.recv())["type"] == "pong"
        await client.audio(pcm)
        closed = await client.close()
        assert closed["type"] == "closed"
    ended = await rig.seen.ended()
    assert ended.reason == "completed" and ended.at == pytest.approx(len(pcm) / RATE, abs=0.2)
    started = rig.seen.of_type(ev.CallStarted)[0]
    assert started.agent_id == "agent-ana" and started.queue == "billing"
    assert started.source == f"audiohook:{CONV}" and "5550123" not in started.name
    got = Outcome.of(rig.seen.events, started.call_id)
    assert got.finals == expected.finals
    assert got.alerts == expected.alerts and got.alerts  # the outburst raises an alert


async def test_secure_pause_keeps_no_paused_audio_in_the_wav_transcript_or_events(
    rig: Rig, sample_calls: Any
):
    call = sample_calls[CALL]
    pcm = phone_call(call.wav_path, 34.0)
    pause_from, pause_to = 21 * RATE, 28 * RATE  # the customer reads out a reference
    secret_turn = next(t for t in call.turns if 21.0 <= t.start < 28.0)
    async with connect(f"ws://127.0.0.1:{rig.server.port}/ws?token={SUP}") as board:
        opener, sid = rig.connect()
        async with opener as ws:
            client = HookClient(ws, sid)
            await client.open()
            await client.audio(pcm[:pause_from])
            await client.send("paused")
            # a careless client goes on sending during the pause: it must be dropped
            await ws.send(pcm[pause_from:pause_to].astype("<i2").tobytes()[:16_000])
            start = client.samples
            client.samples += pause_to - pause_from
            await client.send(
                "resumed",
                start=format_duration(start / RATE),
                discarded=format_duration((pause_to - pause_from) / RATE),
            )
            await client.audio(pcm[pause_to:])
            assert (await client.close())["type"] == "closed"
        ended = await rig.seen.ended()
        board_text = []
        async with asyncio.timeout(30):
            while True:
                m = json.loads(await board.recv())
                board_text.append(json.dumps(m))
                if m.get("type") == "call_ended":
                    break
    assert ended.reason == "completed" and ended.at == pytest.approx(34.0, abs=0.2)
    wav = rig.monitor.store.audio_path(ended.call_id)
    await wait_for(lambda: wav is not None and Path(wav).exists())
    stored, rate = sf.read(str(wav), dtype="int16", always_2d=True)
    assert rate == RATE and len(stored) == pytest.approx(len(pcm), abs=800)
    assert not stored[pause_from:pause_to].any()  # silence: the gap
    assert stored[:pause_from].any() and stored[pause_to:].any()
    secret = words(secret_turn.text) - words(
        " ".join(t.text for t in call.turns if t is not secret_turn)
    )
    assert secret, secret_turn.text
    said = " ".join(e.text for e in rig.seen.of_type(ev.FinalUtterance))
    said += " ".join(e.text for e in rig.seen.of_type(ev.PartialUtterance))
    assert not (words(said) & secret)
    assert not (words(" ".join(board_text)) & secret)
    finals = rig.seen.of_type(ev.FinalUtterance)
    assert not [f for f in finals if 21.0 < (f.start + f.end) / 2 < 28.0]


# ---- refused cleanly --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"api_key": "someone-elses-api-key-0001"},  # unknown key (signed with it, too)
        {"secret": b"not the shared client secret..."},  # bad signature
        {"created": int(time.time()) - 3600},  # an old signature
        {"org": "11111111-2222-3333-4444-555555555555"},  # open.organizationId differs
    ],
)
async def test_unauthenticated_connections_get_disconnect_unauthorized(rig: Rig, bad: Any):
    opener, sid = rig.connect(**bad)
    async with opener as ws:
        client = HookClient(ws, sid)
        if "org" in bad:  # the signature is fine; the open message names another org
            await client.send_open()
        message = await disconnect_of(client)
        assert message["parameters"]["reason"] == "unauthorized"
        with pytest.raises(ConnectionClosed):
            await client.recv(5)
        assert ws.close_code == 1008
    assert not rig.seen.of_type(ev.CallStarted)


async def test_no_signature_at_all_is_unauthorized(rig: Rig):
    sid = str(uuid.uuid4())
    headers = {"X-API-KEY": API_KEY, "Audiohook-Session-Id": sid,
               "Audiohook-Organization-Id": ORG}  # fmt: skip
    opener, _ = rig.connect(headers=headers, session_id=sid)
    async with opener as ws:
        message = await disconnect_of(HookClient(ws, sid))
        assert message["parameters"]["reason"] == "unauthorized"
    assert rig.ingest.stats()["unauthorized"] == 1


async def test_a_replayed_nonce_is_unauthorized(rig: Rig):
    sid = str(uuid.uuid4())
    headers = signed_headers(rig.server.port, sid)
    async with connect(rig.url(), additional_headers=headers) as ws:
        client = HookClient(ws, sid)
        assert (await client.open())["type"] == "opened"
        assert (await client.close())["type"] == "closed"
    async with connect(rig.url(), additional_headers=headers) as ws:  # the same request again
        message = await disconnect_of(HookClient(ws, sid))
        assert message["parameters"]["reason"] == "unauthorized"


@pytest.mark.parametrize(
    ("misbehave", "match"),
    [
        ("seq", "seq"),
        ("unknown", "not a supported client message"),
        ("truncated", "whole number"),
        ("oversized", "over the limit"),
        ("tiny", "frames per second of audio"),
    ],
)
async def test_protocol_abuse_ends_the_call_as_error_keeping_what_arrived(
    rig: Rig, misbehave: str, match: str
):
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        await client.open()
        await client.audio(np.full((4000, 2), 1000, np.int16))  # 0.5 s kept
        if misbehave == "seq":
            next(client.seq)
            await client.send("ping")
        elif misbehave == "unknown":
            await client.send("transmogrify")
        elif misbehave == "truncated":
            await ws.send(b"\x00" * 641)
        elif misbehave == "oversized":
            await ws.send(b"\x00" * 16_004)
        else:
            for _ in range(3000):  # one stereo sample a frame
                await ws.send(b"\x00\x01\x00\x01")
        message = await disconnect_of(client)
        assert message["parameters"]["reason"] == "error"
        assert match in message["parameters"]["info"]
    ended = await rig.seen.ended()
    assert ended.reason == "error" and match in ended.error
    assert ended.at >= 0.5


async def test_a_stream_that_stops_sending_times_out_and_keeps_what_arrived(rig: Rig):
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        await client.open()
        await client.audio(np.full((8000, 2), 1000, np.int16))
        message = await disconnect_of(client)  # after idle_timeout_s of nothing
        assert message["parameters"]["info"] == "nothing received for 2 s (idle_timeout_s)"
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and ended.at == pytest.approx(1.0, abs=0.05)


async def test_a_dropped_connection_ends_the_call_interrupted_keeping_what_arrived(rig: Rig):
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        await client.open()
        await client.audio(np.full((12_000, 2), 1000, np.int16))
        await client.send("ping")
        await client.recv()
        ws.transport.abort()  # the network goes away: no close frame
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and "dropped" in ended.error
    assert ended.at == pytest.approx(1.5, abs=0.05)


async def test_no_open_within_the_timeout_is_a_disconnect(rig: Rig):
    opener, sid = rig.connect()
    async with opener as ws:
        message = await disconnect_of(HookClient(ws, sid))
        assert "no 'open'" in message["parameters"]["info"]
    assert not rig.seen.of_type(ev.CallStarted)


async def test_a_probe_is_opened_and_closed_without_a_call(rig: Rig):
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        await client.send(
            "open",
            organizationId=ORG,
            conversationId="00000000-0000-0000-0000-000000000000",
            participant={},
            media=[{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": RATE}],
        )
        assert (await client.recv())["type"] == "opened"
        assert (await client.close())["type"] == "closed"
    assert not rig.seen.of_type(ev.CallStarted)


async def test_sessions_over_max_calls_get_disconnect_error(make_monitor: Any):
    bus = EventBus()
    monitor = await make_monitor(MonitorConfig(), bus)
    ingest = AudioHookIngest(monitor, hook_config(max_calls=1))
    server = MonitorServer(bus, ServerConfig(port=0), ws_routes={AUDIOHOOK_PATH: ingest.handle})
    await server.start()
    url = f"ws://127.0.0.1:{server.port}{AUDIOHOOK_PATH}"
    try:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        async with connect(url, additional_headers=signed_headers(server.port, a)) as w1:
            first = HookClient(w1, a)
            assert (await first.open())["type"] == "opened"
            async with connect(url, additional_headers=signed_headers(server.port, b)) as w2:
                second = HookClient(w2, b)
                await second.send(
                    "open", organizationId=ORG, conversationId=CONV, participant={},
                    media=[{"type": "audio", "format": "PCMU", "channels": ["external"],
                            "rate": RATE}],
                )  # fmt: skip
                message = await disconnect_of(second)
                assert "max_calls" in message["parameters"]["info"]
            assert (await first.close())["type"] == "closed"
    finally:
        await ingest.aclose(timeout=5.0)
        await server.stop(timeout=2.0)


async def test_shutdown_mid_call_says_disconnect_and_keeps_what_arrived(rig: Rig):
    opener, sid = rig.connect()
    async with opener as ws:
        client = HookClient(ws, sid)
        await client.open()
        await client.audio(np.full((8000, 2), 1000, np.int16))
        await client.send("ping")
        await client.recv()
        await rig.ingest.aclose(timeout=10.0)
        message = await client.recv()
        assert message["type"] == "disconnect" and "shutting down" in message["parameters"]["info"]
        with pytest.raises(ConnectionClosed):
            await client.recv(5)
        assert ws.close_code == 1001
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and ended.at == pytest.approx(1.0, abs=0.05)
    assert rig.ingest.stats()["live_calls"] == 0
