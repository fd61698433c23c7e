"""The Spotify client: documented payloads (tests/fixtures/dsp/spotify_*.json) served by httpx.MockTransport, and the
client against the fake Spotify of chalicelib/local/fake_dsp. Never the network."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from chalicelib.config import Settings
from chalicelib.local.fake_dsp import FakeAlbum, FakeDsp
from chalicelib.local.fake_dsp import spotify as fake_spotify
from chalicelib.providers.base import (
    NOT_CONFIGURED,
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderUnauthorisedError,
    ProviderUnavailableError,
)
from chalicelib.providers.spotify import SEARCH_LIMIT_MAX, TOKEN_MARGIN_S, SpotifyClient, release_date
from tests.unit import provider_support
from tests.unit.provider_support import Clock, MockService, load_fixture, provider_settings

API = "https://api.spotify.com/v1"
ACCOUNTS = "https://accounts.spotify.com"
CLIENT_ID = "sleeve-test-client-id"
CLIENT_SECRET = "s3cr3t-never-logged-0123456789"
ALBUM_ID = "4aawyAB9vmqN3uQ7FjRGTy"
TRACK_IDS = ["6rqhFgbbKwnb9MLmUQDhG6", "2takcwOaAZWiXQijPHIx7B", "1zB4vmk8tFRmM9UULNzbLB"]
UPC = "196922512346"


fixture = load_fixture


ACCESS_TOKEN = fixture("spotify_token")["access_token"]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "spotify_api_url": API,
        "spotify_accounts_url": ACCOUNTS,
        "spotify_client_id": CLIENT_ID,
        "spotify_client_secret": CLIENT_SECRET,
        "provider_max_retries": 2,
        "provider_backoff_base_s": 0.5,
        **overrides,
    }
    return provider_settings(**values)


class Spotify(MockService):
    """A MockTransport serving the fixtures by path; ``overrides`` answer a path (optionally only its first N calls)
    differently; ``calls`` records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.album = fixture("spotify_album")

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/token":
            return httpx.Response(200, json=fixture("spotify_token"))
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return httpx.Response(401, json={"error": {"status": 401, "message": "Invalid access token"}})
        if path == "/v1/search":
            kind = request.url.params["type"]
            return httpx.Response(200, json=fixture(f"spotify_search_{kind}"))
        if path == f"/v1/albums/{ALBUM_ID}":
            return httpx.Response(200, json=self.album)
        if path == f"/v1/albums/{ALBUM_ID}/tracks":
            return httpx.Response(200, json=fixture("spotify_album_tracks"))
        for number, track_id in enumerate(TRACK_IDS, 1):
            if path == f"/v1/tracks/{track_id}":
                return httpx.Response(200, json=fixture(f"spotify_track_{number}"))
        return httpx.Response(404, json={"error": {"status": 404, "message": "Resource not found"}})


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> SpotifyClient:
    sleeps: list[float] = kwargs.pop("sleeps", [])
    settings = kwargs.pop("settings", None) or make_settings()
    return SpotifyClient.from_settings(settings, transport=httpx.MockTransport(handler), sleep=sleeps.append, **kwargs)


# -- the documented flow ----------------------------------------------------------------------------------------------


def test_finds_an_album_by_upc_with_its_tracks_isrcs_and_pages() -> None:
    # Given the documented payloads: a search hit, an album whose tracks page has a next page, three tracks
    spotify = Spotify()
    client = client_for(spotify)

    # When the release is looked up by its UPC
    release = client.find_release(upc=UPC, isrcs=[])

    # Then the album is parsed into the DSP model, positions, durations, explicit flags and ISRCs included
    assert (release.service, release.external_id, release.title, release.artist) == (
        "spotify",
        ALBUM_ID,
        "Tidal Lines",
        "Lumen Harbor",
    )
    assert release.gtin == UPC
    assert release.release_date == date(2026, 3, 13)
    assert release.url == f"https://open.spotify.com/album/{ALBUM_ID}"
    assert release.track_counts() == [3]
    first, second, third = release.tracks
    assert (first.external_id, first.track_number, first.duration_ms, first.isrc, first.explicit) == (
        TRACK_IDS[0],
        1,
        215306,
        "GBAYE2600101",
        False,
    )
    assert second.explicit is True
    assert second.title == "Harbour Lights (feat. Mara Quell)"
    # And a track whose external_ids hold no ISRC keeps isrc None (not an error)
    assert third.isrc is None
    assert third.title == "Undertow - Radio Edit"
    # And the requests are the documented minimum: token, search, album, its one next page, one per track
    assert spotify.paths() == [
        "POST /api/token",
        "GET /v1/search",
        f"GET /v1/albums/{ALBUM_ID}",
        f"GET /v1/albums/{ALBUM_ID}/tracks",
        *[f"GET /v1/tracks/{track_id}" for track_id in TRACK_IDS],
    ]
    search = spotify.calls[1].url.params
    assert (search["q"], search["type"]) == (f"upc:{UPC}", "album")
    assert 1 <= int(search["limit"]) <= SEARCH_LIMIT_MAX
    # And the token was asked with HTTP Basic client credentials
    token_request = spotify.calls[0]
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.content == b"grant_type=client_credentials"


