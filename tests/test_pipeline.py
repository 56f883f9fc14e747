"""The whole path on real models and real audio: a call from a file to the events on the bus."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor import events as ev
from monitor.pipeline import CallMeta, MonitorStoppingError
from monitor.sources import FileSource
from tests.conftest import render_call, run_call_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def short_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short stereo call rendered by the real TTS: calm start, a manager demand."""
    return render_call(
        tmp_path_factory.mktemp("short"),
        "short_escalation",
        [
            {"speaker": "agent", "mood": "calm", "text": "Thank you for calling, this is Sam."},
            {
                "speaker": "customer",
                "mood": "annoyed",
                "text": "This is the third time I have called about my broken router.",
            },
            {"speaker": "agent", "mood": "calm", "text": "I don't know why that happened."},
            {
                "speaker": "customer",
                "mood": "furious",
                "blowup": True,
                "text": "I want to speak to your manager right now or I am cancelling my account.",
            },
        ],
        expected="escalates",
    )


def check_invariants(events: list[ev.Event]) -> None:
    assert isinstance(events[0], ev.CallStarted)
    ends = [i for i, e in enumerate(events) if isinstance(e, ev.CallEnded)]
    assert len(ends) == 1
    assert all(isinstance(e, ev.AgentStrain) for e in events[ends[0] + 1 :])
    finals = [e for e in events if isinstance(e, ev.FinalUtterance)]
    assert [f.seq for f in finals] == sorted({f.seq for f in finals})  # unique, increasing
    for f in finals:
        assert 0 <= f.start <= f.end
        i = events.index(f)
        # every final is scored at once, before anything else of its call (a lag report
        # comes from its own watch and may fall in between)
        score = next(e for e in events[i + 1 :] if not isinstance(e, ev.CallLag))
        assert isinstance(score, ev.UtteranceScore) and score.seq == f.seq
        assert abs(sum(score.probabilities) - 1) < 1e-3
    for spk in ev.SPEAKERS:
        starts = [f.start for f in finals if f.speaker == spk]
        assert starts == sorted(starts)
    seen_final: set[int] = set()
    for e in events:  # a partial never follows its own final
        if isinstance(e, ev.FinalUtterance):
            seen_final.add(e.seq)
        elif isinstance(e, ev.PartialUtterance):
            assert e.seq not in seen_final


async def test_a_call_flows_from_audio_to_scored_alerts(
    make_monitor: Any, short_call: Path
) -> None:
    monitor = await make_monitor()
    summary, events = await run_call_events(
        monitor, FileSource(short_call), CallMeta("short_escalation", agent_id="agent-sam")
    )
    check_invariants(events)
    finals = [e for e in events if isinstance(e, ev.FinalUtterance)]
    assert {f.speaker for f in finals} == {"customer", "agent"}
    assert all(f.features is not None for f in finals)
    text = " ".join(f.text.lower() for f in finals if f.speaker == "customer")
    assert "manager" in text
    risks = [e for e in events if isinstance(e, ev.CallRisk)]
    assert risks and risks[-1].risk > risks[0].risk
    assert summary.alerts >= 1 and summary.ended == "completed"
    assert summary.utterances == len(finals)


async def test_a_fast_replay_is_never_marked_delayed(make_monitor: Any, sample_calls: Any) -> None:
    # As fast as possible, the file outruns the recognizer by design (its audio queue stays
    # full for the whole call): that is not a late call, and QA replays must not store or
    # show 'delayed'. A whole sample call, so the queue stays full for many seconds.
    monitor = await make_monitor()
    source = FileSource(sample_calls["legal_threat"].wav_path, realtime=False)
    _summary, events = await run_call_events(monitor, source, CallMeta("fast_replay"))
    assert not [e for e in events if isinstance(e, ev.CallLag)]


