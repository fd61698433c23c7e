"""Domain objects the services work with; repositories build them from records, the API serialises them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models.media import AiMetadata, AlbumArt, MediaSource, MediaType, MusicMetadata, VideoMedia, Visibility

type AssetStatus = Literal["pending", "processing", "ready", "failed"]
type VariantName = Literal["tiny", "small", "medium", "large"]
type SizeName = Literal["tiny", "small", "medium", "large", "original"]
type DownloadFormat = Literal["webp", "png", "jpeg"]
#: Where an asset's bytes came from (models/media.py ``MediaSource``): a browser upload, an import from a URL, an AI
#: generation, an upscaling job's result… all ingested the same way.
type AssetSource = MediaSource

#: Variant names in size order (the imaging package owns the px sizes and qualities).
VARIANT_NAMES: tuple[VariantName, ...] = ("tiny", "small", "medium", "large")
SIZE_NAMES: tuple[SizeName, ...] = (*VARIANT_NAMES, "original")


class Identity(BaseModel):
    """The caller: ``subject`` is the owner id of everything they create; ``groups`` from the token's group claim."""

    model_config = ConfigDict(frozen=True)

    subject: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        """True for members of the ``admin`` group."""
        return "admin" in self.groups


class StoredImage(BaseModel):
    """One stored image of an asset: S3 ``key``, ``width``/``height`` px, ``bytes``, ``format`` (jpeg|png|webp)."""

    key: str
    width: int
    height: int
    bytes: int
    format: str


class AssetMedia(BaseModel):
    """What the ingest pipeline made of an asset's bytes.

    ``variants``: square WebP images by name (tiny…large), only the sizes made. ``derived``: every size the share page
    offers (the variants made and ``original``) → every download format other than that image's stored one
    (``png``/``jpeg``/``webp``) → the converted image, made at ingest so no request ever converts. Assets made before
    derived images existed have ``{}``.
    """

    original: StoredImage
    variants: dict[str, StoredImage]
    derived: dict[str, dict[str, StoredImage]] = Field(default_factory=dict)
    missing_variants: list[str] = Field(default_factory=list)
    source_format: str
    source_width: int
    source_height: int
    cropped: bool
    crop_box: list[int] | None = None
    dominant_color: str
    palette: list[str]
    placeholder: str
    placeholder_kind: str = "blurhash"
    animated: bool = False
    frame_count: int = 1


class AssetError(BaseModel):
    """Why an asset failed: a machine-readable ``code`` and a human ``message``."""

    code: str
    message: str


class AssetEnhancement(BaseModel):
    """On an original asset: its enhanced version. ``asset_id`` the ready enhanced asset, ``model`` the label of what
    made it (``real-esrgan-x4plus``, ``real-esrgan-x4plus+lanczos`` when Lanczos resampling finished the size,
    ``lanczos`` for plain resampling), ``ai`` False for plain resampling, ``enhanced_at`` when the job succeeded,
    ``job_id`` the job that made it."""

    asset_id: str
    model: str
    ai: bool
    enhanced_at: datetime
    job_id: str


class Asset(BaseModel):
    """A media asset (an upload, an import, an upscaling or generation result, or metadata alone) and its
    processing state.

    The library's fields (issue 11): ``kind`` image|video, ``title``, ``description``, ``tags`` (normalised: trimmed,
    at most 50), ``visibility``, ``source_url`` (an import's), ``creator_description`` (verbatim), the generated
    ``name``, ``ai_metadata``, ``music_metadata``, ``album_art``, ``checksum_sha256`` of the accepted original (hex),
    ``video`` (a video's stored file, duration and poster), ``deleted_at`` (set while a delete is under way).
    An asset made from metadata alone (``POST /media``) is ``ready`` with no ``media`` and ``declared_bytes`` 0.

    ``source``: ``upload`` or ``ai_upscaled``; a result names its ``original_asset_id`` and the ``job_id`` that made
    it. On an original: ``enhancement_job_id`` the newest enhancement job, ``enhancement`` the enhanced version once
    a job succeeded. All optional, so records written before them read as plain uploads.
    """

    id: str
    owner_id: str
    status: AssetStatus
    upload_key: str
    declared_content_type: str
    declared_bytes: int
    max_bytes: int
    filename: str | None = None
    attach_to: str | None = None
    source_etag: str | None = None
    source_sequencer: str | None = None
    run_id: str | None = None
    received_bytes: int | None = None
    media: AssetMedia | None = None
    error: AssetError | None = None
    created_at: datetime
    updated_at: datetime
    source: AssetSource = "upload"
    original_asset_id: str | None = None
    job_id: str | None = None
    enhancement_job_id: str | None = None
    enhancement: AssetEnhancement | None = None
    # -- The media library (issue 11; models/media.py). All optional: older records read as private images. --------
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
    album_art_of: str | None = None  # an import made for another asset's album art: that asset's id
    checksum_sha256: str | None = None
    video: VideoMedia | None = None
    deleted_at: datetime | None = None


class UploadTicket(BaseModel):
    """A presigned POST for one upload: the browser posts ``fields`` plus the file to ``url`` before ``expires_at``."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


#: What a share link opens: a release's artwork, one media asset, or a collection (an owner object's attached media).
type ShareTarget = Literal["release", "asset", "collection"]


class ShareLink(BaseModel):
    """A share link's stored state (never the token: only its hash is kept). ``owner_id`` is the caller who made it.

    ``target`` says what it opens: ``release`` (``release_id``), ``asset`` (``asset_id``) or ``collection``
    (``collection_type``/``collection_id``: the owner object's ``owner_type``/``owner_id``, namespaced by
    ``owner_id``). Links stored before issue 11 have no ``target`` and read as release links.
    """

    token_id: str
    release_id: str | None = None
    target: ShareTarget = "release"
    asset_id: str | None = None
    collection_type: str | None = None
    collection_id: str | None = None
    owner_id: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    downloads: dict[str, int] = Field(default_factory=dict)

    def is_active(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Page(BaseModel):
    """One page of a listing: ``items`` and the opaque ``next_cursor`` (None on the last page)."""

    items: list[Any]
    next_cursor: str | None = None
