"""SIGKILL in the middle of a live call: a real child process writes a call into the store,
the test kills it, reopens the store, and everything persisted before the kill is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import soundfile as sf

from monitor.store.db import CallStore

REPO = Path(__file__).resolve().parent.parent

# The child: a live call that never ends. After each event is persisted it prints the event's
# seq and how much audio it has written, so the parent knows what must survive.
CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from pathlib import Path
    from monitor import events as ev
    from monitor.bus import EventBus
    from monitor.store.db import CallStore
    from monitor.redact.pii import redact_event

    store = CallStore(Path(sys.argv[1]))
    bus = EventBus()
    bus.add_sink(store.sink)
    import asyncio

    async def live() -> None:
        await bus.publish(ev.CallStarted("live-1", "live call", "agent-3", queue="sales"))
        writer = store.open_audio("live-1", 8000, 2)
        rng = np.random.default_rng(0)
        seq = 0
        while True:
            start = seq * 0.5
            writer.write((rng.standard_normal((4000, 2)) * 0.1).astype(np.float32))
            text = f"utterance number {seq} my card is 4572 3456 7890 1231"
            await bus.publish(redact_event(ev.FinalUtterance(
                "live-1", "customer", seq, text, start, start + 0.5)))
            await bus.publish(ev.UtteranceScore(
                "live-1", seq, "customer", start + 0.5, "negative", (0.7, 0.2, 0.1)))
            risk = min(99.0, seq * 3.0)
            await bus.publish(ev.CallRisk("live-1", start + 0.5, risk, "watch", -0.6))
            print(seq, writer.frames_written, flush=True)
            seq += 1
            time.sleep(0.005)

    asyncio.run(live())
    """
)


def test_sigkill_mid_call_loses_nothing_persisted(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db = tmp_path / "calls.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    last_seq, frames = -1, 0
    deadline = time.monotonic() + 60
    try:
        assert child.stdout is not None
        while last_seq < 40:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"the child died on its own: {child.stderr.read()}")  # type: ignore[union-attr]
            last_seq, frames = map(int, line.split())
            assert time.monotonic() < deadline, "the child is too slow"
        os.kill(child.pid, signal.SIGKILL)  # mid-call, while it keeps writing
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    store = CallStore(db)
    try:
        assert store.integrity_check() == "ok"
        assert store.recover() == ["live-1"]
        call = store.get_call("live-1")
        meta = call["call"]
        assert meta["status"] == "interrupted" and meta["agent_id"] == "agent-3"
        seqs = [u["seq"] for u in call["utterances"]]
        assert seqs == list(range(len(seqs))) and len(seqs) >= last_seq + 1
        assert all("[card]" in u["text"] for u in call["utterances"])
        assert len(call["scores"]) >= last_seq + 1 and len(call["risks"]) >= last_seq + 1
        assert meta["end_at"] >= (last_seq + 1) * 0.5
        wav = store.audio_path("live-1")
        assert wav is not None
        info = sf.info(str(wav))
        assert (info.channels, info.samplerate) == (2, 8000)
        assert info.frames >= frames
        data, _ = sf.read(str(wav))
        assert data.shape == (info.frames, 2)
    finally:
        store.close()
