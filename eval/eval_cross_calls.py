"""Whole calls from text this project did not write: `python -m eval.eval_cross_calls`.

The scripts in ``eval/data/cross_calls/`` (see each file's header) are rendered as the sample
calls are (stereo, a voice per party), once at 16 kHz and once as an 8 kHz copy, and run through
the real pipeline (ASR, classifier, rules) as fast as possible, one call at a time, with early
alerts from partial transcripts (the main figures) and again from final text only
(``finals_only``; see eval/eval_calls.py ``run_one_at_a_time``). Two kinds:

- calm service calls: the ABCD and Taskmaster-1 sample dialogues (other authors' dialogues);
- calm complaint calls (``cfpb_calm_*``): customer turns are sentences of CFPB narratives that
  complain politely (no threat, insult or demand), from complaints neither trained on nor in the
  external test set; a complaint that does not escalate should raise no warning;
- escalating calls: customer turns are sentences of CFPB complaint narratives (real consumers,
  public domain) in the author's words and order, rising to the narrative's first explicit
  threat, insult or demand (the turn marked ``blowup``); agent turns are neutral service
  phrases written for these calls;
- generated support calls (``htf_*``): both parties' turns as Claude wrote them for a hackathon
  team's customer-intelligence project (eval/htf.py), cut a few turns after the customer's
  first escalation, or the first turns of a call that complains without escalating; a reader
  picked the calls and marked the blow-up before any model ran on them;
- online-shop conversations (``taubench_*``): tau-bench's simulated customers and its automated
  agent (eval/taubench.py; long agent turns shortened), cut after the customer's first
  escalation, or a complaint that does not escalate; picked and marked the same way;
- travel-agency calls (``mstravel_*``): both parties' turns as a language model wrote them for a
  Microsoft demo (eval/mstravel.py), picked and marked the same way; its complaint calls without
  an escalation intent were picked as the most heated ones that stay without one.

Of the calm complaint calls, those whose customer never speaks angrily (the reader's mood for
every customer turn; angry turns are also rendered louder, faster and higher) are the polite
complaints the issue's calm calls are: "heated" calls have shouting and ultimatums but no
escalation intent ("This is unacceptable! I demand a refund!"), and a warning on them is
reported apart, since a supervisor may well want one.

A warning is an alert of severity warning/critical or the risk reaching "at_risk"
(``eval.eval_calls.first_warning``). Per escalating call: warned before the blow-up turn starts
(lead time = blow-up start - first warning), else the detection delay (first warning - blow-up
start; the issue asks for detection within 5 s where the model cannot know in advance), and the
same warning counted from the end of the blow-up turn (negative: during the turn, from a partial
transcript). Both are call audio time of the words that raised the warning (events' ``at``), so
neither holds the recogniser's or the scorer's compute time: a live call adds the pipeline's end
of speech -> board latency (bench.bench_pipeline). The threat often closes a long turn; there
the delay from the turn's start is the customer still talking.
Per calm call: warnings and warning alerts. Writes eval/results.json -> "cross_source_calls".
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench.results import EVAL_FILE, takes_no_options, update_results  # after the environment above
from eval.eval_calls import first_warning, run_one_at_a_time
from monitor import events as ev
from monitor.config import REPO_ROOT, MonitorConfig

SCRIPTS = Path(__file__).resolve().parent / "data" / "cross_calls"
AUDIO = REPO_ROOT / "var" / "cross_calls"


async def run_rate(sample_rate: int) -> dict[str, Any]:
    """Both modes at one sample rate: the early-alert figures, with finals_only beside them."""
    from monitor.pipeline import Monitor
    from monitor.samples import render_all

    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    rendered = render_all(
        AUDIO / f"{sample_rate}", sample_rate=sample_rate, progress=say, scripts_dir=SCRIPTS
    )
    monitor = await Monitor.create(MonitorConfig(), progress=say)
    try:
        result = await run_mode(monitor, rendered, early=True)
        late = await run_mode(monitor, rendered, early=False)
    finally:
        await monitor.aclose()
    result["finals_only"] = {k: v for k, v in late.items() if k != "per_call"}
    return result


async def run_mode(monitor: Any, rendered: Sequence[Any], *, early: bool) -> dict[str, Any]:
    from monitor.samples import demo_calls

    def calls() -> list[tuple[Any, Any]]:  # as fast as possible
        return demo_calls(realtime=False, rendered=rendered, scripts_dir=SCRIPTS)

    summaries, events = await run_one_at_a_time(monitor, calls, early=early)
    per_call: dict[str, Any] = {}
    warnings = 0
    seconds = 0.0
    calm = escalating = warned = detected_5s = 0
    leads: list[float] = []
    delays: list[float] = []
    after_end: list[float] = []
    for r, s in zip(rendered, summaries, strict=True):
        mine = [e for e in events if ev.call_id_of(e) == s.call_id]
        warn = first_warning(mine)
        levels = [e.level for e in mine if isinstance(e, ev.CallRisk)]
        peak = max(levels, key=ev.RISK_LEVELS.index) if levels else "calm"
        entry: dict[str, Any] = {
            "expected": r.expected,
            "duration_s": round(r.duration, 1),
            "alerts": s.alerts,
            "alert_kinds": s.alert_kinds,
            "max_risk": round(s.max_risk, 1),
            "peak_level": peak,
            "first_warning_s": None if warn is None else round(warn, 2),
        }
        if r.first_blowup is None:
            entry["angry_customer_turns"] = angry_customer_turns(r.turns)
            calm += 1
            seconds += r.duration
            warnings += sum(
                1 for e in mine if isinstance(e, ev.Alert) and e.severity in ("warning", "critical")
            )
        else:
            escalating += 1
            entry.update(blowup_timing(r.turns, warn))
            if "lead_s" in entry:
                warned += 1
                leads.append(entry["lead_s"])
            elif "detection_delay_s" in entry:
                delays.append(entry["detection_delay_s"])
                detected_5s += entry["detection_delay_s"] <= 5.0
                after_end.append(entry["after_blowup_turn_end_s"])
        per_call[r.name] = entry
    calm_calls = [c for c in per_call.values() if c["expected"] == "calm"]
    complaints = {n: c for n, c in per_call.items() if is_calm_complaint(n, c)}
    polite = [c for c in complaints.values() if not c["angry_customer_turns"]]
    heated = [c for c in complaints.values() if c["angry_customer_turns"]]
    return {
        "escalating_calls": escalating,
        "warned_before_blowup": warned,
        "detected_within_5s_of_blowup": detected_5s,
        "never_warned": escalating - warned - len(delays),
        "mean_lead_s": round(sum(leads) / len(leads), 2) if leads else None,
        "min_lead_s": round(min(leads), 2) if leads else None,
        "detection_delays_s": [round(d, 2) for d in delays],
        # the same calls' warnings counted from the end of the blow-up turn (call audio time:
        # how long after the customer's last word the words that raised it ended)
        "after_blowup_turn_end_s": [round(d, 2) for d in after_end],
        "detected_within_5s_of_blowup_turn_end": sum(1 for d in after_end if d <= 5.0),
        "detected_during_blowup_turn": sum(1 for d in after_end if d < 0.0),
        "calm_calls": calm,
        "calm_calls_warned": sum(1 for c in calm_calls if c["first_warning_s"] is not None),
        "warning_alerts": warnings,
        "warning_alerts_per_calm_call": round(warnings / max(1, calm), 3),
        "calm_call_minutes": round(seconds / 60, 1),
        # of the calm calls, the polite complaints (CFPB) on their own
        "calm_complaint_calls": len(complaints),
        "calm_complaint_calls_warned": sum(
            1 for c in complaints.values() if c["first_warning_s"] is not None
        ),
        "calm_complaint_peak_levels": sorted(c["peak_level"] for c in complaints.values()),
        # the polite ones (no angry customer turn), and the heated ones without an intent
        "polite_complaint_calls": len(polite),
        "polite_complaint_calls_warned": sum(1 for c in polite if c["first_warning_s"] is not None),
        "heated_complaint_calls": len(heated),
        "heated_complaint_calls_warned": sum(1 for c in heated if c["first_warning_s"] is not None),
        "by_source": by_source(per_call),
        "per_call": per_call,
    }


def blowup_timing(turns: Sequence[Any], warn: float | None) -> dict[str, float]:
    """When an escalating call's first warning came, against its first blow-up turn (timeline
    turns with ``blowup``, ``start`` and ``end``): ``lead_s`` if before the turn starts, else
    ``detection_delay_s`` from its start and ``after_blowup_turn_end_s`` from its end (negative:
    during the turn, from a partial transcript); nothing of either if never warned."""
    turn = next(t for t in turns if t.blowup)
    out = {"blowup_s": round(turn.start, 2), "blowup_turn_s": round(turn.end - turn.start, 2)}
    if warn is not None and warn < turn.start:
        out["lead_s"] = round(turn.start - warn, 2)
    elif warn is not None:
        out["detection_delay_s"] = round(warn - turn.start, 2)
        out["after_blowup_turn_end_s"] = round(warn - turn.end, 2)
    return out


def is_calm_complaint(name: str, call: dict[str, Any]) -> bool:
    """A calm call in which the customer complains: CFPB's polite complaints, the generated
    support calls' complaints (every htf call is about a charge, an outage or a failed upgrade),
    the online shop's (every taubench call was picked for a problem reported), the travel
    agency's (every mstravel call was picked for a complaint)."""
    prefixes = ("cfpb_calm_", "htf_", "taubench_", "mstravel_")
    return call["expected"] == "calm" and name.startswith(prefixes)


