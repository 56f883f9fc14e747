"""Process configuration: one TOML file, every key optional, defaults embedded.

```toml
[asr]
engine = "auto"            # auto | vosk | whisper
vosk_model = "models/vosk-model-small-en-us-0.15"
niceness = 10              # ASR threads run this much below normal priority (Linux); 0: off
detect_languages = ["id", "ms"]  # a call in "auto" is detected among these (default: all)

[scoring]
model = "models/text-classifier"
precision = "auto"         # auto (by the CPU) | w8 (int8 weights) | fp32 (as trained)

[rules]
playbook = "my-playbook.toml"

[store]
path = "var/callmon.db"    # "" disables the store
retention_days = 30        # audio older than this is deleted; text and scores stay
redact = true              # mask card/phone numbers and e-mails before store and broadcast

[server]                   # see monitor/server (host, port, tokens, limits)
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from monitor import languages
from monitor.priority import ASR_NICENESS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STORE = REPO_ROOT / "var" / "callmon.db"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    engine: str = "auto"
    vosk_model: str | None = None
    asr_niceness: int = ASR_NICENESS
    classifier_path: Path | None = None
    # [scoring] precision: "w8" or "fp32"; None ("auto"): int8 weights where the CPU has an int8
    # dot product, fp32 elsewhere (monitor/scoring/onnx_backend.py default_precision)
    scoring_precision: str | None = None
    playbook: Path | None = None
    store_path: Path | None = None  # None: no store
    retention_days: int | None = None
    redact: bool = True
    source_path: Path | None = None  # the file this config came from
    max_calls: int | None = None  # [capacity]: live calls at most, then refused (capacity.py)
    # [asr] detect_languages: what a call whose language is "auto" may be detected as
    # (monitor/asr/detect.py); empty: every language of monitor/languages.py
    detect_languages: tuple[str, ...] = ()

    def with_(self, **changes: Any) -> MonitorConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def load(cls, path: Path | str | None, default_store: Path | None = None) -> MonitorConfig:
        """Read a TOML file (None: the defaults). ``default_store`` is the store used when the
        file does not say (the CLI's ``var/callmon.db``); ``[store] path = ""`` disables it."""
        if path is None:
            return cls(store_path=default_store)
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        known = {
            "asr": {"engine", "vosk_model", "niceness", "detect_languages"},
            "scoring": {"model", "precision"},
            "rules": {"playbook"},
            "store": {"path", "retention_days", "redact"},
            "capacity": {"max_calls"},
            "server": None,  # read by monitor.server.config.ServerConfig
            "tokens": None,
            "cluster": None,  # cluster mode: monitor/cluster/config.py reads it
            "ingest": None,  # [ingest.<name>]: each ingest checks its own (monitor/ingest/)
        }
        for section, body in data.items():
            if section not in known:
                raise ConfigError(f"{p}: unknown section [{section}] (known: {', '.join(known)})")
            allowed = known[section]
            if allowed is not None and isinstance(body, dict):
                for key in body:
                    if key not in allowed:
                        known_keys = ", ".join(sorted(allowed))
                        raise ConfigError(
                            f"{p}: [{section}] unknown key {key!r} (known: {known_keys})"
                        )
        asr, scoring = data.get("asr", {}), data.get("scoring", {})
        rules, store = data.get("rules", {}), data.get("store", {})
        base = p.parent

        def rel(value: object, where: str) -> Path | None:
            if value in (None, ""):
                return None
            if not isinstance(value, str):
                raise ConfigError(f"{p}: {where} must be a path string")
            q = Path(value).expanduser()
            return q if q.is_absolute() else base / q

        engine = asr.get("engine", "auto")
        if engine not in ("auto", "vosk", "whisper"):
            raise ConfigError(f"{p}: [asr] engine {engine!r}: use auto, vosk or whisper")
        niceness = asr.get("niceness", ASR_NICENESS)
        if isinstance(niceness, bool) or not isinstance(niceness, int) or not 0 <= niceness <= 19:
            raise ConfigError(f"{p}: [asr] niceness must be a whole number from 0 to 19")
        retention = store.get("retention_days")
        if retention is not None and (not isinstance(retention, int) or retention < 1):
            raise ConfigError(f"{p}: [store] retention_days must be a whole number >= 1")
        precision = scoring.get("precision", "auto")
        if precision not in ("auto", "w8", "fp32"):
            raise ConfigError(f"{p}: [scoring] precision {precision!r}: use auto, w8 or fp32")
        redact = store.get("redact", True)
        if not isinstance(redact, bool):
            raise ConfigError(f"{p}: [store] redact must be true or false")
        max_calls = data.get("capacity", {}).get("max_calls")
        if max_calls is not None and (
            isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1
        ):
            raise ConfigError(f"{p}: [capacity] max_calls must be a whole number >= 1")
        vosk_model = rel(asr.get("vosk_model"), "[asr] vosk_model")
        detect = asr.get("detect_languages", [])
        if not isinstance(detect, list) or not all(isinstance(c, str) for c in detect):
            raise ConfigError(f"{p}: [asr] detect_languages must be a list of language codes")
        try:
            detect_languages = tuple(dict.fromkeys(languages.check(c) for c in detect))
        except ValueError as exc:
            raise ConfigError(f"{p}: [asr] detect_languages: {exc}") from None
        return cls(
            engine=engine,
            vosk_model=str(vosk_model) if vosk_model else None,
            asr_niceness=niceness,
            classifier_path=rel(scoring.get("model"), "[scoring] model"),
            scoring_precision=None if precision == "auto" else precision,
            playbook=rel(rules.get("playbook"), "[rules] playbook"),
            store_path=rel(store.get("path"), "[store] path") if "path" in store else default_store,
            retention_days=retention,
            redact=redact,
            source_path=p,
            max_calls=max_calls,
            detect_languages=detect_languages,
        )


CONFIG_FIELDS = tuple(f.name for f in fields(MonitorConfig))
