"""Share-link routes: the owner's ``/releases/{id}/share-links`` and the public ``/s/{token}`` routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api.responses import identity_of, json_response, parse_body, route
from chalicelib.config import get_settings
from chalicelib.container import get_share_link_service
from chalicelib.models.api import CreateShareLinkRequest
from chalicelib.models.domain import ShareLink

bp = Blueprint(__name__)


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


def share_link_body(link: ShareLink) -> dict[str, Any]:
    """A share link without its token (the token is shown once, at creation)."""
    return {
        "token_id": link.token_id,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "downloads": link.downloads,
    }


@route(bp, "/releases/{release_id}/share-links", methods=["POST"])
def create_share_link(release_id: str) -> object:
    """201 ``{"token", "url", "token_id", "expires_at", …}``."""
    request = bp.current_request
    body = parse_body(request, CreateShareLinkRequest)
    created = get_share_link_service().create(identity_of(request), release_id, expires_in=body.expires_in)
    url = f"{_public_base(request)}/s/{created.token}"
    return json_response({**share_link_body(created.link), "token": created.token, "url": url}, status=201)


@route(bp, "/releases/{release_id}/share-links", methods=["GET"])
def list_share_links(release_id: str) -> object:
    """``{"items": [...]}``: every share link of the release with download counts per size."""
    links = get_share_link_service().list(identity_of(bp.current_request), release_id)
    return json_response({"items": [share_link_body(link) for link in links]})


@route(bp, "/releases/{release_id}/share-links/{token_id}", methods=["DELETE"])
def revoke_share_link(release_id: str, token_id: str) -> object:
    """204: the link answers 404 from now on."""
    get_share_link_service().revoke(identity_of(bp.current_request), release_id, token_id)
    return Response(body="", status_code=204)


@bp.route("/s/{token}", methods=["GET"])
def share_page(token: str) -> object:
    """Public: the HTML share page with a size/format picker (an HTML 404 page for a dead link)."""
    from chalicelib.errors import NotFoundError
    from chalicelib.web.share_page import render_not_found_page, render_share_page

    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    try:
        listing, preview = get_share_link_service().share_page(token)
    except NotFoundError:
        return Response(body=render_not_found_page(), status_code=404, headers=headers)
    return Response(body=render_share_page(token, listing, preview), status_code=200, headers=headers)


@route(bp, "/s/{token}/artwork", methods=["GET"])
def public_artwork(token: str) -> object:
    """Public: the sizes, formats and colours of the shared artwork."""
    return json_response(get_share_link_service().public_artwork(token), headers={"Cache-Control": "no-store"})


@route(bp, "/s/{token}/download", methods=["GET"])
def public_download(token: str) -> object:
    """Public: 302 to a presigned GET of ``?size=`` (default: large when it exists, else the largest) in ``?format=``
    (default: the stored one; another is the pre-made derived image, else 404 ``format_not_available``)."""
    params: Mapping[str, str] = bp.current_request.query_params or {}
    url = get_share_link_service().download_url(token, size=params.get("size"), fmt=params.get("format"))
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})
