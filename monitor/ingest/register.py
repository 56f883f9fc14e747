"""Runtime extensions (monitor/runtime.py ``EXTENSIONS``) for the AudioHook, PCM and
AudioSocket ingests: each reads its ``[ingest.<name>]`` table from the process's config file
and registers itself when enabled.

- AudioHook, websocket ``/ingest/audiohook``: on when ``[ingest.audiohook]`` sets
  ``api_key`` and ``client_secret``;
- plain PCM, websocket ``/ingest/pcm``: on unless ``[ingest.pcm] enabled = false``; clients
  need an ``ingest`` token;
- AudioSocket, a TCP server on ``port``: on when ``[ingest.audiosocket] enabled = true``.

Agent, queue and language default to the command's ``--agent``/``--language`` unless the
table sets them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.ingest.settings import from_section, ingest_section, read_toml

if TYPE_CHECKING:
    from monitor.runtime import Runtime

T = TypeVar("T")


def _config(rt: Runtime, cls: type[T], name: str) -> T:
    section: Mapping[str, Any] | None = ingest_section(read_toml(rt.config_file), name)
    cfg = from_section(cls, section, name)
    given = set(section or {})
    d = rt.config.call_defaults
    fill = {k: getattr(d, k) for k in ("agent_id", "queue", "language") if k not in given}
    return dataclasses.replace(cfg, **fill)  # type: ignore[type-var]


def audiohook_ingest(rt: Runtime) -> None:
    if rt.monitor is None:
        return
    from monitor.ingest.audiohook_ws import AudioHookConfig, AudioHookIngest

    cfg = _config(rt, AudioHookConfig, "audiohook")
    if cfg.enabled:
        rt.add_ingest(AudioHookIngest(rt.monitor, cfg))


def pcm_ingest(rt: Runtime) -> None:
    if rt.monitor is None:
        return
    from monitor.ingest.pcm_ws import PcmConfig, PcmIngest

    cfg = _config(rt, PcmConfig, "pcm")
    if cfg.enabled:
        rt.add_ingest(PcmIngest(rt.monitor, cfg))


def audiosocket_ingest(rt: Runtime) -> None:
    if rt.monitor is None:
        return
    from monitor.ingest.audiosocket_server import AudioSocketConfig, AudioSocketIngest

    cfg = _config(rt, AudioSocketConfig, "audiosocket")
    if cfg.enabled:
        rt.add_service(AudioSocketIngest(rt.monitor, cfg))
