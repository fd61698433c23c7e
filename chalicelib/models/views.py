"""Response bodies of the HTTP API: every route answers one of these (or an error), and the OpenAPI document describes
them from the same classes (``chalicelib.openapi``). Field names are the wire names; datetimes are ISO-8601 UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models.catalogue import (
    Collaborator,
    HistoryEntry,
    LockStatus,
    ProductionStatus,
    Release,
    ReleaseDetail,
    RoleGroup,
    SplitSummary,
    Track,
)
from chalicelib.models.domain import AssetError, AssetStatus, DownloadFormat, ShareLink, ShareTarget, SizeName
from chalicelib.models.jobs import Job
from chalicelib.models.media import (
    AiMetadata,
    AlbumArtQuality,
    AlbumArtSource,
    AttachmentRole,
    BulkAction,
    MediaSource,
    MediaType,
    MusicMetadata,
    Visibility,
)
from chalicelib.models.media import VariantKind as MediaVariantKind
from chalicelib.models.sync import DspConflict


class Health(BaseModel):
    """``GET /health``: the API answers."""

    status: Literal["ok"] = "ok"


class ErrorDetail(BaseModel):
    """The one error shape: a stable machine-readable ``code`` (snake_case), a human ``message`` that never quotes the
    request, and ``details`` (an object whose keys depend on the code)."""

    code: str
    message: str
    details: dict[str, object] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


class ReleaseView(Release):
    """A release with its ``tracks`` in running order (disc, then track number), its ``collaborators`` and the
    ``splits`` per royalty pool (``master``, ``publishing``)."""

    tracks: list[Track]
    collaborators: list[Collaborator]
    splits: dict[RoleGroup, SplitSummary]

    @classmethod
    def of(cls, detail: ReleaseDetail) -> ReleaseView:
        """The view of a loaded release."""
        return cls(
            **detail.release.model_dump(),
            tracks=detail.tracks,
            collaborators=detail.collaborators,
            splits=detail.splits(),  # type: ignore[arg-type]
        )


class ReleasePage(BaseModel):
    """One page of the caller's releases, newest first; ``next_cursor`` is None on the last page."""

    items: list[Release]
    next_cursor: str | None


class HistoryPage(BaseModel):
    """One page of a release's history, newest first; ``next_cursor`` is None on the last page."""

    items: list[HistoryEntry]
    next_cursor: str | None


class EditableFields(BaseModel):
    """What the caller may change on a release now: the ``fields`` a PATCH may set, the ``frozen_fields`` it may not,
    whether tracks, collaborators, artwork and delete are allowed, the lifecycle ``transitions`` whose guards pass,
    and whether the caller may ``unlock`` (administrators)."""

    release_id: str
    production_status: ProductionStatus
    lock_status: LockStatus
    fields: list[str]
    frozen_fields: list[str]
    tracks: bool
    collaborators: bool
    artwork: bool
    delete: bool
    transitions: list[ProductionStatus]
    unlock: bool


class TrackList(BaseModel):
    """Every track of a release in running order."""

    items: list[Track]


class CollaboratorList(BaseModel):
    """Every collaborator of a release and the split totals per royalty pool."""

    items: list[Collaborator]
    splits: dict[RoleGroup, SplitSummary]


class UploadState(BaseModel):
    """The processing state of one upload; ``error`` says why a ``failed`` one failed."""

    upload_id: str
    status: AssetStatus
    error: AssetError | None
    created_at: datetime
    updated_at: datetime


class ImageView(BaseModel):
    """One image of the artwork: a presigned GET ``url`` (valid ``artwork_url_ttl_s``), its px, bytes and format."""

    url: str
    width: int
    height: int
    bytes: int
    format: str


#: The versions of a cover: the ``original`` upload and its ``enhanced`` (upscaled) version.
type ArtworkVersion = Literal["original", "enhanced"]


