"""Per-call QA reports: a self-contained HTML page, a JSON export, an incident record.

``callmon report CALL_ID [--format html|json|pdf] [--store PATH] [--out DIR]``

The HTML has no external references: styles are inline, the curve is an inline SVG. PDF is
printed by the Chromium already used for the browser tests (``--print-to-pdf``), when one is
installed. Coaching notes are rules over what was stored; they are deterministic, like the
rest of the report, so a replayed call gets the same report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

from monitor.languages import LANGUAGE_CODES, resolve
from monitor.qa.chart import curve_svg, mmss
from monitor.qa.i18n import labels, note
from monitor.qa.incident import export_incident, incident_record, timeline
from monitor.store.db import CallStore

FORMATS = ("html", "json", "pdf")
FAST_WORDS_PER_S = 3.3
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%} td,th{padding:4px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top} .meta td:first-child{color:#666;width:12em}
.customer{color:#1a3f8a} .agent{color:#2b6b2b} .t{color:#888;white-space:nowrap}
.critical{color:#b00;font-weight:bold} .warning{color:#c60} .incident{border:2px solid #b00;
padding:.5em 1em;background:#fff5f5} .notes li{margin:.3em 0}
"""


def build_report(call: dict[str, Any]) -> dict[str, Any]:
    """The JSON export: the stored call plus the derived notes, incident and timeline.
    ``muted_audio`` lists the spans of the recording muted because redacted words (a card
    number, a phone number ...) were said in them: speaker, start, end, placeholder."""
    return {
        **call,
        "coaching_notes": coaching_notes(call),
        "incident": incident_record(call),
        "timeline": timeline(call),
    }


def coaching_notes(call: dict[str, Any], language: str = "en") -> list[str]:
    """Plain-language notes for the agent's coach, from the stored call, in ``language``
    (en, id, ms, ro: monitor/qa/i18n.py)."""
    out = []
    for key, params in _note_items(call):
        if key == "risk_peak":
            said = params.pop("said_text")
            params["said"] = note(language, "said", text=said) if said else ""
        out.append(note(language, key, **params))
    return out


