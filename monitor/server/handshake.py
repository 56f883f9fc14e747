"""The parts of a websocket upgrade the server reads before it accepts one, and how it closed.

Pure functions over the request: headers that must come once, the token (``?token=`` or
``Authorization: Bearer``, never logged: :class:`RedactTokens`), the browser's origin; and,
once a connection is over, the close code that really ended it.
:class:`~monitor.server.app.MonitorServer` calls them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Protocol

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from monitor.server.config import Role
from monitor.server.http import text_response

# Headers this server (or a route, e.g. Twilio's signature) reads as one value. HTTP allows a
# header to repeat only where its values form a list; two Host headers are a malformed (or
# smuggling) request, and two of any of these leave "which one counts?" open: refuse with 400.
SINGLE_HEADERS = (
    "Host",
    "Upgrade",
    "Origin",
    "Authorization",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "X-Twilio-Signature",
)


class RedactTokens(logging.Filter):
    """websockets logs request lines at debug level; tokens ride in the query string."""

    _pattern = re.compile(r"(token=|Bearer\s+)[^&\s'\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "token" in text.lower() or "bearer" in text.lower():
            record.msg, record.args = self._pattern.sub(r"\1<redacted>", text), ()
        return True


class RouteCheck(Protocol):
    """A route's own check of the upgrade (e.g. a platform's request signature); a Response
    refuses the connection, None lets it through."""

    def __call__(
        self, ws: ServerConnection, request: Request, role: Role | None
    ) -> Response | None: ...


def repeated_header(request: Request, names: Iterable[str] = SINGLE_HEADERS) -> Response | None:
    """400 for a request that carries one of ``names`` more than once."""
    for name in names:
        if len(request.headers.get_all(name)) > 1:
            return text_response(400, f"bad request: more than one {name} header\n")
    return None


def token_of(request: Request, query: dict[str, list[str]]) -> str:
    """``?token=`` or, for non-browser clients, ``Authorization: Bearer``; "" for none."""
    token = (query.get("token") or [""])[0]
    auth = request.headers.get("Authorization", "")
    if not token and auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    return token


def origin_ok(origin: str, host: str, allowed: Iterable[str]) -> bool:
    """The page's own origin, or one listed in ``[server].allowed_origins``."""
    return origin in allowed or origin in (f"http://{host}", f"https://{host}")


def close_code_of(ws: ServerConnection) -> int:
    """The close code that ended the connection: the one of whichever side closed first.

    websockets' ``close_code`` is only the code *received*; when this server closes a
    connection (1009 for a message too big, 1007, 1008) and the peer never answers, that is
    1006, which would blame the network for the server's own decision.
    """
    proto = ws.protocol
    sent, rcvd = proto.close_sent, proto.close_rcvd
    if sent is not None and (rcvd is None or not proto.close_rcvd_then_sent):
        return int(sent.code)
    if rcvd is not None:
        return int(rcvd.code)
    return int(CloseCode.ABNORMAL_CLOSURE)


def closed_by_server(ws: ServerConnection) -> bool:
    """True when this server sent its close frame first (it refused something)."""
    proto = ws.protocol
    return proto.close_sent is not None and not proto.close_rcvd_then_sent


def describe_close(code: int) -> str:
    """``1009 (message too big)``: a close code with its meaning, for logs and call errors."""
    try:
        name = CloseCode(code).name.lower().replace("_", " ")
    except ValueError:
        return str(code)
    return f"{code} ({name})"
