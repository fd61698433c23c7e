"""moto in server mode inside this process: one loopback HTTP endpoint that emulates S3, SQS and DynamoDB."""

from __future__ import annotations

import logging
import socket

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from chalicelib.local.serving import BackgroundServer

log = logging.getLogger(__name__)


class MotoServer(BackgroundServer):
    """A running moto server on ``host:port``; ``url`` is the endpoint for boto3 clients.

    moto keeps its state in module-level backends of this process: two servers in one process share it, and
    ``moto.mock_aws`` resets it when it starts.
    """


def start_moto_server(host: str = "127.0.0.1", port: int = 5000) -> MotoServer:
    """Start moto's server on ``host:port`` (0 = a free port) and return once the socket is listening.

    The same WSGI app and request handler as ``moto.server.ThreadedMotoServer``. Raises ``OSError`` (errno EADDRINUSE)
    when the port is taken.
    """
    # Werkzeug logs every request at INFO, and the pump long-polls every queue: keep the console for Sleeve's lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Bound here rather than by werkzeug: on a taken port werkzeug prints and calls sys.exit(1), and
    # ThreadedMotoServer.start() (which binds in its thread) would wait for ever.
    listener = socket.create_server((host, port), backlog=128)
    try:
        app = DomainDispatcherApplication(create_backend_app)
        server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno())
    finally:
        listener.close()  # werkzeug serves a duplicate of the descriptor
    started = MotoServer(server, name="moto-server")
    log.info("moto listening on %s", started.url)
    return started