class ArtworkView(BaseModel):
    """The artwork of a release: ``status`` is the newest upload's until it is ready (``none`` without any upload);
    the cover's ``variants`` (tiny…large), ``original``, colours and placeholder once one is ready; the legacy
    ``artwork_url`` as ``fallback_url`` while there is no uploaded cover.

    Enhancement (issue 10): ``version`` says which version of the cover the images are (``original`` or ``enhanced``;
    None without a ready cover) and ``asset_id`` is that version's asset; ``versions`` lists those that exist.
    ``upscaled``: the images shown are an upscale (AI or plain resampling); distributors warn against upscaled art.
    ``is_ai_enhanced``, ``ai_enhancement_model`` (``real-esrgan-x4plus``, ``real-esrgan-x4plus+lanczos``,
    ``lanczos``) and ``ai_enhanced_at`` describe the enhanced version when it is the one shown (false/None for the
    original). ``enhancement_job``: the cover's running or last enhancement job. ``enhancement_offered``: ``POST
    …/artwork/enhance`` would start one now (the cover's short side is under 1400 px, the owner allows AI
    enhancement, the release is not locked, and there is neither an enhanced version nor an open job).
    """

    status: Literal["none", "pending", "processing", "ready", "failed"]
    upload_id: str | None
    asset_id: str | None
    variants: dict[str, ImageView]
    original: ImageView | None
    missing_variants: list[str]
    cropped: bool | None
    dominant_color: str | None
    palette: list[str]
    placeholder: str | None
    placeholder_kind: str | None = None
    animated: bool | None = None
    error: AssetError | None
    fallback_url: str | None
    version: ArtworkVersion | None = None
    versions: list[ArtworkVersion] = Field(default_factory=list)
    upscaled: bool = False
    is_ai_enhanced: bool = False
    ai_enhancement_model: str | None = None
    ai_enhanced_at: datetime | None = None
    enhancement_job: Job | None = None
    enhancement_offered: bool = False


class JobPage(BaseModel):
    """One page of the caller's jobs, newest first; ``next_cursor`` is None on the last page."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "5f0c6f1e2d3b4a5968778695a4b3c2d1",
                            "owner_id": "alice",
                            "kind": "upscale",
                            "provider": "local",
                            "model": "realesrgan-x4plus",
                            "status": "succeeded",
                            "attempts": 1,
                            "input": {"release_id": "0f8e7d6c5b4a39281706f5e4d3c2b1a0", "width": 128, "height": 128},
                            "error": None,
                            "created_at": "2026-11-26T09:00:00Z",
                            "started_at": "2026-11-26T09:00:01Z",
                            "finished_at": "2026-11-26T09:00:24Z",
                            "deadline_at": None,
                            "result_asset_id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
                            "external_id": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[Job]
    next_cursor: str | None


class WebhookAccepted(BaseModel):
    """``POST /webhooks/replicate``: what became of a verified webhook. ``queued``: handed to the jobs queue;
    ``duplicate``: its ``webhook-id`` was seen before (a replay), nothing done; ``ignored``: no job of Sleeve's
    waits for it (an unknown or missing ``job_id``, or a body that is not a prediction), nothing done."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "queued"}]})

    status: Literal["queued", "duplicate", "ignored"]


class ShareLinkView(BaseModel):
    """A share link without its token (shown once, at creation); ``downloads`` counts downloads per size.

    ``target`` says what it shares: ``release`` (the release's artwork), ``asset`` (``asset_id``) or ``collection``
    (the media attached to ``collection_type``/``collection_id``, an owner object's ``owner_type``/``owner_id``).
    """

    token_id: str
    target: ShareTarget = "release"
    asset_id: str | None = None
    collection_type: str | None = None
    collection_id: str | None = None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    downloads: dict[str, int]

    @classmethod
    def of(cls, link: ShareLink) -> ShareLinkView:
        """The view of a stored share link."""
        return cls.model_validate(link.model_dump(include=set(cls.model_fields)))


class NewShareLink(ShareLinkView):
    """A new share link with its ``token`` and public page ``url``: both are shown only in this answer."""

    token: str
    url: str


class ShareLinkList(BaseModel):
    """Every share link of a release, revoked and expired ones included."""

    items: list[ShareLinkView]


class SharedRelease(BaseModel):
    """The title and artist a share link shows."""

    title: str
    artist: str