async def test_8khz_mulaw_mono_is_transcribed(
    make_monitor: Any, short_call: Path, tmp_path: Path
) -> None:
    from scipy.signal import resample_poly

    data, rate = sf.read(short_call, dtype="float32")
    mono = resample_poly(data[:, 0], 1, rate // 8000)  # the customer only, telephone band
    tel = tmp_path / "tel.wav"
    sf.write(tel, mono, 8000, subtype="ULAW")
    monitor = await make_monitor()
    _summary, events = await run_call_events(monitor, FileSource(tel), CallMeta("tel"))
    finals = [e for e in events if isinstance(e, ev.FinalUtterance)]
    assert finals and {f.speaker for f in finals} == {"customer"}
    assert "manager" in " ".join(f.text.lower() for f in finals)


async def test_silent_call_yields_no_utterances_and_no_alerts(
    make_monitor: Any, tmp_path: Path
) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((16000 * 20, 2), dtype=np.float32), 16000)
    monitor = await make_monitor()
    summary, events = await run_call_events(monitor, FileSource(path), CallMeta("silence"))
    assert summary.utterances == 0 and summary.alerts == 0
    assert not [e for e in events if isinstance(e, ev.PartialUtterance | ev.FinalUtterance)]
    assert summary.ended == "completed" and summary.duration == pytest.approx(20.0, abs=0.05)


async def test_one_hour_call_ends_cleanly(
    make_monitor: Any, short_call: Path, tmp_path: Path
) -> None:
    """An hour of mostly silence after a short exchange: streamed, transcribed, ended."""
    speech, rate = sf.read(short_call, dtype="float32")
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        f.write(speech)
        quiet = np.zeros((rate * 60, 2), dtype=np.float32)
        for _ in range(60):
            f.write(quiet)
    monitor = await make_monitor()
    summary, _ = await run_call_events(
        monitor, FileSource(path, block_seconds=0.5), CallMeta("hour")
    )
    assert summary.ended == "completed"
    assert summary.duration == pytest.approx(3600 + len(speech) / rate, abs=0.5)
    assert summary.utterances >= 3


async def test_truncated_recording_keeps_what_was_said(
    make_monitor: Any, short_call: Path, tmp_path: Path
) -> None:
    data = short_call.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    monitor = await make_monitor()
    summary, _events = await run_call_events(monitor, FileSource(cut), CallMeta("cut"))
    assert summary.ended == "completed" and summary.utterances >= 2


