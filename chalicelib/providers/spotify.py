"""Spotify Web API client: one release (album) with its tracks and ISRCs, for the DSP sync.

Requests (https://developer.spotify.com/documentation/web-api), as a development-mode app may make them since
February 2026 (no batch endpoints, search ``limit`` at most 10, the app owner needs Premium):

1. ``POST {accounts}/api/token`` (client credentials; cached until shortly before it expires, so once per hour),
2. ``GET /search?q=upc:{upc}&type=album&limit=5`` (or ``q=isrc:{isrc}&type=track`` without a UPC),
3. ``GET /albums/{id}`` (its ``tracks`` paging object already holds the first 50 tracks),
4. ``GET /albums/{id}/tracks?offset=…`` only while that paging object has a ``next``,
5. ``GET /tracks/{id}`` once per track: the simplified tracks of an album carry no ``external_ids.isrc``.

A 20-track album costs 1 search + 1 album + 20 tracks = 22 API requests (plus the token request once an hour).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Literal, Self

import httpx
from pydantic import BaseModel, SecretStr

from chalicelib.providers import parsing
from chalicelib.providers.base import (
    NOT_CONFIGURED,
    DspRelease,
    DspService,
    DspTrack,
    ProviderBadResponseError,
    ProviderFailure,
    ProviderNotFoundError,
    ProviderUnauthorisedError,
    same_gtin,
)
from chalicelib.providers.http import HttpPolicy, ProviderHttp
from chalicelib.providers.spotify_models import (
    SpotifyAlbum,
    SpotifyAlbumPage,
    SpotifyAlbumSearch,
    SpotifyArtist,
    SpotifyExternalIds,
    SpotifyFullTrackPage,
    SpotifySimplifiedAlbum,
    SpotifySimplifiedTrack,
    SpotifyToken,
    SpotifyTrack,
    SpotifyTrackPage,
    SpotifyTrackSearch,
)

log = logging.getLogger(__name__)

__all__ = [  # the response models stay importable from here
    "SpotifyAlbum",
    "SpotifyAlbumPage",
    "SpotifyAlbumSearch",
    "SpotifyArtist",
    "SpotifyClient",
    "SpotifyExternalIds",
    "SpotifyFullTrackPage",
    "SpotifySimplifiedAlbum",
    "SpotifySimplifiedTrack",
    "SpotifyToken",
    "SpotifyTrack",
    "SpotifyTrackPage",
    "SpotifyTrackSearch",
    "compact_isrc",
    "error_message",
    "parse_payload",
    "release_date",
]

SERVICE: DspService = "spotify"
#: Search results asked for: development-mode apps get 400 "Invalid limit" above 10 (February 2026 migration guide).
SEARCH_LIMIT = 5
SEARCH_LIMIT_MAX = 10
#: A cached token is renewed this many seconds before Spotify says it expires (its ``expires_in``, 3600 s).
TOKEN_MARGIN_S = 60.0
#: Harmony's observation: Spotify's ``upc:`` search sometimes finds a 12-digit UPC only zero-padded to 14 digits.
PADDED_GTIN_LENGTH = 14


def parse_payload[ModelT: BaseModel](model: type[ModelT], payload: Any, what: str) -> ModelT:
    """``payload`` validated as ``model`` (``parsing.parse_payload`` for Spotify): raises ``ProviderBadResponseError``
    naming only the fields that failed (never their values: a token response must not reach a message)."""
    return parsing.parse_payload(SERVICE, "Spotify", model, payload, what)


def error_message(response: httpx.Response) -> str | None:
    """The message of a Spotify error body: ``{"error": {"status", "message"}}`` for the Web API,
    ``{"error": "invalid_client", "error_description": …}`` for the accounts service; None for anything else."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        description = body.get("error_description")
        return f"{error}: {description}" if isinstance(description, str) else error
    return None


def release_date(value: str | None, precision: str | None) -> date | None:
    """An album's ``release_date`` as a date when its ``release_date_precision`` is ``day``; else None (a year or
    a month is not a release date)."""
    if value is None or precision != "day":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def compact_isrc(value: str | None, track_id: str) -> str | None:
    """The compact ISRC, or None when the service has none or one that is not a valid ISRC (logged, not raised)."""
    return parsing.compact_isrc(value, logger=log, item=f"spotify: track {track_id}")


