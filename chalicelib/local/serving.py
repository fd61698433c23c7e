"""A socketserver-style HTTP server served from a daemon thread, stoppable from another thread."""

from __future__ import annotations

import logging
import threading
from socketserver import BaseServer

log = logging.getLogger(__name__)


class BackgroundServer:
    """Serves ``server`` (any ``socketserver.BaseServer``, e.g. werkzeug's) in a daemon thread named ``name``.

    ``host`` and ``port`` are the bound ones (the real port when 0, any free port, was asked for).
    """

    def __init__(self, server: BaseServer, name: str) -> None:
        self._server = server
        self.name = name
        host, port = server.server_address[:2]  # type: ignore[index,str-unpack]  # (host, port) for TCP
        self.host = str(host)
        self.port = int(port)
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://{host}:{port}``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving, close the socket and join the serving thread (5 s at most)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        log.info("%s stopped", self.name)
