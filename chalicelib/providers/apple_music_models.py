"""The Apple Music API's documented response shapes (https://developer.apple.com/documentation/applemusicapi), only
the fields Sleeve reads; others are ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class AppleSongAttributes(BaseModel):
    """``Songs.Attributes`` (music videos on an album's track list share these): ``contentRating`` is
    ``explicit``, ``clean`` or absent (not rated); ``isrc``, ``trackNumber`` and ``discNumber`` may be absent."""

    model_config = ConfigDict(alias_generator=to_camel)

    name: str
    duration_in_millis: int | None = Field(default=None, ge=0)
    isrc: str | None = None
    track_number: int | None = Field(default=None, ge=1)
    disc_number: int | None = Field(default=None, ge=1)
    content_rating: str | None = None


class AppleSong(BaseModel):
    """A song (or music-video) resource: ``id``, ``type`` and its attributes."""

    id: str
    type: str
    attributes: AppleSongAttributes


class AppleResourceRef(BaseModel):
    """A relationship's identifier-only resource: ``id``, ``type``, ``href``."""

    id: str
    type: str


class AppleTracksRelationship(BaseModel):
    """An album's ``tracks`` relationship (or ``GET …/albums/{id}/tracks``): songs in order, ``next`` when more."""

    data: list[AppleSong]
    next: str | None = None


class AppleAlbumRelationships(BaseModel):
    """An album's relationships: its ``tracks`` (included by default, with attributes)."""

    tracks: AppleTracksRelationship


class AppleAlbumAttributes(BaseModel):
    """``Albums.Attributes``: ``upc``, ``releaseDate`` (``YYYY-MM-DD``, or only a year) and ``url`` may be absent."""

    model_config = ConfigDict(alias_generator=to_camel)

    name: str
    artist_name: str | None = None
    upc: str | None = None
    release_date: str | None = None
    url: str | None = None


class AppleAlbum(BaseModel):
    """An album resource with its attributes and relationships."""

    id: str
    attributes: AppleAlbumAttributes
    relationships: AppleAlbumRelationships


class AppleAlbumsResponse(BaseModel):
    """``AlbumsResponse``: ``{"data": [album…]}`` (empty when nothing matches the filter)."""

    data: list[AppleAlbum]


class AppleResourceRefs(BaseModel):
    """A relationship holding identifier-only resources."""

    data: list[AppleResourceRef]


class AppleSongRelationships(BaseModel):
    """A song's relationships: its ``albums`` (identifiers only, by default)."""

    albums: AppleResourceRefs | None = None


class AppleSongWithAlbums(AppleSong):
    """A song resource as ``filter[isrc]`` answers it, with its ``albums`` relationship."""

    relationships: AppleSongRelationships = AppleSongRelationships()


class AppleSongsResponse(BaseModel):
    """``SongsResponse``: ``{"data": [song…]}``."""

    data: list[AppleSongWithAlbums]
