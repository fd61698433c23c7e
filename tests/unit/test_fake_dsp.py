"""The fake DSP: its catalogue (derived ids, per-service overrides, bonus tracks), routing, faults and request log, the
fake MusicBrainz (read by the real MusicBrainzClient through httpx.MockTransport, and compared key by key with the
documented shapes in tests/fixtures/dsp), the loopback server with its control endpoints, and its command line."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.config import Settings
from chalicelib.local.fake_dsp import FakeAlbum, FakeCatalogue, FakeDsp, FakeTrack, Fault, catalogue
from chalicelib.local.fake_dsp.__main__ import main
from chalicelib.local.fake_dsp.server import FakeDspServer
from chalicelib.providers.base import ProviderNotFoundError, ProviderUnauthorisedError
from chalicelib.providers.http import RateLimiter
from chalicelib.providers.musicbrainz import MusicBrainzClient

SAMPLE = Path(catalogue.__file__).with_name("sample_catalogue.json")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dsp"
HARBOUR, GLASS, PAPER = "060243586716", "506008412345", "019312345679"
MB = "/musicbrainz/ws/2"


def sample() -> FakeCatalogue:
    return FakeCatalogue.model_validate_json(SAMPLE.read_bytes())


def album(fake: FakeDsp, upc: str) -> FakeAlbum:
    return next(a for a in fake.catalogue.albums if a.upc == upc)


def mb_settings(base: str = "http://fake.test") -> Settings:
    return Settings(bucket_name="b", jwt_secret="s", musicbrainz_api_url=f"{base}{MB}", musicbrainz_min_interval_s=0)  # type: ignore[call-arg]


def mb_client(fake: FakeDsp, sleeps: list[float] | None = None) -> MusicBrainzClient:
    recorded = sleeps if sleeps is not None else []
    return MusicBrainzClient.from_settings(
        mb_settings(),
        transport=httpx.MockTransport(fake.handle),
        limiter=RateLimiter(0),
        sleep=recorded.append,
    )


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"musicbrainz_{name}.json").read_text())


# -- the catalogue -----------------------------------------------------------------------------------------------------


def test_derived_ids_are_stable_and_in_each_services_format() -> None:
    # Given the sample catalogue served by two fakes
    first, second = FakeDsp(sample()), FakeDsp(sample())
    harbour = album(first, HARBOUR)

    # Then the derived album and track ids are the same in both, each in its service's format
    assert harbour.id_for("spotify") == album(second, HARBOUR).id_for("spotify")
    assert re.fullmatch(r"[0-9A-Za-z]{22}", harbour.id_for("spotify"))
    assert re.fullmatch(r"\d{10}", harbour.id_for("apple_music"))
    assert re.fullmatch(r"[0-9a-f-]{36}", harbour.id_for("musicbrainz"))
    first_ids = [t.ids["spotify"] for t in harbour.tracks_for("spotify")]
    assert first_ids == [t.ids["spotify"] for t in album(second, HARBOUR).tracks_for("spotify")]
    assert len(set(first_ids)) == len(first_ids)


def test_tracks_for_applies_overrides_bonus_tracks_and_the_services_order() -> None:
    # Given an album whose tracks 1 and 2 are swapped on Spotify, with a bonus track on Apple Music only
    fake_album = FakeAlbum(
        upc="036000241457",
        title="Swapped",
        artist="A",
        release_date=date(2026, 1, 2),
        tracks=[
            FakeTrack(title="One", track_number=1, duration_ms=1000, overrides={"spotify": {"track_number": 2}}),
            FakeTrack(title="Two", track_number=2, duration_ms=2000, overrides={"spotify": {"track_number": 1}}),
            FakeTrack(title="Bonus", track_number=3, duration_ms=3000, only=["apple_music"]),
        ],
    )

    # Then each service lists its own tracks in its own order
    assert [t.title for t in fake_album.tracks_for("spotify")] == ["Two", "One"]
    assert [t.title for t in fake_album.tracks_for("apple_music")] == ["One", "Two", "Bonus"]
    assert [t.title for t in fake_album.tracks_for("musicbrainz")] == ["One", "Two"]


def test_an_override_of_an_unknown_field_is_refused() -> None:
    # When an override names a field tracks do not have
    with pytest.raises(ValueError, match="overrides may change only"):
        FakeTrack(title="x", track_number=1, duration_ms=1, overrides={"spotify": {"popularity": 3}})


def test_settings_env_points_sleeve_at_the_fake_with_a_usable_apple_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the settings of a fake served at a base URL
    fake = FakeDsp()
    for name, value in fake.settings_env("http://127.0.0.1:8099/").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")

    # When Sleeve reads its settings
    settings = Settings()  # type: ignore[call-arg]

    # Then every provider points at the fake's prefixes, with the fake's credentials and no MusicBrainz limit
    assert settings.spotify_api_url == "http://127.0.0.1:8099/spotify/v1"
    assert settings.spotify_accounts_url == "http://127.0.0.1:8099/spotify-accounts"
    assert settings.apple_music_api_url == "http://127.0.0.1:8099/apple/v1"
    assert settings.musicbrainz_api_url == "http://127.0.0.1:8099/musicbrainz/ws/2"
    assert settings.musicbrainz_min_interval_s == 0
    assert settings.spotify_client_id == fake.spotify_client_id
    assert settings.spotify_client_secret is not None
    assert settings.spotify_client_secret.get_secret_value() == fake.spotify_client_secret
    assert (settings.apple_music_team_id, settings.apple_music_key_id) == (fake.apple_team_id, fake.apple_key_id)
    # And the Apple key is an EC P-256 private key whose public half the fake verifies with
    assert settings.apple_music_private_key is not None
    key = serialization.load_pem_private_key(settings.apple_music_private_key.get_secret_value().encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public.decode() == fake.apple_public_key_pem


# -- routing, faults, the request log ----------------------------------------------------------------------------------


def test_faults_answer_first_then_service_resumes_and_every_request_is_recorded() -> None:
    # Given MusicBrainz answering 503 with Retry-After: 1 twice, only on ISRC lookups
    fake = FakeDsp(sample())
    fake.inject(Fault(service="musicbrainz", status=503, retry_after_s=1, times=2, path_contains="/isrc/"))
    sleeps: list[float] = []

    # When a release is found by barcode, then by ISRCs
    mb_client(fake, sleeps).find_release(upc=HARBOUR, isrcs=[])
    release = mb_client(fake, sleeps).find_release(upc=None, isrcs=["USA2B2500001"])

    # Then only the ISRC lookup met the fault, twice (the client waited 1 s each time), and succeeded after
    assert sleeps == [1.0, 1.0]
    assert release.title == "Glass Orchard"
    assert fake.faults == []
    paths = [(r.service, r.path) for r in fake.requests]
    mbid = album(fake, HARBOUR).id_for("musicbrainz")
    glass = album(fake, GLASS).id_for("musicbrainz")
    assert paths == [
        ("musicbrainz", f"{MB}/release"),
        ("musicbrainz", f"{MB}/release/{mbid}"),
        *[("musicbrainz", f"{MB}/isrc/USA2B2500001")] * 3,
        ("musicbrainz", f"{MB}/release/{glass}"),
    ]
    assert fake.requests[0].query == "query=barcode%3A%28060243586716+OR+0060243586716%29&fmt=json"


def test_a_fault_body_is_answered_as_given() -> None:
    # Given a 403 with MusicBrainz's block message
    fake = FakeDsp(sample())
    blocked = {"error": "Your requests are being blocked: set a User-Agent.", "help": "https://musicbrainz.org/doc"}
    fake.inject(Fault(service="musicbrainz", status=403, body=blocked))

    # When the client searches
    with pytest.raises(ProviderUnauthorisedError) as caught:
        mb_client(fake).find_release(upc=HARBOUR, isrcs=[])

    # Then the service's own message is kept
    assert "set a User-Agent" in caught.value.message


def test_unknown_paths_answer_404_in_the_services_format_and_a_missing_handler_501(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a fake
    fake = FakeDsp()
    client = httpx.Client(transport=httpx.MockTransport(fake.handle), base_url="http://fake.test")

    # Then an unknown MusicBrainz path is MusicBrainz's 404, an unknown prefix a plain 404
    assert client.get(f"{MB}/label/x").json() == fixture("not_found")
    assert client.get("/deezer/v1/album/1").status_code == 404

    # And a service whose handler module is missing answers 501 in its own error format
    monkeypatch.setattr(catalogue, "ROUTES", (("/spotify/v1", "spotify", "not_written_yet", "handle"),))
    response = client.get("/spotify/v1/albums/1")
    assert response.status_code == 501
    assert response.json() == {"error": {"status": 501, "message": "the fake spotify is not implemented"}}


# -- the fake MusicBrainz ----------------------------------------------------------------------------------------------


def test_the_musicbrainz_client_reads_the_fakes_release_by_barcode() -> None:
    # Given the sample catalogue
    fake = FakeDsp(sample())
    harbour = album(fake, HARBOUR)

    # When the client finds the release by its UPC
    release = mb_client(fake).find_release(upc=HARBOUR, isrcs=[])

    # Then it is the album as MusicBrainz lists it: without the bonus track, the tracks' recording MBIDs and ISRCs
    listed = harbour.tracks_for("musicbrainz")
    assert (release.external_id, release.gtin, release.release_date) == (
        harbour.id_for("musicbrainz"),
        HARBOUR,
        date(2024, 3, 1),
    )
    assert release.artist == "Ada Lindqvist"
    assert release.track_counts() == [10]
    assert [t.external_id for t in release.tracks] == [t.ids["musicbrainz"] for t in listed]
    assert [t.isrc for t in release.tracks] == [t.isrc for t in listed]
    assert [t.duration_ms for t in release.tracks] == [t.duration_ms for t in listed]
    assert {t.explicit for t in release.tracks} == {None}


def test_two_media_and_a_track_without_an_isrc_come_through() -> None:
    # Given the two-disc sample album with one track lacking an ISRC
    fake = FakeDsp(sample())

    # When the client finds it
    release = mb_client(fake).find_release(upc=GLASS, isrcs=[])

    # Then both media are there, and the missing ISRC is None
    assert release.track_counts() == [4, 3]
    assert release.media[1].tracks[0].title == "Glass Orchard - Live at Vega"
    assert (release.tracks[2].title, release.tracks[2].isrc) == ("Second Skin", None)


def test_a_release_entered_as_ean_13_is_found_by_its_upc_a() -> None:
    # Given MusicBrainz holding a release under its 13-digit EAN (a leading zero), matched exactly as entered
    fake = FakeDsp(sample())
    ean = album(fake, GLASS).model_copy(update={"upc": "0" + GLASS, "ids": {}})
    fake.set_catalogue(FakeCatalogue(albums=[ean]))

    # When Sleeve looks it up by the 12-digit UPC-A
    release = mb_client(fake).find_release(upc=GLASS, isrcs=[])

    # Then one search found it, and its GTIN is the one MusicBrainz states
    assert release.gtin == "0" + GLASS
    assert len(fake.requests_for("musicbrainz")) == 2


def test_an_album_musicbrainz_does_not_list_is_not_found() -> None:
    # Given an album listed on Spotify and Apple Music only
    fake = FakeDsp(sample())

    # Then MusicBrainz finds it neither by barcode nor by ISRC
    with pytest.raises(ProviderNotFoundError):
        mb_client(fake).find_release(upc=PAPER, isrcs=[])
    with pytest.raises(ProviderNotFoundError):
        mb_client(fake).find_release(upc=None, isrcs=["IEAAA2600001"])


def keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


def test_the_fakes_musicbrainz_json_has_the_documented_keys() -> None:
    # Given the fake and the documented shapes (tests/fixtures/dsp/musicbrainz_*.json)
    fake = FakeDsp(sample())
    client = httpx.Client(transport=httpx.MockTransport(fake.handle), base_url=f"http://fake.test{MB}/")
    mbid = album(fake, GLASS).id_for("musicbrainz")

    # When it answers a search, a release lookup and an ISRC lookup
    search = client.get("release", params={"query": f"barcode:{GLASS}", "fmt": "json"}).json()
    release = client.get(f"release/{mbid}?inc=recordings+isrcs+artist-credits&fmt=json").json()
    bare = client.get(f"release/{mbid}?fmt=json").json()
    isrc = client.get("isrc/USA2B2500001", params={"inc": "releases", "fmt": "json"}).json()

    # Then every key it sends is one the documented responses have, at every level read
    doc_search, doc_release, doc_isrc = fixture("release_search"), fixture("release"), fixture("isrc_GBUM72400104")
    assert keys(search) == keys(doc_search)
    assert keys(search["releases"][0]) <= keys(doc_search["releases"][0])
    assert keys(release) <= keys(doc_release)
    doc_track = doc_release["media"][0]["tracks"][0]
    assert keys(release["media"][0]) == keys(doc_release["media"][0])
    assert keys(release["media"][0]["tracks"][0]) == keys(doc_track)
    assert keys(release["media"][0]["tracks"][0]["recording"]) == keys(doc_track["recording"])
    assert keys(isrc) == keys(doc_isrc)
    assert keys(isrc["recordings"][0]) == keys(doc_isrc["recordings"][0])
    assert keys(isrc["recordings"][0]["releases"][0]) == keys(doc_isrc["recordings"][0]["releases"][0])
    # And the includes switch their parts on: no tracks or credits without inc
    assert "tracks" not in bare["media"][0] and "artist-credit" not in bare


def test_bad_identifiers_are_refused_like_musicbrainz() -> None:
    # Given a fake
    client = httpx.Client(transport=httpx.MockTransport(FakeDsp().handle), base_url=f"http://fake.test{MB}/")

    # Then a malformed MBID or ISRC is a 400 in MusicBrainz's error shape
    assert client.get("release/not-an-mbid").json()["error"] == "Invalid mbid."
    assert client.get("isrc/nope").status_code == 400


# -- the loopback server -----------------------------------------------------------------------------------------------


@pytest.fixture
def served() -> Any:
    with FakeDspServer(FakeDsp()) as server:
        yield server


def test_the_server_serves_the_fake_over_real_http(served: FakeDspServer) -> None:
    # Given the sample catalogue put through the control endpoint
    with httpx.Client(base_url=served.url, timeout=5) as http:
        put = http.put("/_fake/catalogue", content=SAMPLE.read_bytes())

        # When the MusicBrainz client (no mock transport) finds a release over loopback
        client = MusicBrainzClient.from_settings(mb_settings(served.url), limiter=RateLimiter(0))
        release = client.find_release(upc=HARBOUR, isrcs=[])
        client.close()

        # Then the real HTTP round trip returned the release, and the request log lists both requests
        assert put.status_code == 204
        assert release.title == "Harbour Lights"
        logged = http.get("/_fake/requests").json()["requests"]
        assert [r["path"] for r in logged] == [f"{MB}/release", f"{MB}/release/{release.external_id}"]
        assert logged[0] == {
            "service": "musicbrainz",
            "method": "GET",
            "path": f"{MB}/release",
            "query": f"query=barcode%3A%28{HARBOUR}+OR+0{HARBOUR}%29&fmt=json",
        }
        assert http.delete("/_fake/requests").status_code == 204
        assert http.get("/_fake/requests").json() == {"requests": []}


def test_the_control_endpoints_add_albums_and_faults_and_refuse_bad_bodies(served: FakeDspServer) -> None:
    with httpx.Client(base_url=served.url, timeout=5) as http:
        # Given an album and a 429 fault posted to the control endpoints
        body = sample().albums[0].model_dump(mode="json")
        added = http.post("/_fake/albums", json=body)
        fault = http.post("/_fake/faults", json={"service": "musicbrainz", "status": 429, "retry_after_s": 7})

        # When MusicBrainz is asked twice
        first = http.get(f"{MB}/release", params={"query": f"barcode:{HARBOUR}", "fmt": "json"})
        second = http.get(f"{MB}/release", params={"query": f"barcode:{HARBOUR}", "fmt": "json"})

        # Then the album's ids came back, the first answer was the fault with its Retry-After, the second the album
        assert added.status_code == 201
        assert added.json()["ids"]["musicbrainz"] == served.fake.catalogue.albums[0].id_for("musicbrainz")
        assert fault.status_code == 204
        assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
        assert first.json()["error"] == "injected fault"
        assert second.json()["releases"][0]["barcode"] == HARBOUR

        # And a bad body is a 400 in Sleeve's error shape, an unknown control path a 404
        bad = http.post("/_fake/faults", json={"service": "tidal", "status": 200})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_request"
        assert {e["loc"][0] for e in bad.json()["error"]["details"]["errors"]} == {"service", "status"}
        assert http.get("/_fake/nothing").status_code == 404
        assert http.get("/_fake/env").json()["SLEEVE_MUSICBRAINZ_API_URL"] == f"{served.url}{MB}"


def test_kept_alive_requests_do_not_stall_on_delayed_acks(served: FakeDspServer) -> None:
    # Given one kept-alive connection to the server
    with httpx.Client(base_url=served.url, timeout=5) as http:
        http.get(f"{MB}/release", params={"query": "barcode:1"})

        # When 25 more requests are sent on it
        started = time.perf_counter()
        for _ in range(25):
            http.get(f"{MB}/release", params={"query": "barcode:1"})
        elapsed = time.perf_counter() - started

    # Then none waited for a delayed ACK (Nagle's algorithm on the server's two writes costs ~40 ms each: 1 s)
    assert elapsed < 0.75, f"25 requests took {elapsed:.2f} s"


def test_the_command_line_serves_and_writes_the_export_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stop already requested, so that main returns once it has served and printed
    stop = threading.Event()
    stop.set()
    env_file = tmp_path / "fake-dsp.env"

    # When the command line runs on a free port with the sample catalogue
    assert main(["--port", "0", "--env-file", str(env_file)], stop=stop) == 0

    # Then it printed, and wrote (private to the user), export lines a shell can source, the PEM quoted
    printed = capsys.readouterr().out
    assert "serves 3 albums at http://127.0.0.1:" in printed
    written = env_file.read_text()
    assert written in printed
    assert re.search(r"^export SLEEVE_MUSICBRAINZ_API_URL=http://127\.0\.0\.1:\d+/musicbrainz/ws/2$", written, re.M)
    assert "export SLEEVE_APPLE_MUSIC_PRIVATE_KEY='-----BEGIN PRIVATE KEY-----\n" in written
    assert env_file.stat().st_mode & 0o077 == 0


# -- the container -----------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_container() -> Any:
    from chalicelib.container import reset_container

    reset_container()
    yield
    reset_container()


def test_the_container_builds_one_client_per_configured_service_in_order(
    served: FakeDspServer, monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    from chalicelib.container import get_dsp_providers

    # Given Sleeve pointed at the served fake, MusicBrainz first, and Spotify's credentials left out
    served.fake.set_catalogue(sample())
    for name, value in served.fake.settings_env(served.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLEEVE_SPOTIFY_CLIENT_SECRET")
    monkeypatch.setenv("SLEEVE_DSP_PROVIDERS", "musicbrainz,spotify,apple_music")
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")

    # When the providers are built
    providers = get_dsp_providers()

    # Then there is one per name, in the configured order; Spotify says why it is skipped; the same list is reused
    assert [provider.service for provider in providers] == ["musicbrainz", "spotify", "apple_music"]
    assert [provider.not_configured_reason() for provider in providers] == [None, "not_configured", None]
    assert get_dsp_providers() is providers
    # And the MusicBrainz client reaches the fake over loopback
    assert providers[0].find_release(upc=HARBOUR, isrcs=[]).title == "Harbour Lights"


def test_an_empty_provider_list_builds_no_client(monkeypatch: pytest.MonkeyPatch, fresh_container: None) -> None:
    from chalicelib.container import get_dsp_providers

    # Given no DSP configured
    monkeypatch.setenv("SLEEVE_DSP_PROVIDERS", "")
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")

    # Then no client is built
    assert get_dsp_providers() == []


def test_resetting_the_container_closes_the_clients_it_built(
    monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    from chalicelib.container import get_dsp_providers, reset_container

    # Given the three clients built once (none needs to reach anything to be built)
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")
    providers = get_dsp_providers()
    closed: list[str] = []
    for provider in providers:
        monkeypatch.setattr(provider, "close", lambda service=provider.service: closed.append(service))

    # When the container is reset
    reset_container()

    # Then each was closed once, and the next call builds new ones
    assert closed == ["spotify", "apple_music", "musicbrainz"]
    assert get_dsp_providers() is not providers