def _note_items(call: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the notes say, as (template key, values): the same facts in every language."""
    notes: list[tuple[str, dict[str, Any]]] = []
    overs = [t for t in call["talk_overs"] if t["speaker"] == "agent"]
    if overs:
        notes.append(("talk_over", {"n": len(overs), "at": mmss(overs[0]["start"])}))
    cust = [s for s in call["scores"] if s["speaker"] == "customer"]
    if len(cust) >= 2:
        first, last = cust[0]["polarity"], cust[-1]["polarity"]
        trend = "recovered" if last > first + 0.2 else "worsened" if last < first - 0.2 else "held"
        notes.append((f"sentiment_{trend}", {"first": f"{first:+.2f}", "last": f"{last:+.2f}"}))
        if last < -0.3:
            notes.append(("ended_unhappy", {}))
    if call["risks"]:
        peak = max(call["risks"], key=lambda r: (r["risk"], -r["at"]))
        before = [u for u in call["utterances"] if u["end"] <= peak["at"] + 1e-6]
        values = {"risk": f"{peak['risk']:.0f}", "level": peak["level"], "at": mmss(peak["at"])}
        notes.append(("risk_peak", {**values, "said_text": before[-1]["text"] if before else ""}))
    for c in call["cards"]:
        key = {"used": "card_used", "dismissed": "card_dismissed"}.get(c["feedback"] or "")
        notes.append((key or "card_none", {"at": mmss(c["at"]), "title": c["title"]}))
    for a in call["alerts"]:
        if a["severity"] == "critical" and not a["acked_by"]:
            notes.append(("critical_unacked", {"kind": a["kind"], "at": mmss(a["at"])}))
    rates = [
        u["features"]["speech_rate"]
        for u in call["utterances"]
        if u["speaker"] == "agent" and u["features"]
    ]
    if rates and sum(rates) / len(rates) > FAST_WORDS_PER_S:
        notes.append(("fast", {"rate": f"{sum(rates) / len(rates):.1f}"}))
    if incident_record(call) is not None:
        notes.append(("incident", {}))
    return notes


def _language(meta: dict[str, Any], L: dict[str, str]) -> str:
    """The call's language, and how sure the detection was when it was detected (issue #12)."""
    if meta.get("language_source") != "detected":
        return str(meta["language"])
    p = meta.get("language_probability")
    sure = "" if p is None else f" {round(100 * p)}%"
    return f"{meta['language']} ({L['detected']}{sure})"


def render_html(report: dict[str, Any], language: str = "en") -> str:
    """The report page in the reviewer's ``language`` (en, id, ms, ro); outside English each
    coaching note is followed by its English original, so the report can be handed on."""
    language = resolve(language)
    L = labels(language)
    meta = report["call"]
    rows = [
        (L["call"], meta["name"]),
        (L["call_id"], meta["call_id"]),
        (L["agent"], meta["agent_id"]),
        (L["queue_language"], f"{meta['queue']} / {_language(meta, L)}"),
        (L["status"], meta["status"]),
        (L["length"], mmss(meta["end_at"] or 0.0)),
        (L["lowest_sentiment"], _num(meta["sentiment_min"], "{:+.2f}")),
        (L["peak_risk"], _num(meta["risk_max"], "{:.0f}")),
    ]
    h = [
        f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>",
        f"<title>{L['title']}: {escape(meta['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{L['title']}: {escape(meta['name'])}</h1><table class='meta'>",
        *(f"<tr><td>{k}</td><td>{escape(str(v))}</td></tr>" for k, v in rows),
        f"</table><h2>{L['risk_sentiment']}</h2>",
        f"<p>{escape(L['legend'])}</p>",
        curve_svg(report),
    ]
    incident = report["incident"]
    if incident:
        span = incident["span"]
        h.append(
            f"<div class='incident'><h2>{L['incident']}: "
            f"{escape(', '.join(incident['kinds']))}</h2>"
            f"<p>{L['span']} {mmss(span['start'])}-{mmss(span['end'])}; "
            f"{L['supervisor_informed']}: "
            f"{L['yes'] if incident['supervisor_informed'] else L['no']}.</p><table>"
        )
        for e in incident["timeline"]:
            h.append(f"<tr><td class='t'>{mmss(e['at'])}</td><td>{escape(_describe(e))}</td></tr>")
        h.append("</table></div>")
    h.append(f"<h2>{L['coaching_notes']}</h2><ul class='notes'>")
    english = report["coaching_notes"]
    local = english if language == "en" else coaching_notes(report, language)
    for n, en in zip(local, english, strict=True):
        original = (
            "" if language == "en" else f"<br><small class='en' lang='en'>{escape(en)}</small>"
        )
        h.append(f"<li>{escape(n)}{original}</li>")
    heads = ("at", "severity", "kind", "message", "acked_by")
    h.append(f"</ul><h2>{L['alerts']}</h2><table><tr>")
    h += [f"<th>{L[k]}</th>" for k in heads]
    h.append("</tr>")
    for a in report["alerts"]:
        h.append(
            f"<tr><td class='t'>{mmss(a['at'])}</td><td class='{escape(a['severity'])}'>"
            f"{escape(a['severity'])}</td><td>{escape(a['kind'])}</td>"
            f"<td>{escape(a['message'])}</td><td>{escape(a['acked_by'] or '-')}</td></tr>"
        )
    h.append(f"</table><h2>{L['cards']}</h2><table><tr><th>{L['at']}</th><th>{L['card']}</th>"
             f"<th>{L['text']}</th><th>{L['agent_col']}</th></tr>")  # fmt: skip
    for c in report["cards"]:
        h.append(
            f"<tr><td class='t'>{mmss(c['at'])}</td><td>{escape(c['title'])}</td>"
            f"<td>{escape(c['body'])}</td><td>{escape(c['feedback'] or '-')}</td></tr>"
        )
    h.append("</table>")
    muted = report.get("muted_audio") or []
    if muted:
        h.append(f"<h2>{L['muted_audio']}</h2><p>{escape(L['muted_text'])}</p>"
                 "<ul class='muted'>")  # fmt: skip
        h += [
            f"<li>{mmss(m['start'])}-{mmss(m['end'])} {escape(m['speaker'])} "
            f"{escape(m['label'])}</li>"
            for m in muted
        ]
        h.append("</ul>")
    h.append(f"<h2>{L['transcript']}</h2><table>")
    scores = {s["seq"]: s for s in report["scores"]}
    for u in report["utterances"]:
        s = scores.get(u["seq"])
        mood = f"{s['sentiment']} {s['polarity']:+.2f}" if s else ""
        h.append(
            f"<tr><td class='t'>{mmss(u['start'])}</td><td class='{u['speaker']}'>"
            f"{u['speaker']}</td><td>{escape(u['text'])}</td><td class='t'>{mood}</td></tr>"
        )
    h.append("</table></body></html>\n")
    return "".join(h)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _describe(e: dict[str, Any]) -> str:
    kind = e["type"]
    if kind == "utterance":
        return f"{e['speaker']}: {e['text']}"
    if kind == "alert":
        ack = f" (acknowledged by {e['acked_by']})" if e["acked_by"] else " (not acknowledged)"
        return f"{e['severity']} alert {e['kind']}: {e['message']}{ack}"
    if kind == "card":
        return f"card shown: {e['title']}" + (f" ({e['feedback']})" if e["feedback"] else "")
    if kind == "risk_level":
        return f"risk level {e['level']} ({e['risk']:.0f})"
    return f"{e['speaker']} talked over the other party"


def report_stem(call_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in call_id)


def write_report(
    store: CallStore, call_id: str, out_dir: Path, fmt: str = "html", language: str = "en"
) -> list[Path]:
    """Write the report of a stored call; returns the files written: the HTML (or PDF, in
    the reviewer's ``language``) and the JSON export (English), plus the incident record
    (JSON and audio clip) when there is one."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    report = build_report(store.get_call(call_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(call_id)
    written: list[Path] = []
    if fmt in ("html", "pdf"):
        html = out_dir / f"{stem}.html"
        html.write_text(render_html(report, language), encoding="utf-8")
        written.append(_print_pdf(html) if fmt == "pdf" else html)
        if fmt == "pdf":
            html.unlink()
    export = out_dir / f"{stem}.json"
    export.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(export)
    if report["incident"] is not None:
        written += export_incident(report["incident"], store.audio_path(call_id), out_dir, stem)
    return written


def _print_pdf(html: Path) -> Path:
    browser = next((b for b in map(shutil.which, CHROMIUM) if b), None)
    if browser is None:
        raise RuntimeError(
            "--format pdf prints with Chromium, and none is installed; "
            "install it (apt-get install chromium) or use --format html"
        )
    pdf = html.with_suffix(".pdf")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           f"--print-to-pdf={pdf}", html.resolve().as_uri()]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not pdf.exists():
        raise RuntimeError(f"Chromium could not print {html.name}: {done.stderr.strip()[-300:]}")
    return pdf


def report_main(argv: list[str]) -> int:
    from monitor.config import DEFAULT_STORE

    parser = argparse.ArgumentParser(prog="callmon report", description=__doc__.split("\n")[0])
    parser.add_argument("call_id", help="the call's id (see the QA page or `callmon replay`)")
    parser.add_argument("--format", choices=FORMATS, default="html")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="the SQLite store")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    parser.add_argument(
        "--language",
        choices=LANGUAGE_CODES,
        default="en",
        help="the reviewer's language for the HTML/PDF (the JSON export stays English)",
    )
    args = parser.parse_args(argv)
    if not args.store.exists():
        print(f"error: no call store at {args.store}; replay a call first or pass --store",
              file=sys.stderr)  # fmt: skip
        return 2
    with CallStore(args.store) as store:
        try:
            paths = write_report(store, args.call_id, args.out, args.format, args.language)
        except KeyError:
            known = [c["call_id"] for c in store.list_calls(limit=5)]
            print(f"error: no call {args.call_id!r} in {args.store}; recent calls: "
                  f"{', '.join(known) or 'none'}", file=sys.stderr)  # fmt: skip
            return 2
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for path in paths:
        print(path)
    return 0
