"""The call's language on the supervisor board (row and detail) and on the agent panel
(issue #12), in headless Chromium against a real server fed real events."""

from __future__ import annotations

from typing import Any

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.server import MonitorServer, ServerConfig
from tests.test_browser_board import SUP, agent_url, open_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_board_and_agent_panel_show_the_call_language(browser: Any) -> None:
    bus = EventBus()
    config = ServerConfig(port=0, tokens={SUP: "supervisor"}).with_generated_tokens(["a1", "a2"])
    server = MonitorServer(bus, config)
    await server.start()
    try:
        await bus.publish(ev.CallStarted("c-ro", "factura", "a1", language="ro"))
        await bus.publish(ev.CallStarted("c-ms", "bil", "a2", language="ms"))
        board = await open_page(browser, server.urls()["board"])
        row = board.locator("tr[data-call-id='c-ro']")
        await row.wait_for()
        assert await row.locator("[data-testid='call-language']").inner_text() == "RO"
        ms = board.locator("tr[data-call-id='c-ms'] [data-testid='call-language']")
        assert await ms.inner_text() == "MS"
        await row.click()
        detail = board.locator("h2 [data-testid='call-language']")
        await detail.wait_for()
        assert await detail.inner_text() == "RO"
        panel = await open_page(browser, agent_url(server, "a2"), 720, 800)
        await panel.locator("#call-name", has_text="bil").wait_for()
        assert (await panel.locator("#call-name").inner_text()).strip() == "bil · MS"
        assert board.errors == [] and panel.errors == [], (board.errors, panel.errors)
    finally:
        await server.stop(timeout=2.0)


async def test_a_detected_language_says_so_on_the_board_and_the_agent_panel(browser: Any) -> None:
    """A call in "auto" is announced detecting, then re-announced with the language found
    (monitor/asr/detect.py): both pages follow, and say it was detected and how surely."""
    bus = EventBus()
    config = ServerConfig(port=0, tokens={SUP: "supervisor"}).with_generated_tokens(["a3"])
    server = MonitorServer(bus, config)
    await server.start()
    try:
        first = ev.CallStarted("c-auto", "auto call", "a3", language_source="detecting")
        await bus.publish(first)
        board = await open_page(browser, server.urls()["board"])
        badge = board.locator("tr[data-call-id='c-auto'] [data-testid='call-language']")
        await badge.wait_for()
        assert await badge.inner_text() == "detecting language…"
        panel = await open_page(browser, agent_url(server, "a3"), 720, 800)
        await panel.locator("#call-name", has_text="detecting").wait_for()
        detected = ev.CallStarted(
            "c-auto",
            "auto call",
            "a3",
            language="id",
            language_source="detected",
            language_probability=0.7125,
        )
        await bus.publish(detected)
        await board.locator(
            "tr[data-call-id='c-auto'] [data-testid='call-language']", has_text="ID"
        ).wait_for()
        assert await badge.inner_text() == "ID · detected 71%"
        assert await badge.get_attribute("data-language-source") == "detected"
        # the agent's panel switches to the call's language: Indonesian words
        await panel.locator("#call-name", has_text="ID").wait_for()
        assert (await panel.locator("#call-name").inner_text()).strip() == (
            "auto call · ID · terdeteksi 71%"
        )
        assert board.errors == [] and panel.errors == [], (board.errors, panel.errors)
    finally:
        await server.stop(timeout=2.0)