def test_an_album_without_a_next_page_asks_for_no_tracks_page() -> None:
    # Given an album whose embedded tracks paging object already holds every track (next is null)
    spotify = Spotify()
    page2 = fixture("spotify_album_tracks")
    spotify.album["tracks"]["items"] += page2["items"]
    spotify.album["tracks"]["next"] = None
    client = client_for(spotify)

    # When it is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then no GET /albums/{id}/tracks is made: 1 search + 1 album + 3 tracks
    assert len(release.tracks) == 3
    assert f"GET /v1/albums/{ALBUM_ID}/tracks" not in spotify.paths()
    assert len([path for path in spotify.paths() if path != "POST /api/token"]) == 5


def test_the_isrc_path_without_a_upc() -> None:
    # Given a release without a UPC, whose second track's ISRC Spotify knows
    spotify = Spotify()
    client = client_for(spotify)

    # When it is looked up by its ISRCs (an invalid one is skipped without a request)
    release = client.find_release(upc=None, isrcs=["not-an-isrc", "gb-aye-26-00102"])

    # Then one track search leads to that track's album
    assert release.external_id == ALBUM_ID
    search = spotify.calls[1].url.params
    assert (search["q"], search["type"]) == ("isrc:GBAYE2600102", "track")
    assert int(search["limit"]) <= SEARCH_LIMIT_MAX
    assert [path for path in spotify.paths() if path.endswith("/search")] == ["GET /v1/search"]


def test_not_found_without_a_search_hit_tries_the_14_digit_form_once() -> None:
    # Given a search that finds nothing
    spotify = Spotify()
    empty = {"albums": {**fixture("spotify_search_album")["albums"], "items": [], "total": 0}}
    spotify.answer_once("/v1/search", lambda request: httpx.Response(200, json=empty))
    spotify.answer_once("/v1/search", lambda request: httpx.Response(200, json=empty))
    client = client_for(spotify)

    # When the release is looked up
    with pytest.raises(ProviderNotFoundError):
        client.find_release(upc=UPC, isrcs=[])

    # Then the UPC and its zero-padded 14-digit form were searched (Harmony's observation), nothing more
    queries = [request.url.params["q"] for request in spotify.calls if request.url.path == "/v1/search"]
    assert queries == [f"upc:{UPC}", f"upc:00{UPC}"]


def test_an_album_stating_another_gtin_is_returned_with_it_for_the_merge_to_refuse() -> None:
    # Given the album found for the UPC states another GTIN
    spotify = Spotify()
    spotify.album["external_ids"] = {"upc": "196922519994"}
    client = client_for(spotify)

    # When it is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then the release carries the GTIN Spotify states (the merge reports the disagreement)
    assert release.gtin == "196922519994"


def test_release_date_only_with_day_precision() -> None:
    assert release_date("2026-03-13", "day") == date(2026, 3, 13)
    assert release_date("2026-03", "month") is None
    assert release_date("2026", "year") is None
    assert release_date(None, None) is None


# -- the token --------------------------------------------------------------------------------------------------------


def test_the_token_is_cached_until_shortly_before_it_expires() -> None:
    # Given a client whose clock we control (the token lives 3600 s)
    spotify = Spotify()
    clock = Clock()
    client = client_for(spotify, clock=clock)

    # When two lookups run within the token's life
    client.find_release(upc=UPC, isrcs=[])
    clock.now += 3600 - TOKEN_MARGIN_S - 1
    client.find_release(upc=UPC, isrcs=[])

    # Then one token request served both
    assert spotify.paths().count("POST /api/token") == 1

    # When the clock passes the expiry minus the margin
    clock.now += 2
    client.find_release(upc=UPC, isrcs=[])

    # Then a new token is asked for
    assert spotify.paths().count("POST /api/token") == 2


