"""Shared fixtures: real models loaded once per session, real rendered calls, the harness.

A model that cannot be loaded skips the tests that need it, with the reason; nothing here
pretends to be a model.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from monitor import events as ev  # after the environment above
from monitor.bus import EventBus
from monitor.config import MonitorConfig

REPO = Path(__file__).resolve().parent.parent
SAMPLES_AUDIO = REPO / "samples" / "audio"
# Debian's Chromium, never a downloaded browser; flags keep it off the (closed) network
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def sample_calls() -> dict[str, Any]:
    """The bundled sample calls rendered to stereo WAV (what `make samples` does)."""
    from monitor.samples import render_all

    return {c.name: c for c in render_all(SAMPLES_AUDIO)}


@pytest.fixture(scope="session")
def asr_engine() -> Any:
    from monitor.asr import AsrError, load_engine

    try:
        return load_engine("auto")
    except AsrError as exc:
        pytest.skip(f"no speech engine: {exc}")


@pytest.fixture(scope="session")
def text_classifier() -> Any:
    from monitor.scoring.classifier import ModelNotFoundError, TextClassifier

    try:
        return TextClassifier.load()
    except ModelNotFoundError as exc:
        pytest.skip(f"no text classifier: {exc}")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium driven by Playwright; skipped with the reason when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        pytest.skip(f"playwright is not installed: {exc}")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


MonitorFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
async def make_monitor(asr_engine: Any, text_classifier: Any) -> AsyncIterator[MonitorFactory]:
    """Builds Monitors on the session's models; closes them after the test."""
    from monitor.pipeline import Monitor

    made: list[Any] = []

    async def make(config: MonitorConfig | None = None, bus: EventBus | None = None) -> Any:
        m = await Monitor.create(
            config or MonitorConfig(), bus, engine=asr_engine, classifier=text_classifier
        )
        made.append(m)
        return m

    yield make
    for m in made:
        await m.aclose()


async def run_call_events(monitor: Any, source: Any, meta: Any) -> tuple[Any, list[ev.Event]]:
    """The harness: feed one call through the real pipeline, return its ordered events."""
    sub = monitor.bus.subscribe("harness", maxsize=100_000, overflow="wait")
    try:
        summary = await monitor.run_call(source, meta)
    finally:
        sub.close()
    events = [e async for e in sub if ev.call_id_of(e) in (None, summary.call_id)]
    return summary, events


def write_script(path: Path, name: str, turns: list[dict[str, Any]], **top: Any) -> Path:
    """A small call script in the samples' TOML format (rendered by the real TTS)."""
    lines = [
        f'name = "{name}"',
        f'title = "{name}"',
        'description = "test call"',
        f'agent_id = "{top.get("agent_id", "agent-test")}"',
        f'language = "{top.get("language", "en")}"',
        'queue = "test"',
        f'expected = "{top.get("expected", "calm")}"',
        "expected_intents = []",
        '[voices.customer]\nengine = "hibari"\nvoice = "heart"\npitch = 1.0\nrate = 1.0',
        '[voices.agent]\nengine = "hibari"\nvoice = "heart"\npitch = 0.8\nrate = 1.0',
    ]
    for t in turns:
        lines.append("[[turns]]")
        for k, v in t.items():
            lines.append(f"{k} = {json.dumps(v)}")  # JSON strings, numbers, bools are TOML
    path.write_text("\n".join(lines) + "\n")
    return path


def render_call(folder: Path, name: str, turns: list[dict[str, Any]], **top: Any) -> Path:
    """A small call script (``write_script``) rendered to ``folder/name.wav`` by the real TTS."""
    from monitor.samples import load_script, render

    wav = folder / f"{name}.wav"
    render(load_script(write_script(folder / f"{name}.toml", name, turns, **top)), wav)
    return wav
