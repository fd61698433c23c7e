"""The Spotify Web API's documented response shapes (https://developer.spotify.com/documentation/web-api/reference),
only the fields Sleeve reads; others are ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class SpotifyExternalIds(BaseModel):
    """``external_ids`` of an album (``upc``/``ean``) or a track (``isrc``); any of them may be absent."""

    isrc: str | None = None
    upc: str | None = None
    ean: str | None = None


class SpotifyArtist(BaseModel):
    """A simplified artist object."""

    id: str | None = None
    name: str


class SpotifySimplifiedTrack(BaseModel):
    """A simplified track object (an album's ``tracks.items``): positions and duration, no ``external_ids``."""

    id: str
    name: str
    disc_number: int = Field(ge=1)
    track_number: int = Field(ge=1)
    duration_ms: int = Field(ge=0)
    explicit: bool


class SpotifySimplifiedAlbum(BaseModel):
    """A simplified album object (search results, a track's ``album``)."""

    id: str
    name: str
    release_date: str | None = None
    release_date_precision: Literal["year", "month", "day"] | None = None
    artists: list[SpotifyArtist] = []
    external_urls: dict[str, str] = {}


class SpotifyTrack(SpotifySimplifiedTrack):
    """A track object (``GET /tracks/{id}``, track search results): ``external_ids.isrc`` and its ``album``."""

    external_ids: SpotifyExternalIds = SpotifyExternalIds()
    album: SpotifySimplifiedAlbum


class SpotifyTrackPage(BaseModel):
    """A paging object of simplified tracks (``GET /albums/{id}/tracks``, an album's ``tracks``)."""

    items: list[SpotifySimplifiedTrack]
    next: str | None = None
    total: int = Field(ge=0)


class SpotifyAlbum(SpotifySimplifiedAlbum):
    """An album object (``GET /albums/{id}``): ``external_ids.upc`` and the first page of its tracks."""

    external_ids: SpotifyExternalIds = SpotifyExternalIds()
    tracks: SpotifyTrackPage


class SpotifyAlbumPage(BaseModel):
    """A paging object of simplified albums."""

    items: list[SpotifySimplifiedAlbum]


class SpotifyAlbumSearch(BaseModel):
    """``GET /search?type=album``."""

    albums: SpotifyAlbumPage


class SpotifyFullTrackPage(BaseModel):
    """A paging object of track objects."""

    items: list[SpotifyTrack]


class SpotifyTrackSearch(BaseModel):
    """``GET /search?type=track``."""

    tracks: SpotifyFullTrackPage


class SpotifyToken(BaseModel):
    """The client-credentials token response: ``access_token``, ``token_type`` ``Bearer``, ``expires_in`` seconds."""

    access_token: SecretStr
    token_type: str
    expires_in: int = Field(gt=0)
