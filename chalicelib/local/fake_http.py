"""The loopback machinery the local fakes share (fake DSP, fake Replicate): a ``ThreadingHTTPServer`` in a daemon
thread that turns each request into an ``httpx.Request`` for the fake's ``handle`` and writes its ``httpx.Response``
back, ``/_fake/…`` control endpoints answered as JSON, and the command line's argument parsing and env file."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shlex
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self

import httpx
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

#: Response headers the server writes itself (the body is always sent whole, with its length).
_OWN_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}

#: A control endpoint's answer: (status, JSON payload or None for an empty body).
ControlAnswer = tuple[int, Any]


class LoopbackFake(Protocol):
    """What a fake served on loopback offers: its API, the requests it recorded (named tuples) and the settings that
    point Sleeve at it."""

    def handle(self, request: httpx.Request) -> httpx.Response: ...

    def recorded(self) -> Sequence[Any]: ...

    def clear_requests(self) -> None: ...

    def settings_env(self, url: str, /) -> dict[str, str]: ...


class LoopbackServer[F: LoopbackFake]:
    """Serves ``fake`` on ``host:port`` (0 = a free port) from a background thread: ``start()``, ``stop()``, ``url``
    (``http://127.0.0.1:PORT``); also a context manager. Requests outside ``/_fake/`` go to ``fake.handle``; the
    control endpoints every fake has are answered here (``GET /_fake/requests`` → ``{"requests": [...]}``,
    ``DELETE /_fake/requests`` → 204, ``GET /_fake/env`` → its settings), the others by the subclass's
    ``own_control``. Subclasses set ``label`` and ``thread_name``."""

    #: How logs and errors name the server ("fake DSP").
    label: ClassVar[str] = "fake"
    thread_name: ClassVar[str] = "fake"

    def __init__(self, fake: F, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, once started; ``RuntimeError`` before."""
        if self._server is None:
            raise RuntimeError(f"the {self.label} server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        server = ThreadingHTTPServer(self._address, _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        log.info("%s serving at %s", self.label, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def control(self, command: str, path: str, body: bytes) -> ControlAnswer | None:
        """Answer ``command path`` (the query string removed) under ``/_fake/``; ``None`` when there is no such
        endpoint (404). A ``pydantic.ValidationError`` raised here answers 400 ``invalid_request``."""
        route = (command, path)
        if route == ("GET", "/_fake/requests"):
            return 200, {"requests": [request._asdict() for request in self.fake.recorded()]}
        if route == ("DELETE", "/_fake/requests"):
            self.fake.clear_requests()
            return 204, None
        if route == ("GET", "/_fake/env"):
            return 200, self.fake.settings_env(self.url)
        return self.own_control(command, path, body)

    def own_control(self, command: str, path: str, body: bytes) -> ControlAnswer | None:
        """The subclass's own control endpoints, as ``control``; none here."""
        return None


def load_body[M: BaseModel](model: type[M], body: bytes) -> M:
    """``body`` (JSON; empty = ``null``) as ``model``; raises ``pydantic.ValidationError``."""
    return model.model_validate_json(body or b"null")


def _handler_for(owner: LoopbackServer[Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(_LoopbackHandler):
        server_owner = owner

    return Handler


class _LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a kept-alive connection then stalls ~40 ms
    # per response on the client's delayed ACK.
    disable_nagle_algorithm = True
    server_owner: LoopbackServer[Any]

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(f"{self.server_owner.label}: " + format, *args)

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

    def _control(self, body: bytes) -> ControlAnswer:
        path = self.path.split("?", 1)[0]
        try:
            answer = self.server_owner.control(self.command, path, body)
        except ValidationError as exc:
            details = {"errors": json.loads(exc.json(include_url=False, include_input=False))}
            return 400, {"error": {"code": "invalid_request", "message": "not a valid body", "details": details}}
        if answer is None:
            return 404, {"error": {"code": "not_found", "message": f"no control endpoint {self.command} {path}"}}
        return answer


def base_parser(prog: str, description: str | None, *, port: int) -> argparse.ArgumentParser:
    """A fake's command line: ``--host`` (127.0.0.1), ``--port`` (``port``; 0 = a free one), ``--env-file``;
    the caller adds its own options."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"port (default {port}; 0 picks a free one)")
    parser.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    return parser


def export_lines(env: dict[str, str]) -> str:
    """``export NAME=value`` lines, shell-quoted (values may span lines, e.g. a PEM key)."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def serve_until_stopped(
    server: LoopbackServer[Any],
    settings_env: Callable[[str], dict[str, str]],
    *,
    banner: Callable[[str], str],
    env_file: Path | None,
    stop: threading.Event | None = None,
) -> int:
    """Run a fake's command line: start ``server``, print ``banner(url)`` and the export lines of
    ``settings_env(url)`` (also written to ``env_file``, mode 600: they hold the fake's throw-away credentials), then
    serve until Ctrl-C (or until ``stop`` is set, in tests); returns the exit status 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with server:
        lines = export_lines(settings_env(server.url))
        if env_file is not None:
            env_file.parent.mkdir(parents=True, exist_ok=True)
            env_file.write_text(lines)
            env_file.chmod(0o600)
        print(banner(server.url), flush=True)
        print(lines, end="", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (stop or threading.Event()).wait()
    return 0
