"""MonitorServer: one asyncio server, one port, the web pages and the live websocket.

The server subscribes to the bus once. A pump task applies every event to the
board state and offers it to the bounded outbox of every client allowed to see
it; it never awaits a client, so a slow browser cannot slow the pipeline or the
other clients. Each connection has a sender task that drains its outbox and a
receiver loop that turns acknowledgements and card feedback into events
published on the bus (so the store and every board see them).

Extra websocket paths (``ws_routes``, e.g. the Twilio ingest at ``/ingest/twilio``) get the
same handshake checks; their handler receives the connection and the role of the handshake's
token (None when it carried none: the route authorises from its own messages, or closes). A
route given as an object with ``handle`` and ``check_handshake`` (a :class:`WsRouteObject`)
also checks the upgrade itself, e.g. a platform's request signature, and may refuse it.

Events from ``ingest`` clients are checked against their schema (monitor.wire_schema) and
against the calls the server knows (:class:`~monitor.server.validate.IngestGate`) before they
are published; a refused one gets an ``error`` and the connection stays open.

Close codes: 1001 server shutting down, 1008 too many messages (rate limit),
1009 message too big, 1013 client too slow (reconnect to resync).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, quote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from monitor import events as ev
from monitor import wire
from monitor.bus import EventBus, Subscription
from monitor.server import messages as msg
from monitor.server.client import Client
from monitor.server.config import Role, ServerConfig
from monitor.server.handshake import (
    RedactTokens,
    RouteCheck,
    close_code_of,
    describe_close,
    origin_ok,
    repeated_header,
    token_of,
)
from monitor.server.http import DEFAULT_WEB_DIR, HttpHandler, StaticFiles, route, text_response
from monitor.server.outbox import RESYNC, ClientOutbox
from monitor.server.state import BoardState, Viewer, conflation_key
from monitor.server.validate import IngestGate

log = logging.getLogger("monitor.server")
WS_PATH = "/ws"
CLOSE_SLOW = CloseCode.TRY_AGAIN_LATER  # 1013
CLOSE_RATE = CloseCode.POLICY_VIOLATION  # 1008
# an extra websocket path: called with the open connection and the handshake token's role
WsRoute = Callable[[ServerConnection, Role | None], Awaitable[None]]


@runtime_checkable
class WsRouteObject(Protocol):
    """A route that also checks the upgrade (``check_handshake``) before accepting it."""

    async def handle(self, ws: ServerConnection, role: Role | None) -> None: ...

    def check_handshake(
        self, ws: ServerConnection, request: Request, role: Role | None
    ) -> Response | None: ...


_ws_log = logging.getLogger("monitor.server.ws")
_ws_log.addFilter(RedactTokens())


class MonitorServer:
    def __init__(
        self,
        bus: EventBus,
        config: ServerConfig,
        web_dir: Path | None = None,
        http_handlers: Sequence[HttpHandler] = (),
        ws_routes: Mapping[str, WsRoute | WsRouteObject] | None = None,
    ) -> None:
        self.bus = bus
        self.config = config
        self._ws_routes: dict[str, WsRoute] = {}
        self._route_checks: dict[str, RouteCheck] = {}
        for path, target in (ws_routes or {}).items():
            if not path.startswith("/") or path == WS_PATH:
                raise ValueError(f"websocket route {path!r} must start with / and differ from /ws")
            # a route object, or its bound ``handle``: either way its upgrade check runs
            owner = (
                target if isinstance(target, WsRouteObject) else getattr(target, "__self__", None)
            )
            if isinstance(owner, WsRouteObject):
                self._ws_routes[path] = owner.handle
                self._route_checks[path] = owner.check_handshake
            else:
                self._ws_routes[path] = target  # type: ignore[assignment]
        self.state = BoardState(
            max_ended_calls=config.max_ended_calls,
            max_log_per_call=config.max_utterances_per_call * 3,
            max_alerts=config.max_alerts,
        )
        self._gate = IngestGate(self.state)
        root = web_dir or (Path(config.web_dir) if config.web_dir else DEFAULT_WEB_DIR)
        self._http_handlers: list[HttpHandler] = [*http_handlers, StaticFiles(root)]
        self._clients: set[Client] = set()
        # role of a handshake in progress; weak, so a handshake that dies midway leaves nothing
        self._pending: weakref.WeakKeyDictionary[ServerConnection, Viewer] = (
            weakref.WeakKeyDictionary()
        )
        self._route_pending: weakref.WeakKeyDictionary[
            ServerConnection, tuple[WsRoute, Role | None]
        ] = weakref.WeakKeyDictionary()
        self._route_conns: set[ServerConnection] = set()
        self._names = itertools.count(1)
        self._server: Server | None = None
        self._sub: Subscription | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._stopping = False
        self._bus_dropped = 0
        self.closed_slow = 0  # clients closed with 1013
        self._gone_high_water = 0

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("MonitorServer.start() was already called")
        cfg = self.config
        self._sub = self.bus.subscribe("server", cfg.bus_queue_size, "drop_oldest")
        self._pump_task = asyncio.create_task(self._pump(), name="server-pump")
        try:
            self._server = await serve(
                self._handle,
                cfg.host,
                cfg.port,
                process_request=self._process_request,
                max_size=cfg.max_message_bytes,
                max_queue=8,
                ping_interval=cfg.ping_interval_s,
                ping_timeout=cfg.ping_interval_s,
                close_timeout=2.0,
                logger=_ws_log,
            )
        except OSError as exc:
            self._sub.close()
            self._pump_task.cancel()
            raise OSError(
                exc.errno,
                f"cannot listen on {cfg.host}:{cfg.port} ({exc.strerror}); "
                "pick another --port (0 = any free port) or stop the other server",
            ) from None
        log.info("listening on http://%s:%d", cfg.host, self.port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not started; await start() first")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def urls(self) -> dict[str, str]:
        """Ready-to-open page URLs carrying their token: 'board', 'agent:<id>', 'ingest'."""
        host = self.config.host if self.config.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        base = f"http://{host}:{self.port}"
        out: dict[str, str] = {}
        for token, role in self.config.tokens.items():
            t = quote(token, safe="")
            if role == "supervisor":
                out.setdefault("board", f"{base}/?token={t}")
            elif role == "ingest":
                out.setdefault("ingest", f"ws://{host}:{self.port}{WS_PATH}?token={t}")
                for path in self._ws_routes:
                    out.setdefault(f"ingest {path}", f"ws://{host}:{self.port}{path}?token={t}")
            else:
                out.setdefault(role, f"{base}/agent.html?token={t}")
        return out

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        try:
            await self._stopped.wait()
        except asyncio.CancelledError:
            await self.stop()
            raise

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, flush what is queued, close every client with 1001, exit."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        deadline = time.monotonic() + timeout
        server = self._server
        if server is not None:
            server.server.close()  # stop listening; open connections stay for the flush
        # flush: let the pump apply what the bus queued, and the senders drain the outboxes
        while time.monotonic() < deadline - timeout / 2:
            if (self._sub is None or self._sub.qsize() == 0) and all(
                len(c.outbox) == 0 for c in self._clients
            ):
                break
            await asyncio.sleep(0.02)
        if server is not None:
            server.close(close_connections=True, reason="server shutting down")  # 1001
            try:
                await asyncio.wait_for(server.wait_closed(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                log.warning("clients did not close within %.1f s; dropping them", timeout)
                for client in list(self._clients):
                    client.ws.transport.abort()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(server.wait_closed(), 1.0)
        if self._sub is not None:
            self._sub.close()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        self._stopped.set()
        log.info("server stopped")

    def stats(self) -> dict[str, int]:
        boxes = [c.outbox for c in self._clients]
        return {
            "clients": len(self._clients),
            "route_connections": len(self._route_conns),
            "bus_dropped": self._bus_dropped,
            "outbox_high_water": max([self._gone_high_water, *(b.high_water for b in boxes)]),
            "conflated": sum(b.conflated for b in boxes),
            "resyncs": sum(b.resyncs for b in boxes),
            "closed_slow": self.closed_slow,
        }

    # ---- fan-out ----------------------------------------------------------------------------
    async def _pump(self) -> None:
        assert self._sub is not None
        sub = self._sub
        async for event in sub:
            try:
                self._fan_out(sub, event)
            except Exception:  # one bad event (e.g. from an ingest client) must not stop the board
                log.exception("could not fan out a %s event; skipped", type(event).__name__)
            # let the senders run between events: a burst from the pipeline then reaches the
            # sockets as it comes instead of piling up in every outbox at once
            await asyncio.sleep(0)

    def _fan_out(self, sub: Subscription, event: ev.Event) -> None:
        self.state.apply(event)
        if sub.dropped != self._bus_dropped:
            # the server fell behind the bus; state may be incomplete, resync everyone
            log.warning("server lost %d bus events; resyncing clients", sub.dropped)
            self._bus_dropped = sub.dropped
            for client in self._clients:
                client.outbox.request_resync()
                client.wake.set()
        text: str | None = None
        key = conflation_key(event)
        for client in self._clients:
            if self.state.visible(event, client.viewer):
                if text is None:
                    text = wire.to_json(event)  # serialised once, shared by every client
                client.push(text, key)

    async def _send_loop(self, client: Client) -> None:
        ws, cfg = client.ws, self.config
        while True:
            text = client.outbox.pop()
            if text is None:
                client.wake.clear()
                await client.wake.wait()
                continue
            reason = "connect" if client.sent == 0 else "resync"
            if text == RESYNC:
                now = time.monotonic()
                client.resync_times.append(now)
                recent = [t for t in client.resync_times if now - t < 60.0]
                if reason == "resync" and len(recent) > cfg.max_resyncs_per_minute:
                    await self._close_slow(client, "client too slow: keeps overflowing its outbox")
                    return
                text = self._snapshot(client.viewer, reason)
            try:
                async with asyncio.timeout(cfg.send_timeout_s):  # no extra task per send
                    await ws.send(text)
            except TimeoutError:
                await self._close_slow(client, "client too slow: not reading")
                return
            except ConnectionClosed:
                return
            client.sent += 1

    async def _close_slow(self, client: Client, reason: str) -> None:
        self.closed_slow += 1
        log.info("closing %s (1013): %s", client.name, reason)
        # the socket may be stuck: don't wait on a polite close for long
        close = asyncio.create_task(client.ws.close(CLOSE_SLOW, f"{reason}; reconnect to resync"))
        try:
            await asyncio.wait_for(asyncio.shield(close), 2.0)
        except TimeoutError:
            client.ws.transport.abort()

    def _snapshot(self, viewer: Viewer, reason: str) -> str:
        events = self.state.snapshot(viewer)
        role = viewer.role
        return msg.snapshot_message(
            events, role.kind, role.agent_id, viewer.queue, reason, self.state.applied
        )

    # ---- handshake --------------------------------------------------------------------------
    async def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        refused = repeated_header(request)
        if refused is not None:
            log.info("refused a request: %s", refused.body.decode().strip())
            return refused
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if self._stopping:
                return text_response(503, "server is shutting down\n")
            return await route(request.path, self._http_handlers, request.method)
        ws_route = self._ws_routes.get(parts.path)
        if parts.path != WS_PATH and ws_route is None:
            paths = ", ".join([WS_PATH, *self._ws_routes])
            return text_response(404, f"no websocket endpoint at {parts.path}; use {paths}\n")
        if self._stopping:
            return text_response(503, "server is shutting down\n")
        query = parse_qs(parts.query)
        token = token_of(request, query)
        role = self.config.role_of(token)
        # without a token, a route may still authorise from its own messages (Twilio's start)
        if role is None and (token or ws_route is None):
            why = "missing token" if not token else "unknown token"
            log.info("refused a connection: %s", why)
            return text_response(
                401, f"{why}: open the URL that `callmon serve` printed (it carries a token)\n"
            )
        origin = request.headers.get("Origin")
        host = request.headers.get("Host", "")
        if origin is not None and not origin_ok(origin, host, self.config.allowed_origins):
            log.info("refused a connection: origin %s not allowed", origin)
            return text_response(
                403, f"origin {origin} is not allowed; add it to [server].allowed_origins\n"
            )
        conns = len(self._clients) + len(self._pending)
        if conns + len(self._route_pending) + len(self._route_conns) >= self.config.max_connections:
            return text_response(503, "too many connections; try again later\n")
        if ws_route is not None:
            check = self._route_checks.get(parts.path)
            refused = check(ws, request, role) if check is not None else None
            if refused is not None:
                return refused
            self._route_pending[ws] = (ws_route, role)
            return None
        assert role is not None  # /ws without a valid token was refused above
        queue = (query.get("queue") or [""])[0] if role.kind == "supervisor" else ""
        self._pending[ws] = Viewer(role, queue)
        return None

    # ---- one connection ---------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        ws_route = self._route_pending.pop(ws, None)
        if ws_route is not None:
            await self._handle_route(ws, *ws_route)
            return
        viewer = self._pending.pop(ws, None)
        if viewer is None:  # handshake accepted without process_request: cannot happen
            await ws.close(CloseCode.INTERNAL_ERROR, "no role")
            return
        role = viewer.role
        rate = (
            self.config.max_ingest_messages_per_s
            if role.kind == "ingest"
            else self.config.max_messages_per_s
        )
        client = Client(
            f"{role.kind}#{next(self._names)}",
            ws,
            viewer,
            ClientOutbox(self.config.outbox_size),
            rate,
            allowance=rate,
        )
        if role.kind != "ingest":
            client.outbox.request_resync(initial=True)  # the first message is the snapshot
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and self.config.send_buffer_bytes:
            # a fixed kernel send buffer per client: a stalled reader is noticed after
            # send_buffer_bytes, not after the kernel's autotuned megabytes
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.config.send_buffer_bytes)
        self._clients.add(client)
        log.info("%s connected", client.name)
        sender = asyncio.create_task(self._send_loop(client), name=f"send-{client.name}")
        try:
            await self._receive_loop(client)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            self._gone_high_water = max(self._gone_high_water, client.outbox.high_water)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            log.info("%s disconnected (%s)", client.name, describe_close(close_code_of(ws)))

    async def _handle_route(
        self, ws: ServerConnection, handler: WsRoute, role: Role | None
    ) -> None:
        self._route_conns.add(ws)
        try:
            await handler(ws, role)
        except ConnectionClosed:
            pass
        except Exception:  # a route's bug must not take the server down; its client learns 1011
            path = urlsplit(ws.request.path).path if ws.request else "?"  # no query: tokens
            log.exception("websocket route %s failed", path)
            await ws.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self._route_conns.discard(ws)

    async def _receive_loop(self, client: Client) -> None:
        async for raw in client.ws:
            if not client.take_token():
                client.violations += 1
                if client.violations > self.config.max_rate_violations:
                    await client.ws.close(CLOSE_RATE, "too many messages; slow down")
                    return
                client.push(msg.error_message("rate_limited", "too many messages; slow down"))
                continue
            try:
                if client.viewer.role.kind == "ingest":
                    event, ref = msg.parse_ingest(raw)  # its schema: types, ranges, lengths
                    self._gate.check(event, ref)  # and the calls it refers to
                    await self.bus.publish(event)
                    self._gate.record(event)
                else:
                    await self._command(client, msg.parse_command(raw))
            except msg.ProtocolError as exc:
                client.push(msg.error_message(exc.code, str(exc), exc.ref))

    async def _command(self, client: Client, cmd: msg.Command) -> None:
        role = client.viewer.role
        if isinstance(cmd, msg.Ping):
            client.push(msg.pong_message(cmd.ref))
        elif isinstance(cmd, msg.AckAlert):
            alert = self.state.alert(cmd.alert_id)
            if role.kind != "supervisor":
                raise msg.ProtocolError(
                    "forbidden", "only a supervisor acknowledges alerts", cmd.ref
                )
            if alert is None or not self.state.visible(alert, client.viewer):
                raise msg.ProtocolError("not_found", f"no alert {cmd.alert_id!r}", cmd.ref)
            await self.bus.publish(
                ev.AlertAcknowledged(
                    cmd.alert_id, alert.call_id, cmd.by or str(role), assigned_to=cmd.assign_to
                )
            )
        elif isinstance(cmd, msg.MarkCard):
            card = self.state.card(cmd.card_id)
            # same answer for "no such card" and "not your call": nothing leaks across agents
            if card is None or not self._may_mark(role, card):
                raise msg.ProtocolError(
                    "not_found", f"no card {cmd.card_id!r} on your call", cmd.ref
                )
            await self.bus.publish(
                ev.CardFeedback(cmd.card_id, card.call_id, cmd.action, by=str(role))
            )

    def _may_mark(self, role: Role, card: ev.PromptCard) -> bool:
        if role.kind == "supervisor":
            return True
        return role.kind == "agent" and self.state.owner_of(card.call_id) == role.agent_id
