"""Server settings: where to listen, who may connect (tokens with roles), and hard limits.

A token maps to one role: ``supervisor`` (every call, may acknowledge alerts),
``agent:<agent_id>`` (only calls whose ``CallStarted.agent_id`` is that id) or
``ingest`` (may publish events onto the bus from another process).
"""

from __future__ import annotations

import dataclasses
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

RoleKind = Literal["supervisor", "agent", "ingest"]
MIN_TOKEN_CHARS = 8


class ConfigError(ValueError):
    """A server configuration that cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Role:
    kind: RoleKind
    agent_id: str = ""

    @classmethod
    def parse(cls, text: str) -> Role:
        if text in ("supervisor", "ingest"):
            return cls(text)  # type: ignore[arg-type]
        if text.startswith("agent:") and text[len("agent:") :].strip():
            return cls("agent", text[len("agent:") :].strip())
        raise ConfigError(
            f"unknown role {text!r}: use 'supervisor', 'ingest' or 'agent:<agent_id>'"
        )

    def __str__(self) -> str:
        return f"agent:{self.agent_id}" if self.kind == "agent" else self.kind


def _frozen(tokens: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(tokens))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765  # 0 = pick a free port
    tokens: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    allowed_origins: tuple[str, ...] = ()  # empty = same-origin only (+ non-browser clients)
    max_message_bytes: int = 16_384  # inbound; websockets closes with 1009 above it
    max_messages_per_s: float = 20.0  # inbound per client (token bucket, burst = 1 s worth)
    max_ingest_messages_per_s: float = 2_000.0
    max_rate_violations: int = 50  # then close 1008
    max_connections: int = 1_000  # then the handshake gets 503
    outbox_size: int = 512  # per client; overflow -> a fresh snapshot replaces the backlog
    max_resyncs_per_minute: int = 6  # a client that needs more is closed with 1013
    send_timeout_s: float = 10.0  # one frame stuck longer than this -> close 1013
    send_buffer_bytes: int = 262_144  # kernel send buffer per client (SO_SNDBUF); 0 = autotune
    bus_queue_size: int = 20_000  # the server's own subscription to the bus
    max_ended_calls: int = 50  # ended calls kept in the board state
    max_utterances_per_call: int = 300
    max_alerts: int = 500
    ping_interval_s: float = 20.0
    web_dir: str = ""  # empty = the repository's web/ folder

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", _frozen(self.tokens))
        for token, role in self.tokens.items():
            if len(token) < MIN_TOKEN_CHARS:
                raise ConfigError(
                    f"a token for role {role!r} is shorter than {MIN_TOKEN_CHARS} characters;"
                    " use a long random token (python -c 'import secrets;"
                    " print(secrets.token_urlsafe(18))')"
                )
            Role.parse(role)
        if not 0 <= self.port <= 65_535:
            raise ConfigError(f"port {self.port} is outside 0..65535 (0 picks a free port)")
        for name in ("max_message_bytes", "max_connections", "outbox_size", "bus_queue_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_messages_per_s <= 0 or self.max_ingest_messages_per_s <= 0:
            raise ConfigError("message rates must be positive")

    def role_of(self, token: str | None) -> Role | None:
        """The role a token grants, or None for a missing/unknown token (constant-time compare)."""
        if not token:
            return None
        found: Role | None = None
        for known, role in self.tokens.items():
            if secrets.compare_digest(known.encode(), token.encode()):
                found = Role.parse(role)
        return found

    def tokens_for(self, role: str) -> list[str]:
        return [t for t, r in self.tokens.items() if r == role]

    def with_generated_tokens(self, agent_ids: Iterable[str] = ()) -> ServerConfig:
        """A copy with a random token for every role that has none: supervisor, ingest, agents."""
        tokens = dict(self.tokens)
        roles = set(tokens.values())
        for role in ["supervisor", "ingest", *(f"agent:{a}" for a in agent_ids)]:
            if role not in roles:
                tokens[secrets.token_urlsafe(18)] = role
                roles.add(role)
        return dataclasses.replace(self, tokens=tokens)

    @classmethod
    def load(cls, path: Path | None) -> ServerConfig:
        """Read TOML: ``[server]`` limits, ``[server.tokens]`` token = role. None = defaults."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"server config {path} does not exist; check --config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"server config {path} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config") -> ServerConfig:
        """``[server]`` settings and ``[server.tokens]`` (or top-level ``[tokens]``).

        Other top-level sections belong to the process configuration and are ignored here.
        """
        server = dict(data.get("server", {}))
        tokens = dict(data.get("tokens", {}))
        nested = server.pop("tokens", {})
        if not isinstance(nested, dict) or not isinstance(data.get("tokens", {}), dict):
            raise ConfigError(
                f'{source}: [server.tokens] maps token strings to roles ("supervisor")'
            )
        tokens.update(nested)
        if not all(isinstance(v, str) for v in tokens.values()):
            raise ConfigError(
                f'{source}: [server.tokens] maps token strings to roles ("supervisor")'
            )
        kwargs: dict[str, Any] = {}
        for key, value in server.items():
            if key not in _DEFAULTS:
                known = ", ".join(sorted(_DEFAULTS))
                raise ConfigError(f"{source}: unknown setting [server].{key}; known: {known}")
            expected = _DEFAULTS[key]
            if isinstance(expected, tuple):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{source}: [server].{key} must be a list of strings")
                value = tuple(value)
            elif isinstance(expected, float) and isinstance(value, int):
                value = float(value)
            if type(value) is not type(expected):
                raise ConfigError(
                    f"{source}: [server].{key} must be {type(expected).__name__},"
                    f" got {type(value).__name__}"
                )
            kwargs[key] = value
        try:
            return cls(tokens=tokens, **kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(ServerConfig) if f.name != "tokens"
}
