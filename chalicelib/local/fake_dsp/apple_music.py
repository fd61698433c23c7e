"""The fake Apple Music API: the catalogue endpoints the sync uses, in the documented shapes
(https://developer.apple.com/documentation/applemusicapi): albums by ``filter[upc]`` or id with their ``tracks``
relationship, an album's ``tracks`` pages, songs by ``filter[isrc]``. Every request must carry a developer token
that verifies with the public half of ``fake.apple_private_key_pem`` (ES256, ``kid`` the fake's key id, ``iss`` its
team id, ``exp`` at most 6 months after ``iat``); errors are ``{"errors": [{"id", "title", "detail", "status",
"code"}]}``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from chalicelib.local.fake_dsp.catalogue import error_response, json_response

if TYPE_CHECKING:
    from chalicelib.local.fake_dsp.catalogue import FakeAlbum, FakeDsp, FakeTrack

#: Songs an album's ``tracks`` relationship (and a tracks page) holds: Apple's fetch limit for album tracks.
TRACKS_PAGE = 300
#: The longest developer-token life Apple accepts (15,777,000 s, 6 months).
MAX_TOKEN_LIFETIME_S = 15_777_000

_ALBUM = re.compile(r"^/catalog/([a-z]{2})/albums/([^/]+)$")
_ALBUM_TRACKS = re.compile(r"^/catalog/([a-z]{2})/albums/([^/]+)/tracks$")
_ALBUMS = re.compile(r"^/catalog/([a-z]{2})/albums$")
_SONGS = re.compile(r"^/catalog/([a-z]{2})/songs$")


def handle(fake: FakeDsp, request: httpx.Request, path: str) -> httpx.Response:
    """``GET /catalog/{sf}/albums?filter[upc]=``, ``/albums/{id}``, ``/albums/{id}/tracks?offset=``,
    ``/songs?filter[isrc]=``; 401 without a valid developer token, 404 otherwise."""
    refused = _check_token(fake, request)
    if refused is not None:
        return error_response("apple_music", 401, refused)
    params = request.url.params
    if match := _ALBUMS.match(path):
        upcs = [value for value in params.get("filter[upc]", "").split(",") if value]
        if not upcs:
            return error_response("apple_music", 400, "Missing required parameter filter[upc] or ids")
        albums = [album for upc in upcs for album in fake.albums_by_upc("apple_music", upc)]
        return json_response(200, {"data": [album_resource(album, match[1]) for album in albums]})
    if match := _ALBUM.match(path):
        album = fake.album_by_id("apple_music", match[2])
        return json_response(200, {"data": [album_resource(album, match[1])]}) if album else _not_found()
    if match := _ALBUM_TRACKS.match(path):
        album = fake.album_by_id("apple_music", match[2])
        if album is None:
            return _not_found()
        try:
            offset = int(params.get("offset", "0"))
        except ValueError:
            return error_response("apple_music", 400, "Invalid parameter value: offset")
        return json_response(200, tracks_relationship(album, match[1], offset, with_href=False))
    if match := _SONGS.match(path):
        isrcs = [value.upper() for value in params.get("filter[isrc]", "").split(",") if value]
        if not isrcs:
            return error_response("apple_music", 400, "Missing required parameter filter[isrc] or ids")
        storefront = match[1]
        data: list[dict[str, Any]] = []
        refs: dict[str, list[dict[str, str]]] = {}
        for isrc in isrcs:
            for album, track in fake.tracks_by_isrc("apple_music", isrc):
                resource = song_resource(album, track, storefront, with_albums=True)
                data.append(resource)
                refs.setdefault(isrc, []).append({key: resource[key] for key in ("id", "type", "href")})
        return json_response(200, {"data": data, "meta": {"filters": {"isrc": refs}}})
    return _not_found()


def _check_token(fake: FakeDsp, request: httpx.Request) -> str | None:
    """Why the request's developer token is refused, or None when it verifies."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token:
        return "Authentication required: no developer token"
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token,
            fake.apple_public_key_pem,
            algorithms=["ES256"],
            issuer=fake.apple_team_id,
            options={"require": ["iss", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        return f"Authentication failed: {type(exc).__name__}"
    if header.get("kid") != fake.apple_key_id:
        return "Authentication failed: unknown key id"
    if int(claims["exp"]) - int(claims["iat"]) > MAX_TOKEN_LIFETIME_S:
        return "Authentication failed: the token lives longer than 6 months"
    return None


# -- documented shapes ------------------------------------------------------------------------------------------------


def _artwork(key: str) -> dict[str, Any]:
    return {
        "width": 3000,
        "height": 3000,
        "url": f"https://is1-ssl.mzstatic.com/image/thumb/Music221/v4/{key}/{{w}}x{{h}}bb.jpg",
        "bgColor": "0b1a26",
        "textColor1": "f2f4f5",
        "textColor2": "d6dde2",
        "textColor3": "c4cbd0",
        "textColor4": "adb6bd",
    }


def song_resource(album: FakeAlbum, track: FakeTrack, storefront: str, *, with_albums: bool = False) -> dict[str, Any]:
    """A song resource with its attributes (``contentRating`` ``explicit`` only for explicit tracks, absent
    otherwise: the fake's clean tracks are not rated); ``with_albums`` adds the ``albums`` and ``artists``
    relationships (identifiers only) as a song request answers them."""
    song_id = track.ids["apple_music"]
    album_id = album.id_for("apple_music")
    attributes: dict[str, Any] = {
        "albumName": album.title,
        "artistName": album.artist,
        "artwork": _artwork(album_id),
        "discNumber": track.disc_number,
        "durationInMillis": track.duration_ms,
        "genreNames": ["Alternative", "Music"],
        "hasLyrics": False,
        "name": track.title,
        "playParams": {"id": song_id, "kind": "song"},
        "previews": [{"url": f"https://audio-ssl.itunes.apple.com/itunes-assets/AudioPreview/mzaf_{song_id}.m4a"}],
        "releaseDate": album.release_date.isoformat(),
        "trackNumber": track.track_number,
        "url": f"https://music.apple.com/{storefront}/album/{album_id}?i={song_id}",
    }
    if track.isrc:
        attributes["isrc"] = track.isrc
    if track.explicit:
        attributes["contentRating"] = "explicit"
    resource: dict[str, Any] = {
        "id": song_id,
        "type": "songs",
        "href": f"/v1/catalog/{storefront}/songs/{song_id}",
        "attributes": attributes,
    }
    if with_albums:
        resource["relationships"] = {
            "albums": {
                "href": f"/v1/catalog/{storefront}/songs/{song_id}/albums",
                "data": [{"id": album_id, "type": "albums", "href": f"/v1/catalog/{storefront}/albums/{album_id}"}],
            }
        }
    return resource


def tracks_relationship(album: FakeAlbum, storefront: str, offset: int, *, with_href: bool = True) -> dict[str, Any]:
    """The album's ``tracks`` relationship from ``offset``: ``TRACKS_PAGE`` songs and a relative ``next``
    (``/v1/catalog/{sf}/albums/{id}/tracks?offset=…``) only when more follow."""
    tracks = album.tracks_for("apple_music")
    album_id = album.id_for("apple_music")
    url = f"/v1/catalog/{storefront}/albums/{album_id}/tracks"
    page: dict[str, Any] = {"href": url} if with_href else {}
    page["data"] = [song_resource(album, track, storefront) for track in tracks[offset : offset + TRACKS_PAGE]]
    if offset + TRACKS_PAGE < len(tracks):
        page["next"] = f"{url}?offset={offset + TRACKS_PAGE}"
    return page


def album_resource(album: FakeAlbum, storefront: str) -> dict[str, Any]:
    """An album resource: attributes (``upc`` the GTIN Apple states) and the ``artists`` and ``tracks``
    relationships, as Apple includes them by default."""
    album_id = album.id_for("apple_music")
    artist_id = str(int(hashlib.sha256(album.artist.encode()).hexdigest()[:12], 16) % 10**10)
    return {
        "id": album_id,
        "type": "albums",
        "href": f"/v1/catalog/{storefront}/albums/{album_id}",
        "attributes": {
            "artistName": album.artist,
            "artwork": _artwork(album_id),
            "copyright": f"℗ {album.release_date.year} {album.artist}",
            "genreNames": ["Alternative", "Music"],
            "isCompilation": False,
            "isComplete": True,
            "isMasteredForItunes": False,
            "isSingle": len(album.tracks_for("apple_music")) <= 3,
            "name": album.title,
            "playParams": {"id": album_id, "kind": "album"},
            "recordLabel": album.artist,
            "releaseDate": album.release_date.isoformat(),
            "trackCount": len(album.tracks_for("apple_music")),
            "upc": album.gtin_for("apple_music"),
            "url": f"https://music.apple.com/{storefront}/album/{album_id}",
        },
        "relationships": {
            "artists": {
                "href": f"/v1/catalog/{storefront}/albums/{album_id}/artists",
                "data": [{"id": artist_id, "type": "artists", "href": f"/v1/catalog/{storefront}/artists/{artist_id}"}],
            },
            "tracks": tracks_relationship(album, storefront, 0),
        },
    }


def _not_found() -> httpx.Response:
    return error_response("apple_music", 404, "Resource with requested id was not found")
