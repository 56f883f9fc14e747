"""The ingest benches' shared judge (bench/streams.py): what counts as N streams held, and the
search for the largest N. The benches themselves run for minutes (make bench); these check the
rules they apply, on real events."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bench.streams import Watch, held, largest_held, summary
from monitor import events as ev


def _watched(final_ends: dict[str, list[float]], end: bool = True) -> Watch:
    watch = Watch()
    for call, ends in final_ends.items():
        watch(ev.CallStarted(call_id=call, name=call, agent_id="a"))
        for seq, at in enumerate(ends):
            watch(ev.FinalUtterance(call, "customer", seq, "hello there", at - 1.0, at))
        if end:
            watch(ev.CallEnded(call_id=call, at=10.0))
    return watch


def test_summary_counts_only_the_calls_of_this_trial_and_their_lag() -> None:
    old = _watched({"old": [0.0]})
    before = set(old.started)
    # finals published just now for audio that ended 0 s into a call started now: lag ~0
    for call in ("a", "b"):
        old(ev.CallStarted(call_id=call, name=call, agent_id="a"))
        old(ev.FinalUtterance(call, "customer", 0, "hi", 0.0, 0.0))
        old(ev.CallEnded(call_id=call, at=1.0))
    played = [{"end_at": time.time(), "send_behind_s": 0.004}, {"end_at": 0.0, "send_behind_s": 0}]
    result = summary(old, before, played, 2)
    assert result["streams"] == 2 and result["calls"] == 2
    assert 0.0 <= result["final_lag_max_s"] < 1.0
    assert result["end_lag_s"] < 1.0 and result["client_send_behind_s"] == 0.004
    assert held(result, 5.0)


def test_a_call_that_never_ended_or_a_late_final_is_not_held() -> None:
    watch = _watched({"a": [0.0]}, end=False)
    result = summary(watch, set(), [{"end_at": time.time(), "send_behind_s": 0.0}], 1)
    assert result["end_lag_s"] == float("inf") and not held(result, 5.0)
    late = {"streams": 1, "calls": 1, "final_lag_max_s": 5.2, "end_lag_s": 0.1}
    assert not held(late, 5.0) and held(late, 6.0)
    missing = {"streams": 2, "calls": 1, "final_lag_max_s": 0.5, "end_lag_s": 0.1}
    assert not held(missing, 5.0)
    no_finals = {"streams": 1, "calls": 1, "final_lag_max_s": None, "end_lag_s": 0.1}
    assert not held(no_finals, 5.0)


@pytest.mark.parametrize(("limit", "cap", "expected"), [(13, 32, 13), (1, 32, 1), (0, 32, 0),
                                                          (40, 32, 32), (16, 32, 16)])  # fmt: skip
def test_largest_held_finds_the_edge_by_doubling_then_bisection(
    limit: int, cap: int, expected: int
) -> None:
    tried: list[int] = []

    async def run(n: int) -> bool:
        tried.append(n)
        return n <= limit

    assert asyncio.run(largest_held(run, cap)) == expected
    assert len(tried) == len(set(tried))  # no N is tried twice
    assert all(n <= cap for n in tried)


def test_results_name_the_cpu_and_its_int8_features(tmp_path: Path) -> None:
    """The classifier's int8 readings depend on the CPU's int8 kernels, so results say which."""
    from bench.results import cpu

    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
        "processor\t: 1\nmodel name\t: Some CPU 9000\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    )
    assert cpu(info) == "Some CPU 9000; avx2 avx512f avx512_vnni"
    info.write_text(
        "processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n"
        "flags\t\t: fpu avx2 avx_vnni\n"
    )
    assert cpu(info) == "AMD EPYC (family 26, model 2); avx2 avx_vnni"
    info.write_text("processor\t: 0\nmodel name\t: Old CPU\nflags\t\t: fpu sse\n")
    assert cpu(info) == "Old CPU; no avx2"
    assert cpu(tmp_path / "missing")  # no /proc: the platform's word, never an error


def test_results_name_the_scorer_the_cpu_chose(tmp_path: Path) -> None:
    """fp32 or int8 weights, by the CPU: every results file's _meta says which ran."""
    import json

    from bench.results import update_results
    from monitor.scoring.onnx_backend import default_precision

    out = tmp_path / "results.json"
    update_results("section", {"x": 1}, path=out)
    meta = json.loads(out.read_text())["_meta"]
    assert meta["scorer"] == f"onnxruntime-{default_precision()}"
    assert meta["cpu"]
    # each section keeps its own stamp when another section is written later
    first = meta["sections"]["section"]
    out.write_text(out.read_text().replace(first["cpu"], "Another CPU; avx2"))
    update_results("other", {"y": 2}, path=out)
    written = json.loads(out.read_text())
    assert written["section"] == {"x": 1} and written["other"] == {"y": 2}
    assert written["_meta"]["sections"]["section"]["cpu"] == "Another CPU; avx2"
    assert written["_meta"]["sections"]["other"]["cpu"] == written["_meta"]["cpu"]


@pytest.mark.parametrize(
    "module", ["eval.eval_calls", "eval.eval_cross_calls", "bench.bench_samples"]
)
def test_a_run_without_options_prints_help_and_refuses_an_option_before_writing(
    module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    from bench.results import BENCH_FILE, EVAL_FILE

    main = importlib.import_module(module).main
    before = EVAL_FILE.read_bytes(), BENCH_FILE.read_bytes()
    with pytest.raises(SystemExit) as asked:
        main(["--help"])
    assert asked.value.code == 0 and f"python -m {module}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["--calls", "3"])
    assert refused.value.code == 2 and "--calls" in capsys.readouterr().err
    assert (EVAL_FILE.read_bytes(), BENCH_FILE.read_bytes()) == before


def test_gc_watch_times_each_collection_by_generation_and_thread() -> None:
    import gc
    import threading

    from bench.gcwatch import GcWatch

    with GcWatch() as watch:
        gc.collect()  # a full collection on the watching thread
        other = threading.Thread(target=gc.collect, args=(0,))
        other.start()
        other.join()
    gc.collect()  # after stop(): not counted
    figures = watch.figures()
    assert figures["gen2"]["collections"] == 1
    assert figures["gen2"]["on_watching_thread"] == 1
    assert figures["gen2"]["max_ms"] >= 0.0 and figures["gen2"]["total_ms"] >= 0.0
    assert figures["gen0"]["collections"] >= 1  # the other thread's, and any the runtime made
    assert figures["gen0"]["on_watching_thread"] < figures["gen0"]["collections"]
    assert figures["frozen_objects"] == gc.get_freeze_count() == 0
