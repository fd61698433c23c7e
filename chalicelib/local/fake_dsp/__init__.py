"""A local fake of the DSPs Sleeve syncs with (Spotify, Apple Music, MusicBrainz), speaking their documented formats.

``FakeDsp`` (``catalogue``) answers ``httpx.Request``s: ``httpx.MockTransport(fake.handle)`` in tests;
``FakeDspServer`` (``server``) serves it on loopback for the e2e test, the benchmark and ``make run`` demos
(``python -m chalicelib.local.fake_dsp``). Nothing here is imported by the Lambda code path.
"""

from __future__ import annotations

from typing import Any

from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeCatalogue, FakeDsp, FakeTrack, Fault, RecordedRequest

__all__ = ["FakeAlbum", "FakeCatalogue", "FakeDsp", "FakeDspServer", "FakeTrack", "Fault", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    # The server (http.server, threads) is imported only by those who serve the fake.
    if name == "FakeDspServer":
        from chalicelib.local.fake_dsp.server import FakeDspServer

        return FakeDspServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
