"""Helpers shared by the provider clients' unit tests: the documented payloads of tests/fixtures/dsp, injectable clocks
and a MockTransport handler base that records requests and lets a test override a path's next answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from chalicelib.config import Settings
from chalicelib.local.fake_dsp import FakeAlbum, FakeTrack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dsp"

Route = Callable[[httpx.Request], httpx.Response]


def load_fixture(name: str) -> Any:
    """The parsed JSON of tests/fixtures/dsp/{name}.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def provider_settings(**values: Any) -> Settings:
    """``Settings`` with the required ``bucket_name``/``jwt_secret`` filled and ``values`` on top."""
    return Settings(**{"bucket_name": "b", "jwt_secret": "s", **values})


class Clock:
    """An injectable wall clock (seconds) that moves only when a test sets ``now``."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeTime:
    """A monotonic clock that only moves when slept on; ``sleeps`` records each sleep (seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class MockService:
    """A MockTransport handler: ``answer`` serves a request; ``answer_once`` overrides a path's next answer (several
    calls queue); ``calls`` records every request."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.overrides: dict[str, list[Route]] = {}

    def answer_once(self, path: str, response: Route) -> None:
        self.overrides.setdefault(path, []).append(response)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.overrides.get(request.url.path):
            return self.overrides[request.url.path].pop(0)(request)
        return self.answer(request)

    def answer(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def paths(self) -> list[str]:
        return [f"{request.method} {request.url.path}" for request in self.calls]


def fake_album(tracks: int, upc: str, *, explicit: Collection[int] = (), **kwargs: Any) -> FakeAlbum:
    """A fake DSP album "Tidal Lines" by Lumen Harbor with ``tracks`` tracks (``Track {n}``, 180 000 + n ms, ISRC
    ``GBAYE26{n:05d}``), the track numbers in ``explicit`` explicit; ``kwargs`` override ``FakeAlbum``'s fields."""
    return FakeAlbum(
        upc=upc,
        title="Tidal Lines",
        artist="Lumen Harbor",
        release_date=date(2026, 3, 13),
        tracks=[
            FakeTrack(
                title=f"Track {n}",
                track_number=n,
                duration_ms=180_000 + n,
                isrc=f"GBAYE26{n:05d}",
                explicit=n in explicit,
            )
            for n in range(1, tracks + 1)
        ],
        **kwargs,
    )
