"""`callmon serve` wires the Twilio ingest: a stream to the printed URL is a call on the board."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.conftest import REPO
from tests.test_ingest_twilio import STOP, media_messages, start_message, two_tones

pytestmark = pytest.mark.slow


def _printed_urls(proc: subprocess.Popen[str], names: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    deadline = time.monotonic() + 300
    assert proc.stderr is not None
    while time.monotonic() < deadline and len(found) < len(names):
        line = proc.stderr.readline()
        if not line:
            break
        for name in names:
            m = re.search(rf"^\s+{re.escape(name)}\s+(\S+)$", line)
            if m:
                found[name] = m.group(1)
    return found


async def _call_through(urls: dict[str, str]) -> list[dict[str, Any]]:
    board_url = urls["board"].replace("http://", "ws://").replace("/?token=", "/ws?token=")
    got: list[dict[str, Any]] = []
    async with connect(board_url) as board:
        await board.recv()  # snapshot
        async with connect(urls["ingest /ingest/twilio"]) as twilio:
            for m in [start_message(), *media_messages(two_tones(1.0)), STOP]:
                await twilio.send(json.dumps(m))
            async with asyncio.timeout(60):
                async for _ in twilio:
                    pass
        async with asyncio.timeout(60):
            while not got or got[-1]["type"] != "call_ended":
                got.append(json.loads(await board.recv()))
    return got


def test_serve_accepts_a_twilio_stream_at_the_printed_url() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "monitor", "serve", "--port", "0", "--no-store"]
    proc = subprocess.Popen(
        [*cmd, "--agent", "agent-x", "--language", "ms"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        urls = _printed_urls(proc, ("board", "ingest /ingest/twilio"))
        assert len(urls) == 2, f"serve did not print both URLs: {urls}"
        got = asyncio.run(_call_through(urls))
        started = next(m for m in got if m["type"] == "call_started")
        # no customParameters: the stream's call gets serve's --agent and --language
        assert started["agent_id"] == "agent-x" and started["language"] == "ms"
        assert got[-1]["reason"] == "completed"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
