"""The Apple Music client: documented payloads (tests/fixtures/dsp/apple_music_*.json) served by httpx.MockTransport,
and the client against the fake Apple Music of chalicelib/local/fake_dsp. Never the network."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.config import Settings
from chalicelib.local.fake_dsp import FakeAlbum, FakeDsp
from chalicelib.local.fake_dsp import apple_music as fake_apple
from chalicelib.providers.apple_music import (
    TOKEN_LIFETIME_S,
    TOKEN_RENEW_MARGIN_S,
    AppleMusicClient,
    explicit_of,
    release_date,
)
from chalicelib.providers.base import (
    NOT_CONFIGURED,
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderUnauthorisedError,
    ProviderUnavailableError,
)
from tests.unit import provider_support
from tests.unit.provider_support import Clock, MockService, load_fixture, provider_settings

API = "https://api.music.apple.com/v1"
TEAM_ID = "TEAM123456"
KEY_ID = "KEY7654321"
ALBUM_ID = "1771234561"
UPC = "196922512346"

_KEY = ec.generate_private_key(ec.SECP256R1())
PRIVATE_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    _KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)


fixture = load_fixture


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "apple_music_api_url": API,
        "apple_music_storefront": "us",
        "apple_music_team_id": TEAM_ID,
        "apple_music_key_id": KEY_ID,
        "apple_music_private_key": PRIVATE_PEM,
        "provider_max_retries": 2,
        **overrides,
    }
    return provider_settings(**values)


class Apple(MockService):
    """A MockTransport serving the fixtures by path and query; ``answer_once`` overrides a path's next answer."""

    def __init__(self) -> None:
        super().__init__()
        self.albums_by_upc = fixture("apple_music_albums_by_upc")

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return httpx.Response(401, json=fixture("apple_music_error_unauthorized"))
        if path == "/v1/catalog/us/albums":
            return httpx.Response(200, json=self.albums_by_upc)
        if path == f"/v1/catalog/us/albums/{ALBUM_ID}/tracks":
            return httpx.Response(200, json=fixture("apple_music_album_tracks"))
        if path == f"/v1/catalog/us/albums/{ALBUM_ID}":
            return httpx.Response(200, json=fixture("apple_music_album"))
        if path == "/v1/catalog/us/songs":
            return httpx.Response(200, json=fixture("apple_music_songs_by_isrc"))
        return httpx.Response(404, json={"errors": [{"status": "404", "code": "40400", "title": "Not Found"}]})


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> AppleMusicClient:
    sleeps: list[float] = kwargs.pop("sleeps", [])
    settings = kwargs.pop("settings", None) or make_settings()
    transport = httpx.MockTransport(handler)
    return AppleMusicClient.from_settings(settings, transport=transport, sleep=sleeps.append, **kwargs)


# -- the documented flow ------------------------------------------------------------------------------------------


def test_finds_an_album_by_upc_with_its_songs_and_follows_next() -> None:
    # Given the documented payloads: an album by filter[upc] whose tracks relationship has a next page
    apple = Apple()
    client = client_for(apple)

    # When the release is looked up by its UPC
    release = client.find_release(upc=UPC, isrcs=[])

    # Then the album and its songs are parsed into the DSP model
    assert (release.service, release.external_id, release.title, release.artist, release.gtin) == (
        "apple_music",
        ALBUM_ID,
        "Tidal Lines",
        "Lumen Harbor",
        UPC,
    )
    assert release.release_date == date(2026, 3, 13)
    assert release.url == f"https://music.apple.com/us/album/tidal-lines/{ALBUM_ID}"
    assert [(t.track_number, t.duration_ms, t.isrc) for t in release.tracks] == [
        (1, 215307, "GBAYE2600101"),
        (2, 187000, "GBAYE2600102"),
        (3, 201467, "GBAYE2600103"),
    ]
    # And contentRating "explicit" is True, an absent one None (not rated)
    assert [track.explicit for track in release.tracks] == [None, True, None]
    # And the requests: the filter (with the songs inline), then the one next page the relationship names
    assert apple.paths() == ["GET /v1/catalog/us/albums", f"GET /v1/catalog/us/albums/{ALBUM_ID}/tracks"]
    assert apple.calls[0].url.params["filter[upc]"] == UPC
    assert apple.calls[1].url.params["offset"] == "2"


