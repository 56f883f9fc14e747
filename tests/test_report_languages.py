"""QA reports in the reviewer's language as well as English (issue #12), on a real store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.qa.http import make_handler
from monitor.qa.i18n import LABELS, NOTES
from monitor.qa.report import coaching_notes, report_main, write_report
from monitor.store.db import CallStore
from tests.test_report import ask, fill


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CallStore]:
    s = CallStore(tmp_path / "calls.db")
    fill(s, "call-1")
    yield s
    s.close()


def test_every_language_has_every_text() -> None:
    for table in (LABELS, NOTES):
        assert set(table) == {"en", "id", "ms", "ro"}
        for texts in table.values():
            assert set(texts) == set(table["en"])


def test_notes_say_the_same_facts_in_every_language(store: CallStore) -> None:
    call = store.get_call("call-1")
    english = coaching_notes(call)
    assert coaching_notes(call, "en") == english
    for lang in ("id", "ms", "ro"):
        local = coaching_notes(call, lang)
        assert len(local) == len(english) and local != english
        # times, numbers and card titles carry over unchanged
        for en, loc in zip(english, local, strict=True):
            for token in (t for t in en.split() if any(ch.isdigit() for ch in t)):
                assert token.strip('.,:;()"') in loc, (token, loc)


@pytest.mark.parametrize(("lang", "heading"), [("id", "Catatan pembinaan"),
                                               ("ms", "Nota bimbingan"),
                                               ("ro", "Note de coaching")])  # fmt: skip
def test_html_in_the_reviewers_language_keeps_english_notes(
    store: CallStore, tmp_path: Path, lang: str, heading: str
) -> None:
    (html_path, json_path, *_) = write_report(store, "call-1", tmp_path, language=lang)
    html = html_path.read_text(encoding="utf-8")
    assert f"<html lang='{lang}'>" in html and heading in html
    assert "Coaching notes" not in html  # headings in the reviewer's language
    for note in coaching_notes(store.get_call("call-1")):
        assert note.replace('"', "&quot;") in html  # each English original beside its note
    export = json.loads(json_path.read_text(encoding="utf-8"))
    assert export["coaching_notes"] == coaching_notes(store.get_call("call-1"))  # JSON: English


def test_cli_and_http_take_the_language(store: CallStore, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"  # the fixture's store
    out = tmp_path / "out"
    assert report_main(["call-1", "--store", str(db), "--out", str(out), "--language", "ro"]) == 0
    assert "Note de coaching" in (out / "call-1.html").read_text(encoding="utf-8")
    with pytest.raises(SystemExit):
        report_main(["call-1", "--store", str(db), "--language", "de"])


async def test_http_report_in_a_language(store: CallStore) -> None:
    handle = make_handler(store)
    status, _, body = await ask(handle, "/api/calls/call-1/report.html", {"lang": ["ms-MY"]})
    assert status == 200 and "Nota bimbingan" in body.decode()
    status, _, body = await ask(handle, "/api/calls/call-1/report.html", {"lang": ["de"]})
    assert status == 400 and b"unsupported language 'de'" in body
    status, _, body = await ask(handle, "/api/calls/call-1/report.html")
    assert status == 200 and "Coaching notes" in body.decode()
