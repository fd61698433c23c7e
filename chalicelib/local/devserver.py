"""The HTTP API on loopback through Chalice's own local server: routes, CORS and authorizers as in `chalice local`,
plus what API Gateway does and Chalice's emulation does not: greedy ``{name+}`` path variables."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from chalice.app import Chalice
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    MatchResult,
    RouteMatcher,
)

from chalicelib.local.serving import BackgroundServer

log = logging.getLogger(__name__)


def _is_greedy(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("+}")


class GreedyRouteMatcher(RouteMatcher):
    """Chalice's local route matcher, plus API Gateway's greedy path variables.

    A route whose last segment is ``{name+}`` matches one or more remaining segments (``/{proxy+}`` matches ``/a`` and
    ``/a/b/c``, not ``/``), and only when no route matches segment by segment, as API Gateway prefers the most
    specific resource. Among greedy routes the longest prefix wins. Raises ``ValueError`` when nothing matches (the
    contract of ``RouteMatcher.match_route``). Source: API Gateway developer guide, "Set up a proxy integration with
    a proxy resource".
    """

    def match_route(self, url: str) -> MatchResult:
        """The route ``url`` (a path with an optional query) falls under, its captured variables and query."""
        try:
            return super().match_route(url)
        except ValueError:
            pass
        parsed = urlparse(url)
        path = parsed.path if parsed.path == "/" else parsed.path.rstrip("/")
        parts = path.split("/")
        greedy = [r for r in self.route_urls if _is_greedy(r.split("/")[-1])]
        for route_url in sorted(greedy, key=lambda r: -r.count("/")):
            *prefix, last = route_url.split("/")
            if len(parts) <= len(prefix) or not all(p for p in parts[len(prefix) :]):
                continue
            captured: dict[str, str] = {}
            for part, pattern in zip(parts, prefix, strict=False):
                if pattern.startswith("{") and pattern.endswith("}"):
                    captured[pattern[1:-1]] = part
                elif part != pattern:
                    break
            else:
                captured[last[1:-2]] = "/".join(parts[len(prefix) :])
                return MatchResult(route_url, captured, parse_qs(parsed.query, keep_blank_values=True))
        raise ValueError("No matching route found")


def use_greedy_routes(gateway: LocalGateway, app: Chalice) -> LocalGateway:
    """``gateway`` (Chalice's ``LocalGateway`` on ``app``), now routing with ``GreedyRouteMatcher``."""
    gateway.event_converter = LambdaEventConverter(GreedyRouteMatcher(list(app.routes)), app.api.binary_types)
    return gateway


_MISSING_TOKEN = b'{"message": "Missing Authentication Token"}'


def _error_body(status: int) -> bytes:
    code = "invalid_request" if status == 400 else HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    message = HTTPStatus(status).description or HTTPStatus(status).phrase
    return json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()


class _LoggingRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with greedy routes, one logging line per request instead of raw stderr, and the
    server's own errors (a malformed request line or ``Content-Length``, an unknown method) in Sleeve's error shape
    with a fixed message, where ``http.server`` would answer an HTML page quoting the request."""

    def __init__(
        self, request: Any, client_address: Any, server: HTTPServer, app_object: Chalice, config: Config
    ) -> None:
        # ChaliceRequestHandler.__init__ builds a plain LocalGateway, then handles the request at once.
        self.local_gateway = use_greedy_routes(LocalGateway(app_object, config), app_object)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _checked_handle(self) -> None:
        length = self.headers.get("content-length", "0")
        if not length.isascii() or not length.isdigit():
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _checked_handle

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # The emulated gateway's own refusals. For a path no route matches (never, with Sleeve's fallback routes)
        # Chalice quotes the Authorization header back: answer API Gateway's plain 403 without it.
        body = _MISSING_TOKEN if error.CODE == HTTPStatus.FORBIDDEN else _error_body(error.CODE)
        self._send_http_response(error.CODE, {"Content-Type": "application/json"}, body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """``http.server``'s error page, replaced by ``{"error": {"code", "message", "details"}}`` (``message`` and
        ``explain``, which may quote the request, are not sent)."""
        body = _error_body(int(code))
        self.send_response(int(code))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # A request refused while its line is parsed has no command or path yet.
        log.info("%s %s %s", getattr(self, "command", None) or "-", getattr(self, "path", "-"), code)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning(format, *args)


class ApiServer(BackgroundServer):
    """Chalice's LocalDevServer serving in a daemon thread; ``port`` is the bound one when 0 was asked for."""

    def __init__(self, app: Chalice, config: Config, host: str, port: int) -> None:
        # What `chalice local` does: refuse routes that `chalice deploy` would refuse...
        validate_routes(app.routes)
        # chalice.local.create_local_server's class swap, which makes app.current_request thread-local (the server
        # answers each connection in its own thread). Done here because create_local_server cannot be called twice
        # for one app (a second swap is an inheritance cycle) and takes no handler class.
        if not isinstance(app, LocalChalice):
            CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
            app.__class__ = CustomLocalChalice
        dev_server = LocalDevServer(app, config, host, port, handler_cls=_LoggingRequestHandler)
        super().__init__(dev_server.server, name="api-server")


def start_api_server(app: Chalice, config: Config, host: str = "127.0.0.1", port: int = 8000) -> ApiServer:
    """Serve ``app`` on ``host:port`` (0 = a free port) with Chalice's local server; returns once listening.

    ``config`` is the Chalice ``Config`` of the stage (Lambda timeout and memory of the API handler come from it).
    Raises ``OSError`` (EADDRINUSE) when the port is taken, ``chalice.deploy.validate.ExperimentalFeatureError`` /
    ``ValueError`` for routes `chalice deploy` would refuse.
    """
    server = ApiServer(app, config, host, port)
    log.info("API listening on %s", server.url)
    return server
