"""The QA page's HTTP API over the call store, as a handler for the monitor's server.

    GET /api/calls?q=&agent=&date_from=&date_to=&min_sentiment=&max_sentiment=&alert=&limit=
    GET /api/calls/<id>               the call: transcript, scores, risk, alerts, cards,
                                      talk-overs, incident, timeline, coaching notes
    GET /api/calls/<id>/audio.wav     the recording (410 once retention deleted it)
    GET /api/calls/<id>/report.html   the self-contained report
    GET /api/calls/<id>/report.json   the JSON export
    GET /api/calls/<id>/incident.json the incident record (404 when the call has none)
    DELETE /api/calls/<id>            erasure on request: text, audio and derived records go,
                                      an audit entry stays (see monitor.store.erase)

The handler is async (``handle(method, path, query)``): every read and the erasure run in a
worker thread (``asyncio.to_thread``), never on the event loop that serves the live board.
It returns ``(status, content_type, body)``, or None for paths that are not its own. Errors
are JSON ``{"error": "..."}`` naming the problem.

Transcripts and recordings are personal data: pass ``authorize`` (token -> allowed) to require
a token (``?token=...``, as the board uses) on every API request; the QA page forwards the
token from its own URL. Without it the API is open to whoever reaches the port for reading,
and erasure over HTTP is refused (403): it is only offered where tokens say who asks. The
audit entry names the asker by a fingerprint of their token (never the token itself).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from monitor import languages
from monitor.qa.report import build_report, render_html
from monitor.store.db import CallStore

HttpResult = tuple[int, str, bytes]
PREFIX = "/api/calls"
JSON = "application/json; charset=utf-8"
_FILTERS = ("q", "agent", "date_from", "date_to", "alert")
_NUMBERS = ("min_sentiment", "max_sentiment")
_NO_HTTP_ERASURE = (
    "erasure over HTTP needs the server's supervisor tokens; "
    "use `callmon calls delete CALL_ID` on the host"
)


def _json(status: int, data: Any) -> HttpResult:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, JSON, body


def _error(status: int, message: str) -> HttpResult:
    return _json(status, {"error": message})


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and values[0] != "" else None


def token_fingerprint(token: str) -> str:
    """Names a credential in an audit trail without revealing it."""
    return "token-sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def make_handler(
    store: CallStore, *, authorize: Callable[[str | None], bool] | None = None
) -> Callable[[str, str, dict[str, list[str]]], Awaitable[HttpResult | None]]:
    async def handle(method: str, path: str, query: dict[str, list[str]]) -> HttpResult | None:
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        token = _one(query, "token")
        if authorize is not None and not authorize(token):
            return _error(401, "the QA API needs a supervisor token: open /qa.html?token=...")
        try:
            if method == "DELETE":
                if authorize is None or token is None:
                    return _error(403, _NO_HTTP_ERASURE)
                return await asyncio.to_thread(_erase, store, path, token_fingerprint(token))
            if method not in ("GET", "HEAD"):
                return _error(405, f"{method} is not supported here: use GET (or DELETE a call)")
            return await asyncio.to_thread(_route, store, path, query)
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        except ValueError as exc:
            return _error(409 if method == "DELETE" else 400, str(exc))

    return handle


def _erase(store: CallStore, path: str, who: str) -> HttpResult:
    rest = path[len(PREFIX) + 1 :] if path.startswith(PREFIX + "/") else ""
    if not rest or "/" in rest:
        return _error(404, "DELETE takes one call: /api/calls/<call id>")
    erasure = store.delete_call(unquote(rest), by=f"api:{who}")
    return _json(200, {"erased": erasure.to_dict()})


def _route(store: CallStore, path: str, query: dict[str, list[str]]) -> HttpResult:
    if path in (PREFIX, PREFIX + "/"):
        return _search(store, query)
    rest = path[len(PREFIX) + 1 :]
    call_part, _, leaf = rest.partition("/")
    call_id = unquote(call_part)
    if leaf == "":
        return _json(200, build_report(store.get_call(call_id)))
    if leaf == "audio.wav":
        store.get_call(call_id)  # 404 for an unknown call
        audio = store.audio_path(call_id)
        if audio is None:
            return _error(410, f"the recording of {call_id!r} is not kept (retention or none)")
        return 200, "audio/wav", audio.read_bytes()
    if leaf == "report.html":
        # ?lang=id|ms|ro|en: the reviewer's language (issue #12); unknown -> 400
        language = languages.check(_one(query, "lang") or "en")
        html = render_html(build_report(store.get_call(call_id)), language)
        return 200, "text/html; charset=utf-8", html.encode("utf-8")
    if leaf == "report.json":
        return _json(200, build_report(store.get_call(call_id)))
    if leaf == "incident.json":
        incident = build_report(store.get_call(call_id))["incident"]
        if incident is None:
            return _error(404, f"call {call_id!r} has no incident (no abuse or threats)")
        return _json(200, incident)
    return _error(404, f"unknown call resource {leaf!r}: use audio.wav, report.html, "
                       "report.json or incident.json")  # fmt: skip


def _search(store: CallStore, query: dict[str, list[str]]) -> HttpResult:
    kwargs: dict[str, Any] = {name: _one(query, name) for name in _FILTERS}
    for name in _NUMBERS:
        raw = _one(query, name)
        if raw is not None:
            try:
                kwargs[name] = float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number between -1 and 1, got {raw!r}") from None
    for name, default in (("limit", 100), ("offset", 0)):
        raw = _one(query, name)
        try:
            kwargs[name] = int(raw) if raw is not None else default
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    calls = store.search(**kwargs)
    return _json(200, {"calls": calls, "count": len(calls)})