def test_a_401_fetches_a_new_token_once() -> None:
    # Given the API refuses the cached token once (revoked or expired early)
    spotify = Spotify()
    expired = {"error": {"status": 401, "message": "The access token expired"}}
    spotify.answer_once("/v1/search", lambda request: httpx.Response(401, json=expired))
    client = client_for(spotify)

    # When the release is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then a new token was fetched and the search repeated
    assert release.external_id == ALBUM_ID
    assert spotify.paths()[:4] == ["POST /api/token", "GET /v1/search", "POST /api/token", "GET /v1/search"]


def test_a_second_401_is_unauthorised() -> None:
    # Given the API refuses every token
    spotify = Spotify()
    refused = {"error": {"status": 401, "message": "Invalid access token"}}
    for _ in range(3):
        spotify.answer_once("/v1/search", lambda request: httpx.Response(401, json=refused))
    client = client_for(spotify)

    # When / Then: one refresh, then unauthorised
    with pytest.raises(ProviderUnauthorisedError):
        client.find_release(upc=UPC, isrcs=[])
    assert spotify.paths().count("POST /api/token") == 2


def test_wrong_client_credentials_are_unauthorised() -> None:
    # Given the accounts service refuses the client secret (400 invalid_client, its documented OAuth error)
    spotify = Spotify()
    spotify.answer_once("/api/token", lambda request: httpx.Response(400, json=fixture("spotify_token_error")))
    client = client_for(spotify)

    # When / Then
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client.find_release(upc=UPC, isrcs=[])
    assert raised.value.code == "unauthorised"
    assert "client credentials" in raised.value.message


def test_premium_required_surfaces_as_unauthorised_with_spotifys_message() -> None:
    # Given the app owner's Premium subscription lapsed (a 403 whose message says so)
    spotify = Spotify()
    body = fixture("spotify_error_premium_required")
    spotify.answer_once("/v1/search", lambda request: httpx.Response(403, json=body))
    client = client_for(spotify)

    # When the release is looked up
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client.find_release(upc=UPC, isrcs=[])

    # Then the failure is unauthorised, keeps Spotify's message, and no token refresh was tried on a 403
    assert raised.value.code == "unauthorised"
    assert "Active premium subscription required for the owner of the app" in raised.value.message
    assert spotify.paths().count("POST /api/token") == 1


# -- retries and failures ---------------------------------------------------------------------------------------------


def test_a_429_with_retry_after_is_waited_out_then_succeeds() -> None:
    # Given the search is rate limited once with Retry-After: 2
    spotify = Spotify()
    limited = fixture("spotify_error_rate_limited")
    spotify.answer_once("/v1/search", lambda r: httpx.Response(429, json=limited, headers={"Retry-After": "2"}))
    sleeps: list[float] = []
    client = client_for(spotify, sleeps=sleeps)

    # When the release is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then the client waited the 2 s asked and went on
    assert release.external_id == ALBUM_ID
    assert sleeps == [2.0]
    assert spotify.paths().count("GET /v1/search") == 2


def test_a_429_that_persists_is_rate_limited() -> None:
    # Given the search keeps answering 429
    spotify = Spotify()
    for _ in range(3):
        spotify.answer_once("/v1/search", lambda r: httpx.Response(429, headers={"Retry-After": "1"}))
    client = client_for(spotify)

    # When / Then: rate limited after the retries (1 + 2 requests)
    with pytest.raises(ProviderRateLimitedError) as raised:
        client.find_release(upc=UPC, isrcs=[])
    assert raised.value.transient
    assert spotify.paths().count("GET /v1/search") == 3


def test_a_5xx_then_success() -> None:
    # Given one track answers 502 once
    spotify = Spotify()
    spotify.answer_once(f"/v1/tracks/{TRACK_IDS[1]}", lambda r: httpx.Response(502, text="Bad Gateway"))
    sleeps: list[float] = []
    client = client_for(spotify, sleeps=sleeps)

    # When the release is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then it was retried after a backoff and completed
    assert release.tracks[1].isrc == "GBAYE2600102"
    assert len(sleeps) == 1
    assert spotify.paths().count(f"GET /v1/tracks/{TRACK_IDS[1]}") == 2


