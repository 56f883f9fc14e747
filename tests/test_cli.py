"""The command line as a person runs it: real processes, real models, real sample calls."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def callmon(*args: str, timeout: float = 900, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kw,
    )


@pytest.fixture(scope="module")
def demo_summary(
    sample_calls: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    store = tmp_path_factory.mktemp("demo") / "calls.db"
    proc = callmon("demo", "--once", "--json", "--fast", "--port", "0", "--store", str(store))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "board" in proc.stderr.lower()  # the board's URL was printed for people
    calls = json.loads(proc.stdout)
    return {c["name"]: c for c in calls}


def test_demo_summary_has_every_sample_with_the_documented_fields(
    demo_summary: dict[str, Any], sample_calls: dict[str, Any]
) -> None:
    assert set(demo_summary) == set(sample_calls)
    for c in demo_summary.values():
        assert {"name", "utterances", "alerts", "max_risk", "final_sentiment"} <= set(c)
        assert 0 <= c["max_risk"] <= 100 and c["utterances"] > 0 and c["ended"] == "completed"


def test_demo_escalating_call_outscores_the_calm_one(demo_summary: dict[str, Any]) -> None:
    assert demo_summary["escalates_manager"]["max_risk"] > demo_summary["calm_billing"]["max_risk"]
    assert demo_summary["escalates_manager"]["alerts"] >= 1
    assert demo_summary["abusive_customer"]["alerts"] >= 1
    assert demo_summary["calm_billing"]["alerts"] == 0


def test_replay_prints_a_live_transcript(sample_calls: dict[str, Any]) -> None:
    wav = sample_calls["escalates_manager"].wav_path
    proc = callmon("replay", str(wav), "--no-store")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # time, speaker, text, then the scores of that utterance
    assert re.search(r"^\d\d:\d\d\.\d +customer: .+$", out, re.M)
    assert re.search(r"^\d\d:\d\d\.\d +agent: .+$", out, re.M)
    assert re.search(r"sentiment [+-]\d\.\d\d \((negative|neutral|positive)\)", out)
    assert "manager" in out.lower() and "ALERT" in out


@pytest.mark.slow
def test_replay_every_partial_gives_the_same_alerts_every_time(
    sample_calls: dict[str, Any], tmp_path: Path
) -> None:
    # two calls at once share the decoders and the scorer; with --every-partial no partial is
    # shed for that, so the early alerts do not depend on what the other call was doing
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.symlink_to(sample_calls["escalates_manager"].wav_path)
    b.symlink_to(sample_calls["legal_threat"].wav_path)
    runs = []
    for _ in range(2):
        proc = callmon("replay", str(a), str(b), "--no-store", "--json", "--every-partial")
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(
            {c["name"]: (c["alert_kinds"], c["first_alert_at"]) for c in json.loads(proc.stdout)}
        )
    assert runs[0] == runs[1]
    assert runs[0]["a"][0] and runs[0]["b"][0]  # both escalating calls alerted
    both = callmon("replay", str(a), "--realtime", "--every-partial", "--no-store")
    assert both.returncode == 2 and "cannot keep --realtime pace" in both.stderr


def test_replay_reports_bad_files_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEnot really" * 10)
    five = tmp_path / "five.wav"
    sf.write(five, np.zeros((800, 5), dtype=np.float32), 8000)
    proc = callmon("replay", str(bad), str(five), "--no-store")
    assert proc.returncode == 2
    assert "broken.wav: not a readable audio file" in proc.stderr
    assert "five.wav: 5 channels" in proc.stderr and "--customer-channel" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_serves_the_board_until_interrupted(
    sample_calls: dict[str, Any], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "demo",
            "--port",
            "0",
            "--calls",
            "1",
            "--store",
            str(tmp_path / "c.db"),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        url = None
        deadline = time.monotonic() + 300
        assert proc.stderr is not None
        while time.monotonic() < deadline and url is None:
            line = proc.stderr.readline()
            if not line:
                break
            m = re.search(r"\bboard\s+(http://127\.0\.0\.1:\d+/\S*)", line)
            if m:
                url = m.group(1)
        assert url, "the demo never printed the board's URL"
        with urllib.request.urlopen(url, timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "<html" in page.lower()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_on_a_taken_port_says_so_without_a_traceback() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = callmon("serve", "--port", str(port), "--no-store", timeout=600)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
    assert "Traceback" not in proc.stderr
