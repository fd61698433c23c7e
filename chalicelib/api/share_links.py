"""Share-link routes: the owner's ``/releases/{id}/share-links`` and the public ``/s/{token}`` routes, which serve
release links and, through ``services/media_share_links.py``, links to a media asset or a collection."""

from __future__ import annotations

from typing import Annotated, Any

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.config import get_settings
from chalicelib.container import get_media_share_link_service, get_share_link_service
from chalicelib.errors import NotFoundError
from chalicelib.models.api import CreateShareLinkRequest
from chalicelib.models.domain import SIZE_NAMES
from chalicelib.models.views import NewShareLink, PublicArtwork, ShareLinkList, ShareLinkView
from chalicelib.services.share_links import DOWNLOAD_FORMATS, check_download_choice

bp = Blueprint(__name__)

NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Referrer-Policy": "no-referrer", **NO_STORE}


class DownloadQuery(Query):
    """``GET /s/{token}/download``: ``asset``, ``size`` and ``format``. The service checks size and format, so that a
    wrong value answers ``invalid_size`` / ``invalid_format`` with the allowed values in ``details``; the document
    lists them as enums. ``asset``: the asset to download through a collection link (optional for an asset link,
    ignored for a release link)."""

    asset: Annotated[str, Field(max_length=64, pattern="^[A-Za-z0-9_-]+$")] | None = None
    size: Annotated[str, Field(json_schema_extra={"enum": list(SIZE_NAMES)})] | None = None
    format: Annotated[str, Field(json_schema_extra={"enum": list(DOWNLOAD_FORMATS)})] | None = None


def public_base(request: Any) -> str:
    """``public_base_url`` when set, else the scheme, host and API stage the request came through."""
    configured = get_settings().public_base_url
    if configured:
        return configured.rstrip("/")
    headers = request.headers
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "http")
    stage = request.context.get("stage")
    prefix = f"/{stage}" if stage and host.endswith("amazonaws.com") else ""
    return f"{scheme}://{host}{prefix}"


@operation(
    bp,
    "POST",
    "/releases/{release_id}/share-links",
    tag="share links",
    body=CreateShareLinkRequest,
    answers=[
        Answer(
            201,
            NewShareLink,
            creates={"token_id": "$response.body#/token_id", "token": "$response.body#/token"},
        )
    ],
    errors=["release_not_found", "invalid_expires_in"],
)
def create_share_link(release_id: str, body: CreateShareLinkRequest) -> Reply:
    """Create a share link.

    Valid ``expires_in`` seconds (60 s to 1 year, default 30 days). The ``token`` and the page ``url`` are shown only
    in this answer.
    """
    request = bp.current_request
    created = get_share_link_service().create(identity_of(request), release_id, expires_in=body.expires_in)
    url = f"{public_base(request)}/s/{created.token}"
    view = ShareLinkView.of(created.link)
    return Reply(NewShareLink(**view.model_dump(), token=created.token, url=url), status=201)


@operation(
    bp,
    "GET",
    "/releases/{release_id}/share-links",
    tag="share links",
    answers=[Answer(200, ShareLinkList)],
    errors=["release_not_found"],
)
def list_share_links(release_id: str) -> Reply:
    """List a release's share links.

    Active, expired and revoked, newest first, with download counts per size (never the tokens).
    """
    links = get_share_link_service().list(identity_of(bp.current_request), release_id)
    return Reply(ShareLinkList(items=[ShareLinkView.of(link) for link in links]))


@operation(
    bp,
    "DELETE",
    "/releases/{release_id}/share-links/{token_id}",
    tag="share links",
    answers=[Answer(204)],
    errors=["release_not_found", "share_link_not_found"],
)
def revoke_share_link(release_id: str, token_id: str) -> Reply:
    """Revoke a share link.

    Its page, listing and downloads answer 404 from now on.
    """
    get_share_link_service().revoke(identity_of(bp.current_request), release_id, token_id)
    return Reply(status=204)


@operation(
    bp,
    "GET",
    "/s/{token}",
    tag="public",
    auth="none",
    answers=[
        Answer(200, media_type="text/html", headers=("Cache-Control",), description="The share page."),
        Answer(404, media_type="text/html", headers=("Cache-Control",), description="Unknown, expired or revoked."),
    ],
)
def share_page(token: str) -> Reply:
    """The share page (HTML).

    A release link: title, artist, a preview, the palette and a size and format picker that downloads through
    ``/s/{token}/download``. An asset or collection link: each shown asset with its preview (a video plays) and its
    own pickers. An HTML 404 page for an unknown, expired or revoked link.
    """
    from chalicelib.web.share_page import render_media_page, render_not_found_page, render_share_page

    service = get_share_link_service()
    try:
        link = service.open_link(token)
        if link.target != "release":
            shared = get_media_share_link_service().page(link)
            page = render_media_page(token, shared.listing.model_dump(mode="json"), shared.previews)
            return Reply(page, headers=_PAGE_HEADERS)
        listing, preview = service.release_page(service.open_release(link))
    except NotFoundError:
        return Reply(render_not_found_page(), status=404, headers=_PAGE_HEADERS)
    page = render_share_page(token, listing.model_dump(mode="json"), preview)
    return Reply(page, headers=_PAGE_HEADERS)


@operation(
    bp,
    "GET",
    "/s/{token}/artwork",
    tag="public",
    auth="none",
    answers=[Answer(200, PublicArtwork, headers=("Cache-Control",))],
    errors=["share_link_not_found"],
)
def public_artwork(token: str) -> Reply:
    """What a share link shows (JSON).

    Title, artist, colours, placeholder and every size that exists with its px and download formats.
    """
    return Reply(get_share_link_service().public_artwork(token), headers=NO_STORE)


@operation(
    bp,
    "GET",
    "/s/{token}/download",
    tag="public",
    auth="none",
    query=DownloadQuery,
    answers=[Answer(302, headers=("Location", "Cache-Control"), description="A presigned GET of the image.")],
    errors=[
        "share_link_not_found",
        "invalid_size",
        "invalid_format",
        "asset_required",
        "media_not_found",
        "artwork_not_ready",
        "size_not_available",
        "format_not_available",
    ],
)
def public_download(token: str, query: DownloadQuery) -> Reply:
    """Download the shared artwork or media.

    302 to a presigned GET of ``size`` (default: large when it exists, else the largest) in ``format`` (default: the
    stored one; another is the image made at ingest, else 404 ``format_not_available``), as an attachment. Through
    a collection link ``asset`` names the asset (400 ``asset_required`` without it; 404 ``media_not_found`` for one
    the link does not show, a private one included); a video downloads as stored (``original``).
    """
    check_download_choice(query.size, query.format)
    service = get_share_link_service()
    link = service.open_link(token)
    if link.target == "release":
        url = service.release_download_url(service.open_release(link), size=query.size, fmt=query.format)
    else:
        media = get_media_share_link_service()
        url = media.download_url(link, asset_id=query.asset, size=query.size, fmt=query.format)
    return Reply(status=302, headers={"Location": url, **NO_STORE})
