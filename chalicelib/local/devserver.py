"""The HTTP API on loopback through Chalice's own local server: routes, CORS and authorizers as in `chalice local`."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer

from chalicelib.local.serving import BackgroundServer

log = logging.getLogger(__name__)


class _LoggingRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler, with its access log as one logging line per request instead of raw stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s %s", self.command, self.path, code)

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