def angry_customer_turns(turns: Iterable[Any]) -> int:
    """How many customer turns are marked angry (the reader's mood): a rendered call's timeline
    turns or its script's, both with ``speaker`` and ``mood``."""
    return sum(1 for t in turns if t.speaker == "customer" and t.mood == "angry")


def by_source(per_call: dict[str, Any]) -> dict[str, Any]:
    """The headline counts per source (the script name's prefix: abcd, tm1, cfpb, htf,
    taubench, mstravel)."""
    out: dict[str, Any] = {}
    for name, call in per_call.items():
        row = out.setdefault(
            name.split("_", 1)[0],
            {"escalating": 0, "warned_before": 0, "within_5s": 0, "calm": 0, "calm_warned": 0},
        )
        if call["expected"] == "calm":
            row["calm"] += 1
            row["calm_warned"] += call["first_warning_s"] is not None
        else:
            row["escalating"] += 1
            row["warned_before"] += "lead_s" in call
            row["within_5s"] += call.get("detection_delay_s", 99.0) <= 5.0
    return out


def main(argv: list[str] | None = None) -> int:
    takes_no_options("python -m eval.eval_cross_calls", __doc__, argv)
    result: dict[str, Any] = {
        "data": "eval/data/cross_calls: calm calls from the ABCD sample dialogues (MIT) and the "
        "Taskmaster-1 sample (CC BY 4.0), and calm complaint calls from CFPB narratives that "
        "complain without a threat, insult or demand; escalating calls whose customer turns are "
        "CFPB complaint narratives (real consumers, public domain; agent turns neutral phrases "
        "written here); escalating and calm complaint calls cut from support-call transcripts "
        "that Claude generated for a hackathon team (tanmayalsi/Hackathon_TF, MIT per its "
        "README; both parties' words theirs; blow-up turns and calls picked by a reader before "
        "any model ran on them, eval/htf.py); escalating and calm complaint calls cut from "
        "tau-bench's online-shop conversations (sierra-research/tau-bench, MIT: gpt-4o playing "
        "customers, an automated agent; picked the same way, eval/taubench.py); escalating "
        "and heated complaint calls from travel-agency calls a language model generated for a "
        "Microsoft demo (MIT; human agents; picked the same way, eval/mstravel.py); "
        "rendered with two voices (offline TTS, one synthetic voice pitch-shifted per party)",
    }
    for rate in (16000, 8000):
        result[f"{rate // 1000}k"] = asyncio.run(run_rate(rate))
    update_results("cross_source_calls", result, EVAL_FILE)
    for key in ("16k", "8k"):
        r = result[key]
        print(
            f"cross-source calls {key}: {r['warned_before_blowup']}/{r['escalating_calls']} "
            f"escalating calls warned before the blow-up (mean lead {r['mean_lead_s']} s), "
            f"{r['detected_within_5s_of_blowup']} more within 5 s, {r['never_warned']} never "
            f"(of the later ones {r['detected_within_5s_of_blowup_turn_end']} within 5 s of the "
            f"blow-up turn's end, {r['detected_during_blowup_turn']} during it); "
            f"{r['calm_calls_warned']}/{r['calm_calls']} calm calls warned, "
            f"{r['warning_alerts']} warning alerts ({r['calm_call_minutes']} min); of them "
            f"complaints {r['calm_complaint_calls_warned']}/{r['calm_complaint_calls']} warned, "
            f"peaks {r['calm_complaint_peak_levels']}; polite "
            f"{r['polite_complaint_calls_warned']}/{r['polite_complaint_calls']} warned, heated "
            f"without an intent {r['heated_complaint_calls_warned']}/{r['heated_complaint_calls']}"
        )
        late = r["finals_only"]
        print(
            f"  from final text only: {late['warned_before_blowup']} before, "
            f"{late['detected_within_5s_of_blowup']} more within 5 s, delays "
            f"{late['detection_delays_s']}; {late['warning_alerts']} warning alerts on calm calls"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