class SizeOffer(BaseModel):
    """One size a share link offers: px, the format it is stored in, and every format it downloads in."""

    size: SizeName
    width: int
    height: int
    stored_format: str
    formats: list[DownloadFormat]


class PublicArtwork(BaseModel):
    """What a share link shows: no keys, owner ids or metadata of the source file. ``sizes`` is empty until the
    artwork is ready; ``formats`` are those every size offers; ``default_size`` is what a download without ``size``
    gets."""

    release: SharedRelease
    expires_at: datetime | None
    sizes: list[SizeOffer]
    formats: list[DownloadFormat]
    default_size: SizeName | None
    dominant_color: str | None
    palette: list[str]
    placeholder: str | None


class SharedMediaItem(BaseModel):
    """One asset an asset or collection link shows: its ``id`` (the ``asset`` of a download), ``type``, ``title``,
    px and ``duration_ms`` (videos), every size it downloads in (an image: its variants and ``original``, each in
    its ``formats``; a video: ``original`` only, in its stored container, ``formats`` empty), the size a download
    without ``size`` gets, colours and placeholder. ``sizes`` is empty until the asset is ready (and for an asset made
    from metadata alone). No keys, owner ids, source URLs or metadata of the source file."""

    id: str
    type: MediaType
    title: str | None
    width: int | None
    height: int | None
    duration_ms: int | None = None
    sizes: list[SizeOffer]
    formats: list[DownloadFormat]
    default_size: SizeName | None
    dominant_color: str | None
    palette: list[str]
    placeholder: str | None


class SharedMedia(BaseModel):
    """``GET /s/{token}/media``: what a link to an asset or a collection shows. ``items``: the asset (an asset link)
    or the collection's ``shared`` and ``public`` assets, the cover first then each role in order (a ``private`` one
    is left out); ``expires_at`` of the link."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": "collection",
                    "expires_at": "2026-12-26T09:00:00Z",
                    "items": [
                        {
                            "id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
                            "type": "image",
                            "title": "Night drive",
                            "width": 1600,
                            "height": 1600,
                            "duration_ms": None,
                            "sizes": [
                                {
                                    "size": "large",
                                    "width": 1400,
                                    "height": 1400,
                                    "stored_format": "webp",
                                    "formats": ["webp", "png", "jpeg"],
                                }
                            ],
                            "formats": ["webp", "png", "jpeg"],
                            "default_size": "large",
                            "dominant_color": "#203040",
                            "palette": ["#203040", "#d0a070"],
                            "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
                        }
                    ],
                }
            ]
        }
    )

    target: Literal["asset", "collection"]
    expires_at: datetime | None
    items: list[SharedMediaItem]


class OpenApiDocument(BaseModel):
    """``GET /openapi.json``: the OpenAPI 3.1 document of this API (every other member is kept as generated)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, object]
    paths: dict[str, object]
    components: dict[str, object]


class ResolveOutcome(BaseModel):
    """``POST /releases/{id}/conflicts/{conflict_id}/resolve``: the decided conflict, how many remain ``open``, and
    whether this decision was the last one, so every decision was ``applied`` (with the lock where due)."""

    conflict: DspConflict
    open: int
    applied: bool
    production_status: ProductionStatus
    lock_status: LockStatus
    locked_by_sync: bool


# -- The media library (issue 11) ------------------------------------------------------------------------------------


class MediaVariantView(BaseModel):
    """One stored rendition of a media asset: ``kind`` (original, tiny, small, medium, large, poster), ``format``
    (webp, jpeg, png, gif, mp4, webm, mov), px, bytes, and its delivery ``url``: a presigned GET valid
    ``artwork_url_ttl_s`` (``url_expires_at`` says until when), or a stable CDN URL for a ``public`` asset when
    ``SLEEVE_MEDIA_PUBLIC_BASE_URL`` is set (``url_expires_at`` None)."""

    kind: MediaVariantKind
    format: str
    width: int | None
    height: int | None
    bytes: int
    url: str
    url_expires_at: datetime | None = None


