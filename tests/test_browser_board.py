"""The supervisor board and the agent panel in headless Chromium against a real server.

The acceptance test feeds a real sample call (rendered by the samples helper) through the
real pipeline (ASR, scorer, playbook) into the server; the board tests feed real events on
a real bus to check what the pages do with them (partials, sorting, strain, restart).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from monitor import events as ev
from monitor.bus import EventBus
from monitor.server import MonitorServer, ServerConfig

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

REPO = Path(__file__).resolve().parent.parent
IMG = REPO / "docs" / "img"
SUP, SUP2 = "board-token-0123456789", "board-token-abcdefghij"
OTHER_AGENT = "agent-token-other-0123"


async def open_page(browser: Any, url: str, width: int = 1280, height: int = 800) -> Any:
    page = await browser.new_page(viewport={"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on(
        "console",
        lambda m: page.errors.append(m.text) if m.type == "error" else None,
    )
    await page.goto(url)
    await page.wait_for_selector('body[data-connection="live"]', timeout=10_000)
    return page


async def visible_while(locator: Any, run: asyncio.Task[Any], timeout_s: float) -> None:
    """Wait for a locator while the call runs; a pipeline failure surfaces at once."""
    waiter = asyncio.ensure_future(locator.first.wait_for(timeout=timeout_s * 1000))
    await asyncio.wait({waiter, run}, return_when=asyncio.FIRST_COMPLETED)
    if run.done() and run.exception() is not None and not waiter.done():
        waiter.cancel()
        raise AssertionError(f"the pipeline failed: {run.exception()!r}") from run.exception()
    await waiter


def agent_url(server: MonitorServer, agent_id: str) -> str:
    return server.urls()[f"agent:{agent_id}"]


# ---- acceptance: a real replayed call -------------------------------------------------------


async def test_real_call_board_alert_ack_and_agent_isolation(
    browser: Any, make_monitor: Any, sample_calls: dict[str, Any]
) -> None:
    from monitor.pipeline import CallMeta
    from monitor.sources import FileSource

    call = sample_calls["legal_threat"]  # the customer threatens a lawyer: critical alert
    bus = EventBus()
    monitor = await make_monitor(bus=bus)
    tokens = {SUP: "supervisor", SUP2: "supervisor", OTHER_AGENT: "agent:agent-other"}
    config = ServerConfig(port=0, tokens=tokens).with_generated_tokens([call.agent_id])
    server = MonitorServer(bus, config)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        board = await open_page(browser, f"{base}/?token={SUP}")
        board2 = await open_page(browser, f"{base}/?token={SUP2}", 1000, 700)
        agent = await open_page(browser, agent_url(server, call.agent_id), 720, 900)
        other = await open_page(browser, f"{base}/agent.html?token={OTHER_AGENT}", 720, 600)

        meta = CallMeta(name=call.name, agent_id=call.agent_id, queue="retention")
        run = asyncio.create_task(monitor.run_call(FileSource(call.wav_path, realtime=False), meta))

        row = board.locator("#grid tbody tr[data-call-id]")
        await visible_while(row, run, 60)
        assert call.agent_id in await row.first.inner_text()
        alert = board.locator("#alerts li[data-alert-id]")
        await visible_while(alert, run, 300)
        await visible_while(agent.locator("#cards li[data-card-id]"), run, 300)
        # the call escalates: a critical alert, pulsing on the board
        await visible_while(board.locator("#alerts li.critical"), run, 300)
        # the drill-in, live: transcript with sentiment per utterance, the cards the agent saw
        await row.first.click()
        await board.locator("#detail .transcript li.final").first.wait_for()
        await board.locator("#detail .detail-cards li").first.wait_for()
        await asyncio.sleep(1.0)
        IMG.mkdir(parents=True, exist_ok=True)
        await board.screenshot(path=str(IMG / "board.png"), full_page=True)
        await agent.screenshot(path=str(IMG / "agent.png"), full_page=True)
        summary = await asyncio.wait_for(run, 600)
        assert summary.alerts >= 1 and summary.cards >= 1
        await board.locator("#grid tbody tr.ended").wait_for()

        # acknowledging on one board clears the alert on the other
        alert_id = await alert.first.get_attribute("data-alert-id")
        on_board2 = board2.locator(f'#alerts li[data-alert-id="{alert_id}"]')
        await on_board2.wait_for()
        await alert.first.locator("input").fill("maria")
        await alert.first.locator("button.ack").click()
        await on_board2.wait_for(state="detached", timeout=10_000)
        await board.locator(f'#alerts li[data-alert-id="{alert_id}"]').wait_for(state="detached")
        assert "1" in await board2.locator("#acked").inner_text()

        # the agent marks a card used: the feedback reaches the board's drill-in
        card = agent.locator("#cards li[data-card-id]").first
        card_id = await card.get_attribute("data-card-id")
        await card.locator("button.used").click()
        await agent.locator(f'#cards li.done[data-card-id="{card_id}"]').wait_for()

        # the other agent's panel shows nothing of this call
        assert await other.locator("#cards li").count() == 0
        assert await other.locator("#transcript li").count() == 0
        assert (await other.locator("#call-name").inner_text()).strip() == "—"
        text = await other.inner_text("body")
        assert call.name not in text
        for page in (board, board2, agent, other):
            assert page.errors == [], page.errors
    finally:
        await server.stop(timeout=2.0)


# ---- the board's behaviour on real events ---------------------------------------------------


def _call(call_id: str, agent: str, risk: float, level: ev.RiskLevel) -> list[ev.Event]:
    return [
        ev.CallStarted(call_id, f"call {call_id}", agent),
        ev.FinalUtterance(call_id, "customer", 0, f"hello from {call_id}", 0.0, 2.0),
        ev.UtteranceScore(call_id, 0, "customer", 2.0, "negative", (0.8, 0.1, 0.1)),
        ev.CallRisk(call_id, 2.0, risk / 2, "watch", -0.5),
        ev.CallRisk(call_id, 4.0, risk, level, -0.7),
    ]


async def test_board_partials_sorting_strain_and_restart(browser: Any) -> None:
    bus = EventBus()
    server = MonitorServer(bus, ServerConfig(port=0, tokens={SUP: "supervisor"}))
    await server.start()
    port = server.port
    second: MonitorServer | None = None
    try:
        for e in _call("calm-1", "a1", 10, "calm") + _call("hot-1", "a2", 85, "escalated"):
            await bus.publish(e)
        board = await open_page(browser, f"http://127.0.0.1:{port}/?token={SUP}&lang=ro")
        rows = board.locator("#grid tbody tr[data-call-id]")
        await rows.nth(1).wait_for()
        assert await rows.nth(0).get_attribute("data-call-id") == "hot-1"  # needs help: on top
        assert "escaladat" in await rows.nth(0).inner_text()  # labels in Romanian
        assert await rows.nth(0).locator("svg.spark polyline").count() == 1

        # partial text in grey, then final
        await rows.nth(0).click()
        await bus.publish(ev.PartialUtterance("hot-1", "customer", 1, "I want to", 5.0, 5.5))
        partial = board.locator("#detail .transcript li.partial")
        await partial.wait_for()
        assert "I want to" in await partial.inner_text()
        final = ev.FinalUtterance("hot-1", "customer", 1, "I want to speak to a manager", 5, 7)
        await bus.publish(final)
        await board.locator("#detail .transcript li.final[data-seq='1']").wait_for()
        assert await partial.count() == 0

        # the calm call turns critical: it moves to the top and pulses
        await bus.publish(ev.CallRisk("calm-1", 9.0, 95, "escalated", -0.9))
        await bus.publish(ev.Alert("calm-1", "al-9", 9.0, "critical", "abuse", "Abusive language"))
        await board.locator("#alerts li.critical[data-alert-id='al-9']").wait_for()
        await board.locator("#grid tbody tr[data-call-id='calm-1'].pulse").wait_for()
        assert await rows.nth(0).get_attribute("data-call-id") == "calm-1"

        await bus.publish(ev.AgentStrain("a2", 3, 4, "Offer a five-minute break"))
        await board.locator("#strain li[data-agent-id='a2']").wait_for()

        # server restart on the same port: the board reconnects and resyncs from the snapshot
        await server.stop(timeout=2.0)
        await board.wait_for_selector('body[data-connection="reconnecting"]')
        bus2 = EventBus()
        second = MonitorServer(bus2, ServerConfig(port=port, tokens={SUP: "supervisor"}))
        await second.start()
        for e in _call("after-1", "a3", 40, "watch"):
            await bus2.publish(e)
        await board.wait_for_selector('body[data-connection="live"]', timeout=15_000)
        await board.locator("#grid tbody tr[data-call-id='after-1']").wait_for()
        assert await rows.count() == 1  # the stale calls are gone: state is the new snapshot
        assert board.errors == [] or all("WebSocket" in e for e in board.errors), board.errors
    finally:
        await server.stop(timeout=2.0)
        if second is not None:
            await second.stop(timeout=2.0)


async def test_agent_panel_is_quiet_then_shows_cards_newest_first(browser: Any) -> None:
    bus = EventBus()
    tokens = {SUP: "supervisor"}
    server = MonitorServer(bus, ServerConfig(port=0, tokens=tokens).with_generated_tokens(["a1"]))
    await server.start()
    try:
        await bus.publish(ev.CallStarted("c1", "billing", "a1", language="id"))
        page = await open_page(browser, agent_url(server, "a1"), 720, 800)
        quiet = page.locator("#quiet")
        await page.locator("#call-name", has_text="billing").wait_for()
        assert "Tidak ada" in await quiet.inner_text()  # quiet, in the call's language
        for i, title in enumerate(["Dengarkan dulu", "Akui perasaannya"]):
            card = ev.PromptCard("c1", f"k{i}", float(i), "id", "acknowledge", title, "…")
            await bus.publish(card)
        await page.locator("#cards li[data-card-id='k1']").wait_for()
        ids = [
            await li.get_attribute("data-card-id") for li in await page.locator("#cards li").all()
        ]
        assert ids == ["k1", "k0"]  # newest on top
        assert await quiet.is_hidden()
        await page.locator("#cards li[data-card-id='k1'] button.dismiss").click()
        await page.locator("#cards li.done[data-card-id='k1']").wait_for()
        assert page.errors == [], page.errors
    finally:
        await server.stop(timeout=2.0)