class SpotifyClient:
    """The Spotify Web API as a ``base.DspProvider`` (client-credentials flow: catalogue data only, no user).

    Build it with ``from_settings``. Without ``SLEEVE_SPOTIFY_CLIENT_ID``/``SECRET`` it makes no request and
    ``not_configured_reason()`` says ``not_configured``.
    """

    def __init__(
        self,
        *,
        client_id: str | None,
        client_secret: SecretStr | None,
        api: ProviderHttp | None,
        accounts: ProviderHttp | None,
        api_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._api = api
        self._accounts = accounts
        self._api_url = api_url.rstrip("/")
        self._clock = clock
        self._token: SecretStr | None = None
        self._token_expires_at = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Self:
        """A client for ``settings`` (``spotify_api_url``, ``spotify_accounts_url``, ``spotify_client_id``,
        ``spotify_client_secret`` and the ``provider_*`` timeouts/retries); ``transport`` replaces the network in
        tests (``httpx.MockTransport``), ``sleep`` the retries' waits. Never raises for missing credentials."""
        client_id = settings.spotify_client_id or None
        secret = parsing.secret_or_none(settings.spotify_client_secret)
        if client_id is None or secret is None:
            return cls(client_id=None, client_secret=None, api=None, accounts=None,
                       api_url=settings.spotify_api_url, clock=clock)  # fmt: skip
        policy = HttpPolicy.from_settings(settings)
        api = ProviderHttp(
            SERVICE, settings.spotify_api_url, policy, transport=transport, sleep=sleep, error_message=error_message
        )
        accounts = ProviderHttp(
            SERVICE,
            settings.spotify_accounts_url,
            policy,
            transport=transport,
            sleep=sleep,
            error_message=error_message,
        )
        return cls(client_id=client_id, client_secret=secret, api=api, accounts=accounts,
                   api_url=settings.spotify_api_url, clock=clock)  # fmt: skip

    @property
    def service(self) -> DspService:
        """``spotify``."""
        return SERVICE

    def not_configured_reason(self) -> str | None:
        """``not_configured`` without a client id and secret, else None."""
        return NOT_CONFIGURED if self._api is None else None

    def close(self) -> None:
        """Close both HTTP clients."""
        for http in (self._api, self._accounts):
            if http is not None:
                http.close()

    # -- the token ------------------------------------------------------------------------------------------------

    def _bearer(self) -> str:
        if self._token is None or self._clock() >= self._token_expires_at:
            self._token = None
            self._fetch_token()
        assert self._token is not None
        return f"Bearer {self._token.get_secret_value()}"

    def _fetch_token(self) -> None:
        assert self._accounts is not None and self._client_id is not None and self._client_secret is not None
        try:
            response = self._accounts.request(
                "POST",
                "/api/token",
                data={"grant_type": "client_credentials"},
                auth=httpx.BasicAuth(self._client_id, self._client_secret.get_secret_value()),
            )
        except ProviderBadResponseError as exc:
            if _status(exc) != 400:
                raise
            # The accounts service answers 400 {"error": "invalid_client"} to a wrong id or secret.
            raise ProviderUnauthorisedError(
                SERVICE, f"Spotify refused the client credentials ({exc.message})", details={"status": 400}
            ) from None
        token = parse_payload(SpotifyToken, _json(response, "the token request"), "the token request")
        now = self._clock()
        self._token = token.access_token
        self._token_expires_at = now + max(token.expires_in - TOKEN_MARGIN_S, 0.0)
        log.info("spotify: access token obtained, valid for %d s", token.expires_in)

    def _get(self, url: str, what: str, *, params: dict[str, str] | None = None) -> Any:
        """GET ``url`` with the bearer token; a 401 (an expired or revoked token) fetches a new token once."""
        assert self._api is not None
        for attempt in (1, 2):
            headers = {"Authorization": self._bearer()}  # outside the try: a refused token request is not retried
            try:
                response = self._api.request("GET", url, params=params, headers=headers)
            except ProviderUnauthorisedError as exc:
                if attempt == 1 and _status(exc) == 401:
                    self._token = None
                    continue
                raise
            return _json(response, what)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the lookups ----------------------------------------------------------------------------------------------

    def find_release(self, *, upc: str | None, isrcs: Sequence[str]) -> DspRelease:
        """The Spotify album with this UPC/EAN, or without a UPC the album of the first of ``isrcs`` Spotify finds
        (``q=isrc:``, each ISRC one search).

        Of the albums the ``upc:`` search finds (and, finding none, the search for the UPC zero-padded to 14 digits,
        as Harmony does), the first whose ``external_ids.upc``/``ean`` equals ``upc`` ignoring leading zeros
        (``base.same_gtin``); when none does, the first one found with the GTIN it states, so that the merge reports
        the disagreement.

        Raises ``ProviderNotFoundError`` when there is none, ``ProviderUnauthorisedError`` for refused credentials or
        Spotify's Premium-required 403 (its message kept), and the other ``ProviderFailure`` subclasses.
        """
        if self._api is None:
            raise ProviderUnauthorisedError(SERVICE, "Spotify is not configured", code=NOT_CONFIGURED)
        album = self._album_by_upc(upc) if upc else self._album_by_isrcs(isrcs)
        return self._release(album)

    def _search(self, query: str, kind: Literal["album", "track"]) -> Any:
        limit = min(SEARCH_LIMIT, SEARCH_LIMIT_MAX)
        params = {"q": query, "type": kind, "limit": str(limit)}
        return self._get("/search", f"the {kind} search", params=params)

    def _album_by_upc(self, upc: str) -> SpotifyAlbum:
        queries = [upc] + ([upc.zfill(PADDED_GTIN_LENGTH)] if len(upc) < PADDED_GTIN_LENGTH else [])
        for query in queries:
            found = parse_payload(SpotifyAlbumSearch, self._search(f"upc:{query}", "album"), "the album search")
            if not found.albums.items:
                continue
            first: SpotifyAlbum | None = None
            for candidate in found.albums.items:
                album = self._album(candidate.id)
                gtin = album.external_ids.upc or album.external_ids.ean
                if gtin and same_gtin(gtin, upc):
                    return album
                first = first or album
            # Found under this UPC but stating another GTIN: returned as it is, so that the merge refuses it and
            # reports the disagreement (Harmony's GTIN check) instead of the sync hiding it as "not found".
            assert first is not None
            log.warning("spotify: album %s found for UPC %s states another GTIN", first.id, upc)
            return first
        raise ProviderNotFoundError(SERVICE, f"Spotify has no album with UPC {upc}")

    def _album_by_isrcs(self, isrcs: Sequence[str]) -> SpotifyAlbum:
        wanted = parsing.valid_isrcs(isrcs)
        for isrc in wanted:
            found = parse_payload(SpotifyTrackSearch, self._search(f"isrc:{isrc}", "track"), "the track search")
            for track in found.tracks.items:
                if compact_isrc(track.external_ids.isrc, track.id) == isrc:
                    return self._album(track.album.id)
        raise ProviderNotFoundError(
            SERVICE, "Spotify has no track with these ISRCs" if wanted else "no UPC and no ISRC to look up"
        )

    def _album(self, album_id: str) -> SpotifyAlbum:
        return parse_payload(SpotifyAlbum, self._get(f"/albums/{album_id}", "the album"), "the album")

    def _album_tracks(self, album: SpotifyAlbum) -> list[SpotifySimplifiedTrack]:
        """Every simplified track: the album's first page, then ``next`` pages only when there are any (a 50-track
        album needs no ``GET /albums/{id}/tracks`` at all), until the paging object's ``total`` is reached."""
        tracks = list(album.tracks.items)
        next_url = album.tracks.next
        while next_url and len(tracks) < album.tracks.total:
            if not next_url.startswith(self._api_url + "/"):
                raise ProviderBadResponseError(SERVICE, "Spotify's next page link points outside the API")
            page = parse_payload(SpotifyTrackPage, self._get(next_url, "an album tracks page"), "an album tracks page")
            tracks.extend(page.items)
            next_url = page.next if page.items else None
        return tracks

    def _release(self, album: SpotifyAlbum) -> DspRelease:
        by_disc: dict[int, list[DspTrack]] = {}
        for simple in self._album_tracks(album):
            full = parse_payload(SpotifyTrack, self._get(f"/tracks/{simple.id}", "a track"), "a track")
            track = DspTrack(
                external_id=simple.id,
                title=full.name,
                disc_number=full.disc_number,
                track_number=full.track_number,
                duration_ms=full.duration_ms,
                isrc=compact_isrc(full.external_ids.isrc, simple.id),
                explicit=full.explicit,
            )
            by_disc.setdefault(track.disc_number, []).append(track)
        media = parsing.media_of(by_disc)
        return DspRelease(
            service=SERVICE,
            external_id=album.id,
            title=album.name,
            artist=", ".join(artist.name for artist in album.artists) or None,
            gtin=album.external_ids.upc or album.external_ids.ean,
            release_date=release_date(album.release_date, album.release_date_precision),
            url=album.external_urls.get("spotify"),
            media=media,
        )


def _json(response: httpx.Response, what: str) -> Any:
    return parsing.json_body(SERVICE, "Spotify", response, what)


def _status(exc: ProviderFailure) -> int | None:
    status = exc.details.get("status")
    return status if isinstance(status, int) else None
