"""Early warning on whole calls: `python -m eval.eval_calls` (part of `make eval`).

Every bundled sample call runs through the real pipeline (ASR, classifier, rules) as
fast as possible, one call at a time, twice (``run_one_at_a_time``):

- **with early alerts** (the main figures): every partial transcript is decoded and the
  customer's are scored, as on a live call whose machine has a decoder to spare, so a
  threat is reported while the customer is still speaking (monitor/rules/engine.py
  ``CallRules.on_partial``);
- **finals only** (``finals_only``): alerts wait for each turn's final text, as on a
  machine at full load, where partials are shed.

For each escalating call (one with a scripted blow-up turn) we measure the seconds between
the monitor's first warning and the start of the blow-up; for the calm calls, the alerts
they raised per hour of audio (should be zero). Times are call-audio seconds.

A *warning* is the first supervisor alert of severity warning/critical, or the first
time the call's risk level reached "at_risk" — whichever came first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench.results import EVAL_FILE, takes_no_options, update_results  # after the environment above
from monitor import events as ev
from monitor.config import REPO_ROOT, MonitorConfig


async def run_one_at_a_time(
    monitor: Any, make_calls: Callable[[], Sequence[tuple[Any, Any]]], *, early: bool
) -> tuple[list[Any], list[ev.Event]]:
    """The calls through ``monitor``, each alone and as fast as possible; their summaries and
    every event. ``early``: every partial decoded and scored (a live call with a spare
    decoder); otherwise the playbook's early alerts are off (a machine at full load sheds
    partials). One at a time, so which partials are decoded does not depend on the others."""
    settings = monitor.playbook.settings
    bar = settings.partial_min_probability if early else 1.0
    monitor.playbook = dataclasses.replace(
        monitor.playbook, settings=dataclasses.replace(settings, partial_min_probability=bar)
    )
    monitor.decode_every_partial = early
    sub = monitor.bus.subscribe("eval", maxsize=1_000_000, overflow="wait")
    calls = make_calls()
    mode = "early alerts" if early else "finals only"
    summaries = []
    for i, (source, meta) in enumerate(calls, 1):
        started = time.monotonic()
        summaries.append(await monitor.run_call(source, meta))
        print(
            f"[{i}/{len(calls)}] {mode}: {summaries[-1].call_id} "
            f"({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    sub.close()
    monitor.playbook = dataclasses.replace(monitor.playbook, settings=settings)
    return summaries, [e async for e in sub]


def first_warning(events: list[ev.Event]) -> float | None:
    times = [
        e.at
        for e in events
        if (isinstance(e, ev.Alert) and e.severity in ("warning", "critical"))
        or (isinstance(e, ev.CallRisk) and e.level in ("at_risk", "escalated"))
    ]
    return min(times) if times else None


async def run() -> dict[str, Any]:
    from monitor.pipeline import Monitor
    from monitor.samples import demo_calls, render_all

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    rendered = render_all(REPO_ROOT / "samples" / "audio", progress=say)
    monitor = await Monitor.create(MonitorConfig(), progress=say)
    t0 = time.monotonic()

    def calls() -> Sequence[tuple[Any, Any]]:
        return demo_calls(realtime=False, rendered=rendered)  # as fast as possible

    say(f"running {len(rendered)} sample calls through the pipeline, with early alerts")
    summaries, events = await run_one_at_a_time(monitor, calls, early=True)
    say("and again with alerts from final text only")
    late_summaries, late_events = await run_one_at_a_time(monitor, calls, early=False)
    engine = monitor.engine.name
    await monitor.aclose()
    say(f"done in {time.monotonic() - t0:.0f} s")
    result = figures(rendered, summaries, events)
    result["engine"] = engine
    late = figures(rendered, late_summaries, late_events)
    result["finals_only"] = {k: v for k, v in late.items() if k != "per_call"}
    return result


def figures(
    rendered: Sequence[Any], summaries: Sequence[Any], events: list[ev.Event]
) -> dict[str, Any]:
    per_call: dict[str, Any] = {}
    escalating = warned = 0
    calm_alerts, calm_seconds = 0, 0.0
    leads: list[float] = []
    for r, s in zip(rendered, summaries, strict=True):
        mine = [e for e in events if ev.call_id_of(e) == s.call_id]
        warn = first_warning(mine)
        entry: dict[str, Any] = {
            "expected": r.expected,
            "duration_s": round(r.duration, 1),
            "alerts": s.alerts,
            "alert_kinds": s.alert_kinds,
            "max_risk": round(s.max_risk, 1),
            "first_warning_s": None if warn is None else round(warn, 2),
        }
        if r.first_blowup is not None:
            escalating += 1
            lead = None if warn is None else r.first_blowup - warn
            entry["blowup_s"] = round(r.first_blowup, 2)
            entry["lead_s"] = None if lead is None else round(lead, 2)
            if lead is not None and lead > 0:
                warned += 1
                leads.append(lead)
        if r.expected == "calm":
            calm_alerts += s.alerts
            calm_seconds += r.duration
        per_call[r.name] = entry
    return {
        "escalating_calls": escalating,
        "warned_before_blowup": warned,
        "mean_lead_s": round(sum(leads) / len(leads), 2) if leads else None,
        "min_lead_s": round(min(leads), 2) if leads else None,
        "false_alerts_calm_calls": calm_alerts,
        "calm_call_hours": round(calm_seconds / 3600, 4),
        "false_alerts_per_calm_call_hour": round(calm_alerts / (calm_seconds / 3600), 2)
        if calm_seconds
        else None,
        "per_call": per_call,
    }


def main(argv: list[str] | None = None) -> int:
    takes_no_options("python -m eval.eval_calls", __doc__, argv)
    result = asyncio.run(run())
    update_results("early_warning", result, EVAL_FILE)
    print(
        f"early warning: {result['warned_before_blowup']}/{result['escalating_calls']} escalating "
        f"calls warned before the blow-up (mean lead {result['mean_lead_s']} s); "
        f"{result['false_alerts_calm_calls']} alerts on calm calls"
    )
    late = result["finals_only"]
    print(
        f"  from final text only: {late['warned_before_blowup']}/{late['escalating_calls']} "
        f"(mean lead {late['mean_lead_s']} s); "
        f"{late['false_alerts_calm_calls']} alerts on calm calls"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
