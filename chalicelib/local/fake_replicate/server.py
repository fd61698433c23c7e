"""``FakeReplicateServer``: the fake Replicate on loopback (a ``ThreadingHTTPServer``), plus a background thread that
advances predictions by time and POSTs their signed webhooks, with control endpoints for tests in other processes:

- ``POST /_fake/faults`` (a ``FakeReplicateFaults``) → 204; ``DELETE /_fake/faults`` → 204 (none);
- ``PUT /_fake/progress`` ``{"gets_per_step": int|null, "seconds_per_step": float|null}`` → 204;
- ``GET /_fake/requests`` → ``{"requests": [{"method", "path", "authorization_sent"}]}``; ``DELETE`` → 204;
- ``GET /_fake/predictions`` → ``{"predictions": [prediction]}``;
- ``GET /_fake/webhooks`` → ``{"deliveries": [{"prediction_id", "webhook_id", "url", "status"}]}``;
- ``GET /_fake/env`` → the ``SLEEVE_REPLICATE_*`` settings pointing at this server.

Bad control bodies answer 400 ``{"error": {"code": "invalid_request", "message", "details"}}``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.local.fake_replicate.fake import FakeReplicate, FakeReplicateFaults

log = logging.getLogger(__name__)

#: Response headers the server writes itself (the body is always sent whole, with its length).
_OWN_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}
#: How often the background thread advances predictions and sends webhooks (s).
TICK_S = 0.05
WEBHOOK_TIMEOUT_S = 5.0


class Progress(BaseModel):
    """The body of ``PUT /_fake/progress``."""

    model_config = ConfigDict(extra="forbid")

    gets_per_step: int | None = Field(default=1, ge=1)
    seconds_per_step: float | None = Field(default=None, ge=0)


class FakeReplicateServer:
    """Serves ``fake`` on ``host:port`` (0 = a free port) from a background thread and delivers its webhooks from
    another: ``start()``, ``stop()``, ``url`` (``http://127.0.0.1:PORT``); also a context manager."""

    def __init__(self, fake: FakeReplicate, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._webhooks: httpx.Client | None = None

    @property
    def url(self) -> str:
        """The base URL, once started (the API root is ``{url}/v1``)."""
        if self._server is None:
            raise RuntimeError("the fake Replicate server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeReplicateServer:
        """Bind, serve and deliver webhooks in daemon threads; returns self."""
        server = ThreadingHTTPServer(self._address, _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._stopping.clear()
        self._webhooks = httpx.Client(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False)
        self._threads = [
            threading.Thread(target=server.serve_forever, name="fake-replicate", daemon=True),
            threading.Thread(target=self._run_webhooks, name="fake-replicate-webhooks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("fake Replicate serving at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and delivering, and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._webhooks is not None:
            self._webhooks.close()
        self._server, self._threads, self._webhooks = None, [], None

    def __enter__(self) -> FakeReplicateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_webhooks(self) -> None:
        while not self._stopping.wait(TICK_S):
            self.fake.tick()
            self.fake.deliver_webhooks(send=self._send_webhook)

    def _send_webhook(self, request: httpx.Request) -> int:
        client = self._webhooks
        if client is None:
            return 0
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            log.warning("fake Replicate: webhook to %s failed (%s)", request.url.path, type(exc).__name__)
            return 0
        log.info("fake Replicate: webhook to %s answered %d", request.url.path, response.status_code)
        return response.status_code


def _handler_for(owner: FakeReplicateServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_FakeReplicateHandler):
        server_owner = owner

    return Handler


class _FakeReplicateHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this a kept-alive connection stalls on the delayed ACK.
    disable_nagle_algorithm = True
    server_owner: FakeReplicateServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake Replicate: " + format, *args)

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
            if route == ("POST", "/_fake/faults"):
                fake.set_faults(_load(FakeReplicateFaults, body))
                return 204, None
            if route == ("DELETE", "/_fake/faults"):
                fake.set_faults()
                return 204, None
            if route == ("PUT", "/_fake/progress"):
                progress = _load(Progress, body)
                fake.set_progress(gets_per_step=progress.gets_per_step, seconds_per_step=progress.seconds_per_step)
                return 204, None
            if route == ("GET", "/_fake/requests"):
                return 200, {"requests": [request._asdict() for request in fake.recorded()]}
            if route == ("DELETE", "/_fake/requests"):
                fake.clear_requests()
                return 204, None
            if route == ("GET", "/_fake/predictions"):
                return 200, {"predictions": fake.predictions()}
            if route == ("GET", "/_fake/webhooks"):
                return 200, {"deliveries": [delivery._asdict() for delivery in list(fake.deliveries)]}
            if route == ("GET", "/_fake/env"):
                return 200, fake.settings_env(self.server_owner.url)
        except ValidationError as exc:
            details = {"errors": json.loads(exc.json(include_url=False, include_input=False))}
            return 400, {"error": {"code": "invalid_request", "message": "not a valid body", "details": details}}
        return 404, {"error": {"code": "not_found", "message": f"no control endpoint {route[0]} {route[1]}"}}


def _load[M: BaseModel](model: type[M], body: bytes) -> M:
    return model.model_validate_json(body or b"null")