class AlbumArtView(BaseModel):
    """``album_art`` of an asset: its ``source_url``, ``source`` and ``quality`` as given, and once Sleeve imported
    ``source_url`` the image asset made of it (``asset_id``) with its ``content_type``, ``bytes`` and px."""

    source_url: str | None = None
    source: AlbumArtSource | None = None
    quality: AlbumArtQuality | None = None
    asset_id: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None


class MediaAssetView(BaseModel):
    """A media asset as the API answers it.

    ``type`` image|video; ``content_type``, ``bytes``, ``width``/``height`` px, ``duration_ms`` (videos) and
    ``checksum_sha256`` (hex, of the stored original) once ``status`` is ``ready`` (None before, and for an asset made
    from metadata alone). ``url``: the original's delivery URL (see ``MediaVariantView``); ``variants``: every stored
    rendition, the original first. ``creator_description`` is what the creator typed, verbatim; ``name`` the generated
    ``{layer}.{category}.{subcategory}.{seq}``; ``ai_metadata`` what a machine generated. ``job_id``: the job that
    made it (an upscale or a generation); ``error`` says why a ``failed`` asset failed.
    """

    id: str
    type: MediaType
    status: AssetStatus
    visibility: Visibility
    source: MediaSource
    content_type: str | None
    bytes: int | None
    width: int | None
    height: int | None
    duration_ms: int | None = None
    checksum_sha256: str | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    filename: str | None = None
    creator_description: str | None = None
    name: str | None = None
    ai_metadata: AiMetadata | None = None
    music_metadata: MusicMetadata | None = None
    album_art: AlbumArtView | None = None
    enhancement_type: str | None = None
    original_asset_id: str | None = None
    source_url: str | None = None
    job_id: str | None = None
    url: str | None = None
    url_expires_at: datetime | None = None
    variants: list[MediaVariantView] = Field(default_factory=list)
    dominant_color: str | None = None
    placeholder: str | None = None
    error: AssetError | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class MediaPage(BaseModel):
    """One page of the caller's library, newest first; ``next_cursor`` is None on the last page."""

    items: list[MediaAssetView]
    next_cursor: str | None


class MediaUploadTicket(BaseModel):
    """``POST /media/uploads``: a presigned POST for one image or video. The browser posts ``fields`` plus the file
    to ``url`` before ``expires_at``; the file may hold at most ``max_bytes``; ``asset_id`` names the asset made."""

    asset_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class BulkFailure(BaseModel):
    """One id a bulk action could not act on, with the error ``code`` a single request would have answered."""

    id: str
    code: str
    message: str


class BulkMediaResult(BaseModel):
    """``POST /media/bulk``: the ``action`` done, the ids it succeeded on, and those it did not with why. An id that
    is unknown or another owner's fails with ``media_not_found``, as a single request would."""

    action: BulkAction
    succeeded: list[str]
    failed: list[BulkFailure]


class MediaAttachmentView(BaseModel):
    """An attachment: which asset fills which ``role`` of an owner object (``owner_type``/``owner_id``), its
    ``sort_order`` within the role and the client's ``meta``."""

    id: str
    asset_id: str
    owner_type: str
    owner_id: str
    role: AttachmentRole
    sort_order: int
    meta: dict[str, Any]
    created_at: datetime


class AttachedMedia(BaseModel):
    """One attachment of an owner object with its asset."""

    attachment: MediaAttachmentView
    asset: MediaAssetView


class OwnerMediaList(BaseModel):
    """``GET /owners/{owner_type}/{owner_id}/media``: the object's attachments, the cover first, then each role's in
    ``sort_order``."""

    owner_type: str
    owner_id: str
    items: list[AttachedMedia]


class MediaSearchHit(BaseModel):
    """One search result: the asset, its ``score`` (higher is better) and the fields that ``matched``."""

    asset: MediaAssetView
    score: float
    matched: list[str]


class MediaSearchPage(BaseModel):
    """``GET /media/search?q=``: the caller's matching assets, best first; ``next_cursor`` is None on the last page."""

    items: list[MediaSearchHit]
    next_cursor: str | None
