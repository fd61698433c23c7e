"""``FakeDspServer``: the fake DSP on loopback (a ``ThreadingHTTPServer``), for the e2e test, the benchmark and
``make run`` demos, with control endpoints so that tests in other processes can set it up:

- ``PUT /_fake/catalogue`` (a ``FakeCatalogue``) → 204; ``POST /_fake/albums`` (a ``FakeAlbum``) → 201 ``{"ids"}``;
- ``POST /_fake/faults`` (a ``Fault``) → 204;
- ``GET /_fake/requests`` → ``{"requests": [{"service", "method", "path", "query"}]}``; ``DELETE`` → 204;
- ``GET /_fake/env`` → the ``SLEEVE_*`` settings pointing at this server.

Bad control bodies answer 400 ``{"error": {"code": "invalid_request", "message", "details"}}``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeCatalogue, FakeDsp, Fault
from chalicelib.providers.base import DSP_SERVICES

log = logging.getLogger(__name__)

#: Response headers the server writes itself (the body is always sent whole, with its length).
_OWN_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class FakeDspServer:
    """Serves ``fake`` on ``host:port`` (0 = a free port) from a background thread: ``start()``, ``stop()``,
    ``url`` (``http://127.0.0.1:PORT``); also a context manager."""

    def __init__(self, fake: FakeDsp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, once started."""
        if self._server is None:
            raise RuntimeError("the fake DSP server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeDspServer:
        """Bind and serve in a daemon thread; returns self."""
        server = ThreadingHTTPServer(self._address, _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-dsp", daemon=True)
        self._thread.start()
        log.info("fake DSP serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeDspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(owner: FakeDspServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_FakeDspHandler):
        server_owner = owner

    return Handler


class _FakeDspHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a kept-alive connection then stalls ~40 ms
    # per response on the client's delayed ACK.
    disable_nagle_algorithm = True
    server_owner: FakeDspServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake DSP: " + format, *args)

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_fake/"):
            status, payload = self._control(body)
            content = json.dumps(payload).encode() if payload is not None else b""
            self._send(status, {"Content-Type": "application/json"} if payload is not None else {}, content)
            return
        request = httpx.Request(
            self.command,
            f"{self.server_owner.url}{self.path}",
            headers=[(name, value) for name, value in self.headers.items()],
            content=body,
        )
        response = self.server_owner.fake.handle(request)
        headers = {name: value for name, value in response.headers.items() if name.lower() not in _OWN_HEADERS}
        self._send(response.status_code, headers, response.content)

    def _send(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _control(self, body: bytes) -> tuple[int, Any]:
        fake = self.server_owner.fake
        route = (self.command, self.path.split("?", 1)[0])
        try:
            if route == ("PUT", "/_fake/catalogue"):
                fake.set_catalogue(_load(FakeCatalogue, body))
                return 204, None
            if route == ("POST", "/_fake/albums"):
                album = _load(FakeAlbum, body)
                fake.add_album(album)
                return 201, {"ids": {service: album.id_for(service) for service in DSP_SERVICES}}
            if route == ("POST", "/_fake/faults"):
                fake.inject(_load(Fault, body))
                return 204, None
            if route == ("GET", "/_fake/requests"):
                return 200, {"requests": [request._asdict() for request in fake.recorded()]}
            if route == ("DELETE", "/_fake/requests"):
                fake.clear_requests()
                return 204, None
            if route == ("GET", "/_fake/env"):
                return 200, fake.settings_env(self.server_owner.url)
        except ValidationError as exc:
            details = {"errors": json.loads(exc.json(include_url=False, include_input=False))}
            return 400, {"error": {"code": "invalid_request", "message": "not a valid body", "details": details}}
        return 404, {"error": {"code": "not_found", "message": f"no control endpoint {route[0]} {route[1]}"}}


def _load[M: BaseModel](model: type[M], body: bytes) -> M:
    return model.model_validate_json(body or b"null")
