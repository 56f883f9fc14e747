"""Twilio Media Streams into the real pipeline, over a real server on a free port.

A real MonitorServer with the ``/ingest/twilio`` route, a real Monitor (speech engine and text
classifier of the session), a sample call rendered by the real TTS, converted to what Twilio
sends (8 kHz µ-law per track, one JSON message per track per 20 ms), played by a real
``websockets`` client as fast as the server reads it; a supervisor board client watches.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from monitor import events as ev
from monitor import wire
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.ingest import TWILIO_PATH, CallDefaults, TwilioConfig, TwilioIngest
from monitor.pipeline import CallMeta
from monitor.server import MonitorServer, ServerConfig
from monitor.sources.file import FileSource
from tests.ingest_e2e import CALL, Outcome, phone_call
from tests.test_ingest_twilio import (
    STOP,
    media_message,
    media_messages,
    mulaw_encode,
    start_message,
    stop_message,
)

pytestmark = pytest.mark.slow

SUP = "sup-token-0123456789"
INGEST = "ingest-token-0123456789"
TOKENS = {SUP: "supervisor", INGEST: "ingest"}


@dataclass
class Rig:
    server: MonitorServer
    ingest: TwilioIngest
    seen: list[Any] = field(default_factory=list)

    def url(self, token: str | None = None, path: str = TWILIO_PATH) -> str:
        return f"ws://127.0.0.1:{self.server.port}{path}" + (f"?token={token}" if token else "")

    def of_type(self, kind: type) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]

    async def ended(self, timeout: float = 120.0) -> ev.CallEnded:
        async with asyncio.timeout(timeout):
            while not (done := self.of_type(ev.CallEnded)):
                await asyncio.sleep(0.05)
        return done[0]  # type: ignore[no-any-return]


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(make_monitor: Any) -> AsyncIterator[RigFactory]:
    """A real server with the Twilio route on a free port, over a real Monitor."""
    made: list[Rig] = []

    async def make(bound_handle: bool = False, **config: Any) -> Rig:
        bus = EventBus()
        monitor = await make_monitor(MonitorConfig(), bus)
        cfg = ServerConfig(port=0, tokens=TOKENS, max_message_bytes=16_384)
        ingest = TwilioIngest(
            monitor,
            cfg.role_of,
            defaults=CallDefaults(agent_id="agent-default"),
            config=TwilioConfig(**{"max_calls": 1, "start_timeout_s": 1.0, **config}),
        )
        # the ingest object or its bound handle: either way its handshake check runs
        route = ingest.handle if bound_handle else ingest
        server = MonitorServer(bus, cfg, ws_routes={TWILIO_PATH: route})
        r = Rig(server, ingest)
        bus.add_sink(r.seen.append)  # stands in for the store: every event, in order
        await server.start()
        made.append(r)
        return r

    yield make
    for r in made:
        await r.ingest.aclose(timeout=5.0)
        await r.server.stop(timeout=2.0)


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    return await make_rig()


def twilio_call(wav: Any, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a stereo 16 kHz recording as 8 kHz stereo, as the phone has it."""
    data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    assert rate == 16000 and data.shape[1] == 2
    return np.clip(resample_poly(data[: int(seconds * rate)], 1, 2, axis=0), -1, 1)


async def play(ws: ClientConnection, messages: Iterable[dict[str, Any]]) -> None:
    for m in messages:
        await ws.send(json.dumps(m))  # waits when the server stops reading (backpressure)


async def board_until(
    board: ClientConnection, done: Callable[[dict[str, Any]], bool], timeout: float = 180.0
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            m = json.loads(await board.recv())
            got.append(m)
            if done(m):
                return got


async def close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 3}


# ---- the whole path -------------------------------------------------------------------------


