"""Share links of a media asset or a collection (an owner object's attached media): creation, listing, revocation,
what the public page and ``GET /s/{token}/media`` show, and downloads.

Tokens, lifetimes and the one 404 of a dead link are the release links' (``services/share_links.py``). Visibility
rules (README "Delivery"):
- only ``shared`` and ``public`` assets are reachable through a link; a ``private`` asset is refused at creation
  (409 ``media_private``), and a link whose asset was made private afterwards opens nothing (the same 404 as a
  revoked link) until the asset is shared again;
- a collection link shows the collection's ``shared`` and ``public`` assets as they are when the page is opened: a
  ``private`` one is left out (and its download answers ``media_not_found``, as an asset outside the collection);
- an asset whose delete is under way (``deleted_at``) is never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.config import Settings
from chalicelib.errors import ConflictError, InvalidError, NotFoundError
from chalicelib.models.domain import Asset, Identity, ShareLink
from chalicelib.models.views import SharedMedia, SharedMediaItem, SizeOffer
from chalicelib.services.filenames import clean_filename, content_disposition
from chalicelib.services.share_links import (
    DOWNLOAD_FORMATS,
    NewShareLink,
    available_formats,
    common_formats,
    default_size,
    largest_size,
    link_ttl,
    mint_token,
    pick_image,
    share_link_not_found,
    sizes_of,
)
from chalicelib.store.dynamo import utcnow
from chalicelib.store.objects import ObjectStore
from chalicelib.store.share_links import ShareLinkRepository, asset_shares, collection_shares

#: Visibilities a share link may reach.
SHAREABLE = frozenset({"shared", "public"})


class AssetReader(Protocol):
    """Reads asset records (``store.assets.AssetRepository``)."""

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None."""
        ...


class CollectionReader(Protocol):
    """An owner object's attached media (P2's attachments), as a share link needs them."""

    def check_object(self, identity: Identity, owner_type: str, owner_id: str) -> None:
        """Raise the owner type's 404 (``release_not_found``, ``track_not_found``) when a known object is not the
        caller's; nothing for a client's own types (namespaced by the caller)."""
        ...

    def members(self, identity: Identity, owner_type: str, owner_id: str) -> list[Asset]:
        """The object's attached assets, the cover first then each role in ``sort_order`` (each asset once)."""
        ...


class DeliveryUrls(Protocol):
    """``services.media_views.MediaViews.delivery_url``: a presigned GET, or a stable CDN URL for a public asset."""

    def delivery_url(self, asset: Asset, key: str) -> tuple[str, datetime | None]:
        """``(url, expires_at)`` of the object at ``key`` of ``asset``."""
        ...


def _media_not_found(asset_id: str | None) -> NotFoundError:
    return NotFoundError("No such media asset.", code="media_not_found", details={"id": asset_id})


def reachable(asset: Asset | None, owner_id: str) -> bool:
    """True for an asset of ``owner_id`` that a share link may show: ``shared`` or ``public``, not being deleted."""
    return (
        asset is not None and asset.owner_id == owner_id and asset.deleted_at is None and asset.visibility in SHAREABLE
    )


def _title(asset: Asset) -> str:
    """What a download's filename and the page call an asset: its title, else its generated name, else its
    filename without extension, else ``media``."""
    if asset.title:
        return asset.title
    if asset.name:
        return asset.name
    if asset.filename:
        return asset.filename.rsplit(".", 1)[0] or "media"
    return "media"


def shared_item(asset: Asset) -> SharedMediaItem:
    """What a link shows of ``asset`` (``SharedMediaItem``): sizes only once it is ready."""
    item = SharedMediaItem(
        id=asset.id,
        type=asset.kind,
        title=asset.title or asset.name,
        width=None,
        height=None,
        sizes=[],
        formats=[],
        default_size=None,
        dominant_color=None,
        palette=[],
        placeholder=None,
    )
    if asset.status != "ready":
        return item
    if asset.video is not None:
        video = asset.video
        offer = SizeOffer(
            size="original", width=video.width or 0, height=video.height or 0, stored_format=video.container, formats=[]
        )
        return item.model_copy(
            update={
                "width": video.width,
                "height": video.height,
                "duration_ms": video.duration_ms,
                "sizes": [offer],
                "default_size": "original",
            }
        )
    media = asset.media
    if media is None:
        return item
    sizes = [
        SizeOffer(
            size=size,  # type: ignore[arg-type]
            width=image.width,
            height=image.height,
            stored_format=image.format,
            formats=available_formats(media, size),  # type: ignore[arg-type]
        )
        for size, image in sizes_of(media).items()
    ]
    return item.model_copy(
        update={
            "width": media.original.width,
            "height": media.original.height,
            "sizes": sizes,
            "formats": common_formats(media),
            "default_size": default_size(media),
            "dominant_color": media.dominant_color,
            "palette": media.palette,
            "placeholder": media.placeholder,
        }
    )


