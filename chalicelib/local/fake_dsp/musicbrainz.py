"""The fake MusicBrainz web service (``/ws/2``): the release search by ``barcode:``, the release lookup with
``inc=recordings+isrcs+artist-credits`` and the ISRC lookup (with ``inc=releases``), in MusicBrainz's documented JSON
(https://musicbrainz.org/doc/MusicBrainz_API, …/Search#Release); errors as ``{"error", "help"}``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeTrack, derive_id, error_response, json_response
from chalicelib.providers.base import DspService

if TYPE_CHECKING:
    from chalicelib.local.fake_dsp.catalogue import FakeDsp

SERVICE: DspService = "musicbrainz"
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_BARCODE_QUERY = re.compile(r"\bbarcode:\s*(\([^)]*\)|\"?\d+\"?)")
_OFFICIAL = "4e304316-386d-3409-af2e-78857eec5cfe"  # the status id of "Official"
_DIGITAL_MEDIA = "907a28d9-b3b2-3ef6-89a8-7b18d91d4794"  # the format id of "Digital Media"
_CREATED = "2026-01-01T00:00:00.000Z"


def handle(fake: FakeDsp, request: httpx.Request, path: str) -> httpx.Response:
    """Answer ``GET /release?query=barcode:…``, ``GET /release/{mbid}?inc=…`` and ``GET /isrc/{isrc}?inc=…``."""
    if request.method != "GET":
        return error_response(SERVICE, 405, "Method not allowed.")
    params = request.url.params
    includes = set(re.split(r"[+ ]", params.get("inc", ""))) - {""}
    if path == "/release":
        return _search(fake, params.get("query", ""))
    if path.startswith("/release/"):
        return _lookup_release(fake, path.removeprefix("/release/"), includes)
    if path.startswith("/isrc/"):
        return _lookup_isrc(fake, path.removeprefix("/isrc/"), includes)
    return error_response(SERVICE, 404, "Not Found")


def _search(fake: FakeDsp, query: str) -> httpx.Response:
    # "barcode:602435867129" or "barcode:(602435867129 OR 0602435867129)"; MusicBrainz matches the digits as stored
    match = _BARCODE_QUERY.search(query)
    wanted = re.findall(r"\d+", match.group(1)) if match else []
    albums = [album for album in fake.albums_on(SERVICE) if album.gtin_for(SERVICE) in wanted or album.upc in wanted]
    releases = [
        {"score": 100, "count": 1, **_release_summary(album, searched=True), **_search_media(album)} for album in albums
    ]
    return json_response(200, {"created": _CREATED, "count": len(releases), "offset": 0, "releases": releases})


def _lookup_release(fake: FakeDsp, mbid: str, includes: set[str]) -> httpx.Response:
    if not _MBID.match(mbid):
        return error_response(SERVICE, 400, "Invalid mbid.")
    album = fake.album_by_id(SERVICE, mbid)
    if album is None:
        return error_response(SERVICE, 404, "Not Found")
    body = _release_summary(album)
    body["cover-art-archive"] = {"artwork": False, "count": 0, "front": False, "back": False, "darkened": False}
    body["asin"] = None
    if "artist-credits" in includes:
        body["artist-credit"] = _artist_credit(album)
    body["media"] = [
        {
            "position": disc,
            "title": "",
            "format": "Digital Media",
            "format-id": _DIGITAL_MEDIA,
            "track-offset": 0,
            "track-count": len(tracks),
            **({"tracks": [_track(album, track, includes) for track in tracks]} if "recordings" in includes else {}),
        }
        for disc, tracks in album.media_for(SERVICE)
    ]
    return json_response(200, body)


def _lookup_isrc(fake: FakeDsp, isrc: str, includes: set[str]) -> httpx.Response:
    if not _ISRC.match(isrc):
        return error_response(SERVICE, 400, "Invalid isrc.")
    found = fake.tracks_by_isrc(SERVICE, isrc)
    if not found:
        return error_response(SERVICE, 404, "Not Found")
    recordings: dict[str, dict[str, Any]] = {}
    for album, track in found:
        recording = recordings.setdefault(track.ids[SERVICE], _recording(album, track, set()))
        if "releases" in includes:
            recording.setdefault("releases", []).append(_release_summary(album))
    return json_response(200, {"isrc": isrc, "recordings": list(recordings.values())})


def _release_summary(album: FakeAlbum, *, searched: bool = False) -> dict[str, Any]:
    """The release's own fields, as lookups list them (a search result leaves out the editorial ones)."""
    day = album.release_date.isoformat()
    summary = {
        "id": album.id_for(SERVICE),
        "title": album.title,
        "status": "Official",
        "status-id": _OFFICIAL,
        "quality": "normal",
        "packaging": None,
        "packaging-id": None,
        "disambiguation": "",
        "text-representation": {"language": "eng", "script": "Latn"},
        "date": day,
        "country": "XW",
        "release-events": [{"date": day, "area": _WORLDWIDE}],
        "barcode": album.gtin_for(SERVICE),
    }
    if searched:
        for key in ("quality", "packaging-id", "disambiguation"):
            del summary[key]
    return summary


def _search_media(album: FakeAlbum) -> dict[str, Any]:
    media = album.media_for(SERVICE)
    return {
        "artist-credit": _artist_credit(album),
        "track-count": sum(len(tracks) for _, tracks in media),
        "media": [{"format": "Digital Media", "disc-count": 0, "track-count": len(tracks)} for _, tracks in media],
    }


def _artist_credit(album: FakeAlbum) -> list[dict[str, Any]]:
    artist = {
        "id": derive_id(SERVICE, "album", f"artist:{album.artist}"),
        "name": album.artist,
        "sort-name": album.artist,
        "disambiguation": "",
    }
    return [{"name": album.artist, "joinphrase": "", "artist": artist}]


def _recording(album: FakeAlbum, track: FakeTrack, includes: set[str]) -> dict[str, Any]:
    recording: dict[str, Any] = {
        "id": track.ids[SERVICE],
        "title": track.title,
        "length": track.duration_ms,
        "disambiguation": "",
        "video": False,
        "first-release-date": album.release_date.isoformat(),
    }
    if "isrcs" in includes:
        recording["isrcs"] = [track.isrc] if track.isrc else []
    if "artist-credits" in includes:
        recording["artist-credit"] = _artist_credit(album)
    return recording


def _track(album: FakeAlbum, track: FakeTrack, includes: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": derive_id(SERVICE, "track", f"{album.upc}:{track.disc_number}:{track.track_number}"),
        "position": track.track_number,
        "number": str(track.track_number),
        "title": track.title,
        "length": track.duration_ms,
        "recording": _recording(album, track, includes),
    }
    if "artist-credits" in includes:
        body["artist-credit"] = _artist_credit(album)
    return body


_WORLDWIDE = {
    "id": "525d4e18-3d00-31b9-a58b-a146a916de8f",
    "name": "[Worldwide]",
    "sort-name": "[Worldwide]",
    "disambiguation": "",
    "iso-3166-1-codes": ["XW"],
    "type": None,
    "type-id": None,
}
