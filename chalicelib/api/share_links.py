"""Share-link routes: the owner's ``/releases/{id}/share-links`` and the public ``/s/{token}`` routes."""

from __future__ import annotations

from typing import Annotated, Any

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.config import get_settings
from chalicelib.container import get_share_link_service
from chalicelib.errors import NotFoundError
from chalicelib.models.api import CreateShareLinkRequest
from chalicelib.models.domain import SIZE_NAMES
from chalicelib.models.views import NewShareLink, PublicArtwork, ShareLinkList, ShareLinkView
from chalicelib.services.share_links import DOWNLOAD_FORMATS

bp = Blueprint(__name__)

_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Referrer-Policy": "no-referrer", **_NO_STORE}


class DownloadQuery(Query):
    """``GET /s/{token}/download``: ``size`` and ``format``. The service checks them, so that a wrong value answers
    ``invalid_size`` / ``invalid_format`` with the allowed values in ``details``; the document lists them as enums."""

    size: Annotated[str, Field(json_schema_extra={"enum": list(SIZE_NAMES)})] | None = None
    format: Annotated[str, Field(json_schema_extra={"enum": list(DOWNLOAD_FORMATS)})] | None = None


def _public_base(request: Any) -> str:
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
    url = f"{_public_base(request)}/s/{created.token}"
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

    Title, artist, a preview, the palette and a size and format picker that downloads through ``/s/{token}/download``;
    an HTML 404 page for an unknown, expired or revoked link.
    """
    from chalicelib.web.share_page import render_not_found_page, render_share_page

    try:
        listing, preview = get_share_link_service().share_page(token)
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
    return Reply(get_share_link_service().public_artwork(token), headers=_NO_STORE)


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
        "artwork_not_ready",
        "size_not_available",
        "format_not_available",
    ],
)
def public_download(token: str, query: DownloadQuery) -> Reply:
    """Download the shared artwork.

    302 to a presigned GET of ``size`` (default: large when it exists, else the largest) in ``format`` (default: the
    stored one; another is the image made at ingest, else 404 ``format_not_available``), as an attachment.
    """
    url = get_share_link_service().download_url(token, size=query.size, fmt=query.format)
    return Reply(status=302, headers={"Location": url, **_NO_STORE})
