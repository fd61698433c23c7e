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

import logging
import threading
from typing import Self

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.local.fake_http import ControlAnswer, LoopbackServer, load_body
from chalicelib.local.fake_replicate.fake import FakeReplicate, FakeReplicateFaults

log = logging.getLogger(__name__)

#: How often the background thread advances predictions and sends webhooks (s).
TICK_S = 0.05
WEBHOOK_TIMEOUT_S = 5.0


class Progress(BaseModel):
    """The body of ``PUT /_fake/progress``."""

    model_config = ConfigDict(extra="forbid")

    gets_per_step: int | None = Field(default=1, ge=1)
    seconds_per_step: float | None = Field(default=None, ge=0)


class FakeReplicateServer(LoopbackServer[FakeReplicate]):
    """Serves ``fake`` on ``host:port`` (0 = a free port) from a background thread and delivers its webhooks from
    another: ``start()``, ``stop()``, ``url`` (``http://127.0.0.1:PORT``; the API root is ``{url}/v1``); also a
    context manager."""

    label = "fake Replicate"
    thread_name = "fake-replicate"

    def __init__(self, fake: FakeReplicate, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(fake, host, port)
        self._deliverer: threading.Thread | None = None
        self._stopping = threading.Event()
        self._webhooks: httpx.Client | None = None

    def start(self) -> Self:
        """Bind, serve and deliver webhooks in daemon threads; returns self."""
        super().start()
        self._stopping.clear()
        self._webhooks = httpx.Client(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False)
        self._deliverer = threading.Thread(target=self._run_webhooks, name="fake-replicate-webhooks", daemon=True)
        self._deliverer.start()
        return self

    def stop(self) -> None:
        """Stop serving and delivering, and close the socket."""
        self._stopping.set()
        super().stop()
        if self._deliverer is not None:
            self._deliverer.join(timeout=5)
        if self._webhooks is not None:
            self._webhooks.close()
        self._deliverer, self._webhooks = None, None

    def own_control(self, command: str, path: str, body: bytes) -> ControlAnswer | None:
        """The ``/_fake/…`` endpoints listed in the module docstring besides ``LoopbackServer.control``'s."""
        fake = self.fake
        route = (command, path)
        if route == ("POST", "/_fake/faults"):
            fake.set_faults(load_body(FakeReplicateFaults, body))
            return 204, None
        if route == ("DELETE", "/_fake/faults"):
            fake.set_faults()
            return 204, None
        if route == ("PUT", "/_fake/progress"):
            progress = load_body(Progress, body)
            fake.set_progress(gets_per_step=progress.gets_per_step, seconds_per_step=progress.seconds_per_step)
            return 204, None
        if route == ("GET", "/_fake/predictions"):
            return 200, {"predictions": fake.predictions()}
        if route == ("GET", "/_fake/webhooks"):
            return 200, {"deliveries": [delivery._asdict() for delivery in list(fake.deliveries)]}
        return None

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
