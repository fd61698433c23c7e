"""Share links of media: the owner's ``/media/{asset_id}/share-links`` and
``/owners/{owner_type}/{owner_id}/share-links`` routes, and the public JSON listing ``/s/{token}/media`` (the page and
downloads are ``api/share_links.py``'s)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.api.share_links import NO_STORE, public_base
from chalicelib.container import get_media_share_link_service, get_share_link_service
from chalicelib.models.api import CreateShareLinkRequest
from chalicelib.models.views import NewShareLink, SharedMedia, ShareLinkList, ShareLinkView
from chalicelib.services.share_links import NewShareLink as CreatedLink

bp = Blueprint(__name__)

_CREATE_ERRORS = ["invalid_expires_in"]
_ASSET_ERRORS = ["media_not_found"]
_OWNER_ERRORS = ["invalid_owner", "release_not_found", "track_not_found"]


def _created(created: CreatedLink) -> Reply:
    url = f"{public_base(bp.current_request)}/s/{created.token}"
    view = ShareLinkView.of(created.link)
    return Reply(NewShareLink(**view.model_dump(), token=created.token, url=url), status=201)


@operation(
    bp,
    "POST",
    "/media/{asset_id}/share-links",
    tag="share links",
    body=CreateShareLinkRequest,
    answers=[
        Answer(201, NewShareLink, creates={"token_id": "$response.body#/token_id", "token": "$response.body#/token"})
    ],
    errors=[*_ASSET_ERRORS, *_CREATE_ERRORS, "media_private"],
)
def create_media_share_link(asset_id: str, body: CreateShareLinkRequest) -> Reply:
    """Create a share link to a media asset.

    Only a ``shared`` or ``public`` asset may be shared: a ``private`` one answers 409 ``media_private``. Valid
    ``expires_in`` seconds (60 s to 1 year, default 30 days); the ``token`` and page ``url`` are shown only in this
    answer. If the asset is made private later, the link opens nothing (404) until it is shared again.
    """
    service = get_media_share_link_service()
    return _created(service.create_for_asset(identity_of(bp.current_request), asset_id, expires_in=body.expires_in))


@operation(
    bp,
    "GET",
    "/media/{asset_id}/share-links",
    tag="share links",
    answers=[Answer(200, ShareLinkList)],
    errors=_ASSET_ERRORS,
)
def list_media_share_links(asset_id: str) -> Reply:
    """List a media asset's share links.

    Active, expired and revoked, newest first, with download counts per size (never the tokens).
    """
    links = get_media_share_link_service().list_for_asset(identity_of(bp.current_request), asset_id)
    return Reply(ShareLinkList(items=[ShareLinkView.of(link) for link in links]))


@operation(
    bp,
    "DELETE",
    "/media/{asset_id}/share-links/{token_id}",
    tag="share links",
    answers=[Answer(204)],
    errors=[*_ASSET_ERRORS, "share_link_not_found"],
)
def revoke_media_share_link(asset_id: str, token_id: str) -> Reply:
    """Revoke a media asset's share link.

    Its page, listing and downloads answer 404 from now on.
    """
    get_media_share_link_service().revoke_for_asset(identity_of(bp.current_request), asset_id, token_id)
    return Reply(status=204)


@operation(
    bp,
    "POST",
    "/owners/{owner_type}/{owner_id}/share-links",
    tag="share links",
    body=CreateShareLinkRequest,
    answers=[
        Answer(201, NewShareLink, creates={"token_id": "$response.body#/token_id", "token": "$response.body#/token"})
    ],
    errors=[*_OWNER_ERRORS, *_CREATE_ERRORS],
)
def create_collection_share_link(owner_type: str, owner_id: str, body: CreateShareLinkRequest) -> Reply:
    """Create a share link to a collection: the media attached to an owner object.

    The page shows the object's ``shared`` and ``public`` assets as they are when it is opened (the cover first, then
    each role in order); ``private`` ones are left out. A release or track must be the caller's; any other owner type
    is the caller's own namespace. The ``token`` and page ``url`` are shown only in this answer.
    """
    service = get_media_share_link_service()
    created = service.create_for_collection(
        identity_of(bp.current_request), owner_type, owner_id, expires_in=body.expires_in
    )
    return _created(created)


@operation(
    bp,
    "GET",
    "/owners/{owner_type}/{owner_id}/share-links",
    tag="share links",
    answers=[Answer(200, ShareLinkList)],
    errors=_OWNER_ERRORS,
)
def list_collection_share_links(owner_type: str, owner_id: str) -> Reply:
    """List a collection's share links.

    Active, expired and revoked, newest first, with download counts per size (never the tokens).
    """
    service = get_media_share_link_service()
    links = service.list_for_collection(identity_of(bp.current_request), owner_type, owner_id)
    return Reply(ShareLinkList(items=[ShareLinkView.of(link) for link in links]))


@operation(
    bp,
    "DELETE",
    "/owners/{owner_type}/{owner_id}/share-links/{token_id}",
    tag="share links",
    answers=[Answer(204)],
    errors=[*_OWNER_ERRORS, "share_link_not_found"],
)
def revoke_collection_share_link(owner_type: str, owner_id: str, token_id: str) -> Reply:
    """Revoke a collection's share link.

    Its page, listing and downloads answer 404 from now on.
    """
    service = get_media_share_link_service()
    service.revoke_for_collection(identity_of(bp.current_request), owner_type, owner_id, token_id)
    return Reply(status=204)


@operation(
    bp,
    "GET",
    "/s/{token}/media",
    tag="public",
    auth="none",
    answers=[Answer(200, SharedMedia, headers=("Cache-Control",))],
    errors=["share_link_not_found"],
)
def public_media(token: str) -> Reply:
    """What an asset or collection link shows (JSON).

    Each shown asset's id, type, title, px, colours, placeholder and every size it downloads in with its formats; no
    keys, URLs or owner ids. A release link answers 404 here (its listing is ``/s/{token}/artwork``).
    """
    link = get_share_link_service().open_link(token)
    return Reply(get_media_share_link_service().listing(link), headers=NO_STORE)
