"""`python -m monitor.server.main` with no config: generated tokens, printed URLs, clean exit."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_serve_without_config_prints_token_urls_and_stops_on_sigint(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.server.main", "--port", "0", "--agents", "a1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "agent:a1" not in urls and time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.match(r"\s+(\S+)\s+(\S+://\S+)", line)
            if m:
                urls[m.group(1)] = m.group(2)
        assert re.search(r"/\?token=[\w-]{20,}$", urls["board"])
        assert "/agent.html?token=" in urls["agent:a1"]
        with urllib.request.urlopen(urls["board"], timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130  # 128 + SIGINT, like every callmon command
        log = proc.stderr.read() if proc.stderr else ""
        token = urls["board"].split("token=")[1]
        assert token not in log  # the URLs go to stdout for the user, never into the log
    finally:
        if proc.poll() is None:
            proc.kill()
