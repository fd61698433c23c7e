"""The fake Spotify: the Web API endpoints the sync uses and the accounts service's client-credentials token, in the
documented shapes (https://developer.spotify.com/documentation/web-api), with a development-mode app's limits since
February 2026: search ``limit`` above 10 answers 400 ``Invalid limit``, the batch ``/tracks?ids=`` and
``/albums?ids=`` answer 403 ``Forbidden`` (the bodies developers observed and reported, see the README).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import httpx

from chalicelib.local.fake_dsp.catalogue import error_response, json_response

if TYPE_CHECKING:
    from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeDsp, FakeTrack

#: Spotify's paging limits: an album's embedded ``tracks`` holds 50; ``/albums/{id}/tracks`` takes 1-50 (default 20).
ALBUM_TRACKS_PAGE = 50
TRACKS_LIMIT_DEFAULT = 20
TRACKS_LIMIT_MAX = 50
#: Search since February 2026 for development-mode apps: at most 10, default 5.
SEARCH_LIMIT_MAX = 10
SEARCH_LIMIT_DEFAULT = 5
TOKEN_LIFETIME_S = 3600

_ALBUM = re.compile(r"^/albums/([^/]+)$")
_ALBUM_TRACKS = re.compile(r"^/albums/([^/]+)/tracks$")
_TRACK = re.compile(r"^/tracks/([^/]+)$")


def access_token(fake: FakeDsp) -> str:
    """The one token the fake issues and accepts: derived from its client id and secret, so that the fake stays
    stateless across server threads and a client with other credentials never holds it."""
    key = fake.spotify_client_secret.encode()
    return "BQ" + hmac.new(key, fake.spotify_client_id.encode(), hashlib.sha256).hexdigest()


def handle_accounts(fake: FakeDsp, request: httpx.Request, path: str) -> httpx.Response:
    """``POST /api/token`` with ``Authorization: Basic base64(id:secret)`` and ``grant_type=client_credentials`` →
    ``{"access_token", "token_type": "Bearer", "expires_in": 3600}``; OAuth errors
    ``{"error", "error_description"}`` otherwise (400 ``invalid_client`` for wrong credentials)."""
    if path != "/api/token" or request.method != "POST":
        return error_response("spotify_accounts", 404, "Not found")
    form = parse_qs(request.content.decode("utf-8", "replace"))
    if form.get("grant_type") != ["client_credentials"]:
        body = {"error": "unsupported_grant_type", "error_description": "grant_type parameter is missing"}
        return json_response(400, body)
    if _basic_credentials(request) != (fake.spotify_client_id, fake.spotify_client_secret):
        return json_response(400, {"error": "invalid_client", "error_description": "Invalid client secret"})
    return json_response(
        200, {"access_token": access_token(fake), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S}
    )


def handle(fake: FakeDsp, request: httpx.Request, path: str) -> httpx.Response:
    """The Web API under ``/v1``: ``GET /search``, ``/albums/{id}``, ``/albums/{id}/tracks``, ``/tracks/{id}``;
    401 without the fake's token, 403 for the batch endpoints, 404 ``Resource not found`` otherwise."""
    bearer = request.headers.get("Authorization", "")
    if not bearer.startswith("Bearer "):
        return error_response("spotify", 401, "No token provided")
    if not hmac.compare_digest(bearer.removeprefix("Bearer "), access_token(fake)):
        return error_response("spotify", 401, "Invalid access token")
    if request.method != "GET":
        return error_response("spotify", 405, "Method not allowed")
    params = request.url.params
    base = str(request.url.copy_with(query=None)).removesuffix(path)
    if path in ("/albums", "/tracks"):
        # The "Get Several …" batch endpoints were removed for development-mode apps (February 2026).
        return error_response("spotify", 403, "Forbidden")
    if path == "/search":
        return _search(fake, base, params)
    if match := _ALBUM.match(path):
        album = fake.album_by_id("spotify", match[1])
        return json_response(200, album_object(album, base)) if album else _not_found()
    if match := _ALBUM_TRACKS.match(path):
        album = fake.album_by_id("spotify", match[1])
        if album is None:
            return _not_found()
        limit = _int(params.get("limit"), TRACKS_LIMIT_DEFAULT)
        offset = _int(params.get("offset"), 0)
        if limit is None or not 1 <= limit <= TRACKS_LIMIT_MAX:
            return error_response("spotify", 400, "Invalid limit")
        if offset is None or offset < 0:
            return error_response("spotify", 400, "Invalid offset")
        return json_response(200, tracks_page(album, base, offset, limit))
    if match := _TRACK.match(path):
        found = fake.track_by_id("spotify", match[1])
        return json_response(200, track_object(*found, base)) if found else _not_found()
    return _not_found()


# -- documented shapes ------------------------------------------------------------------------------------------------


