"""Real Redis and PostgreSQL servers for the cluster tests and bench, on free ports in
temporary directories, stopped afterwards.

The Debian packages (``redis-server``, ``postgresql``) provide the binaries; when they are
missing, :func:`missing` says which, and the tests skip with that reason. PostgreSQL refuses
to run as root, so under root its data directory belongs to the ``postgres`` user and the
server runs as that user (``runuser``); otherwise it runs as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def missing() -> str:
    """Why the cluster tests cannot run here ('' when they can)."""
    out = []
    if not Path(REDIS).exists():
        out.append("redis-server (apt-get install redis-server)")
    if _pg_bin() is None:
        out.append("PostgreSQL (apt-get install postgresql)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        out.append("runuser (PostgreSQL refuses to run as root)")
    return ", ".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class RedisServer:
    dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # appendonly: a restart keeps the streams, the group and the checkpoints (the
        # "Redis restarted mid-call" case); fsync every second, Redis's default policy
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile",
             str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port, 10, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def used_memory(self) -> int:
        import redis

        r = redis.Redis.from_url(self.url)
        try:
            return int(r.info("memory")["used_memory"])
        finally:
            r.close()


@dataclass
class PostgresServer:
    dir: Path
    port: int = field(default_factory=free_port)
    started: bool = False

    @property
    def dsn(self) -> str:
        return f"postgresql://callmon@127.0.0.1:{self.port}/callmon"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd="/")

    def start(self) -> None:
        bin_dir = _pg_bin()
        assert bin_dir is not None, missing()
        data = self.dir / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(data, "postgres")
        self._run(str(bin_dir / "initdb"), "-D", str(data), "-U", "callmon", "-A", "trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off"
        self._run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                  str(data / "log"), "-w", "start")  # fmt: skip
        self.started = True
        self._run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "callmon", "callmon")  # fmt: skip

    def restart(self) -> None:
        """Stop and start the same cluster (its data kept): a PostgreSQL restart."""
        bin_dir = _pg_bin()
        assert bin_dir is not None
        data = self.dir / "pg"
        # -l: the new server's output goes to the log, not into this process's pipe
        self._run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-l",
                  str(data / "log"), "-w", "restart")  # fmt: skip

    def stop(self) -> None:
        bin_dir = _pg_bin()
        if self.started and bin_dir is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(str(bin_dir / "pg_ctl"), "-D", str(self.dir / "pg"), "-m", "fast",
                          "-w", "stop")  # fmt: skip
            self.started = False


# two synthesised calls (about 10 s and 20 s): short enough for a 2-core machine
SHORT = [
    {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, how can I help?"},
    {"speaker": "customer", "mood": "angry", "text": "I want to speak to your manager right now."},
    {"speaker": "agent", "mood": "calm", "text": "I understand, let me help you first."},
    {"speaker": "customer", "mood": "angry", "text": "This is the third time I am calling."},
]
LONGER = [
    {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, how can I help?"},
    {"speaker": "customer", "mood": "angry", "text": "My internet has been down for three days."},
    {"speaker": "agent", "mood": "calm", "text": "I am sorry, let me check your line."},
    {"speaker": "customer", "mood": "angry", "text": "I want to speak to your manager right now."},
    {"speaker": "agent", "mood": "calm", "text": "I understand, let me help you first."},
    {"speaker": "customer", "mood": "angry", "text": "This is the third time I am calling."},
    {"speaker": "agent", "mood": "calm", "text": "I have booked an engineer for tomorrow."},
    {"speaker": "customer", "mood": "calm", "text": "Fine, thank you."},
]


def render_calls(root: Path) -> dict[str, Path]:
    """``short`` and ``longer`` rendered to stereo WAVs under ``root`` (the real TTS)."""
    from tests.conftest import render_call

    return {
        name: render_call(root, name, turns)
        for name, turns in (("short", SHORT), ("longer", LONGER))
    }


@contextlib.contextmanager
def servers() -> Iterator[tuple[RedisServer, PostgresServer]]:
    """A fresh Redis and a fresh PostgreSQL, stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="callmon-cluster-"))
    os.chmod(root, 0o755)
    (root / "redis").mkdir()
    (root / "postgres").mkdir()
    r = RedisServer(root / "redis")
    p = PostgresServer(root / "postgres")
    try:
        r.start()
        p.start()
        yield r, p
    finally:
        r.stop()
        p.stop()
        shutil.rmtree(root, ignore_errors=True)


class RoleProcess:
    """``python -m monitor.cluster ROLE ...`` in its own process; waits for its ready line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import json
        import sys
        import threading

        self.args = args
        self.lines: list[str] = []
        self.ready: dict[str, object] | None = None
        self._json = json
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cluster", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **(env or {})},
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.ready is None and line.startswith('{"ready"'):
                self.ready = self._json.loads(line)

    def wait_ready(self, timeout: float = 180.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while self.ready is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.args[0]} did not start:\n" + "\n".join(self.lines))
            time.sleep(0.1)
        return self.ready

    def json_lines(self, key: str) -> list[dict[str, object]]:
        out = []
        for line in list(self.lines):
            if line.startswith("{") and f'"{key}"' in line:
                out.append(self._json.loads(line)[key])
        return out

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self, sig: int = 15, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