async def test_a_twilio_call_reaches_the_board_with_its_transcript(rig: Rig, sample_calls: Any):
    call = sample_calls["calm_billing"]
    seconds = 15.0
    audio = twilio_call(call.wav_path, seconds)
    script = " ".join(t.text for t in call.turns if t.end <= seconds)
    async with connect(f"ws://127.0.0.1:{rig.server.port}/ws?token={SUP}") as board:
        snap = json.loads(await board.recv())
        assert snap["type"] == "snapshot"
        # token in customParameters only: the URL Twilio dials has no query string
        async with connect(rig.url()) as twilio:
            await twilio.send(json.dumps({"event": "connected", "protocol": "Call"}))
            start = start_message(agent_id="agent-ana", queue="billing", token=INGEST)
            media = list(media_messages(audio, first_seq=2))  # numbered as Twilio does
            await play(twilio, [start, *media, stop_message(2 + len(media))])
            assert await close_code(twilio, 180.0) == 1000
        got = await board_until(board, lambda m: m["type"] == "call_ended")
    started = next(m for m in got if m["type"] == "call_started")
    assert started["agent_id"] == "agent-ana" and started["queue"] == "billing"
    assert started["source"] == "twilio:CA0001" and started["channels"] == 2
    call_id = started["call_id"]
    finals = [m for m in got if m["type"] == "final" and m["call_id"] == call_id]
    assert {f["speaker"] for f in finals} == {"customer", "agent"}
    heard = words(" ".join(f["text"] for f in finals))
    expected = words(script)
    assert len(heard & expected) >= len(expected) / 2, (heard, expected)
    ended = got[-1]
    assert ended["call_id"] == call_id and ended["reason"] == "completed"
    assert ended["at"] == pytest.approx(seconds, abs=0.2)
    assert INGEST not in json.dumps(got)  # the token never reaches a board


async def test_a_twilio_call_gives_the_same_utterances_and_alerts_as_its_file_replay(
    rig: Rig, sample_calls: Any, make_monitor: Any, tmp_path: Path
):
    """#13's end-to-end check: a client written from Twilio's docs streams a recorded stereo
    call; the board gets what a replay of the same phone audio (8 kHz µ-law, decoded by
    libsndfile's reference codec into a WAV) gives, utterance for utterance, alert for alert."""
    pcm = phone_call(sample_calls[CALL].wav_path)  # int16 stereo at 8 kHz
    stereo = pcm.astype(np.float32) / 32768.0
    phone = np.stack([reference_decode(stereo[:, 0]), reference_decode(stereo[:, 1])], 1)
    wav = tmp_path / "call-mulaw-8k.wav"
    sf.write(str(wav), phone, 8000, subtype="PCM_16")  # µ-law values are exact in 16 bits
    expected = await file_replay(make_monitor, wav)
    async with connect(rig.url()) as twilio:
        await twilio.send(json.dumps({"event": "connected", "protocol": "Call"}))
        media = list(media_messages(stereo, first_seq=2))
        start = start_message(agent_id="agent-ana", token=INGEST)
        await play(twilio, [start, *media, stop_message(2 + len(media))])
        assert await close_code(twilio, 300.0) == 1000
    ended = await rig.ended(300.0)
    assert ended.reason == "completed" and ended.at == pytest.approx(len(pcm) / 8000, abs=0.2)
    got = Outcome.of(rig.seen, ended.call_id)
    assert got.finals == expected.finals
    assert got.alerts == expected.alerts and got.alerts  # the outburst raises an alert
    # what a real pipeline publishes passes the wire schema an ingest client is held to
    for event in rig.seen:
        assert type(wire.from_dict(json.loads(wire.to_json(event)))) is type(event)


def reference_decode(samples: np.ndarray) -> np.ndarray:
    """float audio -> G.711 µ-law -> float, both ways by libsndfile (not callmon's table)."""
    raw = io.BytesIO(mulaw_encode(samples))
    data, _ = sf.read(
        raw, dtype="float32", format="RAW", subtype="ULAW", samplerate=8000, channels=1
    )
    return data  # type: ignore[no-any-return]


async def file_replay(make_monitor: Any, wav: Path) -> Outcome:
    seen: list[Any] = []
    bus = EventBus()
    bus.add_sink(seen.append)
    monitor = await make_monitor(MonitorConfig(), bus)
    summary = await monitor.run_call(FileSource(wav), CallMeta(name="reference"))
    return Outcome.of(seen, summary.call_id)


async def test_query_token_also_works_and_a_silent_stream_still_ends_cleanly(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message(), media_message("inbound", 0, b"\xff" * 160), STOP])
        assert await close_code(twilio) == 1000
    ended = await rig.ended()
    started = rig.of_type(ev.CallStarted)[0]
    assert started.agent_id == "agent-default" and ended.reason == "completed"


# ---- refusals: nothing starts ---------------------------------------------------------------


async def test_a_wrong_token_in_custom_parameters_closes_1008_and_starts_no_call(rig: Rig):
    async with connect(rig.url()) as twilio:
        await play(twilio, [start_message(token="wrong-token-123456")])
        await twilio.send(json.dumps(media_message("inbound", 0, b"\xff" * 160)))
        assert await close_code(twilio) == 1008
        assert "ingest token" in (twilio.close_reason or "")
    assert not rig.of_type(ev.CallStarted) and rig.ingest.refused == 1