def _artist(name: str, base: str) -> dict[str, Any]:
    artist_id = hashlib.sha1(name.encode()).hexdigest()[:22]
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
        "href": f"{base}/artists/{artist_id}",
        "id": artist_id,
        "name": name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def simplified_album(album: FakeAlbum, base: str) -> dict[str, Any]:
    """A simplified album object (search results, a track's ``album``)."""
    album_id = album.id_for("spotify")
    return {
        "album_type": "single" if len(album.tracks_for("spotify")) <= 3 else "album",
        "total_tracks": len(album.tracks_for("spotify")),
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
        "href": f"{base}/albums/{album_id}",
        "id": album_id,
        "images": [{"url": f"https://i.scdn.co/image/ab67616d0000b273{album_id.lower()}", "height": 640, "width": 640}],
        "name": album.title,
        "release_date": album.release_date.isoformat(),
        "release_date_precision": "day",
        "type": "album",
        "uri": f"spotify:album:{album_id}",
        "artists": [_artist(album.artist, base)],
    }


def simplified_track(album: FakeAlbum, track: FakeTrack, base: str) -> dict[str, Any]:
    """A simplified track object (an album's ``tracks.items``): no ``external_ids``, no ``album``."""
    track_id = track.ids["spotify"]
    return {
        "artists": [_artist(album.artist, base)],
        "disc_number": track.disc_number,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
        "href": f"{base}/tracks/{track_id}",
        "id": track_id,
        "is_playable": True,
        "name": track.title,
        "preview_url": None,
        "track_number": track.track_number,
        "type": "track",
        "uri": f"spotify:track:{track_id}",
        "is_local": False,
    }


def track_object(album: FakeAlbum, track: FakeTrack, base: str) -> dict[str, Any]:
    """A track object (``GET /tracks/{id}``): the simplified fields plus ``album`` and ``external_ids``."""
    return {
        **simplified_track(album, track, base),
        "album": simplified_album(album, base),
        "external_ids": {"isrc": track.isrc} if track.isrc else {},
    }


def tracks_page(album: FakeAlbum, base: str, offset: int, limit: int) -> dict[str, Any]:
    """A paging object of the album's simplified tracks: ``href``, ``items``, ``limit``, ``next``, ``offset``,
    ``previous``, ``total``; ``next``/``previous`` absolute URLs or null."""
    tracks = album.tracks_for("spotify")
    url = f"{base}/albums/{album.id_for('spotify')}/tracks"

    def link(start: int) -> str:
        return f"{url}?{urlencode({'offset': start, 'limit': limit})}"

    return {
        "href": link(offset),
        "items": [simplified_track(album, track, base) for track in tracks[offset : offset + limit]],
        "limit": limit,
        "next": link(offset + limit) if offset + limit < len(tracks) else None,
        "offset": offset,
        "previous": link(max(offset - limit, 0)) if offset > 0 else None,
        "total": len(tracks),
    }


def album_object(album: FakeAlbum, base: str) -> dict[str, Any]:
    """An album object (``GET /albums/{id}``): ``external_ids.upc`` (the GTIN Spotify states) and the first
    ``ALBUM_TRACKS_PAGE`` tracks."""
    return {
        **simplified_album(album, base),
        "tracks": tracks_page(album, base, 0, ALBUM_TRACKS_PAGE),
        "copyrights": [{"text": f"{album.release_date.year} {album.artist}", "type": "P"}],
        "external_ids": {"upc": album.gtin_for("spotify")},
        "genres": [],
    }


def _search(fake: FakeDsp, base: str, params: httpx.QueryParams) -> httpx.Response:
    limit = _int(params.get("limit"), SEARCH_LIMIT_DEFAULT)
    offset = _int(params.get("offset"), 0)
    if limit is None or not 0 <= limit <= SEARCH_LIMIT_MAX:
        return error_response("spotify", 400, "Invalid limit")
    if offset is None or offset < 0:
        return error_response("spotify", 400, "Invalid offset")
    query, kind = params.get("q", ""), params.get("type", "")
    if not query:
        return error_response("spotify", 400, "No search query")
    field, _, value = query.strip().partition(":")
    if kind == "album":
        albums = fake.albums_by_upc("spotify", value) if field == "upc" and value.isdigit() else []
        items = [simplified_album(album, base) for album in albums]
    elif kind == "track":
        found = fake.tracks_by_isrc("spotify", value) if field == "isrc" else []
        items = [track_object(album, track, base) for album, track in found]
    else:
        return error_response("spotify", 400, "Bad search type field")
    url = f"{base}/search"
    page = {
        "href": f"{url}?{urlencode({'offset': offset, 'limit': limit, 'query': query, 'type': kind})}",
        "items": items[offset : offset + limit],
        "limit": limit,
        "next": None,
        "offset": offset,
        "previous": None,
        "total": len(items),
    }
    return json_response(200, {f"{kind}s": page})


def _basic_credentials(request: httpx.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except ValueError:
        return None
    return client_id, secret


def _int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _not_found() -> httpx.Response:
    return error_response("spotify", 404, "Resource not found")
