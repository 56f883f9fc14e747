"""The language registry: one set of codes, one normalisation, and every table keyed by it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from monitor import languages
from monitor.asr.models import VOSK_DOWNLOADS
from monitor.asr.multilingual import MULTILINGUAL_MODEL
from monitor.bus import EventBus
from monitor.ingest.audiohook_ws import AudioHookConfig
from monitor.ingest.settings import IngestConfigError, from_section
from monitor.languages import LANGUAGE_CODES, LANGUAGES, check, normalise, resolve
from monitor.rules import CardCatalogue, PhraseBook
from monitor.rules.reasons import reason_texts
from monitor.sample_script import ScriptError, load_script
from monitor.scoring import cues
from monitor.scoring.data.calls import DATA_DIR
from monitor.server import MonitorServer, ServerConfig
from tests.conftest import write_script

PACKAGE = Path(languages.__file__).parent
MANAGER_DEMAND = {
    "en": "get me your supervisor right now",
    "id": "saya mau bicara dengan atasan anda sekarang",
    "ms": "saya mahu bercakap dengan pengurus anda sekarang",
    "ro": "vreau să vorbesc cu șeful dumneavoastră acum",
}


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("id-ID", "id"),
        ("ID", "id"),
        ("ms_MY", "ms"),
        ("ms-Latn-MY", "ms"),
        ("ro-RO", "ro"),
        (" ro ", "ro"),
        ("de-DE", None),
        ("", None),
        ("-", None),
        ("ind", None),  # ISO 639-2 is not ISO 639-1: refused, not guessed
    ],
)
def test_normalise_reads_every_tag_the_same_way(tag: str, code: str | None) -> None:
    assert normalise(tag) == code
    assert resolve(tag) == (code or "en")


def test_check_refuses_with_the_supported_codes() -> None:
    assert check("ms-MY") == "ms"
    with pytest.raises(
        ValueError, match=r"unsupported language 'de-DE'; supported: en, id, ms, ro"
    ):
        check("de-DE")


def test_registry_entries_are_consistent() -> None:
    assert LANGUAGE_CODES == ("en", "id", "ms", "ro")
    for language in LANGUAGES:
        assert re.fullmatch(r"[a-z]{2}", language.code)
        assert normalise(language.locale) == language.code
        assert language.name and language.native_name
        for model in language.speech:
            assert model.engine in ("whisper", "vosk")
            assert model.code == language.code
    assert languages.get("ro-RO").native_name == "Română"
    assert languages.get("xx").code == "en"
    assert languages.is_english("en_AU") and not languages.is_english("id")
    assert languages.display_names()[1] == {"code": "id", "name": "Bahasa Indonesia"}


def test_speech_model_per_language_and_engine() -> None:
    whisper = languages.speech_model("en-GB", "whisper")
    assert whisper is not None and whisper.model == "tiny.en" and whisper.code == "en"
    multilingual = languages.speech_model("id-ID", "whisper")
    assert multilingual is not None and (multilingual.model, multilingual.code) == ("base", "id")
    assert multilingual.model == MULTILINGUAL_MODEL  # the name monitor/asr/multilingual.py uses
    assert languages.speech_model("ms", "vosk") is None  # no Vosk model: multilingual Whisper
    assert languages.speech_model("en", "nonesuch") is None


def test_speech_models_name_models_the_asr_package_knows() -> None:
    vosk = {d.name for d in VOSK_DOWNLOADS.values()}
    for language in LANGUAGES:
        for model in language.speech:
            if model.engine == "vosk":
                assert model.model in vosk, model


def test_every_language_has_cards_phrases_reasons_cues_and_lexicon() -> None:
    codes = set(LANGUAGE_CODES)
    assert set(MANAGER_DEMAND) == codes
    for key, per_language in CardCatalogue.load().cards.items():
        assert set(per_language) == codes, key
    for name, per_language in PhraseBook.load().lists.items():
        assert set(per_language) == codes, name
    for kind, per_language in reason_texts().items():
        assert set(per_language) == codes, kind
    for language in LANGUAGES:
        # each language's own cues: the demand in another language does not fire them
        for code, demand in MANAGER_DEMAND.items():
            fired = cues.keyword_intents(demand, language.code)["manager_demand"] > 0
            assert fired == (code == language.code), (language.code, demand)
        if not language.text_model:  # scored by cues and the translated lexicon
            lexicon = json.loads((DATA_DIR / f"afinn_{language.code}.json").read_text("utf-8"))
            assert len(lexicon) > 100, language.code


# The set spelled out as literals: what the registry replaced. A module that needs the
# languages imports them; only the registry and the per-language data tables name them.
_SPELLED_OUT = re.compile(r"""["']en["'],\s*["']id["'],\s*["']ms["'],\s*["']ro["']""")


def test_the_language_set_is_spelled_out_only_in_the_registry() -> None:
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "languages.py" and _SPELLED_OUT.search(path.read_text("utf-8"))
    ]
    web = PACKAGE.parent / "web"
    offenders += [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(web.glob("*.html"))
        if re.search(r"<option value=\"(id|ms|ro)\"", path.read_text("utf-8"))
    ]
    assert offenders == []


def test_a_sample_script_in_an_unsupported_language_is_refused(tmp_path: Path) -> None:
    turns = [{"speaker": "agent", "mood": "calm", "text": "guten tag"}]
    path = write_script(tmp_path / "de.toml", "de_call", turns, language="de")
    with pytest.raises(ScriptError, match=r"language: 'de' is not one of en, id, ms, ro"):
        load_script(path)


SUP = "languages-token-0123456789"


@pytest.mark.asyncio(loop_scope="session")
async def test_the_snapshot_carries_the_languages() -> None:
    server = MonitorServer(EventBus(), ServerConfig(port=0, tokens={SUP: "supervisor"}))
    await server.start()
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/ws?token={SUP}") as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5.0))
        assert snapshot["type"] == "snapshot"
        assert snapshot["languages"] == languages.display_names()
    finally:
        await server.stop(timeout=2.0)


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_the_board_picker_lists_the_servers_languages(browser: Any) -> None:
    server = MonitorServer(EventBus(), ServerConfig(port=0, tokens={SUP: "supervisor"}))
    await server.start()
    try:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{server.port}/?token={SUP}&lang=ms")
        await page.wait_for_selector('body[data-connection="live"]', timeout=10_000)
        picker = page.get_by_test_id("language")
        options = await picker.locator("option").evaluate_all(
            "os => os.map(o => ({code: o.value, name: o.textContent}))"
        )
        assert options == languages.display_names()
        assert await picker.input_value() == "ms"
    finally:
        await server.stop(timeout=2.0)


def test_an_ingest_default_language_is_read_through_the_registry() -> None:
    section = {"language": "ms-MY"}
    assert from_section(AudioHookConfig, section, "audiohook").language == "ms"
    with pytest.raises(IngestConfigError, match=r"\[ingest.audiohook\] language: unsupported"):
        from_section(AudioHookConfig, {"language": "de"}, "audiohook")
