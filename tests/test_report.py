"""Per-call reports, incident records and the HTTP API, on a real store."""

from __future__ import annotations

import json
import re
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.qa.example import example_audio, example_call
from monitor.qa.http import make_handler
from monitor.qa.incident import incident_record
from monitor.qa.report import coaching_notes, report_main, write_report
from monitor.redact.pii import redact_event
from monitor.store.db import CallStore

RATE = 8_000


def fill(store: CallStore, call_id: str) -> None:
    writer = store.open_audio(call_id, RATE, 2)
    writer.write(example_audio(RATE))
    for e in example_call(call_id):
        store.persist(redact_event(e))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    s = CallStore(tmp_path / "calls.db")
    fill(s, "call-1")
    s.persist(ev.CallStarted("calm-1", "calm call", "agent-2"))
    s.persist(ev.FinalUtterance("calm-1", "customer", 0, "thanks, all good", 0.0, 2.0))
    s.persist(ev.UtteranceScore("calm-1", 0, "customer", 2.0, "positive", (0.05, 0.15, 0.8)))
    s.persist(ev.CallEnded("calm-1", 3.0))
    yield s
    s.close()


def test_html_report_is_self_contained(store: CallStore, tmp_path: Path) -> None:
    paths = write_report(store, "call-1", tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == ["call-1.html", "call-1.incident.json", "call-1.incident.wav", "call-1.json"]
    html = (tmp_path / "out" / "call-1.html").read_text()
    assert "<svg" in html and 'class="risk"' in html and "alert-marker" in html
    points = re.search(r'class="risk" points="([^"]+)"', html)
    assert points is not None and len(points.group(1).split()) == 8
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html), "external reference"
    assert "<script" not in html
    for text in ("Coaching notes", "Incident: abuse", "speak to your manager", "Take ownership",
                 "[card]", "sup-1"):  # fmt: skip
        assert text in html
    assert "4572" not in html


def test_json_export_and_incident(store: CallStore, tmp_path: Path) -> None:
    write_report(store, "call-1", tmp_path, fmt="json")
    assert not (tmp_path / "call-1.html").exists()
    export = json.loads((tmp_path / "call-1.json").read_text())
    assert len(export["utterances"]) == 8 and export["coaching_notes"]
    assert [e["type"] for e in export["timeline"]][:2] == ["utterance", "risk_level"]
    incident = json.loads((tmp_path / "call-1.incident.json").read_text())
    assert incident["kinds"] == ["abuse"]
    assert incident["span"]["start"] <= 19.0 <= incident["span"]["end"]
    assert any("idiot" in u["text"] for u in incident["transcript"])
    assert any(e["type"] == "alert" and e["kind"] == "abuse" for e in incident["timeline"])
    assert incident["supervisor_informed"] is False
    with wave.open(str(tmp_path / "call-1.incident.wav")) as clip:
        seconds = clip.getnframes() / clip.getframerate()
    span = incident["span"]
    assert seconds == pytest.approx(span["end"] - span["start"], abs=0.01)


def test_calm_call_has_no_incident(store: CallStore, tmp_path: Path) -> None:
    call = store.get_call("calm-1")
    assert incident_record(call) is None
    assert not any("incident" in n for n in coaching_notes(call))
    assert sorted(p.name for p in write_report(store, "calm-1", tmp_path)) == [
        "calm-1.html", "calm-1.json",
    ]  # fmt: skip


def test_coaching_notes(store: CallStore) -> None:
    notes = " | ".join(coaching_notes(store.get_call("call-1")))
    assert "Talked over the customer 1 time(s)" in notes
    assert '"Stop and listen"; the agent dismissed it' in notes
    assert "Critical alert abuse at 00:22 was never acknowledged" in notes
    assert "Risk peaked at 81" in notes


