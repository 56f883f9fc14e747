"""The ``[cluster]`` section of the config file: where Redis and PostgreSQL are, lease times.

```toml
[cluster]
redis_url = "redis://127.0.0.1:6379/0"
postgres_dsn = "postgresql://callmon@127.0.0.1:5432/callmon"
lease_s = 10.0            # a call whose worker was silent this long is taken by another
audio_maxlen = 18000      # audio entries kept per call (200 ms each: one hour)
events_maxlen = 200000    # entries kept on the events stream (boards rebuild from it)
ingest_buffer_s = 30.0    # audio an ingest node holds while Redis is unreachable
audio_dir = "var/audio"   # shared path where workers write each call's WAV ("" = none)
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from monitor.config import ConfigError

_KIND = {int: "whole number", float: "number", str: "string"}


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_dsn: str = ""  # "" = no shared store (events still reach the boards)
    lease_s: float = 10.0
    audio_maxlen: int = 18_000
    events_maxlen: int = 200_000
    ingest_buffer_s: float = 30.0
    chunk_s: float = 0.2
    audio_dir: str = ""
    prefix: str = "callmon"  # every key starts with it: several deployments share one Redis

    def __post_init__(self) -> None:
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"[cluster] redis_url {self.redis_url!r}: use redis://host:port/db")
        if self.lease_s <= 0.5:
            raise ConfigError(f"[cluster] lease_s must be above 0.5 s, got {self.lease_s}")
        for name in ("audio_maxlen", "events_maxlen"):
            if getattr(self, name) < 100:
                raise ConfigError(f"[cluster] {name} must be at least 100")
        if not 0.05 <= self.chunk_s <= 0.5:
            raise ConfigError(f"[cluster] chunk_s must be 0.05..0.5 s, got {self.chunk_s}")
        if self.ingest_buffer_s < 0:
            raise ConfigError("[cluster] ingest_buffer_s must not be negative")

    @classmethod
    def from_section(cls, body: dict[str, Any], where: str = "config") -> ClusterConfig:
        known = {f.name: f for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: [cluster] unknown key {key!r} (known: {', '.join(sorted(known))})"
                )
            default = known[key].default
            if isinstance(default, bool) or type(value) is bool:
                raise ConfigError(f"{where}: [cluster] {key} has the wrong type")
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            if type(value) is not type(default):
                raise ConfigError(
                    f"{where}: [cluster] {key} must be a {_KIND[type(default)]}, got {value!r}"
                )
            out[key] = value
        return cls(**out)

    @classmethod
    def load(cls, path: Path | str | None) -> ClusterConfig:
        """The ``[cluster]`` section of a config file (None: the defaults)."""
        if path is None:
            return cls()
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        body = data.get("cluster", {})
        if not isinstance(body, dict):
            raise ConfigError(f"{p}: [cluster] must be a table")
        return cls.from_section(body, str(p))
