"""Attachment routes of the media library: attach an asset to an owner object, detach it, list an object's media.

The work happens in ``services/attachments.py`` (``AttachmentService``); these views parse, call it and serialise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.models.api import AttachMediaRequest
from chalicelib.models.views import MediaAttachmentView, OwnerMediaList

if TYPE_CHECKING:
    from chalicelib.services.attachments import AttachmentService

bp = Blueprint(__name__)

TAG = "media"
_OWNER_ERRORS = ["release_not_found", "track_not_found"]


def _service() -> AttachmentService:
    """The container's attachment service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_attachment_service()


@operation(
    bp,
    "POST",
    "/media/{asset_id}/attach",
    tag=TAG,
    body=AttachMediaRequest,
    answers=[Answer(201, MediaAttachmentView, creates={"attachment_id": "$response.body#/id"})],
    errors=[
        "media_not_found",
        *_OWNER_ERRORS,
        "cover_taken",
        "already_attached",
        "too_many_attachments",
        "release_locked",
        "asset_not_ready",
        "concurrent_modification",
    ],
)
def attach_media(asset_id: str, body: AttachMediaRequest) -> Reply:
    """Attach a media asset to an owner object.

    ``owner_type`` ``release`` or ``track`` (``{release_id}.{track_id}``) must name the caller's object; any other type
    (``scene``, ``character``…) is the caller's own namespace. One ``cover`` per object (409 ``cover_taken`` naming the
    holder unless ``replace`` is true); the other roles are lists ordered by ``sort_order`` (default: after the last).
    A release's cover must be a ready image; it becomes the release's artwork (``GET /releases/{id}/artwork``) with a
    history entry, and a locked release refuses it (409 ``release_locked``).
    """
    attachment = _service().attach(identity_of(bp.current_request), asset_id, body)
    return Reply(MediaAttachmentView.model_validate(attachment.model_dump()), status=201)


@operation(
    bp,
    "DELETE",
    "/media/{asset_id}/attachments/{attachment_id}",
    tag=TAG,
    answers=[Answer(204)],
    errors=["media_not_found", "attachment_not_found", "release_locked", "concurrent_modification"],
)
def detach_media(asset_id: str, attachment_id: str) -> Reply:
    """Detach a media asset from an owner object.

    The asset stays in the library. Detaching a release's cover leaves the release without artwork (a history entry
    records it); a locked release refuses (409 ``release_locked``).
    """
    _service().detach(identity_of(bp.current_request), asset_id, attachment_id)
    return Reply(status=204)


@operation(
    bp,
    "GET",
    "/owners/{owner_type}/{owner_id}/media",
    tag=TAG,
    answers=[Answer(200, OwnerMediaList)],
    errors=["invalid_owner", *_OWNER_ERRORS],
)
def list_owner_media(owner_type: str, owner_id: str) -> Reply:
    """List the media attached to an owner object.

    The cover first, then each role's attachments in ``sort_order``, each with its asset. A release's cover is its
    current artwork, also when an artwork upload set it.
    """
    return Reply(_service().owner_media(identity_of(bp.current_request), owner_type, owner_id))