@dataclass(frozen=True)
class SharedMediaPage:
    """The public listing of an asset or collection link and each item's preview (``{"url", "width", "height",
    "video_url"?}`` by asset id: the medium variant, else the largest image; a video's poster and its file)."""

    listing: SharedMedia
    previews: dict[str, dict[str, Any]]


class MediaShareLinkService:
    """Share links of media assets and collections; the public listing, page and downloads of those links."""

    def __init__(
        self,
        *,
        settings: Settings,
        assets: AssetReader,
        collections: Callable[[], CollectionReader],
        links: ShareLinkRepository,
        objects: ObjectStore,
        views: Callable[[], DeliveryUrls],
    ) -> None:
        self._settings = settings
        self._assets = assets
        self._collections = collections
        self._links = links
        self._objects = objects
        self._views = views

    # -- the owner's side --------------------------------------------------------------------------------------------

    def _own_asset(self, identity: Identity, asset_id: str) -> Asset:
        """The caller's asset (not being deleted); ``media_not_found`` (404) otherwise, another owner's included."""
        asset = self._assets.get(asset_id)
        if asset is None or asset.owner_id != identity.subject or asset.deleted_at is not None:
            raise _media_not_found(asset_id)
        return asset

    def create_for_asset(self, identity: Identity, asset_id: str, *, expires_in: int | None) -> NewShareLink:
        """A link to the caller's asset, valid ``expires_in`` s (``link_ttl``).

        Raises ``NotFoundError`` (``media_not_found``), ``ConflictError`` (``media_private``, 409: a private asset is
        refused; make it ``shared`` or ``public`` first), ``InvalidError`` (``invalid_expires_in``).
        """
        asset = self._own_asset(identity, asset_id)
        ttl = link_ttl(self._settings, expires_in)
        if asset.visibility not in SHAREABLE:
            raise ConflictError(
                "A private asset cannot be shared: set its visibility to shared or public first.",
                code="media_private",
                details={"id": asset.id, "visibility": asset.visibility},
            )
        return self._create(identity, ttl, target="asset", asset_id=asset.id)

    def list_for_asset(self, identity: Identity, asset_id: str) -> list[ShareLink]:
        """The caller's asset's links (active, expired, revoked), newest first, with download counts."""
        asset = self._own_asset(identity, asset_id)
        return self._links.list_in(asset_shares(asset.id))

    def revoke_for_asset(self, identity: Identity, asset_id: str, token_id: str) -> None:
        """Revoke one of the asset's links; ``share_link_not_found`` if it is not one of them."""
        asset = self._own_asset(identity, asset_id)
        self._revoke(token_id, lambda link: link.target == "asset" and link.asset_id == asset.id)

    def create_for_collection(
        self, identity: Identity, owner_type: str, owner_id: str, *, expires_in: int | None
    ) -> NewShareLink:
        """A link to the media attached to the caller's ``owner_type``/``owner_id``, valid ``expires_in`` s.

        A known owner type (release, track) must be the caller's object (its 404 otherwise); a client's own type is
        the caller's namespace, so any id is accepted (an empty collection shows no items). Members are read when
        the link is opened, so media attached later show too.
        """
        ttl = link_ttl(self._settings, expires_in)
        self._collections().check_object(identity, owner_type, owner_id)
        return self._create(identity, ttl, target="collection", collection_type=owner_type, collection_id=owner_id)

    def list_for_collection(self, identity: Identity, owner_type: str, owner_id: str) -> list[ShareLink]:
        """The collection's links, newest first, with download counts."""
        self._collections().check_object(identity, owner_type, owner_id)
        return self._links.list_in(collection_shares(identity.subject, owner_type, owner_id))

    def revoke_for_collection(self, identity: Identity, owner_type: str, owner_id: str, token_id: str) -> None:
        """Revoke one of the collection's links; ``share_link_not_found`` if it is not one of them."""
        self._collections().check_object(identity, owner_type, owner_id)
        self._revoke(
            token_id,
            lambda link: (
                link.target == "collection"
                and link.owner_id == identity.subject
                and (link.collection_type, link.collection_id) == (owner_type, owner_id)
            ),
        )

    def _create(self, identity: Identity, ttl: int, **target: Any) -> NewShareLink:
        token_id, secret, secret_sha256 = mint_token()
        link = self._links.create(
            token_id=token_id,
            secret_sha256=secret_sha256,
            owner_id=identity.subject,
            expires_at=utcnow() + timedelta(seconds=ttl),
            **target,
        )
        return NewShareLink(link=link, token=f"{token_id}.{secret}")

    def _revoke(self, token_id: str, belongs: Callable[[ShareLink], bool]) -> None:
        found = self._links.get_with_hash(token_id)
        if found is None or not belongs(found[0]):
            raise share_link_not_found()
        self._links.revoke(token_id)

    # -- the visitor's side ------------------------------------------------------------------------------------------

    def shown(self, link: ShareLink) -> list[Asset]:
        """The assets an open asset or collection link shows (see the module's visibility rules).

        Raises ``NotFoundError`` (``share_link_not_found``) for a release link, for an asset link whose asset is
        gone, being deleted or private, and for a collection link whose release or track is gone.
        """
        if link.target == "asset":
            asset = self._assets.get(link.asset_id or "")
            if asset is None or not reachable(asset, link.owner_id):
                raise share_link_not_found()
            return [asset]
        if link.target == "collection" and link.collection_type and link.collection_id:
            try:
                members = self._collections().members(
                    Identity(subject=link.owner_id), link.collection_type, link.collection_id
                )
            except NotFoundError as exc:
                # The release or track was deleted: the link opens nothing, with the one dead-link answer.
                raise share_link_not_found() from exc
            return [asset for asset in members if reachable(asset, link.owner_id)]
        raise share_link_not_found()

    def listing(self, link: ShareLink, assets: list[Asset] | None = None) -> SharedMedia:
        """``GET /s/{token}/media``: what the link shows (``SharedMedia``)."""
        shown = self.shown(link) if assets is None else assets
        return SharedMedia(
            target="asset" if link.target == "asset" else "collection",
            expires_at=link.expires_at,
            items=[shared_item(asset) for asset in shown],
        )

    def page(self, link: ShareLink) -> SharedMediaPage:
        """The listing and a preview per ready item for the share page. URLs follow the delivery rule (a public
        asset's CDN URL when ``SLEEVE_MEDIA_PUBLIC_BASE_URL`` is set, else presigned GETs); viewing is not counted."""
        shown = self.shown(link)
        views = self._views()
        previews: dict[str, dict[str, Any]] = {}
        for asset in shown:
            if asset.status != "ready":
                continue
            if asset.video is not None:
                video_url, _ = views.delivery_url(asset, asset.video.original.key)
                preview: dict[str, Any] = {"video_url": video_url, "url": None, "width": None, "height": None}
                if asset.video.poster:
                    poster = asset.video.poster
                    preview.update(
                        url=views.delivery_url(asset, str(poster["key"]))[0],
                        width=poster.get("width"),
                        height=poster.get("height"),
                    )
                previews[asset.id] = preview
            elif asset.media is not None:
                media = asset.media
                image = media.variants.get("medium") or sizes_of(media)[largest_size(media)]
                url, _ = views.delivery_url(asset, image.key)
                previews[asset.id] = {"url": url, "width": image.width, "height": image.height}
        return SharedMediaPage(listing=self.listing(link, shown), previews=previews)

    def download_url(self, link: ShareLink, *, asset_id: str | None, size: str | None, fmt: str | None) -> str:
        """A presigned GET (≤ ``download_url_ttl_s``) of one shown asset in ``size`` and ``fmt``, as an attachment.

        ``asset_id``: optional for an asset link (must be its asset), required for a collection link (400
        ``asset_required``); an asset the link does not show answers 404 ``media_not_found``. An image: ``size`` and
        ``fmt`` as the release link's (``ShareLinkService.download_url``); a video: ``original`` only, in its stored
        container (a ``format`` answers ``format_not_available``). Raises ``NotFoundError`` (``artwork_not_ready``)
        before the asset is ready. ``size``/``fmt`` are checked by the caller (``check_download_choice``).
        """
        if link.target == "collection" and not asset_id:
            raise InvalidError(
                "A collection link's download names the asset to download.",
                code="asset_required",
                details={"parameter": "asset"},
            )
        shown = self.shown(link)
        wanted = asset_id or shown[0].id
        asset = next((candidate for candidate in shown if candidate.id == wanted), None)
        if asset is None:
            raise _media_not_found(wanted)
        if asset.status != "ready" or (asset.media is None and asset.video is None):
            raise NotFoundError("This asset has no image or video yet.", code="artwork_not_ready")
        if asset.video is not None:
            key, size, extension, content_type = self._video_choice(asset, size, fmt)
        else:
            assert asset.media is not None
            size = size or default_size(asset.media)
            image = pick_image(asset.media, size, fmt or None)
            key, (extension, content_type) = image.key, DOWNLOAD_FORMATS[image.format]
        filename = clean_filename(f"{_title(asset)} ({size}).{extension}")
        self._links.count_download(link, size)
        return self._objects.presign_get(
            key,
            expires_in=self._settings.download_url_ttl_s,
            content_disposition=content_disposition(filename),
            content_type=content_type,
        )

    @staticmethod
    def _video_choice(asset: Asset, size: str | None, fmt: str | None) -> tuple[str, str, str, str]:
        """``(key, size, extension, content_type)`` of a video's download: its original, as stored."""
        assert asset.video is not None
        if size and size != "original":
            raise NotFoundError(
                f"The {size} size does not exist for this video.",
                code="size_not_available",
                details={"size": size, "available": ["original"]},
            )
        if fmt:
            raise NotFoundError(
                f"A video is downloaded as stored, not as {fmt}.",
                code="format_not_available",
                details={"size": "original", "format": fmt, "available": []},
            )
        video = asset.video
        return video.original.key, "original", video.container, video.original.content_type
