"""Apple Music API client: one catalogue album with its songs and ISRCs, for the DSP sync.

Requests (https://developer.apple.com/documentation/applemusicapi), each with an ES256 developer token signed here:

- ``GET /catalog/{storefront}/albums?filter[upc]={upc}``: the album with its ``tracks`` relationship, whose song
  resources already carry ``isrc``, ``durationInMillis``, ``trackNumber``, ``discNumber`` and ``contentRating``
  (up to 300 of them); the relationship's ``next`` is followed only when present;
- without a UPC, ``GET /catalog/{storefront}/songs?filter[isrc]={isrc,…}`` (several ISRCs in one request), then
  the first found song's album ``GET /catalog/{storefront}/albums/{id}``.

A 20-track album costs 1 request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Self

import httpx
import jwt
from pydantic import BaseModel, SecretStr

from chalicelib.providers import parsing
from chalicelib.providers.apple_music_models import (
    AppleAlbum,
    AppleAlbumAttributes,
    AppleAlbumRelationships,
    AppleAlbumsResponse,
    AppleResourceRef,
    AppleResourceRefs,
    AppleSong,
    AppleSongAttributes,
    AppleSongRelationships,
    AppleSongsResponse,
    AppleSongWithAlbums,
    AppleTracksRelationship,
)
from chalicelib.providers.base import (
    NOT_CONFIGURED,
    DspRelease,
    DspService,
    DspTrack,
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderUnauthorisedError,
    same_gtin,
)
from chalicelib.providers.http import HttpPolicy, ProviderHttp

log = logging.getLogger(__name__)

__all__ = [  # the response models stay importable from here
    "AppleAlbum",
    "AppleAlbumAttributes",
    "AppleAlbumRelationships",
    "AppleAlbumsResponse",
    "AppleMusicClient",
    "AppleResourceRef",
    "AppleResourceRefs",
    "AppleSong",
    "AppleSongAttributes",
    "AppleSongRelationships",
    "AppleSongWithAlbums",
    "AppleSongsResponse",
    "AppleTracksRelationship",
    "error_message",
    "explicit_of",
    "parse_payload",
    "release_date",
]

SERVICE: DspService = "apple_music"
#: The developer token's lifetime. Apple allows up to 15,777,000 s (6 months); Sleeve signs its own tokens in
#: process and sends them only to Apple, so a short life costs one ECDSA signature an hour and limits what a leaked
#: token is worth.
TOKEN_LIFETIME_S = 3600
#: A token is signed anew when fewer than this many seconds of its life remain.
TOKEN_RENEW_MARGIN_S = 300
#: The most ``next`` pages of an album's tracks followed (300 songs each), so that a looping link cannot hang a sync.
MAX_TRACK_PAGES = 20
#: ISRCs asked in one ``filter[isrc]`` request (the parameter takes a comma-separated list).
ISRCS_PER_REQUEST = 25


def parse_payload[ModelT: BaseModel](model: type[ModelT], payload: Any, what: str) -> ModelT:
    """``payload`` validated as ``model`` (``parsing.parse_payload`` for Apple Music): raises
    ``ProviderBadResponseError`` naming only the fields that failed."""
    return parsing.parse_payload(SERVICE, "Apple Music", model, payload, what)


def error_message(response: httpx.Response) -> str | None:
    """The ``title``/``detail`` of the first entry of an Apple error body ``{"errors": [{"id", "title", "detail",
    "status", "code"}]}``; None for anything else (Apple's 401 often has no body)."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    parts = [str(first[key]) for key in ("title", "detail") if isinstance(first.get(key), str)]
    return ": ".join(parts) or None


def explicit_of(content_rating: str | None) -> bool | None:
    """``contentRating`` as ``DspTrack.explicit``: ``explicit`` → True, ``clean`` (an edited version) → False,
    absent (not rated) → None."""
    if content_rating is None:
        return None
    return content_rating == "explicit"


def release_date(value: str | None) -> date | None:
    """``releaseDate`` as a date when it is a full ``YYYY-MM-DD``; None for a year alone or nothing."""
    if value is None or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class AppleMusicClient:
    """The Apple Music API as a ``base.DspProvider`` (catalogue requests with a developer token; no user token).

    Build it with ``from_settings``. Without ``SLEEVE_APPLE_MUSIC_TEAM_ID``, ``KEY_ID`` and ``PRIVATE_KEY`` it makes
    no request and ``not_configured_reason()`` says ``not_configured``.
    """

    def __init__(
        self,
        *,
        team_id: str | None,
        key_id: str | None,
        private_key: SecretStr | None,
        storefront: str,
        api: ProviderHttp | None,
        api_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._team_id = team_id
        self._key_id = key_id
        self._private_key = private_key
        self._storefront = storefront
        self._api = api
        self._api_url = api_url.rstrip("/")
        self._clock = clock
        self._token: SecretStr | None = None
        self._token_renew_at = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Self:
        """A client for ``settings`` (``apple_music_api_url``, ``apple_music_storefront``, ``apple_music_team_id``,
        ``apple_music_key_id``, ``apple_music_private_key`` and the ``provider_*`` timeouts/retries); ``transport``
        replaces the network in tests, ``sleep`` the retries' waits. Never raises for missing credentials."""
        key = parsing.secret_or_none(settings.apple_music_private_key, strip=True)
        team_id, key_id = settings.apple_music_team_id or None, settings.apple_music_key_id or None
        configured = team_id is not None and key_id is not None and key is not None
        api = (
            ProviderHttp(
                SERVICE,
                settings.apple_music_api_url,
                HttpPolicy.from_settings(settings),
                headers={"Accept": "application/json"},
                transport=transport,
                sleep=sleep,
                error_message=error_message,
            )
            if configured
            else None
        )
        return cls(
            team_id=team_id,
            key_id=key_id,
            private_key=key,
            storefront=settings.apple_music_storefront,
            api=api,
            api_url=settings.apple_music_api_url,
            clock=clock,
        )

    @property
    def service(self) -> DspService:
        """``apple_music``."""
        return SERVICE

    def not_configured_reason(self) -> str | None:
        """``not_configured`` without a team id, key id and private key, else None."""
        return NOT_CONFIGURED if self._api is None else None

    def close(self) -> None:
        """Close the HTTP client."""
        if self._api is not None:
            self._api.close()

    # -- the developer token --------------------------------------------------------------------------------------

    def developer_token(self) -> str:
        """The current developer token (a JWT: header ``alg`` ES256 and ``kid`` the key id; claims ``iss`` the team
        id, ``iat`` now and ``exp`` ``TOKEN_LIFETIME_S`` later), signed anew ``TOKEN_RENEW_MARGIN_S`` before it
        expires. Raises ``ProviderUnauthorisedError`` when the private key is not an EC P-256 PEM key (without
        quoting it)."""
        now = self._clock()
        if self._token is None or now >= self._token_renew_at:
            assert self._private_key is not None and self._team_id is not None and self._key_id is not None
            issued = int(now)
            claims = {"iss": self._team_id, "iat": issued, "exp": issued + TOKEN_LIFETIME_S}
            try:
                token = jwt.encode(
                    claims, self._private_key.get_secret_value(), algorithm="ES256", headers={"kid": self._key_id}
                )
            except (ValueError, TypeError, jwt.PyJWTError):
                raise ProviderUnauthorisedError(
                    SERVICE, "SLEEVE_APPLE_MUSIC_PRIVATE_KEY is not an EC P-256 private key in PEM form"
                ) from None
            self._token = SecretStr(token)
            self._token_renew_at = issued + TOKEN_LIFETIME_S - TOKEN_RENEW_MARGIN_S
            log.info("apple_music: developer token signed, valid for %d s", TOKEN_LIFETIME_S)
        return self._token.get_secret_value()

    def _get(self, url: str, what: str, *, params: dict[str, str] | None = None) -> Any:
        assert self._api is not None
        headers = {"Authorization": f"Bearer {self.developer_token()}"}
        response = self._api.request("GET", url, params=params, headers=headers)
        return parsing.json_body(SERVICE, "Apple Music", response, what)

    # -- the lookups ----------------------------------------------------------------------------------------------

    def find_release(self, *, upc: str | None, isrcs: Sequence[str]) -> DspRelease:
        """The Apple Music album with this UPC/EAN (``attributes.upc`` equal ignoring leading zeros), or without a
        UPC the album of the first of ``isrcs`` Apple finds.

        Of several albums the ``filter[upc]`` answers, the first whose ``upc`` matches; when none does, the first
        with the GTIN it states, so that the merge reports the disagreement. Raises ``ProviderNotFoundError`` when
        there is none, ``ProviderUnauthorisedError`` for a refused token, and the other ``ProviderFailure``
        subclasses.
        """
        if self._api is None:
            raise ProviderUnauthorisedError(SERVICE, "Apple Music is not configured", code=NOT_CONFIGURED)
        album = self._album_by_upc(upc) if upc else self._album_by_isrcs(isrcs)
        return self._release(album)

    def _catalog(self, path: str) -> str:
        return f"/catalog/{self._storefront}/{path}"

    def _album_by_upc(self, upc: str) -> AppleAlbum:
        payload = self._get(self._catalog("albums"), "the album filter", params={"filter[upc]": upc})
        albums = parse_payload(AppleAlbumsResponse, payload, "the album filter").data
        if not albums:
            raise ProviderNotFoundError(
                SERVICE, f"Apple Music has no album with UPC {upc} in its {self._storefront} storefront"
            )
        for album in albums:
            if album.attributes.upc and same_gtin(album.attributes.upc, upc):
                return album
        log.warning("apple_music: album %s found for UPC %s states another GTIN", albums[0].id, upc)
        return albums[0]

    def _album_by_isrcs(self, isrcs: Sequence[str]) -> AppleAlbum:
        wanted = parsing.valid_isrcs(isrcs)
        for start in range(0, len(wanted), ISRCS_PER_REQUEST):
            batch = wanted[start : start + ISRCS_PER_REQUEST]
            payload = self._get(self._catalog("songs"), "the song filter", params={"filter[isrc]": ",".join(batch)})
            songs = parse_payload(AppleSongsResponse, payload, "the song filter").data
            # The first of the asked ISRCs (in the caller's order) that Apple has, on a song that names its album.
            for isrc in batch:
                for song in songs:
                    albums = song.relationships.albums.data if song.relationships.albums else []
                    if albums and _compact(song.attributes.isrc) == isrc:
                        payload = self._get(self._catalog(f"albums/{albums[0].id}"), "the album")
                        found = parse_payload(AppleAlbumsResponse, payload, "the album").data
                        if not found:
                            raise ProviderBadResponseError(SERVICE, "Apple Music answered the album with no data")
                        return found[0]
        raise ProviderNotFoundError(
            SERVICE, "Apple Music has no song with these ISRCs" if wanted else "no UPC and no ISRC to look up"
        )

    def _songs(self, album: AppleAlbum) -> list[AppleSong]:
        """The album's tracks: the relationship's songs, then its ``next`` pages only when there are any."""
        songs = list(album.relationships.tracks.data)
        next_url = album.relationships.tracks.next
        for _ in range(MAX_TRACK_PAGES):
            if not next_url:
                return songs
            page = parse_payload(
                AppleTracksRelationship, self._get(self._next(next_url), "a tracks page"), "a tracks page"
            )
            songs.extend(page.data)
            next_url = page.next if page.data else None
        raise ProviderBadResponseError(SERVICE, f"Apple Music's track list runs past {MAX_TRACK_PAGES} pages")

    def _next(self, link: str) -> str:
        """A ``next`` link (``/v1/catalog/…``, relative to the API's host) as a URL under the configured API root,
        so that a fake or a proxy at another root works; anything else is refused rather than sent the token."""
        if link.startswith("/v1/"):
            return self._api_url + link.removeprefix("/v1")
        raise ProviderBadResponseError(SERVICE, "Apple Music's next page link is not under /v1/")

    def _release(self, album: AppleAlbum) -> DspRelease:
        by_disc: dict[int, list[DspTrack]] = {}
        for song in self._songs(album):
            attributes = song.attributes
            disc = attributes.disc_number or 1
            tracks = by_disc.setdefault(disc, [])
            tracks.append(
                DspTrack(
                    external_id=song.id,
                    title=attributes.name,
                    disc_number=disc,
                    # Without a trackNumber, the song's place in the album's (ordered) track list on its disc.
                    track_number=attributes.track_number or len(tracks) + 1,
                    duration_ms=attributes.duration_in_millis,
                    isrc=_compact(attributes.isrc, song.id),
                    explicit=explicit_of(attributes.content_rating),
                )
            )
        media = parsing.media_of(by_disc)
        return DspRelease(
            service=SERVICE,
            external_id=album.id,
            title=album.attributes.name,
            artist=album.attributes.artist_name,
            gtin=album.attributes.upc,
            release_date=release_date(album.attributes.release_date),
            url=album.attributes.url,
            media=media,
        )


def _compact(value: str | None, song_id: str = "") -> str | None:
    return parsing.compact_isrc(value, logger=log, item=f"apple_music: song {song_id}" if song_id else "")
