"""Whole calls from dialogues this project did not write: `python -m eval.eval_cross_calls`.

The external dialogues in ``eval/data/cross_calls/`` (the ABCD and Taskmaster-1 samples; see
each file's header) are rendered as the sample calls are (stereo, a voice per party), once at
16 kHz and once as an 8 kHz copy, and run through the real pipeline (ASR, classifier, rules) as
fast as possible. Every one of them is a calm service call, so the figure is the warnings they
raise: a warning is an alert of severity warning/critical or the risk reaching "at_risk"
(``eval.eval_calls.first_warning``). No escalating external dialogue with a permissive licence
could be found, so warned-before-blow-up and detection delay are not measured here (the
section says so). Writes eval/results.json -> "cross_source_calls".
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench.results import EVAL_FILE, update_results  # after the environment above
from eval.eval_calls import first_warning
from monitor import events as ev
from monitor.config import REPO_ROOT, MonitorConfig

SCRIPTS = Path(__file__).resolve().parent / "data" / "cross_calls"
AUDIO = REPO_ROOT / "var" / "cross_calls"


async def run_rate(sample_rate: int) -> dict[str, Any]:
    from monitor.pipeline import CallMeta, Monitor
    from monitor.sample_script import list_scripts, load_script
    from monitor.samples import render_all
    from monitor.sources import FileSource

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    rendered = render_all(
        AUDIO / f"{sample_rate}", sample_rate=sample_rate, progress=say, scripts_dir=SCRIPTS
    )
    scripts = {s.name: s for s in map(load_script, list_scripts(SCRIPTS))}
    monitor = await Monitor.create(MonitorConfig(), progress=say)
    sub = monitor.bus.subscribe("eval", maxsize=1_000_000, overflow="wait")
    calls = []
    for r in rendered:
        s = scripts[r.name]
        meta = CallMeta(name=s.name, agent_id=s.agent_id, queue=s.queue, language=s.language)
        calls.append((FileSource(r.wav_path, realtime=False), meta))
    summaries = await monitor.run_calls(calls)
    sub.close()
    events = [e async for e in sub]
    await monitor.aclose()
    per_call: dict[str, Any] = {}
    warnings = 0
    seconds = 0.0
    for r, s in zip(rendered, summaries, strict=True):
        mine = [e for e in events if ev.call_id_of(e) == s.call_id]
        warn = first_warning(mine)
        levels = [e.level for e in mine if isinstance(e, ev.CallRisk)]
        peak = max(levels, key=ev.RISK_LEVELS.index) if levels else "calm"
        warnings += sum(
            1 for e in mine if isinstance(e, ev.Alert) and e.severity in ("warning", "critical")
        )
        seconds += r.duration
        per_call[r.name] = {
            "duration_s": round(r.duration, 1),
            "alerts": s.alerts,
            "alert_kinds": s.alert_kinds,
            "max_risk": round(s.max_risk, 1),
            "peak_level": peak,
            "first_warning_s": None if warn is None else round(warn, 2),
        }
    return {
        "calm_calls": len(rendered),
        "calm_calls_warned": sum(1 for c in per_call.values() if c["first_warning_s"] is not None),
        "warning_alerts": warnings,
        "warning_alerts_per_calm_call": round(warnings / max(1, len(rendered)), 3),
        "calm_call_minutes": round(seconds / 60, 1),
        "per_call": per_call,
    }


def main() -> int:
    result: dict[str, Any] = {
        "data": "eval/data/cross_calls: ABCD sample dialogues (MIT) and the Taskmaster-1 sample "
        "(CC BY 4.0), rendered with two voices; all calm service calls",
        "escalating_calls": 0,
        "not_measured": "warned-before-blow-up, lead time and detection delay: no escalating "
        "external dialogue with a licence that allows use here was found",
    }
    for rate in (16000, 8000):
        result[f"{rate // 1000}k"] = asyncio.run(run_rate(rate))
    update_results("cross_source_calls", result, EVAL_FILE)
    for key in ("16k", "8k"):
        r = result[key]
        print(
            f"cross-source calls {key}: {r['calm_calls_warned']}/{r['calm_calls']} calm calls "
            f"warned, {r['warning_alerts']} warning alerts ({r['calm_call_minutes']} min)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
