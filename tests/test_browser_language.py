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
