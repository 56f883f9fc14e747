"""[ingest.<name>] settings (monitor/ingest/settings.py): a call's default language may be
"auto", detected per call (issue #12), and still nothing the registry does not know."""

from __future__ import annotations

import pytest

from monitor.ingest.audiohook_ws import AudioHookConfig
from monitor.ingest.audiosocket_server import AudioSocketConfig
from monitor.ingest.pcm import PcmDefaults, parse_start
from monitor.ingest.pcm_ws import PcmConfig
from monitor.ingest.settings import IngestConfigError, from_section


@pytest.mark.parametrize(
    ("cls", "name"),
    [(AudioHookConfig, "audiohook"), (AudioSocketConfig, "audiosocket"), (PcmConfig, "pcm")],
)  # fmt: skip
def test_auto_is_an_ingest_default_language(cls: type, name: str) -> None:
    assert from_section(cls, {"language": "auto"}, name).language == "auto"
    assert from_section(cls, {"language": "AUTO"}, name).language == "auto"
    assert from_section(cls, {"language": "id-ID"}, name).language == "id"


def test_an_unknown_language_is_still_refused_naming_auto() -> None:
    with pytest.raises(
        IngestConfigError,
        match=r"\[ingest.pcm\] language: unsupported language 'de'; supported: en, id, ms, ro,"
        r" or auto \(detect it\)",
    ):
        from_section(PcmConfig, {"language": "de"}, "pcm")


def test_a_pcm_call_without_a_language_gets_the_auto_default() -> None:
    cfg = from_section(PcmConfig, {"language": "auto"}, "pcm")
    start = parse_start(
        {"type": "start", "sample_rate": 8000, "channels": ["customer", "agent"]},
        PcmDefaults(cfg.agent_id, cfg.queue, cfg.language),
    )
    assert start.meta.language == "auto"
