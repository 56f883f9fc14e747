"""The plain PCM websocket: the start message's schema, frames, and the real server end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from monitor import events as ev
from monitor.bus import EventBus
from monitor.config import MonitorConfig
from monitor.ingest.pcm import PcmProtocolError, PcmStream, parse_start
from monitor.ingest.pcm_ws import PCM_PATH, PcmConfig, PcmIngest
from monitor.server import MonitorServer, ServerConfig
from tests.ingest_e2e import CALL, Outcome, Seen, phone_call, reference, write_wav

INGEST = "ingest-token-0123456789"
SUP = "sup-token-0123456789"
START = {"type": "start", "sample_rate": 8000, "channels": ["customer", "agent"]}


# ---- the start message ------------------------------------------------------------------------


def test_a_full_start_message_becomes_the_call_meta():
    start = parse_start(
        START | {"agent_id": "agent-7", "queue": "billing", "language": "ro", "name": "c-1"}
    )
    assert start.sample_rate == 8000 and start.channel_count == 2
    assert (start.meta.agent_id, start.meta.queue, start.meta.language, start.meta.name) == (
        "agent-7", "billing", "ro", "c-1",
    )  # fmt: skip
    assert parse_start({**START, "channels": ["agent"]}).meta.mono_speaker == "agent"


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ([], "JSON object"),
        ({**START, "colour": "blue"}, "unknown key 'colour'"),
        ({"type": "start", "channels": ["customer"]}, "needs 'sample_rate'"),
        ({**START, "sample_rate": "8000"}, "sample_rate must be"),
        ({**START, "sample_rate": 7000}, "7000 is not one of"),
        ({**START, "sample_rate": True}, "sample_rate must be"),
        ({**START, "channels": ["customer", "customer"]}, "channels"),
        ({**START, "channels": "stereo"}, "channels must be"),
        ({**START, "encoding": "f32le"}, 'only "s16le"'),
        ({**START, "language": "fr"}, "'fr' is not one of"),
        ({**START, "type": "begin"}, '"type": "start"'),
        ({**START, "agent_id": "x" * 101}, "longer than 100"),
    ],
)
def test_bad_start_messages_name_the_problem(message: Any, match: str):
    with pytest.raises(PcmProtocolError, match=match):
        parse_start(message)


def test_frames_become_customer_first_blocks_and_bad_frames_are_refused():
    start = parse_start({**START, "channels": ["agent", "customer"]})
    stream = PcmStream(start, max_frame_bytes=4000)
    pcm = np.stack([np.arange(1000, dtype=np.int16), -np.arange(1000, dtype=np.int16)], 1)
    blocks = stream.feed(pcm.astype("<i2").tobytes()) + stream.flush()
    got = np.concatenate(blocks)
    np.testing.assert_array_equal(got[:, 0], pcm[:, 1] / 32768)  # customer was column 1
    assert [len(b) for b in blocks] == [800, 200]
    with pytest.raises(PcmProtocolError, match="whole number"):
        stream.feed(b"\x00" * 6)
    with pytest.raises(PcmProtocolError, match="over the limit"):
        stream.feed(b"\x00" * 4004)


def test_tiny_frames_are_refused_over_the_frames_per_audio_second_budget():
    stream = PcmStream(parse_start(START), max_frames_per_audio_s=100)
    with pytest.raises(PcmProtocolError, match="max_frames_per_audio_s"):
        for _ in range(5000):
            stream.feed(b"\x00\x00\x00\x00")
    assert stream.frames < 100


# ---- the real server ----------------------------------------------------------------------------


@dataclass
class Rig:
    server: MonitorServer
    ingest: PcmIngest
    seen: Seen

    def url(self, token: str | None = INGEST) -> str:
        return f"ws://127.0.0.1:{self.server.port}{PCM_PATH}" + (f"?token={token}" if token else "")


@pytest.fixture
async def rig(make_monitor: Any) -> AsyncIterator[Rig]:
    bus = EventBus()
    seen = Seen()
    bus.add_sink(seen.events.append)
    monitor = await make_monitor(MonitorConfig(), bus)
    ingest = PcmIngest(monitor, PcmConfig(idle_timeout_s=2.0, start_timeout_s=2.0, max_calls=2))
    cfg = ServerConfig(port=0, tokens={INGEST: "ingest", SUP: "supervisor"})
    server = MonitorServer(bus, cfg, ws_routes={PCM_PATH: ingest.handle})
    await server.start()
    yield Rig(server, ingest, seen)
    await ingest.aclose(timeout=5.0)
    await server.stop(timeout=2.0)


async def send_pcm(ws: ClientConnection, pcm: np.ndarray, frame: int = 800) -> None:
    for i in range(0, len(pcm), frame):
        await ws.send(pcm[i : i + frame].astype("<i2").tobytes())


async def close_code(ws: ClientConnection, timeout: float = 30.0) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    return ws.close_code


@pytest.mark.slow
async def test_a_pcm_call_gives_the_same_utterances_and_alerts_as_its_file_replay(
    rig: Rig, sample_calls: Any, make_monitor: Any, tmp_path: Path
):
    pcm = phone_call(sample_calls[CALL].wav_path)
    expected = await reference(make_monitor, write_wav(tmp_path / "call8k.wav", pcm), pcm)
    async with connect(rig.url()) as ws:
        await ws.send(json.dumps(START | {"agent_id": "agent-ana", "name": "home-grown 1"}))
        await send_pcm(ws, pcm)
        await ws.send(json.dumps({"type": "stop"}))
        assert await close_code(ws, 180) == 1000
    ended = await rig.seen.ended()
    assert ended.reason == "completed"
    started = rig.seen.of_type(ev.CallStarted)[0]
    assert started.agent_id == "agent-ana" and started.source == "pcm:home-grown 1"
    got = Outcome.of(rig.seen.events, started.call_id)
    assert got.finals == expected.finals and got.alerts == expected.alerts and got.alerts


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, SUP])
async def test_without_an_ingest_token_nothing_is_read(rig: Rig, token: str | None):
    async with connect(rig.url(token)) as ws:
        assert await close_code(ws) == 1008
    assert not rig.seen.of_type(ev.CallStarted)


@pytest.mark.slow
async def test_an_unknown_token_is_refused_at_the_handshake(rig: Rig):
    with pytest.raises(InvalidStatus) as info:
        async with connect(rig.url("not-a-known-token-123")):
            pass
    assert info.value.response.status_code == 401


@pytest.mark.slow
@pytest.mark.parametrize(
    "first",
    [
        b"\x00\x00",
        "not json",
        json.dumps({**START, "sample_rate": 7000}),
        "[" * 7000 + "]" * 7000,  # nesting that would exhaust a recursive parser
    ],
)
async def test_a_bad_start_closes_1007_and_starts_nothing(rig: Rig, first: Any):
    async with connect(rig.url()) as ws:
        await ws.send(first)
        assert await close_code(ws) == 1007
    assert not rig.seen.of_type(ev.CallStarted)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (b"\x00" * 803, "whole number"),
        (b"\x00" * 16_004, "over the limit"),
        ("tiny", "max_frames_per_audio_s"),
        (json.dumps({"type": "pause"}), "stop"),
    ],
)
async def test_bad_frames_end_the_call_as_error_keeping_what_arrived(
    rig: Rig, bad: Any, match: str
):
    async with connect(rig.url()) as ws:
        await ws.send(json.dumps(START))
        await send_pcm(ws, np.full((4000, 2), 1000, np.int16))
        if bad == "tiny":
            for _ in range(2000):
                await ws.send(b"\x00\x01\x00\x01")
        else:
            await ws.send(bad)
        assert await close_code(ws) == 1007
        assert match in (ws.close_reason or "")
    ended = await rig.seen.ended()
    assert ended.reason == "error" and match in ended.error and ended.at >= 0.5


@pytest.mark.slow
async def test_a_silent_stream_times_out_interrupted_and_a_dropped_one_too(rig: Rig):
    async with connect(rig.url()) as ws:
        await ws.send(json.dumps(START))
        await send_pcm(ws, np.full((8000, 2), 1000, np.int16))
        assert await close_code(ws) == 1008
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and "idle_timeout_s" in ended.error
    assert ended.at == pytest.approx(1.0, abs=0.05)
    rig.seen.events.clear()
    async with connect(rig.url()) as ws:
        await ws.send(json.dumps(START))
        await send_pcm(ws, np.full((12_000, 2), 1000, np.int16))
        await ws.ping()
        ws.transport.abort()
    ended = await rig.seen.ended()
    assert ended.reason == "interrupted" and "dropped" in ended.error
    assert ended.at == pytest.approx(1.5, abs=0.05)


@pytest.mark.slow
async def test_calls_over_max_calls_are_refused_1013(rig: Rig):
    async with connect(rig.url()) as a, connect(rig.url()) as b, connect(rig.url()) as c:
        for ws in (a, b):
            await ws.send(json.dumps(START))
            await ws.ping()
        async with asyncio.timeout(10):
            while len(rig.seen.of_type(ev.CallStarted)) < 2:
                await asyncio.sleep(0.02)
        await c.send(json.dumps(START))
        assert await close_code(c) == 1013
        for ws in (a, b):
            await ws.send(json.dumps({"type": "stop"}))
            assert await close_code(ws) == 1000
    assert rig.ingest.stats()["refused"] == 1


# ---- wiring: the runtime registers the ingests its config file turns on ----------------------


@pytest.mark.slow
async def test_the_runtime_registers_the_ingests_from_the_config_file(
    tmp_path: Path, asr_engine: Any, text_classifier: Any
):
    import base64

    from monitor.ingest import CallDefaults
    from monitor.ingest.register import audiohook_ingest, audiosocket_ingest, pcm_ingest
    from monitor.ingest.settings import IngestConfigError, from_section, ingest_section, read_toml
    from monitor.pipeline import Monitor
    from monitor.runtime import Runtime, RuntimeConfig

    path = tmp_path / "callmon.toml"
    secret = base64.b64encode(b"s" * 32).decode()
    path.write_text(
        '[store]\npath = ""\n'
        f'[ingest.audiohook]\napi_key = "k-0123456789"\nclient_secret = "{secret}"\n'
        "max_calls = 3\n"
        '[ingest.audiosocket]\nenabled = true\nport = 0\nqueue = "asterisk"\n'
    )

    async def factory(cfg: MonitorConfig, bus: Any) -> Any:
        return await Monitor.create(cfg, bus, engine=asr_engine, classifier=text_classifier)

    config = RuntimeConfig(
        monitor=MonitorConfig.load(path),
        server=ServerConfig(port=0, tokens={INGEST: "ingest"}),
        call_defaults=CallDefaults(agent_id="agent-cli", language="ro"),
    )
    rt = Runtime(
        config,
        extensions=(audiohook_ingest, pcm_ingest, audiosocket_ingest),
        monitor_factory=factory,
    )
    try:
        await rt.start()
        paths = {getattr(i, "path", "") for i in rt.ingests}
        assert paths == {"/ingest/audiohook", "/ingest/pcm"}
        hook = next(i for i in rt.ingests if i.path == "/ingest/audiohook")
        assert hook.config.max_calls == 3 and hook.config.agent_id == "agent-cli"  # type: ignore[attr-defined]
        (sock,) = rt.services
        assert sock.config.queue == "asterisk" and sock.config.language == "ro"  # type: ignore[attr-defined]
        _, writer = await asyncio.open_connection("127.0.0.1", sock.port)  # type: ignore[attr-defined]
        writer.close()
    finally:
        await rt.shutdown()
    path.write_text("[ingest.pcm]\nmax_call = 3\n")
    MonitorConfig.load(path)  # the process config accepts [ingest.*]; each ingest checks its own
    with pytest.raises(IngestConfigError, match="unknown key 'max_call'"):
        from_section(PcmConfig, ingest_section(read_toml(path), "pcm"), "pcm")
