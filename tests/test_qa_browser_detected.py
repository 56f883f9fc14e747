"""The QA page says when a call's language was detected, with the detector's confidence
(issue #12), in headless Chromium against the real server, the store's API and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.server import ServerConfig
from monitor.store.db import CallStore
from tests.auto_language import auto_call
from tests.qa_server import serve_qa
from tests.test_qa_browser import page, until  # noqa: F401  (page: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SUP = "qa-detected-supervisor-0123"


@pytest.fixture
async def qa_server(tmp_path: Path) -> AsyncIterator[str]:
    store = CallStore(tmp_path / "calls.db")
    detecting, detected = auto_call()
    store.persist(detecting)
    store.persist(detected)
    store.persist(ev.FinalUtterance("auto-1", "customer", 0, "saya mau komplain", 0.5, 2.0))
    store.persist(ev.CallEnded("auto-1", 3.0))
    store.persist(ev.CallStarted("ro-1", "given call", "agent-2", language="ro"))
    store.persist(ev.FinalUtterance("ro-1", "customer", 0, "bună ziua", 0.5, 2.0))
    store.persist(ev.CallEnded("ro-1", 3.0))
    try:
        async with serve_qa(store, ServerConfig(port=0, tokens={SUP: "supervisor"})) as url:
            yield url
    finally:
        store.close()


async def meta_of(qa_server: str, page: Any, call_id: str) -> str:  # noqa: F811
    """The meta line of a call opened from the list (it starts with the call's id)."""
    await page.goto(qa_server + f"/qa.html?token={SUP}")
    await page.click(f"#calls tbody tr[data-call-id='{call_id}']")
    await until(page, f"document.querySelector('#call-meta').textContent.startsWith('{call_id} ')")
    text: str = await page.locator("#call-meta").inner_text()
    return text


async def test_the_qa_page_shows_a_detected_language(qa_server: str, page: Any) -> None:  # noqa: F811
    detected = await meta_of(qa_server, page, "auto-1")
    assert "id · detected 71%" in detected, detected
    given = await meta_of(qa_server, page, "ro-1")
    assert " · ro · " in given and "detected" not in given, given
    assert page.errors == []
