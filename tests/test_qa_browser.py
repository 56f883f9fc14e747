"""The QA page in headless Chromium, served by the real MonitorServer with the store's API:
search finds a call by a phrase, the curve renders, clicking an alert marker moves the audio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.qa.example import example_audio, example_call
from monitor.redact.pii import redact_event
from monitor.server import ServerConfig
from monitor.store.db import CallStore
from tests.qa_server import serve_qa, supervisors_only

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SUP = "qa-supervisor-token-0123"
TOKENS = {SUP: "supervisor", "qa-agent-token-012345678": "agent:agent-7"}
RATE = 16_000


@pytest.fixture
async def qa_server(tmp_path: Path) -> AsyncIterator[str]:
    store = CallStore(tmp_path / "calls.db")
    writer = store.open_audio("call-1", RATE, 2)
    writer.write(example_audio(RATE))
    for e in example_call("call-1", name="refund escalation"):
        store.persist(redact_event(e))
    store.persist(ev.CallStarted("calm-1", "calm billing", "agent-2"))
    store.persist(ev.FinalUtterance("calm-1", "customer", 0, "thanks, all sorted", 0.5, 2.0))
    store.persist(ev.UtteranceScore("calm-1", 0, "customer", 2.0, "positive", (0.05, 0.15, 0.8)))
    store.persist(ev.CallRisk("calm-1", 2.0, 3.0, "calm", 0.75))
    store.persist(ev.CallEnded("calm-1", 3.0))
    cfg = ServerConfig(port=0, tokens=TOKENS)
    try:
        async with serve_qa(store, cfg, authorize=supervisors_only(cfg)) as url:
            yield url
    finally:
        store.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    pg = await browser.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda m: _console(pg, m))
    pg.on("response", lambda r: _response(pg, r))
    try:
        yield pg
    finally:
        await pg.close()


def _console(page: Any, message: Any) -> None:
    # failed loads are judged by _response (the favicon is allowed to be missing)
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        page.errors.append(message.text)


def _response(page: Any, response: Any) -> None:
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        page.errors.append(f"{response.status} {response.url}")


async def until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression from the test side: the page's CSP forbids the in-page eval that
    page.wait_for_function needs."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for: {expression}")
        await asyncio.sleep(0.05)


async def test_search_curve_and_seek(qa_server: str, page: Any) -> None:
    await page.goto(qa_server + f"/qa.html?token={SUP}")
    await page.wait_for_selector("#calls tbody tr >> nth=1")  # both calls listed
    assert await page.locator("#calls tbody tr").count() == 2

    # search by a phrase from the transcript
    await page.fill("input[name=q]", "speak to your manager")
    await page.click("#search button[type=submit]")
    await until(page, "document.querySelectorAll('#calls tbody tr').length === 1")
    row = page.locator("#calls tbody tr")
    assert await row.get_attribute("data-call-id") == "call-1"
    assert "speak to your manager" in (await row.inner_text())

    # filters: lowest sentiment >= 0.5 finds only the calm call
    await page.fill("input[name=q]", "")
    await page.fill("input[name=min_sentiment]", "0.5")
    await page.click("#search button[type=submit]")
    await until(page, "document.querySelector('#calls tbody tr')?.dataset.callId === 'calm-1'")
    await page.fill("input[name=min_sentiment]", "")
    await page.fill("input[name=alert]", "abuse")
    await page.click("#search button[type=submit]")
    await until(
        page,
        "document.querySelectorAll('#calls tbody tr').length === 1 &&"
        " document.querySelector('#calls tbody tr').dataset.callId === 'call-1'",
    )

    # open the call: the curve renders with one point per risk update, and the markers
    await row.click()
    await page.wait_for_selector("#curve-svg polyline.risk")
    points = await page.get_attribute("#curve-svg polyline.risk", "points")
    assert points is not None and len(points.split()) == 8
    box = await page.locator("#curve-svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50
    assert await page.locator("#curve-svg .alert-marker").count() == 2
    assert await page.locator("#curve-svg .card-marker").count() == 2
    assert await page.locator("#transcript li").count() == 8
    assert "[card]" in await page.inner_text("#transcript")
    # the spans muted in the recording (the card and the phone number read out) are marked
    bands = page.locator("#curve-svg rect.muted-span")
    assert await bands.count() == 2
    assert await bands.nth(0).get_attribute("data-label") == "[card]"
    assert "[card]" in await page.inner_text("#muted")
    card_start = float(await bands.nth(0).get_attribute("data-start") or "nan")

    # the audio is loaded; clicking the critical alert's marker seeks to it
    await until(page, "document.querySelector('#player').readyState >= 1")
    duration = await page.evaluate("document.querySelector('#player').duration")
    assert duration == pytest.approx(29.0, abs=0.1)
    assert await page.evaluate("document.querySelector('#player').currentTime") == 0
    await page.click("#curve-svg .alert-marker[data-alert-id='call-1:a2']")
    await until(page, "Math.abs(document.querySelector('#player').currentTime - 22.0) < 0.05")
    # the transcript follows the audio position
    await page.wait_for_selector("#transcript li.current")
    assert "useless" in await page.inner_text("#transcript li.current")
    await page.click("#curve-svg .alert-marker[data-alert-id='call-1:a1']")
    await until(page, "Math.abs(document.querySelector('#player').currentTime - 13.0) < 0.05")
    # clicking a muted band plays from its start
    await bands.nth(0).click()
    await until(
        page, f"Math.abs(document.querySelector('#player').currentTime - {card_start}) < 0.05"
    )
    # and clicking a transcript line seeks too
    await page.click("#transcript li >> nth=6")
    await until(page, "Math.abs(document.querySelector('#player').currentTime - 22.5) < 0.05")
    href = await page.get_attribute("#report-link", "href")
    assert href == f"/api/calls/call-1/report.html?token={SUP}"
    assert not await page.locator("#incident-link").is_hidden()
    assert page.errors == []


async def test_call_without_audio_says_so(qa_server: str, page: Any) -> None:
    await page.goto(qa_server + f"/qa.html?token={SUP}#call=calm-1")
    await page.wait_for_selector("#curve-svg polyline.sentiment", state="attached")
    assert await page.locator("#curve-svg circle.sentiment-point").count() == 1
    await page.wait_for_selector("#audio-note:not([hidden])")
    assert "No recording" in await page.inner_text("#audio-note")
    assert await page.locator("#incident-link").is_hidden()
    assert page.errors == []


async def test_api_refuses_requests_without_a_supervisor_token(qa_server: str, page: Any) -> None:
    await page.goto(qa_server + "/qa.html?token=qa-agent-token-012345678")
    await until(page, "document.querySelector('#status').textContent.includes('search failed')")
    assert "supervisor token" in await page.inner_text("#status")
    assert await page.locator("#calls tbody tr").count() == 0
    page.errors.clear()  # the 401s were the point


async def test_a_supervisor_erases_a_call_from_the_page(qa_server: str, page: Any) -> None:
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(qa_server + f"/qa.html?token={SUP}#call=call-1")
    await page.wait_for_selector("#curve-svg polyline.risk")
    await page.click("#erase-call")
    await until(page, "document.querySelector('#status').textContent === 'call call-1 erased'")
    assert await page.locator("#call").is_hidden()
    rows = page.locator("#calls tbody tr")
    assert await rows.count() == 1 and await rows.get_attribute("data-call-id") == "calm-1"
    assert page.errors == []
    status = await page.evaluate(f"fetch('/api/calls/call-1?token={SUP}').then((r) => r.status)")
    assert status == 404  # (this check's own 404 is the only failed request)


async def test_an_agent_token_cannot_erase(qa_server: str, page: Any) -> None:
    await page.goto(qa_server + "/qa.html")  # the page itself is public; the API is not
    status = await page.evaluate(
        "fetch('/api/calls/call-1?token=qa-agent-token-012345678', {method: 'DELETE'})"
        ".then((r) => r.status)"
    )
    assert status == 401
    sup = await page.evaluate(f"fetch('/api/calls/call-1?token={SUP}').then((r) => r.status)")
    assert sup == 200, "nothing was erased"
    page.errors.clear()  # the 401 was the point
