"""GET /metrics (monitor/metrics.py): the Prometheus text format, behind a supervisor token,
on a real server after a real call, with a real board client connected."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from monitor.config import MonitorConfig
from monitor.pipeline import CallMeta
from monitor.runtime import Runtime, RuntimeConfig
from monitor.server import ServerConfig
from monitor.sources import FileSource

SUP = "metrics-test-supervisor-token"
AGENT = "metrics-test-agent-token-0123"


@pytest.fixture
def factory(asr_engine: Any, text_classifier: Any) -> Any:
    from monitor.pipeline import Monitor

    async def make(cfg: MonitorConfig, bus: Any) -> Monitor:
        return await Monitor.create(cfg, bus, engine=asr_engine, classifier=text_classifier)

    return make


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_need_a_supervisor_token_and_report_the_pipeline(
    factory: Any, sample_calls: Any, tmp_path: Path
) -> None:
    audio, rate = sf.read(sample_calls["escalates_manager"].wav_path, dtype="float32")
    wav = tmp_path / "call.wav"
    sf.write(wav, audio[: 12 * rate], rate, subtype="PCM_16")
    config = RuntimeConfig(
        monitor=MonitorConfig(store_path=tmp_path / "c.db"),
        server=ServerConfig(port=0, tokens={SUP: "supervisor", AGENT: "agent:agent-ana"}),
    )
    rt = Runtime(config, monitor_factory=factory)
    await rt.start()
    try:
        assert rt.monitor is not None and rt.server is not None
        base = f"http://127.0.0.1:{rt.server.port}/metrics"
        for url in (base, f"{base}?token=wrong-token-0123456789", f"{base}?token={AGENT}"):
            status, _, body = await asyncio.to_thread(_get, url)
            assert status == 401 and "supervisor token" in body and "callmon_" not in body
        async with connect(f"ws://127.0.0.1:{rt.server.port}/ws?token={SUP}") as ws:
            await ws.recv()  # snapshot: the board client is connected
            await rt.monitor.run_call(FileSource(wav), CallMeta("metered", call_id="m-1"))
            status, ctype, body = await asyncio.to_thread(_get, f"{base}?token={SUP}")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        got = _samples(body)
        assert got[("callmon_calls_active", ())] == 0
        assert got[("callmon_websocket_clients", ())] == 1
        finals = got[("callmon_decodes_total", (("kind", "final"),))]
        assert finals >= 1
        assert got[("callmon_decode_seconds_count", (("kind", "final"),))] >= 1
        assert got[("callmon_decode_wait_seconds_count", (("kind", "final"),))] >= 1
        assert got[("callmon_scoring_seconds_count", ())] >= 1
        assert got[("callmon_bus_events_total", ())] > 0
        for stage in ("audio", "text", "decode", "scoring"):
            assert got[("callmon_queue_depth", (("stage", stage),))] == 0
        assert ("callmon_partials_shed_total", ()) in got
        scoring: Any = rt.monitor.scoring  # the ScoringService, with its counters
        early = {
            o: got[("callmon_early_scores_total", (("outcome", o),))] for o in ("scored", "shed")
        }
        assert early == {"scored": scoring.partials_scored, "shed": scoring.partials_shed}
        assert got[("callmon_calls_delayed", ())] == 0
    finally:
        await rt.shutdown()
