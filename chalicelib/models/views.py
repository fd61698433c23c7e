"""Response bodies of the HTTP API: every route answers one of these (or an error), and the OpenAPI document describes
them from the same classes (``chalicelib.openapi``). Field names are the wire names; datetimes are ISO-8601 UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

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
from chalicelib.models.domain import AssetError, AssetStatus, DownloadFormat, ShareLink, SizeName
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


class ArtworkView(BaseModel):
    """The artwork of a release: ``status`` is the newest upload's until it is ready (``none`` without any upload);
    the cover's ``variants`` (tiny…large), ``original``, colours and placeholder once one is ready; the legacy
    ``artwork_url`` as ``fallback_url`` while there is no uploaded cover."""

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


class ShareLinkView(BaseModel):
    """A share link without its token (shown once, at creation); ``downloads`` counts downloads per size."""

    token_id: str
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