def test_an_album_without_next_costs_one_request() -> None:
    # Given the album's tracks relationship holds every song (no next)
    apple = Apple()
    apple.albums_by_upc = fixture("apple_music_album")
    client = client_for(apple)

    # When it is looked up
    release = client.find_release(upc=UPC, isrcs=[])

    # Then one request was enough
    assert len(release.tracks) == 3
    assert apple.paths() == ["GET /v1/catalog/us/albums"]


def test_the_isrc_path_without_a_upc() -> None:
    # Given a release without a UPC
    apple = Apple()
    client = client_for(apple)

    # When it is looked up by its tracks' ISRCs (several in one filter, an invalid one dropped)
    release = client.find_release(upc=None, isrcs=["GBAYE2600199", "bad", "GBAYE2600102"])

    # Then the song's album is fetched by id
    assert release.external_id == ALBUM_ID
    assert apple.paths() == ["GET /v1/catalog/us/songs", f"GET /v1/catalog/us/albums/{ALBUM_ID}"]
    assert apple.calls[0].url.params["filter[isrc]"] == "GBAYE2600199,GBAYE2600102"


def test_no_album_for_the_upc_is_not_found() -> None:
    apple = Apple()
    apple.albums_by_upc = fixture("apple_music_empty")
    with pytest.raises(ProviderNotFoundError):
        client_for(apple).find_release(upc=UPC, isrcs=[])


def test_an_album_stating_another_gtin_is_returned_with_it() -> None:
    # Given filter[upc] answers an album that states another UPC
    apple = Apple()
    apple.albums_by_upc = fixture("apple_music_album")
    apple.albums_by_upc["data"][0]["attributes"]["upc"] = "196922519994"

    # When / Then: returned with Apple's GTIN, for the merge to refuse and report
    assert client_for(apple).find_release(upc=UPC, isrcs=[]).gtin == "196922519994"


def test_content_rating_and_release_date_mapping() -> None:
    assert explicit_of("explicit") is True
    assert explicit_of("clean") is False
    assert explicit_of(None) is None
    assert release_date("2026-03-13") == date(2026, 3, 13)
    assert release_date("2026") is None


def test_a_song_without_attributes_it_needs_is_a_bad_response() -> None:
    # Given a song resource without its name
    apple = Apple()
    apple.albums_by_upc = fixture("apple_music_album")
    del apple.albums_by_upc["data"][0]["relationships"]["tracks"]["data"][0]["attributes"]["name"]

    # When / Then
    with pytest.raises(ProviderBadResponseError) as raised:
        client_for(apple).find_release(upc=UPC, isrcs=[])
    assert "name" in raised.value.message


def test_a_song_without_isrc_or_positions_keeps_its_order() -> None:
    # Given songs without isrc, trackNumber and discNumber
    apple = Apple()
    apple.albums_by_upc = fixture("apple_music_album")
    for song in apple.albums_by_upc["data"][0]["relationships"]["tracks"]["data"]:
        for key in ("isrc", "trackNumber", "discNumber"):
            song["attributes"].pop(key)

    # When it is looked up
    release = client_for(apple).find_release(upc=UPC, isrcs=[])

    # Then positions follow the track list, on disc 1, without ISRCs
    assert [(t.disc_number, t.track_number, t.isrc) for t in release.tracks] == [
        (1, 1, None),
        (1, 2, None),
        (1, 3, None),
    ]


# -- the developer token ------------------------------------------------------------------------------------------


def test_the_developer_token_header_and_claims() -> None:
    # Given a client with a known clock
    clock = Clock()
    client = client_for(Apple(), clock=clock)

    # When it signs its developer token
    token = client.developer_token()

    # Then the header says ES256 with the key id, and the claims verify with the public key
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", KEY_ID)
    claims = jwt.decode(token, PUBLIC_PEM, algorithms=["ES256"], options={"verify_exp": False})
    assert claims == {"iss": TEAM_ID, "iat": int(clock.now), "exp": int(clock.now) + TOKEN_LIFETIME_S}
    assert TOKEN_LIFETIME_S <= 15_777_000


