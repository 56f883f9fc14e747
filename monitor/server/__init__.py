"""The live server: web pages and websocket streams for the supervisor board and agent panel."""

from monitor.server.app import MonitorServer
from monitor.server.config import ConfigError, Role, ServerConfig
from monitor.server.http import HttpHandler
from monitor.server.main import serve_main

__all__ = ["ConfigError", "HttpHandler", "MonitorServer", "Role", "ServerConfig", "serve_main"]