@pytest.mark.parametrize("token", [None, SUP])
async def test_a_missing_or_non_ingest_token_closes_1008(rig: Rig, token: str | None):
    async with connect(rig.url(token)) as twilio:
        await play(twilio, [start_message()])
        assert await close_code(twilio) == 1008
    assert not rig.of_type(ev.CallStarted)


async def test_a_wrong_query_token_is_refused_at_the_handshake(rig: Rig):
    with pytest.raises(InvalidStatus) as info:
        async with connect(rig.url("wrong-token-123456")):
            pass
    assert info.value.response.status_code == 401


async def test_no_start_within_the_timeout_closes_1008(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await twilio.send(json.dumps({"event": "connected"}))
        assert await close_code(twilio) == 1008
        assert "no valid 'start'" in (twilio.close_reason or "")


async def test_media_before_start_closes_1007(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await twilio.send(json.dumps(media_message("inbound", 0, b"\xff" * 160)))
        assert await close_code(twilio) == 1007
        assert "before 'start'" in (twilio.close_reason or "")


# ---- limits ---------------------------------------------------------------------------------


async def test_calls_over_max_calls_are_refused_1013(rig: Rig):
    async with connect(rig.url(INGEST)) as first, connect(rig.url(INGEST)) as second:
        await play(first, [start_message()])
        second_start = start_message()
        second_start["start"]["streamSid"] = "MZ0002"
        await play(second, [second_start])
        assert await close_code(second) == 1013
        await play(first, [STOP])
        assert await close_code(first) == 1000
    # the call's events reach the bus after its socket closes (persist before broadcast):
    # wait for its end before counting what started
    assert (await rig.ended()).reason == "completed"
    assert len(rig.of_type(ev.CallStarted)) == 1


async def test_a_message_over_max_message_bytes_closes_1009(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await twilio.send(json.dumps({"event": "connected", "pad": "x" * 20_000}))
        assert await close_code(twilio) == 1009


async def test_an_oversize_payload_mid_call_ends_the_call_as_error(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message(), media_message("inbound", 0, b"\xff" * 9000)])
        assert await close_code(twilio) == 1007
    ended = await rig.ended()
    assert ended.reason == "error" and "over the limit" in ended.error


async def test_a_disconnect_without_stop_ends_the_call_interrupted(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message(), media_message("outbound", 0, b"\xff" * 160)])
    ended = await rig.ended()
    assert ended.reason == "interrupted" and "without a 'stop'" in ended.error
    assert "close code 1000" in ended.error  # the client closed politely, just without 'stop'


async def test_shutdown_mid_call_ends_it_and_hangs_up(rig: Rig):
    async with connect(rig.url(INGEST)) as twilio:
        await play(twilio, [start_message(), media_message("inbound", 0, b"\xff" * 160)])
        async with asyncio.timeout(10):
            while not rig.of_type(ev.CallStarted):
                await asyncio.sleep(0.02)
        await rig.ingest.aclose(timeout=10.0)
        assert await close_code(twilio) == 1001
    ended = await rig.ended()
    assert ended.reason == "interrupted" and "stopped" in ended.error
    assert rig.ingest.stats()["live_calls"] == 0


# ---- the server's route hook itself ---------------------------------------------------------


async def test_ws_routes_get_the_handshake_role_and_a_failing_route_closes_1011():
    roles: list[Any] = []

    async def echo(ws: Any, role: Any) -> None:
        roles.append(role)
        await ws.send(await ws.recv())

    async def broken(ws: Any, role: Any) -> None:
        raise RuntimeError("a bug in a route")

    server = MonitorServer(
        EventBus(),
        ServerConfig(port=0, tokens=TOKENS),
        ws_routes={"/x/echo": echo, "/x/broken": broken},
    )
    await server.start()
    base = f"ws://127.0.0.1:{server.port}"
    try:
        async with connect(f"{base}/x/echo") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
        async with connect(f"{base}/x/echo?token={INGEST}") as ws:
            await ws.send("hi")
            await ws.recv()
        assert roles[0] is None and roles[1].kind == "ingest"
        async with connect(f"{base}/x/broken") as ws:
            assert await close_code(ws) == 1011
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"{base}/x/nowhere"):
                pass
        assert info.value.response.status_code == 404
        assert b"/x/echo" in info.value.response.body
        assert "ingest /x/echo" in server.urls()
    finally:
        await server.stop(timeout=2.0)
    with pytest.raises(ValueError, match="differ from /ws"):
        MonitorServer(EventBus(), ServerConfig(port=0), ws_routes={"/ws": echo})
