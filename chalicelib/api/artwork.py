"""Artwork routes: presigned uploads, upload state and the artwork view of a release."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.container import get_artwork_service
from chalicelib.models.api import CreateUploadRequest
from chalicelib.models.domain import UploadTicket
from chalicelib.models.views import ArtworkView, UploadState

bp = Blueprint(__name__)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/artwork/uploads",
    tag="artwork",
    body=CreateUploadRequest,
    answers=[Answer(201, UploadTicket, creates={"upload_id": "$response.body#/upload_id"})],
    errors=["release_not_found", "release_locked", "unsupported_media_type", "invalid_content_length", "too_large"],
)
def create_upload(release_id: str, body: CreateUploadRequest) -> Reply:
    """Start a cover upload.

    A presigned POST: the browser posts ``fields`` plus the file (JPEG, PNG or WebP) straight to ``url``; the ingest
    worker then validates the bytes and makes the variants.
    """
    ticket = get_artwork_service().create_upload(
        identity_of(bp.current_request),
        release_id,
        content_type=body.content_type,
        content_length=body.content_length,
        filename=body.filename,
    )
    return Reply(ticket, status=201)


@operation(
    bp,
    "GET",
    "/releases/{release_id}/artwork/uploads/{upload_id}",
    tag="artwork",
    answers=[Answer(200, UploadState)],
    errors=["release_not_found", "upload_not_found"],
)
def get_upload(release_id: str, upload_id: str) -> Reply:
    """Read an upload's state.

    ``pending`` until the file arrives, ``processing``, then ``ready`` or ``failed`` with the reason.
    """
    asset = get_artwork_service().get_upload(identity_of(bp.current_request), release_id, upload_id)
    return Reply(
        UploadState(
            upload_id=asset.id,
            status=asset.status,
            error=asset.error,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
        )
    )


@operation(
    bp,
    "GET",
    "/releases/{release_id}/artwork",
    tag="artwork",
    answers=[Answer(200, ArtworkView)],
    errors=["release_not_found"],
)
def get_artwork(release_id: str) -> Reply:
    """Read a release's artwork.

    Status, variants and original (presigned GETs), colours, placeholder, the last error, and the legacy URL while
    there is no uploaded cover.
    """
    return Reply(get_artwork_service().get_artwork(identity_of(bp.current_request), release_id))
