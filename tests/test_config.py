from pathlib import Path

import pytest

from monitor.config import ConfigError, MonitorConfig


def test_defaults_without_a_file() -> None:
    cfg = MonitorConfig.load(None)
    assert cfg.engine == "auto" and cfg.redact and cfg.store_path is None
    assert cfg.asr_niceness == 10


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    f = tmp_path / "callmon.toml"
    f.write_text(
        '[asr]\nengine = "whisper"\nniceness = 0\n'
        '[store]\npath = "data/c.db"\nretention_days = 30\n'
        '[rules]\nplaybook = "pb.toml"\n[server]\nport = 9000\n'
    )
    cfg = MonitorConfig.load(f)
    assert cfg.engine == "whisper"
    assert cfg.store_path == tmp_path / "data" / "c.db"
    assert cfg.playbook == tmp_path / "pb.toml"
    assert cfg.retention_days == 30
    assert cfg.asr_niceness == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[asr\n", "not valid TOML"),
        ("[nope]\n", r"unknown section \[nope\]"),
        ("[asr]\nengin = 'x'\n", "unknown key 'engin'"),
        ("[asr]\nengine = 'kaldi'\n", "engine 'kaldi'"),
        ("[store]\nretention_days = 0\n", "retention_days"),
        ("[store]\nredact = 'yes'\n", "redact must be true or false"),
        ("[asr]\nniceness = 20\n", "niceness must be a whole number from 0 to 19"),
        ("[asr]\nniceness = true\n", "niceness must be"),
        ("[scoring]\nprecision = 'int4'\n", r"\[scoring\] precision 'int4': use auto, w8 or fp32"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        MonitorConfig.load(f)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        MonitorConfig.load(tmp_path / "absent.toml")


def test_the_default_store_applies_only_where_the_file_says_nothing(tmp_path: Path) -> None:
    default = tmp_path / "default.db"
    assert MonitorConfig.load(None, default_store=default).store_path == default
    f = tmp_path / "c.toml"
    f.write_text("[asr]\nniceness = 5\n")
    assert MonitorConfig.load(f, default_store=default).store_path == default
    f.write_text('[store]\npath = ""\n')  # "" keeps no store, whatever the default
    assert MonitorConfig.load(f, default_store=default).store_path is None


def test_with_replaces_only_what_is_given() -> None:
    cfg = MonitorConfig(engine="vosk", asr_niceness=3)
    assert cfg.with_(engine=None, vosk_model="/m") == MonitorConfig(
        engine="vosk", asr_niceness=3, vosk_model="/m"
    )


def test_scoring_precision_auto_leaves_the_choice_to_the_cpu(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[scoring]\nprecision = 'auto'\n")
    assert MonitorConfig.load(f).scoring_precision is None
    f.write_text("[scoring]\nprecision = 'fp32'\n")
    assert MonitorConfig.load(f).scoring_precision == "fp32"
    assert MonitorConfig().scoring_precision is None
