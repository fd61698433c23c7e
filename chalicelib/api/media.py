"""Media library routes: uploads, assets from metadata, the caller's library, one asset (read, edit, delete) and bulk
actions. The work happens in ``services/media.py`` (``MediaService``); assets are rendered by
``services/media_views.py`` (``MediaViews``), as everywhere else in the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.releases import Cursor, Limit
from chalicelib.api.responses import identity_of
from chalicelib.models.api import (
    BulkMediaRequest,
    CreateMediaRequest,
    CreateMediaUploadRequest,
    Tag,
    UpdateMediaRequest,
)
from chalicelib.models.media import MediaSource, MediaType, Visibility
from chalicelib.models.views import BulkMediaResult, MediaAssetView, MediaPage, MediaUploadTicket

if TYPE_CHECKING:
    from chalicelib.services.media import MediaService
    from chalicelib.services.media_views import MediaViews

bp = Blueprint(__name__)

TAG = "media"
#: The answer of the routes that return one asset; a created one links to every route taking ``asset_id``.
ASSET = Answer(200, MediaAssetView)
_UPLOAD_ERRORS = ["unsupported_media_type", "invalid_content_length", "too_large", "name_parts_incomplete"]


class ListMediaQuery(Query):
    """``GET /media``: optional ``type``, ``source``, ``tag`` and ``visibility`` filters, ``limit`` (1..100, default
    20) and ``cursor``."""

    type: MediaType | None = Field(default=None, description="`image` or `video`.")
    source: MediaSource | None = Field(default=None, description="Where the assets came from.")
    tag: Tag | None = Field(default=None, description="Only assets with this tag (case- and accent-insensitive).")
    visibility: Visibility | None = Field(default=None, description="`private`, `shared` or `public`.")
    limit: Limit = 20
    cursor: Cursor | None = None


def _service() -> MediaService:
    """The container's media service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_media_service()


def _views() -> MediaViews:
    from chalicelib import container

    return container.get_media_views()


@operation(
    bp,
    "POST",
    "/media/uploads",
    tag=TAG,
    body=CreateMediaUploadRequest,
    answers=[Answer(201, MediaUploadTicket, creates={"asset_id": "$response.body#/asset_id"})],
    errors=_UPLOAD_ERRORS,
)
def create_media_upload(body: CreateMediaUploadRequest) -> Reply:
    """Start an upload into the library.

    A presigned POST for one image (JPEG, PNG, WebP; at most `upload_max_bytes`) or video (MP4, WebM, QuickTime; at
    most `video_max_bytes`), with the rules of artwork uploads: exactly the key `uploads/{owner}/{asset_id}`, exactly
    the declared Content-Type, 1 to `max_bytes` bytes, valid `upload_url_ttl_s`. The asset is `pending` at once with
    the fields sent (`layer`, `category` and `subcategory` together give it a generated `name`); the ingest worker
    checks the bytes and makes it `ready` or `failed`.
    """
    return Reply(_service().create_upload(identity_of(bp.current_request), body), status=201)


@operation(
    bp,
    "POST",
    "/media",
    tag=TAG,
    body=CreateMediaRequest,
    answers=[Answer(201, MediaAssetView, creates={"asset_id": "$response.body#/id"})],
    errors=["name_parts_incomplete", "url_not_allowed", "queue_unavailable"],
)
def create_media(body: CreateMediaRequest) -> Reply:
    """Create an asset from metadata alone.

    The asset is `ready` with no bytes: what the creator typed (`creator_description`, kept verbatim), a generated
    `name`, tags, music or AI metadata. With `album_art.source_url` the image is imported into the library (as
    `POST /media/imports` does; 422 `url_not_allowed` for an address Sleeve may not fetch) and `album_art.asset_id`
    names the imported asset at once; its type, bytes and size are filled in once it is ready.
    """
    asset = _service().create(identity_of(bp.current_request), body)
    return Reply(_views().view(asset), status=201)


@operation(
    bp,
    "GET",
    "/media",
    tag=TAG,
    query=ListMediaQuery,
    answers=[Answer(200, MediaPage)],
    errors=["invalid_cursor"],
)
def list_media(query: ListMediaQuery) -> Reply:
    """List the caller's library.

    Newest first, optionally only one `type`, `source`, `tag` or `visibility`. Each item carries its delivery URLs
    (presigned GETs; stable CDN URLs for `public` assets where a CDN is configured). A page holds `limit` items while
    more exist, except when a filter matched few of the items read (at most 10 reads per request): only a null
    `next_cursor` ends the list. Assets made before the library's type and source indexes appear in the `type` and
    `source` lists once the backfill has run.
    """
    page = _service().list_media(
        identity_of(bp.current_request),
        kind=query.type,
        source=query.source,
        tag=query.tag,
        visibility=query.visibility,
        limit=query.limit,
        cursor=query.cursor,
    )
    views = _views()
    return Reply(MediaPage(items=[views.view(asset) for asset in page.items], next_cursor=page.next_cursor))


@operation(bp, "GET", "/media/{asset_id}", tag=TAG, answers=[ASSET], errors=["media_not_found"])
def get_media(asset_id: str) -> Reply:
    """Read a media asset.

    Its state, fields and delivery URLs: the original first, then the variants (tiny to large for an image, the
    poster for a video). Another owner's asset answers 404 `media_not_found` like an unknown one.
    """
    return Reply(_views().view(_service().get(identity_of(bp.current_request), asset_id)))


@operation(
    bp,
    "PATCH",
    "/media/{asset_id}",
    tag=TAG,
    body=UpdateMediaRequest,
    answers=[ASSET],
    errors=["media_not_found", "name_parts_incomplete", "name_already_assigned", "concurrent_modification"],
)
def update_media(asset_id: str, body: UpdateMediaRequest) -> Reply:
    """Edit a media asset.

    Only the fields sent change; `null` clears one (`visibility: null` makes the asset private). The creator's
    `creator_description` is stored exactly as sent. `layer`, `category` and `subcategory` together name an asset
    that has no name yet (409 `name_already_assigned` otherwise).
    """
    return Reply(_views().view(_service().update(identity_of(bp.current_request), asset_id, body)))


@operation(bp, "DELETE", "/media/{asset_id}", tag=TAG, answers=[Answer(204)], errors=["media_not_found"])
def delete_media(asset_id: str) -> Reply:
    """Delete a media asset.

    Removes its record, variants, S3 objects, attachments and search entries (and its enhanced version, if any). The
    asset leaves every list at once; a delete interrupted half-way is finished by sending it again.
    """
    _service().delete(identity_of(bp.current_request), asset_id)
    return Reply(status=204)


@operation(
    bp,
    "POST",
    "/media/bulk",
    tag=TAG,
    body=BulkMediaRequest,
    answers=[Answer(200, BulkMediaResult)],
    errors=["bulk_value_required", "invalid_visibility"],
)
def bulk_media(body: BulkMediaRequest) -> Reply:
    """Act on many media assets.

    One `action` (`delete`, `tag`, `untag`, `set_visibility`) on up to 100 `ids`. Each id is handled as its own
    request would be; those that fail are listed in `failed` with that request's error code (`media_not_found` for
    an unknown or another owner's id) and do not stop the others. `value` is the tag, or the visibility.
    """
    return Reply(_service().bulk(identity_of(bp.current_request), body))
