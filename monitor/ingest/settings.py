"""TOML sections ``[ingest.<name>]`` into the ingests' frozen settings dataclasses.

Every key is checked against the dataclass: an unknown key, a wrong type or a value out of
range is a :class:`IngestConfigError` naming the section and the key, never a silent default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from monitor import languages

T = TypeVar("T")


class IngestConfigError(ValueError):
    """An ``[ingest.*]`` section that cannot be used; the message says what to fix."""


def ingest_section(data: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """``data["ingest"][name]``, or None when the section is absent."""
    ingest = data.get("ingest", {})
    if not isinstance(ingest, Mapping):
        raise IngestConfigError("[ingest] must be a table of sections like [ingest.audiohook]")
    section = ingest.get(name)
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise IngestConfigError(f"[ingest.{name}] must be a table")
    return section


def read_toml(path: Path | str | None) -> Mapping[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IngestConfigError(f"config {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise IngestConfigError(f"config {path} is not valid TOML: {exc}") from None


def from_section(cls: type[T], section: Mapping[str, Any] | None, name: str) -> T:
    """Build ``cls`` from a TOML table, checking every key's name and type."""
    if section is None:
        return cls()
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in section.items():
        f = fields.get(key)
        if f is None:
            known = ", ".join(sorted(fields))
            raise IngestConfigError(f"[ingest.{name}] unknown key {key!r} (known: {known})")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise IngestConfigError(f"[ingest.{name}] {key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise IngestConfigError(
                f"[ingest.{name}] {key} must be {type(default).__name__},"
                f" got {type(value).__name__}"
            )
        if key == "language":  # a call's default language: read as everywhere, or refused;
            # "auto" detects each call's language (monitor/asr/detect.py, issue #12)
            try:
                value = languages.check_call_language(value)
            except ValueError as exc:
                raise IngestConfigError(
                    f"[ingest.{name}] language: {exc}, or {languages.AUTO} (detect it)"
                ) from None
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise IngestConfigError(f"[ingest.{name}] {exc}") from None


def check_positive(obj: object, *names: str) -> None:
    """Raise ValueError naming the first of ``names`` that is not > 0."""
    for n in names:
        if getattr(obj, n) <= 0:
            raise ValueError(f"{n} must be positive, got {getattr(obj, n)}")
