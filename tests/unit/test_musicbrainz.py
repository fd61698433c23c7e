"""MusicBrainzClient against httpx.MockTransport serving payloads shaped like MusicBrainz's documented JSON
(tests/fixtures/dsp/musicbrainz_*.json): the barcode search, the release lookup with recordings and ISRCs, the ISRC
lookup, errors, the User-Agent and the process-wide one-request-per-second limit (injected clock and sleep)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from chalicelib.config import Settings
from chalicelib.providers.base import DspProvider, ProviderBadResponseError, ProviderNotFoundError
from chalicelib.providers.http import RateLimiter
from chalicelib.providers.musicbrainz import MusicBrainzClient, barcode_query, process_limiter
from tests.unit.provider_support import FakeTime, load_fixture, provider_settings

BASE = "https://mb.test/ws/2"
USER_AGENT = "SleeveTest/1.0 ( ops@example.org )"
DIGITAL = "8f2a6c1e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"  # the digital release (5 tracks on 2 media)
CD = "c41d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"  # the CD edition with the same barcode (12 tracks)
OTHER = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"  # another barcode in the same search
UPC = "602435867129"  # the 12-digit UPC-A; MusicBrainz stores the EAN-13 0602435867129


def fixture(name: str) -> Any:
    return load_fixture(f"musicbrainz_{name}")


class MusicBrainzStub:
    """Answers by path from the fixtures (or ``overrides``), recording every request."""

    def __init__(self, **overrides: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.search: Any = fixture("release_search")
        self.release: Any = fixture("release")
        self.isrcs = {code: fixture(f"isrc_{code}") for code in ("GBUM72400101", "GBUM72400104", "GBUM72400105")}
        self.queue: list[httpx.Response] = []  # answered first, in order
        for name, value in overrides.items():
            setattr(self, name, value)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queue:
            return self.queue.pop(0)
        path = request.url.path.removeprefix("/ws/2")
        if path == "/release":
            return httpx.Response(200, json=self.search)
        if path.startswith("/release/") and path.removeprefix("/release/") == self.release["id"]:
            return httpx.Response(200, json=self.release)
        if path.startswith("/isrc/") and path.removeprefix("/isrc/") in self.isrcs:
            return httpx.Response(200, json=self.isrcs[path.removeprefix("/isrc/")])
        return httpx.Response(404, json=fixture("not_found"))


def settings(**values: Any) -> Settings:
    return provider_settings(musicbrainz_api_url=BASE, musicbrainz_user_agent=USER_AGENT, **values)


def client_for(stub: MusicBrainzStub, time: FakeTime | None = None, interval: float = 0.0) -> MusicBrainzClient:
    time = time or FakeTime()
    limiter = RateLimiter(interval, clock=time.clock, sleep=time.sleep)
    return MusicBrainzClient.from_settings(
        settings(musicbrainz_min_interval_s=interval),
        transport=httpx.MockTransport(stub),
        limiter=limiter,
        sleep=time.sleep,
    )


ISRCS = ["GBUM72400101", "GBUM72400103", "GBUM72400104", "GBUM72400105", "GBUM72400106"]


def test_a_release_with_two_media_is_read_with_positions_lengths_and_isrcs() -> None:
    # Given MusicBrainz's search and release for the barcode
    stub = MusicBrainzStub()
    client: DspProvider = client_for(stub)

    # When the release with the UPC is found
    release = client.find_release(upc=UPC, isrcs=ISRCS)

    # Then the search asked for the barcode, then the release was looked up with its recordings and ISRCs
    search, lookup = stub.requests
    assert search.url.path == "/ws/2/release"
    assert dict(search.url.params) == {"query": f"barcode:({UPC} OR 0{UPC})", "fmt": "json"}
    assert lookup.url.path == f"/ws/2/release/{DIGITAL}"
    assert lookup.url.query == b"inc=recordings+isrcs+artist-credits&fmt=json"

    # And the release carries its MBID, barcode, full date, credited artist and two media of 3 and 2 tracks
    assert (release.service, release.external_id, release.gtin) == ("musicbrainz", DIGITAL, "0602435867129")
    assert release.release_date == date(2024, 3, 1)
    assert release.artist == "Ada Lindqvist & The Night Ferries"
    assert release.url == f"https://musicbrainz.org/release/{DIGITAL}"
    assert release.track_counts() == [3, 2]
    first, missing, several, bonus, _ = release.tracks
    # Each track is keyed by its recording MBID, with its position, length (ms) and ISRC; never rated explicit
    assert first.external_id == "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e01"
    assert (first.disc_number, first.track_number, first.duration_ms, first.isrc) == (1, 1, 215000, "GBUM72400101")
    assert first.explicit is None
    # A recording without ISRCs has none; a track without a length takes the recording's; of two ISRCs the first
    assert missing.isrc is None
    assert (several.duration_ms, several.isrc) == (243000, "GBUM72400103")
    # The second medium's tracks are numbered from 1 on disc 2
    assert (bonus.disc_number, bonus.track_number, bonus.title) == (2, 1, "Harbour Lights (Demo)")


@pytest.mark.parametrize(("local_tracks", "chosen"), [(5, DIGITAL), (12, CD)])
def test_several_releases_for_a_barcode_pick_the_best_score_then_the_nearest_track_count(
    local_tracks: int, chosen: str
) -> None:
    # Given a search with two releases scored 100 for the barcode (5 and 12 tracks), and the release lookups
    stub = MusicBrainzStub(release={**fixture("release"), "id": chosen})

    # When the release is found for a release of `local_tracks` tracks
    client_for(stub).find_release(upc=UPC, isrcs=[f"GBUM724{n:05d}" for n in range(local_tracks)])

    # Then the edition whose track count fits is looked up
    assert stub.requests[1].url.path == f"/ws/2/release/{chosen}"


def test_a_release_with_another_barcode_is_never_picked_even_with_the_best_score() -> None:
    # Given a search whose best-scored release states another barcode
    search = fixture("release_search")
    search["releases"] = [{**search["releases"][2], "score": 100}, {**search["releases"][0], "score": 90}]
    stub = MusicBrainzStub(search=search, release={**fixture("release"), "id": CD})

    # When the release is found
    client_for(stub).find_release(upc=UPC, isrcs=[])

    # Then the one with the barcode wins
    assert stub.requests[1].url.path == f"/ws/2/release/{CD}"
    assert OTHER not in str(stub.requests[1].url)


def test_no_release_for_the_barcode_is_not_found_after_one_request() -> None:
    # Given an empty search
    stub = MusicBrainzStub(search=fixture("release_search_empty"))

    # When the release is found
    with pytest.raises(ProviderNotFoundError) as caught:
        client_for(stub).find_release(upc=UPC, isrcs=ISRCS)

    # Then it is not_found for musicbrainz, and nothing else was asked
    assert caught.value.code == "not_found"
    assert caught.value.service == "musicbrainz"
    assert len(stub.requests) == 1


def test_without_a_upc_the_release_most_isrcs_belong_to_is_looked_up() -> None:
    # Given ISRC lookups: three of the ISRCs are on the album, one on a single, one on another single, one unknown
    stub = MusicBrainzStub()

    # When the release is found without a UPC
    release = client_for(stub).find_release(
        upc=None, isrcs=["GBUM72400101", "GBUM72400102", "GBUM72400104", "GBUM72400105"]
    )

    # Then each ISRC was looked up with its releases (the unknown one answered 404 and was skipped), then the album
    lookups = [request for request in stub.requests if request.url.path.startswith("/ws/2/isrc/")]
    assert [request.url.path.rsplit("/", 1)[1] for request in lookups] == [
        "GBUM72400101",
        "GBUM72400102",
        "GBUM72400104",
        "GBUM72400105",
    ]
    assert all(dict(request.url.params) == {"inc": "releases", "fmt": "json"} for request in lookups)
    assert stub.requests[-1].url.path == f"/ws/2/release/{DIGITAL}"
    assert release.external_id == DIGITAL


def test_without_a_upc_and_no_known_isrc_is_not_found() -> None:
    # Given ISRCs MusicBrainz does not know
    stub = MusicBrainzStub(isrcs={})

    # When the release is found without a UPC
    with pytest.raises(ProviderNotFoundError):
        client_for(stub).find_release(upc=None, isrcs=["GBUM72400901", "GBUM72400902"])

    # Then only the two ISRC lookups were sent
    assert len(stub.requests) == 2


def test_without_a_upc_or_isrcs_is_not_found_without_a_request() -> None:
    # Given a release with neither UPC nor ISRCs
    stub = MusicBrainzStub()

    # When the release is found
    with pytest.raises(ProviderNotFoundError):
        client_for(stub).find_release(upc=None, isrcs=[])

    # Then nothing was asked
    assert stub.requests == []


def test_a_503_with_retry_after_is_waited_for_then_the_search_succeeds() -> None:
    # Given MusicBrainz's rate-limit refusal (503 with Retry-After: 2) before the search answers
    refused = httpx.Response(
        503, headers={"Retry-After": "2"}, json={"error": "Your requests are exceeding the allowable rate limit."}
    )
    stub = MusicBrainzStub(queue=[refused])
    time = FakeTime()

    # When the release is found
    release = client_for(stub, time).find_release(upc=UPC, isrcs=ISRCS)

    # Then the client waited the 2 s asked and went on
    assert time.sleeps == [2.0]
    assert release.external_id == DIGITAL
    assert len(stub.requests) == 3


def test_every_request_sends_the_configured_user_agent_and_asks_for_json() -> None:
    # Given a search, a 503 and a lookup
    stub = MusicBrainzStub(queue=[httpx.Response(503, headers={"Retry-After": "0"})])

    # When the release is found
    client_for(stub).find_release(upc=UPC, isrcs=ISRCS)

    # Then every request (the retried one too) identified itself and asked for JSON
    assert len(stub.requests) == 3
    assert {request.headers["User-Agent"] for request in stub.requests} == {USER_AGENT}
    assert {request.headers["Accept"] for request in stub.requests} == {"application/json"}


def test_clients_share_one_request_per_second() -> None:
    # Given two clients sharing one limiter of 1 s on a clock that moves only when slept on
    time = FakeTime()
    limiter = RateLimiter(1.0, clock=time.clock, sleep=time.sleep)
    stub = MusicBrainzStub()
    clients = [
        MusicBrainzClient.from_settings(
            settings(), transport=httpx.MockTransport(stub), limiter=limiter, sleep=time.sleep
        )
        for _ in range(2)
    ]

    # When each finds the release (2 requests each)
    starts: list[float] = []
    for client in clients:
        client.find_release(upc=UPC, isrcs=ISRCS)
        starts.append(time.now)

    # Then the four requests started a second apart
    assert time.sleeps == [1.0, 1.0, 1.0]
    assert len(stub.requests) == 4


def test_from_settings_uses_one_process_wide_limiter_of_the_configured_interval() -> None:
    # Given two clients built from the settings (1 s by default)
    first = MusicBrainzClient.from_settings(settings(), transport=httpx.MockTransport(MusicBrainzStub()))
    second = MusicBrainzClient.from_settings(settings(), transport=httpx.MockTransport(MusicBrainzStub()))

    # Then they share the process's limiter of 1 s
    assert first._http.limiter is second._http.limiter is process_limiter(1.0)
    assert first._http.limiter.min_interval_s == 1.0
    assert first.not_configured_reason() is None
    assert first.service == "musicbrainz"


def test_a_year_only_date_and_an_empty_barcode_are_none() -> None:
    # Given a release dated by year only, with an empty barcode
    stub = MusicBrainzStub(release={**fixture("release"), "date": "2024", "barcode": ""})

    # When it is read
    release = client_for(stub).release(DIGITAL)

    # Then neither a date nor a GTIN is made up
    assert release.release_date is None
    assert release.gtin is None


def test_a_track_without_its_recording_is_a_bad_response() -> None:
    # Given a release whose first track lacks the documented recording
    payload = fixture("release")
    del payload["media"][0]["tracks"][0]["recording"]
    stub = MusicBrainzStub(release=payload)

    # When it is read
    with pytest.raises(ProviderBadResponseError) as caught:
        client_for(stub).release(DIGITAL)

    # Then the error names where the shape broke
    assert caught.value.code == "bad_response"
    assert "recording" in caught.value.message


@pytest.mark.parametrize(
    ("upc", "query"),
    [
        ("602435867129", "barcode:(602435867129 OR 0602435867129)"),
        ("0602435867129", "barcode:(0602435867129 OR 602435867129)"),
        ("5051083123456", "barcode:5051083123456"),
        ("00602435867129", "barcode:00602435867129"),
    ],
)
def test_the_barcode_search_asks_for_both_the_upc_a_and_the_ean_13_form(upc: str, query: str) -> None:
    # MusicBrainz matches barcodes exactly as entered: a UPC-A is searched as its EAN-13 too, and the other way round
    assert barcode_query(upc) == query
