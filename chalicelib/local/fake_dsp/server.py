"""``FakeDspServer``: the fake DSP on loopback (a ``ThreadingHTTPServer``), for the e2e test, the benchmark and
``make run`` demos, with control endpoints so that tests in other processes can set it up:

- ``PUT /_fake/catalogue`` (a ``FakeCatalogue``) → 204; ``POST /_fake/albums`` (a ``FakeAlbum``) → 201 ``{"ids"}``;
- ``POST /_fake/faults`` (a ``Fault``) → 204;
- ``GET /_fake/requests`` → ``{"requests": [{"service", "method", "path", "query"}]}``; ``DELETE`` → 204;
- ``GET /_fake/env`` → the ``SLEEVE_*`` settings pointing at this server.

Bad control bodies answer 400 ``{"error": {"code": "invalid_request", "message", "details"}}``.
"""

from __future__ import annotations

from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeCatalogue, FakeDsp, Fault
from chalicelib.local.fake_http import ControlAnswer, LoopbackServer, load_body
from chalicelib.providers.base import DSP_SERVICES


class FakeDspServer(LoopbackServer[FakeDsp]):
    """Serves ``fake`` on ``host:port`` (0 = a free port) from a background thread: ``start()``, ``stop()``,
    ``url`` (``http://127.0.0.1:PORT``); also a context manager."""

    label = "fake DSP"
    thread_name = "fake-dsp"

    def own_control(self, command: str, path: str, body: bytes) -> ControlAnswer | None:
        """The ``/_fake/…`` endpoints listed in the module docstring besides ``LoopbackServer.control``'s."""
        fake = self.fake
        route = (command, path)
        if route == ("PUT", "/_fake/catalogue"):
            fake.set_catalogue(load_body(FakeCatalogue, body))
            return 204, None
        if route == ("POST", "/_fake/albums"):
            album = load_body(FakeAlbum, body)
            fake.add_album(album)
            return 201, {"ids": {service: album.id_for(service) for service in DSP_SERVICES}}
        if route == ("POST", "/_fake/faults"):
            fake.inject(load_body(Fault, body))
            return 204, None
        return None
