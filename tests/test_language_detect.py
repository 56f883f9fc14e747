"""Language detection for calls whose language is "auto" (issue #12, monitor/asr/detect.py).

On real audio: the rendered sample calls at 8 kHz, as a phone line carries them (Indonesian,
Malay and Romanian by espeak-ng, English by the samples' English voice). The detector hears
only the customer's channel, from the start of the call, as the pipeline feeds it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from monitor import events as ev
from monitor import languages
from monitor.asr import detect as d
from monitor.config import REPO_ROOT, ConfigError, MonitorConfig

SCRIPTS = REPO_ROOT / "samples" / "scripts" / "languages"


# ---------------------------------------------------------------------------- pure parts


def test_auto_is_read_at_every_entrance_but_is_never_a_registry_code() -> None:
    assert languages.normalise("AUTO") == "auto"
    assert languages.is_auto("auto") and not languages.is_auto("id")
    assert languages.resolve("auto") == languages.DEFAULT_LANGUAGE  # cues, cards: a fallback
    assert languages.check_call_language("auto") == "auto"
    assert languages.check_call_language("ms_MY") == "ms"
    with pytest.raises(ValueError, match="unsupported language 'auto'"):
        languages.check("auto")  # a report's language, a detected language: a real code


def test_allowed_languages_keep_registry_order_and_refuse_unknown_codes() -> None:
    assert d.allowed_languages(None) == languages.LANGUAGE_CODES
    assert d.allowed_languages(["ro-RO", "id", "ro"]) == ("id", "ro")
    with pytest.raises(ValueError, match="de"):
        d.allowed_languages(["de"])


def test_text_score_counts_words_of_the_language_and_against_its_rivals() -> None:
    malay = "saya mahu bercakap dengan pengurus sekarang kerana bil saya salah"
    indonesian = "saya mau bicara dengan manajer sekarang karena tagihan saya salah"
    assert d.text_score([malay], "ms", ("id", "ms")) > d.text_score([malay], "id", ("id", "ms"))
    assert d.text_score([indonesian], "id", ("id", "ms")) > d.text_score(
        [indonesian], "ms", ("id", "ms")
    )
    assert d.text_score(["vreau să vorbesc cu managerul acum"], "ro", ("id", "ro")) > 0
    assert d.text_score([""], "ro", ("id", "ro")) == 0.0


def test_config_reads_detect_languages(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[asr]\ndetect_languages = ["ms-MY", "ro"]\n')
    assert MonitorConfig.load(path).detect_languages == ("ms", "ro")
    path.write_text('[asr]\ndetect_languages = ["xx"]\n')
    with pytest.raises(ConfigError, match="detect_languages"):
        MonitorConfig.load(path)
    assert MonitorConfig().detect_languages == ()


def test_detector_tries_again_with_more_speech_when_unsure() -> None:
    calls: list[float] = []

    def fake(audio: np.ndarray) -> d.Detection:
        calls.append(audio.size / d.SAMPLE_RATE)
        return d.Detection("id", 0.5 if len(calls) == 1 else 0.9, calls[-1])

    detector = d.LanguageDetector(fake, stages=((100.0, 0.5), (100.0, 1.0)))
    block = np.zeros(1600, dtype=np.float32)  # silence: only the audio caps trigger a try
    results = [detector.push(block) for _ in range(12)]
    assert results[3] is None and results[4] is None  # 0.5 s: tried, unsure, goes on
    assert results[9] is not None and results[9].probability == 0.9  # 1.0 s: decided
    assert len(calls) == 2 and detector.finish() is results[9]


# ---------------------------------------------------------------------------- real audio


@pytest.fixture(scope="module")
def calls_8k() -> dict[str, Path]:
    """The id/ms/ro sample calls and two English ones, rendered at 8 kHz."""
    from monitor.samples import render_all

    audio = REPO_ROOT / "samples" / "audio"
    out = {
        c.name: c.wav_path for c in render_all(audio / "languages-8k", 8000, scripts_dir=SCRIPTS)
    }
    english = {c.name: c for c in render_all(audio)}
    for name in ("calm_billing", "escalates_manager"):
        out[name] = english[name].wav_path
    return out


@pytest.fixture(scope="module")
def multilingual() -> Any:
    from monitor.asr.base import AsrError
    from monitor.asr.multilingual import multilingual_engine

    try:
        return multilingual_engine(0)
    except AsrError as exc:
        pytest.skip(f"no multilingual Whisper: {exc}")


def detect_from_start(
    engine: Any, wav: Path, allowed: tuple[str, ...]
) -> tuple[d.Detection, float]:
    """The customer channel (0), fed from the start in 0.1 s blocks as the pipeline does."""
    samples, rate = sf.read(wav, dtype="float32", always_2d=True)
    return d.detect_from_start(engine, samples[:, 0], rate, allowed)


EXPECTED = {
    "id_calm": "id",
    "id_escalates": "id",
    "ms_calm": "ms",
    "ms_escalates": "ms",
    "ro_calm": "ro",
    "ro_escalates": "ro",
    "calm_billing": "en",
    "escalates_manager": "en",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_detects_each_samples_language_from_its_first_seconds(
    calls_8k: dict[str, Path], multilingual: Any, name: str
) -> None:
    found, at = detect_from_start(multilingual, calls_8k[name], languages.LANGUAGE_CODES)
    assert found.language == EXPECTED[name], found
    assert at <= 45.0, at  # the first seconds of the call, not its whole
    assert 0.0 < found.probability <= 1.0


@pytest.mark.slow
def test_detection_is_restricted_to_the_configured_languages(
    calls_8k: dict[str, Path], multilingual: Any
) -> None:
    # Malay is not configured: a Malay call becomes the closest configured language, never ms
    found, _ = detect_from_start(multilingual, calls_8k["ms_escalates"], ("en", "id", "ro"))
    assert found.language in ("en", "id", "ro")
    assert set(found.acoustic) <= {"en", "id", "ro"}
    only, _ = detect_from_start(multilingual, calls_8k["ro_calm"], ("ro",))
    assert only.language == "ro" and only.probability == 1.0


@pytest.mark.slow
def test_an_auto_call_is_announced_detected_and_routed(
    calls_8k: dict[str, Path], tmp_path: Path
) -> None:
    """A call replayed with language auto: announced ``detecting``, then re-announced with the
    detected language and its confidence; transcribed by the multilingual engine in that
    language; its cards are that language's; the store (the QA page) keeps that language."""
    from monitor.pipeline import CallMeta, Monitor
    from monitor.sources.file import FileSource

    stored: dict[str, Any] = {}

    async def replay() -> list[ev.Event]:
        config = MonitorConfig(store_path=tmp_path / "calls.db", redact=False)
        monitor = await Monitor.create(config)
        sub = monitor.bus.subscribe("test", maxsize=100_000, overflow="wait")
        try:
            summary = await monitor.run_call(
                FileSource(calls_8k["id_escalates"], realtime=False),
                CallMeta("id_escalates", language="auto"),
            )
            assert monitor.store is not None
            stored.update(monitor.store.get_call(summary.call_id)["call"])
        finally:
            sub.close()
            await monitor.aclose()
        return [e async for e in sub]

    events = asyncio.run(replay())
    assert stored["language"] == "id"
    started = [e for e in events if isinstance(e, ev.CallStarted)]
    assert [s.language_source for s in started] == ["detecting", "detected"]
    assert started[1].language == "id" and 0 < (started[1].language_probability or 0) <= 1
    finals = [e for e in events if isinstance(e, ev.FinalUtterance)]
    assert finals and events.index(started[1]) < events.index(finals[0])
    assert {f.engine for f in finals} == {"whisper"}
    heard = " ".join(f.text.lower() for f in finals)
    assert "saya" in heard and "minggu" in heard, heard
    cards = [e for e in events if isinstance(e, ev.PromptCard)]
    assert all(c.language == "id" for c in cards)