def test_report_cli(store: CallStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store.close()
    db = tmp_path / "calls.db"
    out = tmp_path / "cli"
    assert report_main(["call-1", "--store", str(db), "--out", str(out)]) == 0
    assert (out / "call-1.html").exists()
    assert report_main(["nope", "--store", str(db), "--out", str(out)]) == 2
    assert "no call 'nope'" in capsys.readouterr().err
    assert report_main(["x", "--store", str(tmp_path / "missing.db")]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium to print PDFs with")
def test_pdf_report(store: CallStore, tmp_path: Path) -> None:
    paths = write_report(store, "calm-1", tmp_path, fmt="pdf")
    pdf = tmp_path / "calm-1.pdf"
    assert pdf in paths and pdf.read_bytes().startswith(b"%PDF")


async def ask(
    handle: Any, path: str, query: dict[str, list[str]] | None = None, method: str = "GET"
) -> tuple[int, str, bytes]:
    result = await handle(method, path, query or {})
    assert result is not None, f"the API did not answer {method} {path}"
    return result  # type: ignore[no-any-return]


async def test_http_api(store: CallStore) -> None:
    handle = make_handler(store)
    assert await handle("GET", "/index.html", {}) is None
    assert await handle("GET", "/api/other", {}) is None
    status, kind, body = await ask(handle, "/api/calls", {"q": ["MANAGER right"]})
    data = json.loads(body)
    assert status == 200 and kind.startswith("application/json")
    assert [c["call_id"] for c in data["calls"]] == ["call-1"]
    status, _, body = await ask(handle, "/api/calls", {"min_sentiment": ["0.5"]})
    assert [c["call_id"] for c in json.loads(body)["calls"]] == ["calm-1"]
    status, _, body = await ask(handle, "/api/calls/call-1")
    call = json.loads(body)
    assert status == 200 and call["incident"]["kinds"] == ["abuse"] and call["coaching_notes"]
    assert [m["label"] for m in call["muted_audio"]] == ["[card]", "[phone]"]
    status, kind, body = await ask(handle, "/api/calls/call-1/audio.wav")
    assert (status, kind) == (200, "audio/wav") and body[:4] == b"RIFF"
    status, kind, body = await ask(handle, "/api/calls/call-1/report.html")
    assert status == 200 and b"<svg" in body and b"Muted audio" in body
    assert (await ask(handle, "/api/calls/calm-1/incident.json"))[0] == 404
    assert (await ask(handle, "/api/calls/calm-1/audio.wav"))[0] == 410
    status, _, body = await ask(handle, "/api/calls/nope")
    assert status == 404 and "no call 'nope'" in json.loads(body)["error"]
    status, _, body = await ask(handle, "/api/calls", {"max_sentiment": ["low"]})
    assert status == 400 and "max_sentiment must be a number" in json.loads(body)["error"]
    assert (await ask(handle, "/api/calls", {"date_from": ["soon"]}))[0] == 400
    assert (await ask(handle, "/api/calls/call-1/nothing"))[0] == 404
    assert (await ask(handle, "/api/calls", method="POST"))[0] == 405
    # without tokens nobody can be named in the audit trail: no erasure over HTTP
    status, _, body = await ask(handle, "/api/calls/call-1", method="DELETE")
    assert status == 403 and "callmon calls delete" in json.loads(body)["error"]
    assert (await ask(handle, "/api/calls/call-1"))[0] == 200


async def test_http_api_with_authorize(store: CallStore) -> None:
    handle = make_handler(store, authorize=lambda token: token == "qa-token-0123456789")
    status, _, body = await ask(handle, "/api/calls")
    assert status == 401 and "token" in json.loads(body)["error"]
    assert (await ask(handle, "/api/calls/call-1/audio.wav", {"token": ["wrong"]}))[0] == 401
    assert (await ask(handle, "/api/calls", {"token": ["qa-token-0123456789"]}))[0] == 200
    assert await handle("GET", "/qa.html", {}) is None  # static files are not the API's business