def test_the_developer_token_is_cached_and_signed_anew_before_it_expires() -> None:
    # Given a signed token
    clock = Clock()
    client = client_for(Apple(), clock=clock)
    first = client.developer_token()

    # When time passes within its life (minus the margin), then past it
    clock.now += TOKEN_LIFETIME_S - TOKEN_RENEW_MARGIN_S - 1
    same = client.developer_token()
    clock.now += 2
    renewed = client.developer_token()

    # Then the token is reused, then re-signed with a later iat
    assert same == first
    assert renewed != first
    assert jwt.decode(renewed, PUBLIC_PEM, algorithms=["ES256"], options={"verify_exp": False})["iat"] == int(clock.now)


def test_every_request_carries_the_developer_token() -> None:
    apple = Apple()
    client = client_for(apple)
    client.find_release(upc=UPC, isrcs=[])
    assert {request.headers["Authorization"] for request in apple.calls} == {f"Bearer {client.developer_token()}"}


def test_a_private_key_that_is_not_pem_is_unauthorised_without_quoting_it() -> None:
    # Given a private key setting that is not a PEM key
    garbage = "not-a-pem-key-but-still-a-secret-7f3a"
    client = client_for(Apple(), settings=make_settings(apple_music_private_key=garbage))

    # When / Then
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client.find_release(upc=UPC, isrcs=[])
    assert garbage not in str(raised.value)


def test_a_refused_token_is_unauthorised_with_apples_message() -> None:
    # Given Apple refuses the developer token
    apple = Apple()
    refused = fixture("apple_music_error_unauthorized")
    apple.answer_once("/v1/catalog/us/albums", lambda r: httpx.Response(401, json=refused))

    # When / Then
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client_for(apple).find_release(upc=UPC, isrcs=[])
    assert "the developer token is invalid or has expired" in raised.value.message


# -- retries and failures -----------------------------------------------------------------------------------------


def test_a_429_with_retry_after_then_success() -> None:
    apple = Apple()
    apple.answer_once("/v1/catalog/us/albums", lambda r: httpx.Response(429, headers={"Retry-After": "3"}))
    sleeps: list[float] = []
    release = client_for(apple, sleeps=sleeps).find_release(upc=UPC, isrcs=[])
    assert release.external_id == ALBUM_ID
    assert sleeps == [3.0]


def test_a_5xx_then_success() -> None:
    apple = Apple()
    apple.answer_once(f"/v1/catalog/us/albums/{ALBUM_ID}/tracks", lambda r: httpx.Response(500))
    sleeps: list[float] = []
    release = client_for(apple, sleeps=sleeps).find_release(upc=UPC, isrcs=[])
    assert len(release.tracks) == 3
    assert len(sleeps) == 1


def test_a_timeout_that_persists_is_unavailable() -> None:
    apple = Apple()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    for _ in range(3):
        apple.answer_once("/v1/catalog/us/albums", timeout)
    with pytest.raises(ProviderUnavailableError):
        client_for(apple).find_release(upc=UPC, isrcs=[])
    assert len(apple.calls) == 3


def test_not_configured_is_a_reason_not_an_exception() -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be made")

    for missing in ("apple_music_team_id", "apple_music_key_id", "apple_music_private_key"):
        client = client_for(no_network, settings=make_settings(**{missing: None}))
        assert client.not_configured_reason() == NOT_CONFIGURED
    assert client_for(no_network).not_configured_reason() is None


def test_no_key_or_token_reaches_a_log_record_or_an_error(caplog: pytest.LogCaptureFixture) -> None:
    # Given a lookup that retries, then is refused
    apple = Apple()
    apple.answer_once("/v1/catalog/us/albums", lambda r: httpx.Response(503, headers={"Retry-After": "0"}))
    apple.answer_once(
        "/v1/catalog/us/albums", lambda r: httpx.Response(403, json=fixture("apple_music_error_unauthorized"))
    )
    client = client_for(apple)

    # When it runs with every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderUnauthorisedError) as raised:
        client.find_release(upc=UPC, isrcs=[])

    # Then neither the private key nor the developer token appears anywhere
    token = client.developer_token()
    key_body = PRIVATE_PEM.splitlines()[1]
    texts = [record.getMessage() for record in caplog.records] + [repr(record.__dict__) for record in caplog.records]
    texts += [str(raised.value), repr(raised.value.to_body())]
    for text in texts:
        assert token not in text
        assert key_body not in text
    assert caplog.records


# -- against the fake Apple Music ---------------------------------------------------------------------------------


def fake_album(tracks: int, **kwargs: Any) -> FakeAlbum:
    return provider_support.fake_album(tracks, UPC, explicit={2}, **kwargs)


