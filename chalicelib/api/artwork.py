"""Artwork routes: presigned uploads, upload state and the artwork view of a release."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.responses import identity_of, json_response, parse_body, route
from chalicelib.container import get_artwork_service
from chalicelib.models.api import CreateUploadRequest
from chalicelib.models.domain import Asset

bp = Blueprint(__name__)


def upload_body(asset: Asset) -> dict[str, Any]:
    """The state of one upload: ``{"upload_id", "status", "error", "created_at", "updated_at"}``."""
    return {
        "upload_id": asset.id,
        "status": asset.status,
        "error": asset.error.model_dump() if asset.error else None,
        "created_at": asset.created_at.isoformat(),
        "updated_at": asset.updated_at.isoformat(),
    }


@route(bp, "/releases/{release_id}/artwork/uploads", methods=["POST"])
def create_upload(release_id: str) -> object:
    """201 ``{"upload_id", "url", "fields", "expires_at", "max_bytes"}``: a presigned POST for the cover."""
    request = bp.current_request
    body = parse_body(request, CreateUploadRequest)
    ticket = get_artwork_service().create_upload(
        identity_of(request),
        release_id,
        content_type=body.content_type,
        content_length=body.content_length,
        filename=body.filename,
    )
    return json_response(ticket, status=201)


@route(bp, "/releases/{release_id}/artwork/uploads/{upload_id}", methods=["GET"])
def get_upload(release_id: str, upload_id: str) -> object:
    """The state of one upload."""
    asset = get_artwork_service().get_upload(identity_of(bp.current_request), release_id, upload_id)
    return json_response(upload_body(asset))


@route(bp, "/releases/{release_id}/artwork", methods=["GET"])
def get_artwork(release_id: str) -> object:
    """The artwork view: status, variants, original, colours, placeholder, error, fallback URL."""
    return json_response(get_artwork_service().get_artwork(identity_of(bp.current_request), release_id))
