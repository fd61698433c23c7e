"""Artwork routes: presigned uploads, upload state and the artwork view of a release."""

from __future__ import annotations

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.container import get_artwork_service
from chalicelib.models.api import CreateUploadRequest
from chalicelib.models.domain import UploadTicket
from chalicelib.models.jobs import Job
from chalicelib.models.views import ArtworkVersion, ArtworkView, UploadState

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


class ArtworkQuery(Query):
    """``GET /releases/{id}/artwork``: which ``version`` of the cover to show (default: the served one)."""

    version: ArtworkVersion | None = Field(
        default=None,
        description="`original` or `enhanced`; without it, the served version: the enhanced one when it exists and "
        "the owner prefers it (`prefer_ai_enhancement`), else the original.",
    )


@operation(
    bp,
    "GET",
    "/releases/{release_id}/artwork",
    tag="artwork",
    query=ArtworkQuery,
    answers=[Answer(200, ArtworkView)],
    errors=["release_not_found", "enhancement_not_found"],
)
def get_artwork(release_id: str, query: ArtworkQuery) -> Reply:
    """Read a release's artwork.

    Status, variants and original (presigned GETs), colours, placeholder, the last error, and the legacy URL while
    there is no uploaded cover. Of a cover with an enhanced version, the served one (``version``; ``upscaled`` when it
    is an upscale, with the model), or the one ``?version=`` names (404 ``enhancement_not_found`` for ``enhanced``
    without one); ``enhancement_job`` and ``enhancement_offered`` say where an enhancement stands.
    """
    return Reply(get_artwork_service().get_artwork(identity_of(bp.current_request), release_id, version=query.version))


@operation(
    bp,
    "POST",
    "/releases/{release_id}/artwork/enhance",
    tag="artwork",
    answers=[
        Answer(
            202,
            Job,
            description="The enhancement job is queued; `GET /jobs/{job_id}` and the artwork view follow it.",
            creates={"job_id": "$response.body#/id"},
        )
    ],
    errors=[
        "release_not_found",
        "release_locked",
        "cover_not_ready",
        "ai_not_allowed",
        "not_needed",
        "enhancement_in_progress",
        "queue_unavailable",
    ],
)
def enhance_artwork(release_id: str) -> Reply:
    """Enhance a release's cover.

    Starts an upscaling job (Real-ESRGAN ×4 on Replicate or locally, else plain resampling, as configured) for a ready
    cover whose short side is under 1400 px (409 ``not_needed`` otherwise). The result is ingested like an upload, so
    every variant up to ``large`` exists; the original is kept. 409 ``ai_not_allowed`` when the owner's preferences
    refuse it, ``enhancement_in_progress`` (``details.job_id``) while one is queued or running, ``release_locked`` for
    a locked release, ``cover_not_ready`` without a ready cover.
    """
    from chalicelib import container

    job = container.get_enhancement_service().request(identity_of(bp.current_request), release_id)
    return Reply(job, status=202)