@pytest.mark.slow
def test_auto_with_one_configured_language_needs_no_detection(calls_8k: dict[str, Path]) -> None:
    from monitor.pipeline import CallMeta, Monitor
    from monitor.sources.file import FileSource

    async def replay() -> list[ev.Event]:
        config = MonitorConfig(store_path=None, redact=False, detect_languages=("ro",))
        monitor = await Monitor.create(config)
        sub = monitor.bus.subscribe("test", maxsize=100_000, overflow="wait")
        try:
            await monitor.run_call(
                FileSource(calls_8k["ro_calm"], realtime=False), CallMeta("ro", language="auto")
            )
        finally:
            sub.close()
            await monitor.aclose()
        return [e async for e in sub]

    started = [e for e in asyncio.run(replay()) if isinstance(e, ev.CallStarted)]
    assert [(s.language, s.language_source) for s in started] == [("ro", "given")]


def test_held_apart_trial_calls_are_valid_scripts_of_unused_test_lines(tmp_path: Path) -> None:
    """eval/detection_held_apart.py: its id/ms/ro calls are sample scripts made of the test
    file's customer lines (each at most once), none of them a line the detector was tuned on
    (the language sample calls); the summary counts per language and confuses correctly."""
    from eval import detection_held_apart as h
    from monitor.sample_script import load_script

    for lang in h.LANGS:
        lines = h.read_lines(h.TEXT_DIR / f"{lang}.tsv")
        scripts = h.held_apart_scripts(lang, lines)
        assert scripts == h.held_apart_scripts(lang, lines)  # fixed seed: same calls each run
        h.write_scripts(scripts, tmp_path / lang)
        tuned = {t.text for p in SCRIPTS.glob(f"{lang}_*.toml") for t in load_script(p).turns}
        said: list[str] = []
        for name in scripts:
            script = load_script(tmp_path / lang / f"{name}.toml")
            assert script.language == lang and script.name == name
            customer = [t.text for t in script.turns if t.speaker == "customer"]
            assert len(customer) == h.CUSTOMER_TURNS
            said += customer
        assert len(scripts) == h.CALLS_PER_LANGUAGE and len(set(said)) == len(said)
        assert set(said) <= {x.text for x in lines if x.speaker == "c"}
        assert not set(said) & tuned
    per_call = {
        "a": {"truth": "id", "detected": "ms", "decided_at_s": 10.0},
        "b": {"truth": "id", "detected": "id", "decided_at_s": 20.0},
        "c": {"truth": "en", "detected": "en", "decided_at_s": 5.0},
    }
    s = h.summarise(per_call, ("en", "id", "ms", "ro"))
    assert (s["calls"], s["correct"]) == (3, 2)
    assert s["per_language"]["id"] == {
        "calls": 2, "correct": 1, "accuracy": 0.5, "mean_decided_at_s": 15.0
    }  # fmt: skip
    assert s["confusion"]["id"] == {"en": 0, "id": 1, "ms": 1, "ro": 0}
