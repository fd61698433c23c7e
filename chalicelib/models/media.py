"""The media library's domain shapes (issue 11): what an asset says about itself beside its bytes.

A media asset is the one ``ASSET#{id}`` record (``models.domain.Asset``) whatever made it: an upload, an import from
a URL, an AI upscale, an AI generation, a stock photo, a playground image. What the creator typed
(``creator_description``) is kept verbatim next to what a machine generated (``name``, ``ai_metadata``), never one in
place of the other. Every field here is optional on the record, so assets written before the library read fine.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

type MediaType = Literal["image", "video"]
type MediaSource = Literal["upload", "import", "generated", "ai_upscaled", "enhanced", "stock", "playground"]
type Visibility = Literal["private", "shared", "public"]
#: The layer letter of a generated name (``{layer}.{category}.{subcategory}.{seq}``): G, S, L, M, W or C.
type Layer = Literal["G", "S", "L", "M", "W", "C"]
type AlbumArtSource = Literal["iTunes", "Manual", "AI Generated", "MusicBrainz"]
type AlbumArtQuality = Literal["High", "Medium", "Low"]
type VariantKind = Literal["original", "tiny", "small", "medium", "large", "poster"]
#: Roles of an attachment: one ``cover`` per owner object; the others are ordered lists.
type AttachmentRole = Literal["cover", "inline", "gallery", "reference"]
#: What ``POST /media/bulk`` does to every id.
type BulkAction = Literal["delete", "tag", "untag", "set_visibility"]

MEDIA_TYPES: tuple[MediaType, ...] = ("image", "video")
MEDIA_SOURCES: tuple[MediaSource, ...] = (
    "upload",
    "import",
    "generated",
    "ai_upscaled",
    "enhanced",
    "stock",
    "playground",
)
VISIBILITIES: tuple[Visibility, ...] = ("private", "shared", "public")
LAYERS: tuple[Layer, ...] = ("G", "S", "L", "M", "W", "C")
ATTACHMENT_ROLES: tuple[AttachmentRole, ...] = ("cover", "inline", "gallery", "reference")
#: Owner types whose objects Sleeve keeps, so an attach checks that the object exists and is the caller's. Any other
#: ``owner_type`` (script, scene, character, location, theme…) is the client's own and is namespaced by the caller.
KNOWN_OWNER_TYPES: frozenset[str] = frozenset({"release", "track"})
#: ``creator_description`` is kept verbatim up to this many characters.
CREATOR_DESCRIPTION_MAX = 500
#: ``POST /media/bulk`` takes at most this many ids.
BULK_MAX_IDS = 100
#: Declared types a media upload may have: the artwork's images and the videos (the worker sniffs the bytes anyway).
VIDEO_CONTENT_TYPES = ("video/mp4", "video/webm", "video/quicktime")
#: ``category`` and ``subcategory`` of a generated name: 2–4 letters, upper-cased before use.
NAME_PART = re.compile(r"^[A-Za-z]{2,4}$")
#: What the legacy backfill writes on assets made before AI metadata existed.
LEGACY_AI_METADATA: dict[str, str] = {"generated_by": "legacy", "generation_strategy": "pre-ai"}


def generated_name(layer: str, category: str, subcategory: str, seq: int) -> str:
    """The human-friendly name ``{layer}.{CATEGORY}.{SUBCATEGORY}.{seq:03d}`` (``L.CAS.ATL.001``).

    ``seq`` is the owner's next number for that prefix (1-based, from an atomic counter); past 999 it keeps its digits
    (``L.CAS.ATL.1000``). Raises ValueError when a part does not fit (layer not one of ``LAYERS``, the others not 2–4
    letters).
    """
    if layer not in LAYERS or not NAME_PART.match(category) or not NAME_PART.match(subcategory):
        raise ValueError("a name is a layer (G, S, L, M, W, C), a category and a subcategory of 2-4 letters")
    if seq < 1:
        raise ValueError("a name's sequence starts at 1")
    return f"{layer}.{category.upper()}.{subcategory.upper()}.{seq:03d}"


class InputContext(BaseModel):
    """What a generator was given: the ``creator_description``, the ``layer_strategy`` it followed and any
    ``additional_context``."""

    creator_description: str | None = None
    layer_strategy: str | None = None
    additional_context: str | None = None


class AiMetadata(BaseModel):
    """What a machine generated about an asset, and how: ``generated_by`` (a model or a program, e.g.
    ``black-forest-labs/flux-schnell``, ``sleeve-typographic``, ``legacy``), ``generation_strategy``,
    ``processing_time_ms``, ``input_context``, ``confidence`` 0–1, ``generated_at``, ``version`` (of the generator's
    output shape). Extra keys a client sends are kept."""

    model_config = {"extra": "allow"}

    generated_by: str
    generation_strategy: str | None = None
    processing_time_ms: int | None = Field(default=None, ge=0)
    input_context: InputContext | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    generated_at: datetime | None = None
    version: str | None = None


class ExtractedSongData(BaseModel):
    """Song data a client extracted from what the creator typed (``original_input``)."""

    song_name: str | None = None
    album_name: str | None = None
    artist_name: str | None = None
    original_input: str | None = None


class MusicMetadata(BaseModel):
    """Musical facts about an asset: ``bpm``, ``key`` (e.g. ``F# minor``), ``duration_s``, ``genres``."""

    bpm: float | None = Field(default=None, gt=0, le=999)
    key: str | None = None
    duration_s: float | None = Field(default=None, ge=0)
    genres: list[str] = Field(default_factory=list)
    extracted_song_data: ExtractedSongData | None = None


class AlbumArt(BaseModel):
    """Album art an asset refers to: where it came from (``source_url``, ``source``, ``quality``) and, once Sleeve
    imported ``source_url`` into the library, the image asset made of it (``asset_id``) with its ``content_type``,
    ``bytes`` and ``width``/``height`` px (None until that asset is ready)."""

    source_url: str | None = None
    source: AlbumArtSource | None = None
    quality: AlbumArtQuality | None = None
    asset_id: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None


class StoredFile(BaseModel):
    """A stored file that is not an image Sleeve made: S3 ``key``, ``bytes``, ``content_type``."""

    key: str
    bytes: int
    content_type: str


class VideoMedia(BaseModel):
    """What ingest read from a video: the stored ``original``, its ``container`` (``mp4``, ``webm``, ``mov``), the
    ``video_codec``, ``width``/``height`` px, ``duration_ms``, and the ``poster`` frame (a JPEG) when one could be
    decoded. Videos are stored as uploaded: never transcoded."""

    original: StoredFile
    container: str
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    poster: dict[str, Any] | None = None  # a models.domain.StoredImage dump (key, width, height, bytes, format)


class MediaAttachment(BaseModel):
    """An asset attached to an owner object: ``owner_type`` (release, track, or any client type such as scene),
    ``owner_id``, ``role`` (cover, inline, gallery, reference), ``sort_order`` within the role (cover: 0), ``meta``
    (the client's small JSON object), ``owner`` the caller who attached it."""

    id: str
    asset_id: str
    owner: str
    owner_type: str
    owner_id: str
    role: AttachmentRole
    sort_order: int = 0
    meta: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class LibraryFields(BaseModel):
    """The library fields a new asset starts with (``AssetRepository.create_pending(library=…)``): whatever made it
    (an upload request, an import, a generation job, the backfill) fills what it knows; None leaves a field unset.
    ``name`` is already generated (``generated_name``); ``tags`` already normalised."""

    kind: MediaType = "image"
    title: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    visibility: Visibility = "private"
    source_url: str | None = None
    enhancement_type: str | None = None
    creator_description: str | None = None
    name: str | None = None
    ai_metadata: AiMetadata | None = None
    music_metadata: MusicMetadata | None = None
    album_art: AlbumArt | None = None