def fake_client(fake: FakeDsp, **overrides: Any) -> AppleMusicClient:
    env = fake.settings_env("http://fake-dsp.test")
    values = {
        "apple_music_api_url": env["SLEEVE_APPLE_MUSIC_API_URL"],
        "apple_music_team_id": fake.apple_team_id,
        "apple_music_key_id": fake.apple_key_id,
        "apple_music_private_key": fake.apple_private_key_pem,
    }
    settings = make_settings(**{**values, **overrides})
    return AppleMusicClient.from_settings(settings, transport=httpx.MockTransport(fake.handle), sleep=lambda s: None)


def test_a_20_track_album_costs_one_request() -> None:
    # Given the fake lists a 20-track album
    fake = FakeDsp()
    fake.add_album(fake_album(20))

    # When it is synced
    release = fake_client(fake).find_release(upc=UPC, isrcs=[])

    # Then one request brought every song with its ISRC and rating
    assert [track.isrc for track in release.tracks] == [f"GBAYE26{n:05d}" for n in range(1, 21)]
    assert [track.explicit for track in release.tracks[:3]] == [None, True, None]
    assert len(fake.requests_for("apple_music")) == 1


def test_the_fake_pages_tracks_with_a_relative_next(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the fake's relationship pages hold 8 songs
    monkeypatch.setattr(fake_apple, "TRACKS_PAGE", 8)
    fake = FakeDsp()
    fake.add_album(fake_album(20))

    # When a 20-track album is synced
    release = fake_client(fake).find_release(upc=UPC, isrcs=[])

    # Then next was followed twice (offset 8, 16), under the configured API root
    assert len(release.tracks) == 20
    pages = fake.requests_for("apple_music")[1:]
    assert [(request.path.endswith("/tracks"), request.query) for request in pages] == [
        (True, "offset=8"),
        (True, "offset=16"),
    ]


def test_the_fake_isrc_path() -> None:
    fake = FakeDsp()
    fake.add_album(fake_album(3))
    release = fake_client(fake).find_release(upc=None, isrcs=["GBAYE2600003"])
    assert len(release.tracks) == 3
    assert len(fake.requests_for("apple_music")) == 2


@pytest.mark.parametrize(
    "which", ["valid", "another key", "another kid", "another team", "longer than 6 months", "expired"]
)
def test_the_fake_verifies_the_developer_token(which: str) -> None:
    # Given a token the fake must refuse (and, to show the others fail for their own reason, one it accepts)
    fake = FakeDsp()
    fake.add_album(fake_album(1))
    now = int(time.time())
    key = fake.apple_private_key_pem
    kid, iss, exp = fake.apple_key_id, fake.apple_team_id, now + 3600
    if which == "another key":
        key = PRIVATE_PEM
    elif which == "another kid":
        kid = "OTHERKEY01"
    elif which == "another team":
        iss = "OTHERTEAM1"
    elif which == "longer than 6 months":
        exp = now + 15_777_001
    elif which == "expired":
        now, exp = now - 7200, now - 3600
    token = jwt.encode({"iss": iss, "iat": now, "exp": exp}, key, algorithm="ES256", headers={"kid": kid})
    http = httpx.Client(transport=httpx.MockTransport(fake.handle), base_url="http://fake-dsp.test")

    # When it is sent
    response = http.get(
        "/apple/v1/catalog/us/albums", params={"filter[upc]": UPC}, headers={"Authorization": f"Bearer {token}"}
    )

    # Then 401 in Apple's error shape
    if which == "valid":
        assert response.status_code == 200
        return
    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert (error["status"], error["code"]) == ("401", "40100")


def test_a_looping_next_link_is_a_bad_response_not_a_hang() -> None:
    # Given a tracks page whose next points back at itself
    apple = Apple()
    page = {**fixture("apple_music_album_tracks"), "next": f"/v1/catalog/us/albums/{ALBUM_ID}/tracks?offset=2"}
    for _ in range(25):
        apple.answer_once(f"/v1/catalog/us/albums/{ALBUM_ID}/tracks", lambda r: httpx.Response(200, json=page))

    # When / Then: refused after the page cap
    with pytest.raises(ProviderBadResponseError, match="pages"):
        client_for(apple).find_release(upc=UPC, isrcs=[])
    assert len(apple.calls) == 1 + 20
