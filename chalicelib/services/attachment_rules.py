"""The rules of attachments, pure functions over the domain models (no AWS): which asset may be a release's cover,
what a cover attach replaces, the id of a release cover's attachment, its history entry, and the errors answered.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from chalicelib.errors import ConflictError, NotFoundError, UnsupportedMediaTypeError
from chalicelib.models.api import AttachMediaRequest
from chalicelib.models.catalogue import HistoryEntry, Release
from chalicelib.models.domain import Asset
from chalicelib.models.media import MediaAttachment
from chalicelib.services.artwork import COVER_ROLE
from chalicelib.services.lifecycle import artwork_editable

#: How many times an attach or a detach is read, planned and sent again when what it read moved meanwhile (another
#: cover, the release's status, a transaction conflict); past that it answers 409 ``concurrent_modification``.
ATTEMPTS = 5
#: The namespace of a release cover's attachment id (``cover_attachment_id``).
_COVER_NAMESPACE = uuid.UUID("5d0c1e7e-6a55-4c9e-9d0e-3c0a1b2c3d4e")


def cover_attachment_id(release_id: str, asset_id: str) -> str:
    """The id of the attachment that makes ``asset_id`` the cover of ``release_id`` (32 hex digits, a UUID v5): the
    same whoever put it there (this route or an artwork upload), so a cover set by an upload can be detached."""
    return uuid.uuid5(_COVER_NAMESPACE, f"{release_id}#{asset_id}").hex


def require_cover_image(asset: Asset) -> None:
    """A release's cover must be an image (``unsupported_media_type``) that is ready (``asset_not_ready``)."""
    if asset.kind != "image":
        raise UnsupportedMediaTypeError(
            "A release's cover must be an image.", code="unsupported_media_type", details={"type": asset.kind}
        )
    if asset.status != "ready" or asset.media is None:
        raise ConflictError(
            "The asset is not a ready image yet.",
            code="asset_not_ready",
            details={"status": asset.status, "has_image": asset.media is not None},
        )


def check_holder(
    asset: Asset, holder_asset: str | None, holder_id: str | None, request: AttachMediaRequest
) -> str | None:
    """What a cover attach replaces (the holder's attachment id; None: nothing). Raises ``already_attached`` when
    ``asset`` holds the cover already, ``cover_taken`` when another asset does and ``replace`` is false."""
    if holder_asset is None:
        return None
    if holder_asset == asset.id:
        raise already_attached(holder_id or "")
    if not request.replace:
        raise ConflictError(
            "Another asset is this object's cover; send replace: true to replace it.",
            code="cover_taken",
            details={"asset_id": holder_asset, "attachment_id": holder_id},
        )
    return holder_id


def require_editable(release: Release) -> None:
    if not artwork_editable(release.lock_status):
        raise ConflictError(
            "The artwork of a locked release cannot change.",
            code="release_locked",
            details={"lock_status": release.lock_status},
        )


def made_for_release(asset: Asset) -> str | None:
    """The release an artwork upload (or a cover import) was made for: ``attach_to`` ``RELEASE#{id}#cover``."""
    target, _, role = (asset.attach_to or "").rpartition("#")
    return target.removeprefix("RELEASE#") if target.startswith("RELEASE#") and role == COVER_ROLE else None


def cover_release(attachment: MediaAttachment | None, asset: Asset, attachment_id: str) -> str | None:
    """The release whose cover ``attachment_id`` names, if it is one: an attachment item of a release's cover, or
    the id ``cover_attachment_id`` gives a cover an artwork upload set (no item)."""
    if attachment is not None:
        return attachment.owner_id if attachment.owner_type == "release" and attachment.role == COVER_ROLE else None
    release_id = made_for_release(asset)
    if release_id is not None and cover_attachment_id(release_id, asset.id) == attachment_id:
        return release_id
    return None


def cover_history(
    release: Release,
    actor: str,
    at: datetime,
    asset_id: str | None,
    previous: str | None,
    attachment_id: str,
    action: str,
) -> HistoryEntry:
    """The history entry of a cover change (``cover_changed`` like ingest's, or ``cover_removed``)."""
    return HistoryEntry(
        id=uuid.uuid4().hex,
        release_id=release.id,
        from_status=release.production_status,
        to_status=release.production_status,
        changed_by=actor,
        changed_at=at,
        metadata={
            "action": action,
            "asset_id": asset_id,
            "previous_asset_id": previous,
            "attachment_id": attachment_id,
        },
    )


def already_attached(attachment_id: str) -> ConflictError:
    return ConflictError(
        "The asset already fills this role of the object.",
        code="already_attached",
        details={"attachment_id": attachment_id},
    )


def attachment_not_found(attachment_id: str) -> NotFoundError:
    return NotFoundError(
        "No such attachment of this asset.", code="attachment_not_found", details={"attachment_id": attachment_id}
    )


def kept_changing() -> ConflictError:
    return ConflictError(
        f"The object kept changing during {ATTEMPTS} attempts; try again.", code="concurrent_modification"
    )