def test_a_timeout_that_persists_is_unavailable() -> None:
    # Given the album request always times out
    spotify = Spotify()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for _ in range(3):
        spotify.answer_once(f"/v1/albums/{ALBUM_ID}", timeout)
    client = client_for(spotify)

    # When / Then: unavailable (transient) after 1 + 2 tries
    with pytest.raises(ProviderUnavailableError) as raised:
        client.find_release(upc=UPC, isrcs=[])
    assert raised.value.transient
    assert spotify.paths().count(f"GET /v1/albums/{ALBUM_ID}") == 3


def test_a_payload_missing_a_required_field_is_a_bad_response() -> None:
    # Given an album without its tracks paging object
    spotify = Spotify()
    del spotify.album["tracks"]
    client = client_for(spotify)

    # When / Then
    with pytest.raises(ProviderBadResponseError) as raised:
        client.find_release(upc=UPC, isrcs=[])
    assert "tracks" in raised.value.message


def test_a_next_link_outside_the_api_is_not_followed() -> None:
    # Given a next link pointing at another host (the token must not travel there)
    spotify = Spotify()
    spotify.album["tracks"]["next"] = "https://evil.example/v1/albums/x/tracks?offset=2"
    client = client_for(spotify)

    # When / Then
    with pytest.raises(ProviderBadResponseError):
        client.find_release(upc=UPC, isrcs=[])
    assert all(request.url.host != "evil.example" for request in spotify.calls)


def test_not_configured_is_a_reason_not_an_exception() -> None:
    # Given settings without a client secret
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be made")

    settings = make_settings(spotify_client_secret=None)

    # When the client is built
    client = client_for(no_network, settings=settings)

    # Then it says why it is skipped, and made no request
    assert client.not_configured_reason() == NOT_CONFIGURED
    assert (
        client_for(no_network, settings=make_settings(spotify_client_id="")).not_configured_reason() == NOT_CONFIGURED
    )
    assert client_for(no_network).not_configured_reason() is None


def test_no_secret_or_token_reaches_a_log_record_or_an_error(caplog: pytest.LogCaptureFixture) -> None:
    # Given a lookup that fetches a token, retries, refreshes after a 401 and ends on Premium-required
    spotify = Spotify()
    spotify.answer_once("/v1/search", lambda r: httpx.Response(503, headers={"Retry-After": "0"}))
    spotify.answer_once("/v1/search", lambda r: httpx.Response(401, json={"error": {"status": 401, "message": "x"}}))
    spotify.answer_once(
        f"/v1/albums/{ALBUM_ID}", lambda r: httpx.Response(403, json=fixture("spotify_error_premium_required"))
    )
    client = client_for(spotify)

    # When it runs with every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client.find_release(upc=UPC, isrcs=[])

    # Then neither the client secret nor the access token appears in a record or in the error
    texts = [record.getMessage() for record in caplog.records] + [repr(record.__dict__) for record in caplog.records]
    texts += [str(raised.value), repr(raised.value.to_body())]
    for text in texts:
        assert CLIENT_SECRET not in text
        assert ACCESS_TOKEN not in text
    assert caplog.records, "the retry and the token were logged"


# -- against the fake Spotify -----------------------------------------------------------------------------------------


def fake_album(tracks: int, **kwargs: Any) -> FakeAlbum:
    return provider_support.fake_album(tracks, UPC, **kwargs)


def fake_client(fake: FakeDsp, **overrides: Any) -> SpotifyClient:
    env = fake.settings_env("http://fake-dsp.test")
    values = {
        "spotify_api_url": env["SLEEVE_SPOTIFY_API_URL"],
        "spotify_accounts_url": env["SLEEVE_SPOTIFY_ACCOUNTS_URL"],
        "spotify_client_id": fake.spotify_client_id,
        "spotify_client_secret": fake.spotify_client_secret,
    }
    settings = make_settings(**{**values, **overrides})
    return SpotifyClient.from_settings(settings, transport=httpx.MockTransport(fake.handle), sleep=lambda s: None)


def test_a_20_track_album_costs_22_api_requests_and_one_token() -> None:
    # Given the fake lists a 20-track album
    fake = FakeDsp()
    fake.add_album(fake_album(20))
    client = fake_client(fake)

    # When it is synced
    release = client.find_release(upc=UPC, isrcs=[])

    # Then 1 search + 1 album + 20 tracks, and one token request
    assert [track.isrc for track in release.tracks] == [f"GBAYE26{n:05d}" for n in range(1, 21)]
    assert len(fake.requests_for("spotify")) == 22
    assert len(fake.requests_for("spotify_accounts")) == 1


