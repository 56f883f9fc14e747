"""Plain HTTP on the websocket port: optional handlers (e.g. the QA store's API), then web/.

A handler is ``handle(method, path, query) -> (status, content_type, body) | None``, or an
awaitable of that (a handler that reads a database runs it in a thread, off the event loop);
``None`` means "not mine", and the next handler (finally the static files) is tried.
"""

from __future__ import annotations

import http
import inspect
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Response

HttpResult = tuple[int, str, bytes]
HttpHandler = Callable[
    [str, str, dict[str, list[str]]], HttpResult | Awaitable[HttpResult | None] | None
]

DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
ALIASES = {
    "/": "/index.html",
    "/board": "/index.html",
    "/agent": "/agent.html",
    "/qa": "/qa.html",
    "/favicon.ico": "/favicon.svg",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".wav": "audio/wav",
}
# Tokens travel in page URLs: never leak them in a Referer, and load nothing from elsewhere.
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "media-src 'self' blob:; style-src 'self'; script-src 'self'"
    ),
}


class StaticFiles:
    """Files under one folder, never outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __call__(self, method: str, path: str, query: dict[str, list[str]]) -> HttpResult | None:
        if method not in ("GET", "HEAD"):
            return None
        path = ALIASES.get(path, path)
        target = (self.root / unquote(path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        kind = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
        return 200, kind or "application/octet-stream", target.read_bytes()


def make_response(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body))})
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def text_response(status: int, text: str) -> Response:
    return make_response(status, "text/plain; charset=utf-8", text.encode("utf-8"))


async def route(target: str, handlers: Sequence[HttpHandler], method: str = "GET") -> Response:
    parts = urlsplit(target)
    query = parse_qs(parts.query)
    for handler in handlers:
        result = handler(method, parts.path, query)
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            return make_response(*result)
    return text_response(404, f"not found: {parts.path}\n")
