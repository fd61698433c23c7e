"""The media library's core: uploads of images and videos, assets made from metadata alone, the owner's filtered
library, metadata edits with generated names, deletes that leave nothing behind, and bulk actions.

Every asset is the one ``ASSET#{id}`` record (``models.domain.Asset``). An asset is visible only to its owner: an
unknown id, another owner's and one whose delete is under way all answer the same 404 ``media_not_found``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from chalicelib.config import Settings
from chalicelib.errors import (
    AppError,
    ConflictError,
    InvalidError,
    PayloadTooLargeError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from chalicelib.models.api import (
    MEDIA_UPLOAD_CONTENT_TYPES,
    UPLOAD_CONTENT_TYPES,
    BulkMediaRequest,
    CreateMediaRequest,
    CreateMediaUploadRequest,
    UpdateMediaRequest,
)
from chalicelib.models.domain import Asset, Identity
from chalicelib.models.media import (
    VIDEO_CONTENT_TYPES,
    VISIBILITIES,
    AiMetadata,
    AlbumArt,
    LibraryFields,
    MediaSource,
    MediaType,
    MusicMetadata,
    Visibility,
    generated_name,
)
from chalicelib.models.views import BulkFailure, BulkMediaResult, MediaUploadTicket
from chalicelib.services.media_edits import Changes, bulk_plan, name_parts, normalise_tags, not_found
from chalicelib.services.storage_keys import asset_prefixes, upload_key
from chalicelib.store.assets import AssetRepository
from chalicelib.store.dynamo import utcnow
from chalicelib.store.media import AssetPage, MediaRepository
from chalicelib.store.objects import ObjectStore

#: A PATCH or a bulk edit reads the asset and writes on condition that it did not change; this many tries.
UPDATE_ATTEMPTS = 5
#: A tag-filtered list reads ``MediaIndex.by_tag`` at most this many times per request (then ends the page early).
MAX_TAG_READS = 10
_ASSET_ID = re.compile(r"^[0-9a-f]{32}$")
_TEXT_FIELDS = ("title", "description", "creator_description")


class LibraryIndex(Protocol):
    """What the library needs of the search and tag index (``store/media_index.py`` ``MediaIndex``, P3)."""

    def reindex(self, before: Asset | None, after: Asset | None) -> None: ...

    def by_tag(self, owner_id: str, tag: str, *, limit: int, cursor: str | None) -> tuple[list[str], str | None]: ...


class AttachmentRemover(Protocol):
    """``AttachmentService.detach_all`` (P2): removes every attachment of an asset, and a cover pointer naming it."""

    def detach_all(self, asset: Asset) -> int: ...


class ShareLinkRemover(Protocol):
    """``ShareLinkRepository.delete_for_asset``: every share link of an asset and their download counters."""

    def delete_for_asset(self, asset_id: str) -> int: ...


class ImportStarter(Protocol):
    """``ImportService.start`` (P4): checks a URL, creates the pending import asset and queues its fetch."""

    def start(self, owner_id: str, source_url: str, *, album_art_of: str | None = None) -> Asset: ...


class MediaService:
    """The library's operations for one caller at a time (``Identity``); see the module docstring."""

    def __init__(
        self,
        *,
        settings: Settings,
        assets: AssetRepository,
        media: MediaRepository,
        objects: ObjectStore,
        index: Callable[[], LibraryIndex],
        attachments: Callable[[], AttachmentRemover | None],
        imports: Callable[[], ImportStarter],
        share_links: Callable[[], ShareLinkRemover],
    ) -> None:
        """``index``, ``attachments``, ``imports`` and ``share_links`` are factories called when needed (the other
        parts' services are built lazily); ``attachments`` may return None where no attachment service exists."""
        self._settings = settings
        self._assets = assets
        self._media = media
        self._objects = objects
        self._index = index
        self._attachments = attachments
        self._imports = imports
        self._share_links = share_links

    # -- creating ----------------------------------------------------------------------------------------------------

    def create_upload(self, identity: Identity, request: CreateMediaUploadRequest) -> MediaUploadTicket:
        """A ``pending`` asset and a presigned POST for its bytes (the artwork upload's rules).

        Images (JPEG, PNG, WebP) up to ``upload_max_bytes``, videos (MP4, WebM, QuickTime) up to ``video_max_bytes``;
        the POST allows exactly the key ``uploads/{owner}/{asset_id}``, exactly the declared type (parameters and
        case dropped), 1..max bytes, for ``upload_url_ttl_s``. Raises ``UnsupportedMediaTypeError`` (415),
        ``PayloadTooLargeError`` ``too_large`` (413), ``InvalidError`` ``invalid_content_length`` (400),
        ``UnprocessableError`` ``name_parts_incomplete`` (422).
        """
        media_type = request.content_type.split(";", 1)[0].strip().lower()
        kind: MediaType
        if media_type in UPLOAD_CONTENT_TYPES:
            kind, max_bytes = "image", self._settings.upload_max_bytes
        elif media_type in VIDEO_CONTENT_TYPES:
            kind, max_bytes = "video", self._settings.video_max_bytes
        else:
            raise UnsupportedMediaTypeError(
                f"Media must be one of {', '.join(MEDIA_UPLOAD_CONTENT_TYPES)}.",
                code="unsupported_media_type",
                details={"content_type": request.content_type, "allowed": list(MEDIA_UPLOAD_CONTENT_TYPES)},
            )
        if request.content_length <= 0:
            raise InvalidError("content_length must be a positive number of bytes.", code="invalid_content_length")
        if request.content_length > max_bytes:
            raise PayloadTooLargeError(
                f"A {kind} may be at most {max_bytes} bytes.",
                code="too_large",
                details={"content_length": request.content_length, "max_bytes": max_bytes},
            )
        parts = name_parts(request)
        asset_id = uuid.uuid4().hex
        key = upload_key(identity.subject, asset_id)
        asset = self._assets.create_pending(
            asset_id=asset_id,
            owner_id=identity.subject,
            upload_key=key,
            declared_content_type=media_type,
            declared_bytes=request.content_length,
            max_bytes=max_bytes,
            filename=request.filename,
            attach_to=None,
            library=self._library(identity.subject, request, kind=kind, parts=parts),
        )
        self._index().reindex(None, asset)
        ttl = self._settings.upload_url_ttl_s
        url, fields = self._objects.presign_post(key, content_type=media_type, max_bytes=max_bytes, expires_in=ttl)
        return MediaUploadTicket(
            asset_id=asset_id, url=url, fields=fields, expires_at=utcnow() + timedelta(seconds=ttl), max_bytes=max_bytes
        )

    def create(self, identity: Identity, request: CreateMediaRequest) -> Asset:
        """An asset from metadata alone: ``ready``, no bytes (``declared_bytes`` 0), never given a presigned POST.

        With ``album_art.source_url`` the image is imported into the library first (``ImportService.start``, which
        refuses a URL it may not fetch with 422 ``url_not_allowed`` before anything is written) and the new asset's
        ``album_art.asset_id`` names the import's asset at once; the import fills in its type, bytes and size when it
        is ready. Raises ``UnprocessableError`` ``name_parts_incomplete`` (422).
        """
        parts = name_parts(request)
        asset_id = uuid.uuid4().hex
        album_art: AlbumArt | None = None
        if request.album_art is not None:
            album_art = AlbumArt.model_validate(request.album_art.model_dump(mode="json"))
            if album_art.source_url:
                imported = self._imports().start(identity.subject, album_art.source_url, album_art_of=asset_id)
                album_art.asset_id = imported.id
        library = self._library(identity.subject, request, kind=request.type, parts=parts)
        library.album_art = album_art
        asset = self._assets.create_pending(
            asset_id=asset_id,
            owner_id=identity.subject,
            upload_key=upload_key(identity.subject, asset_id),
            declared_content_type="",
            declared_bytes=0,
            max_bytes=0,
            filename=None,
            attach_to=None,
            source=request.source,
            library=library,
            status="ready",
        )
        self._index().reindex(None, asset)
        return asset

    def _library(
        self,
        owner_id: str,
        request: CreateMediaUploadRequest | CreateMediaRequest,
        *,
        kind: MediaType,
        parts: tuple[str, ...] | None,
    ) -> LibraryFields:
        return LibraryFields(
            kind=kind,
            title=request.title,
            description=request.description,
            tags=normalise_tags(request.tags or []),
            visibility=request.visibility or "private",
            creator_description=request.creator_description,
            name=self._new_name(owner_id, parts) if parts else None,
            ai_metadata=AiMetadata.model_validate(request.ai_metadata.model_dump()) if request.ai_metadata else None,
            music_metadata=(
                MusicMetadata.model_validate(request.music_metadata.model_dump()) if request.music_metadata else None
            ),
        )

    def _new_name(self, owner_id: str, parts: tuple[str, ...]) -> str:
        layer, category, subcategory = parts
        prefix = f"{layer}.{category.upper()}.{subcategory.upper()}"
        return generated_name(layer, category, subcategory, self._media.next_name_seq(owner_id, prefix))

    # -- reading -----------------------------------------------------------------------------------------------------

    def get(self, identity: Identity, asset_id: str) -> Asset:
        """The caller's live asset; ``NotFoundError`` ``media_not_found`` otherwise (unknown, another owner's, or
        being deleted)."""
        asset = self._owned(identity, asset_id)
        if asset.deleted_at is not None:
            raise not_found(asset_id)
        return asset

    def _owned(self, identity: Identity, asset_id: str) -> Asset:
        asset = self._assets.get(asset_id) if _ASSET_ID.match(asset_id) else None
        if asset is None or asset.owner_id != identity.subject:
            raise not_found(asset_id)
        return asset

    def list_media(
        self,
        identity: Identity,
        *,
        kind: MediaType | None = None,
        source: MediaSource | None = None,
        tag: str | None = None,
        visibility: Visibility | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> AssetPage:
        """The caller's library newest first, filtered (``MediaRepository.list_assets`` documents the indexes and
        the page rule). With ``tag`` the tag index (``MediaIndex.by_tag``) gives the ids and the other filters are
        applied to the assets read; its cursor pages on. Raises ``InvalidError`` ``invalid_cursor``."""
        if tag is None:
            return self._media.list_assets(
                identity.subject, kind=kind, source=source, visibility=visibility, limit=limit, cursor=cursor
            )
        items: list[Asset] = []
        for _ in range(MAX_TAG_READS):
            ids, cursor = self._index().by_tag(identity.subject, tag, limit=limit - len(items), cursor=cursor)
            found = self._media.get_many(ids)
            for asset_id in ids:
                asset = found.get(asset_id)
                if (
                    asset is not None
                    and asset.owner_id == identity.subject
                    and asset.deleted_at is None
                    and kind in (None, asset.kind)
                    and source in (None, asset.source)
                    and visibility in (None, asset.visibility)
                ):
                    items.append(asset)
            if cursor is None or len(items) >= limit:
                break
        return AssetPage(items, cursor)

    # -- editing -----------------------------------------------------------------------------------------------------

    def update(self, identity: Identity, asset_id: str, request: UpdateMediaRequest) -> Asset:
        """Apply the fields the PATCH names (``null`` clears one; tags ``null`` or ``[]`` clear them, visibility
        ``null`` makes it private). ``creator_description`` is stored as sent. Name parts name an asset without a
        name. Raises ``NotFoundError`` ``media_not_found``, ``UnprocessableError`` ``name_parts_incomplete``,
        ``ConflictError`` ``name_already_assigned`` (409) or ``concurrent_modification`` (409)."""
        parts = name_parts(request)
        given = request.model_fields_set
        changes: Changes = {field: getattr(request, field) for field in _TEXT_FIELDS if field in given}
        if "tags" in given:
            changes["tags"] = normalise_tags(request.tags or []) or None
        if "visibility" in given:
            changes["visibility"] = request.visibility
        for field in ("music_metadata", "ai_metadata"):
            if field in given:
                value = getattr(request, field)
                changes[field] = value.model_dump(mode="json", exclude_none=True) if value else None
        name: list[str] = []  # generated once, kept across retries

        def plan(before: Asset) -> Changes:
            if parts is None:
                return changes
            if before.name is not None:
                raise ConflictError(
                    "This asset already has a name.", code="name_already_assigned", details={"name": before.name}
                )
            if not name:
                name.append(self._new_name(identity.subject, parts))
            return {**changes, "name": name[0]}

        return self._edit(identity, asset_id, plan, naming=parts is not None)

    def _edit(
        self, identity: Identity, asset_id: str, plan: Callable[[Asset], Changes], *, naming: bool = False
    ) -> Asset:
        """Read the asset, plan the changes from it, write on condition it did not change (and, ``naming``, has no
        name yet), reindex; again when it changed meanwhile. A plan with no change writes nothing."""
        for _ in range(UPDATE_ATTEMPTS):
            before = self.get(identity, asset_id)
            changes = plan(before)
            if not changes:
                return before
            after = self._media.update(before, changes, unnamed=naming)
            if after is not None:
                self._index().reindex(before, after)
                return after
        raise ConflictError(
            "The asset kept changing while the edit was applied; try again.",
            code="concurrent_modification",
            details={"asset_id": asset_id},
        )

    # -- deleting ----------------------------------------------------------------------------------------------------

    def delete(self, identity: Identity, asset_id: str) -> list[str]:
        """Delete the caller's asset and everything of it; returns the ids deleted (its enhanced version too).

        Steps (SPEC "delete"): tombstone (``deleted_at``, out of every list at once); an enhanced version is
        unlinked from its original (the original's ``enhancement`` cleared on condition it names this asset), an
        original's enhanced version is deleted with it; attachments (``detach_all``); search and tag items
        (``reindex(asset, None)``); its share links and their counters; every S3 object (upload, ``media/``,
        ``derived/`` prefixes); the record last.
        A tombstoned asset (a delete that failed half-way) is finished by a second DELETE. Open jobs whose
        ``result_asset_id`` is the asset are left: their settle finds no asset and fails them. Raises
        ``NotFoundError`` ``media_not_found``.
        """
        return self._delete(self._owned(identity, asset_id), done=[])

    def _delete(self, asset: Asset, *, done: list[str]) -> list[str]:
        tombstoned = self._media.tombstone(asset)
        if tombstoned is None:
            raise not_found(asset.id)
        done.append(asset.id)
        if asset.original_asset_id:
            self._media.clear_enhancement(asset.original_asset_id, asset.id)
        if asset.enhancement is not None and asset.enhancement.asset_id not in done:
            enhanced = self._assets.get(asset.enhancement.asset_id)
            if enhanced is not None and enhanced.owner_id == asset.owner_id:
                self._delete(enhanced, done=done)
        attachments = self._attachments()
        if attachments is not None:
            attachments.detach_all(tombstoned)
        self._index().reindex(asset, None)
        self._share_links().delete_for_asset(asset.id)
        self._objects.delete_prefixes(asset_prefixes(asset.owner_id, asset.id))
        self._media.delete(asset.id)
        return done

    # -- bulk --------------------------------------------------------------------------------------------------------

    def bulk(self, identity: Identity, request: BulkMediaRequest) -> BulkMediaResult:
        """One action on each id (each as its single request would do it); an id that fails is reported with the
        code that request would answer (``media_not_found`` for an unknown or another owner's id) and the others
        still run. Raises ``UnprocessableError`` ``bulk_value_required`` (tag/untag/set_visibility without
        ``value``) or ``invalid_visibility`` (a value that is not private, shared or public) before any id is
        touched."""
        action, value = request.action, request.value
        if action != "delete" and value is None:
            raise UnprocessableError(
                f"The action {action} needs a value.", code="bulk_value_required", details={"action": action}
            )
        if action == "set_visibility" and value not in VISIBILITIES:
            raise UnprocessableError(
                "The visibility must be private, shared or public.",
                code="invalid_visibility",
                details={"value": value, "allowed": list(VISIBILITIES)},
            )
        succeeded: list[str] = []
        failed: list[BulkFailure] = []
        deleted: list[str] = []
        for asset_id in dict.fromkeys(request.ids):
            try:
                if action == "delete":
                    if asset_id not in deleted:
                        self._delete(self._owned(identity, asset_id), done=deleted)
                else:
                    self._edit(identity, asset_id, bulk_plan(action, str(value)))
            except AppError as error:
                failed.append(BulkFailure(id=asset_id, code=error.code, message=error.message))
            else:
                succeeded.append(asset_id)
        return BulkMediaResult(action=action, succeeded=succeeded, failed=failed)