def test_a_long_album_follows_next_through_the_album_tracks_endpoint() -> None:
    # Given a 60-track album (the album object holds the first 50)
    fake = FakeDsp()
    fake.add_album(fake_album(60))
    client = fake_client(fake)

    # When it is synced
    release = client.find_release(upc=UPC, isrcs=[])

    # Then one tracks page was asked for the last 10
    assert len(release.tracks) == 60
    pages = [r for r in fake.requests_for("spotify") if r.path.endswith("/tracks") and "/albums/" in r.path]
    assert len(pages) == 1
    assert "offset=50" in pages[0].query


def test_the_fake_refuses_what_a_development_mode_app_is_refused() -> None:
    # Given the fake and a valid token
    fake = FakeDsp()
    fake.add_album(fake_album(2))
    http = httpx.Client(transport=httpx.MockTransport(fake.handle), base_url="http://fake-dsp.test")
    auth = {"Authorization": f"Bearer {fake_spotify.access_token(fake)}"}

    # When a search asks for more than 10, or a batch endpoint is called
    too_many = http.get("/spotify/v1/search", params={"q": f"upc:{UPC}", "type": "album", "limit": "11"}, headers=auth)
    batch_tracks = http.get("/spotify/v1/tracks", params={"ids": "a,b"}, headers=auth)
    batch_albums = http.get("/spotify/v1/albums", params={"ids": "a,b"}, headers=auth)
    ten = http.get("/spotify/v1/search", params={"q": f"upc:{UPC}", "type": "album", "limit": "10"}, headers=auth)

    # Then 400 Invalid limit and 403 Forbidden, in Spotify's error shape; a limit of 10 is fine
    assert too_many.status_code == 400
    assert too_many.json() == {"error": {"status": 400, "message": "Invalid limit"}}
    assert batch_tracks.status_code == batch_albums.status_code == 403
    assert batch_tracks.json() == {"error": {"status": 403, "message": "Forbidden"}}
    assert ten.status_code == 200 and ten.json()["albums"]["total"] == 1


def test_the_fake_token_endpoint_checks_the_client_credentials() -> None:
    # Given a client with the wrong secret
    fake = FakeDsp()
    fake.add_album(fake_album(2))
    client = fake_client(fake, spotify_client_secret="wrong")

    # When / Then: unauthorised, and no API request was made
    with pytest.raises(ProviderUnauthorisedError):
        client.find_release(upc=UPC, isrcs=[])
    assert fake.requests_for("spotify") == []


def test_the_fake_gtin_mismatch_and_isrc_path() -> None:
    # Given an album Spotify lists under another GTIN
    fake = FakeDsp()
    fake.add_album(fake_album(3, gtin_overrides={"spotify": "196922519994"}))
    client = fake_client(fake)

    # When it is looked up by its UPC, and by an ISRC without a UPC
    by_upc = client.find_release(upc=UPC, isrcs=[])
    by_isrc = client.find_release(upc=None, isrcs=["GBAYE2600002"])

    # Then both find it, stating Spotify's GTIN
    assert by_upc.gtin == by_isrc.gtin == "196922519994"
    assert by_upc.external_id == by_isrc.external_id


def test_the_fake_premium_required_fault() -> None:
    # Given the fake answers Spotify's Premium-required 403
    from chalicelib.local.fake_dsp import Fault

    fake = FakeDsp()
    fake.add_album(fake_album(2))
    fake.inject(Fault(service="spotify", status=403, body=copy.deepcopy(fixture("spotify_error_premium_required"))))
    client = fake_client(fake)

    # When / Then
    with pytest.raises(ProviderUnauthorisedError, match="Active premium subscription required"):
        client.find_release(upc=UPC, isrcs=[])


def test_a_looping_next_link_stops_at_the_paging_total() -> None:
    # Given a tracks page whose next points back at itself
    spotify = Spotify()
    page2 = fixture("spotify_album_tracks")
    page2["next"] = page2["href"]
    spotify.answer_once(f"/v1/albums/{ALBUM_ID}/tracks", lambda r: httpx.Response(200, json=page2))

    # When the album is looked up
    release = client_for(spotify).find_release(upc=UPC, isrcs=[])

    # Then the client stops once it holds the paging object's total
    assert len(release.tracks) == 3
    assert spotify.paths().count(f"GET /v1/albums/{ALBUM_ID}/tracks") == 1
