"""The real MonitorServer with a store's QA API on a free port, for the QA tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from monitor.bus import EventBus
from monitor.qa.http import make_handler
from monitor.server import MonitorServer, ServerConfig
from monitor.store.db import CallStore


def supervisors_only(cfg: ServerConfig) -> Callable[[str | None], bool]:
    """An ``authorize`` for the QA API that lets only ``cfg``'s supervisor tokens in."""

    def allowed(token: str | None) -> bool:
        role = cfg.role_of(token)
        return role is not None and role.kind == "supervisor"

    return allowed


@contextlib.asynccontextmanager
async def serve_qa(
    store: CallStore, cfg: ServerConfig, authorize: Callable[[str | None], bool] | None = None
) -> AsyncIterator[str]:
    """The real MonitorServer on a free port with the store's QA API; yields its base URL."""
    server = MonitorServer(
        EventBus(), cfg, http_handlers=[make_handler(store, authorize=authorize)]
    )
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop(timeout=2.0)