async def test_cancelling_a_call_marks_it_interrupted(make_monitor: Any, short_call: Path) -> None:
    monitor = await make_monitor()
    sub = monitor.bus.subscribe("t", maxsize=10_000)
    task = asyncio.create_task(
        monitor.run_call(FileSource(short_call, realtime=True), CallMeta("cut-short"))
    )
    await asyncio.sleep(1.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    sub.close()
    ended = [e async for e in sub if isinstance(e, ev.CallEnded)]
    assert len(ended) == 1 and ended[0].reason == "interrupted"
    assert 1.0 <= ended[0].at <= 2.5


async def test_many_calls_at_once_keep_their_events_apart(
    make_monitor: Any, short_call: Path
) -> None:
    monitor = await make_monitor()
    sub = monitor.bus.subscribe("t", maxsize=100_000)
    calls = [(FileSource(short_call), CallMeta(f"c{i}", agent_id=f"agent-{i}")) for i in range(3)]
    summaries = await monitor.run_calls(calls)
    sub.close()
    events = [e async for e in sub]
    for s in summaries:
        mine = [e for e in events if ev.call_id_of(e) == s.call_id]
        check_invariants(mine)
        assert s.utterances >= 3
    # the same audio gives the same transcript in every concurrent call
    texts = {
        s.call_id: [
            e.text for e in events if isinstance(e, ev.FinalUtterance) and e.call_id == s.call_id
        ]
        for s in summaries
    }
    assert len({tuple(t) for t in texts.values()}) == 1


async def _until(check: Any, what: str, timeout: float = 120.0) -> None:
    """Poll the event loop until ``check()``; a hang shows as a failure naming ``what``."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_cancelling_a_call_with_a_full_audio_queue_ends_it(
    make_monitor: Any, sample_calls: dict[str, Any]
) -> None:
    """Issue #11, defect 1: the reader used to wait in its `finally` for room in a full
    queue whose consumer was already cancelled, so the call never ended (Ctrl-C hung)."""
    monitor = await make_monitor()
    # a terminal nobody reads (`callmon replay | less`, paused): a "wait" subscriber holds
    # up the scoring stage, then the text queue, then the audio queue fills
    sub = monitor.bus.subscribe("paused terminal", maxsize=1, overflow="wait")
    wav = sample_calls["legal_threat"].wav_path
    task = asyncio.create_task(monitor.run_call(FileSource(wav), CallMeta("full-queue")))
    await _until(lambda: monitor._runs, "the call to start")
    run = next(iter(monitor._runs.values()))
    await _until(run.audio_q.full, "the audio queue to fill")
    task.cancel()
    seen: list[ev.Event] = []

    async def read() -> None:  # the terminal resumes: the call's end can be shown
        async for e in sub:
            seen.append(e)

    reader = asyncio.create_task(read())
    done, _ = await asyncio.wait({task}, timeout=60)  # without the fix: never done
    assert done, "the cancelled call never finished: its reader waits on a full queue"
    assert task.cancelled()
    await _until(lambda: sub.qsize() == 0, "the terminal to catch up")
    sub.close()
    await reader
    ended = [e for e in seen if isinstance(e, ev.CallEnded)]
    assert [e.reason for e in ended] == ["interrupted"]
    assert monitor.calls == {} and monitor.recent[-1].ended == "interrupted"


async def test_interrupting_a_call_flushes_what_was_read(
    make_monitor: Any, short_call: Path
) -> None:
    """Shutdown's first step: the call stops reading, its stages flush, it ends interrupted
    (run_call returns its summary; nothing is cancelled)."""
    monitor = await make_monitor()
    sub = monitor.bus.subscribe("t", maxsize=10_000)
    task = asyncio.create_task(
        monitor.run_call(FileSource(short_call, realtime=True), CallMeta("interrupted"))
    )
    await _until(lambda: monitor._runs, "the call to start")
    run = next(iter(monitor._runs.values()))
    await _until(lambda: run.audio_pos >= 4 * run.rate, "4 s of audio to reach ASR")
    monitor.stop_intake()
    assert monitor.interrupt_calls() == 1
    assert await monitor.wait_calls(60)
    summary = await task
    sub.close()
    events = [e async for e in sub]
    check_invariants(events)
    assert summary.ended == "interrupted" and summary.duration >= 4.0
    assert summary.utterances >= 1  # the first turn, read before the stop, was flushed
    with pytest.raises(MonitorStoppingError):
        await monitor.run_call(FileSource(short_call), CallMeta("too late"))


async def test_ended_calls_leave_no_per_call_state(make_monitor: Any, tmp_path: Path) -> None:
    """Issue #11, defect 8: Monitor.calls held every call a server ever saw."""
    from monitor.pipeline import MAX_RECENT_CALLS

    path = tmp_path / "blip.wav"
    sf.write(path, np.zeros((1600, 2), dtype=np.float32), 16000)
    monitor = await make_monitor()
    n = MAX_RECENT_CALLS + 20
    for start in range(0, n, 30):
        batch = [(FileSource(path), CallMeta(f"c{i}")) for i in range(start, min(n, start + 30))]
        await monitor.run_calls(batch)
    assert monitor.calls == {} and monitor._runs == {} and monitor._tasks == {}
    assert len(monitor.recent) == MAX_RECENT_CALLS
    assert monitor.recent[-1].name == f"c{n - 1}"
