"""Public share links of a release's artwork: tokens, the public artwork listing and downloads in any size/format.

A token is ``{token_id}.{secret}``: the id (72 random bits) finds the record, the secret (256 random bits) is checked
against its stored SHA-256 in constant time. Unknown, expired and revoked tokens all answer the same 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.errors import InvalidError, NotFoundError
from chalicelib.models.catalogue import Release
from chalicelib.models.domain import SIZE_NAMES, VARIANT_NAMES, Asset, AssetMedia, Identity, ShareLink, StoredImage
from chalicelib.models.views import PublicArtwork, SharedRelease, SizeOffer
from chalicelib.services.artwork import ArtworkService
from chalicelib.services.filenames import content_disposition, download_filename
from chalicelib.services.releases import ReleaseService
from chalicelib.store.dynamo import utcnow
from chalicelib.store.objects import ObjectStore
from chalicelib.store.share_links import ShareLinkRepository

DOWNLOAD_FORMATS = {"webp": ("webp", "image/webp"), "png": ("png", "image/png"), "jpeg": ("jpg", "image/jpeg")}
_DUMMY_HASH = hashlib.sha256(b"sleeve-no-such-token").hexdigest()


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def share_link_not_found() -> NotFoundError:
    """The one 404 of every unknown, expired, revoked or no-longer-shared link (``share_link_not_found``)."""
    return NotFoundError("No such share link.", code="share_link_not_found")


def mint_token() -> tuple[str, str, str]:
    """A new token's ``(token_id, secret, secret_sha256)``: the id has 72 random bits, the secret 256; the token
    handed out is ``{token_id}.{secret}`` and only the secret's SHA-256 hex digest is stored."""
    token_id = secrets.token_urlsafe(9)
    secret = secrets.token_urlsafe(32)
    return token_id, secret, _hash_secret(secret)


def link_ttl(settings: Settings, expires_in: int | None) -> int:
    """A link's lifetime in s: ``expires_in``, else ``share_link_default_ttl_s``.

    Raises ``InvalidError`` (``invalid_expires_in``, 400) outside 60 s..``share_link_max_ttl_s``.
    """
    ttl = settings.share_link_default_ttl_s if expires_in is None else expires_in
    if not 60 <= ttl <= settings.share_link_max_ttl_s:
        raise InvalidError(
            f"expires_in must be between 60 and {settings.share_link_max_ttl_s} seconds.",
            code="invalid_expires_in",
            details={"expires_in": expires_in},
        )
    return ttl


def check_download_choice(size: str | None, fmt: str | None) -> None:
    """Refuse an unknown ``size`` (``invalid_size``) or ``fmt`` (``invalid_format``), 400 with the allowed values in
    ``details``, before any link is read."""
    if size and size not in SIZE_NAMES:
        raise InvalidError("Unknown size.", code="invalid_size", details={"size": size, "allowed": list(SIZE_NAMES)})
    if fmt and fmt not in DOWNLOAD_FORMATS:
        raise InvalidError(
            "Unknown format.", code="invalid_format", details={"format": fmt, "allowed": list(DOWNLOAD_FORMATS)}
        )


@dataclass(frozen=True)
class NewShareLink:
    """A created share link and its token (shown once: only its hash is stored)."""

    link: ShareLink
    token: str


@dataclass(frozen=True)
class SharedArtwork:
    """What a valid token opens: the release and the served version of its ready cover (the enhanced asset when the
    owner prefers it and it exists, else the original; None without uploaded artwork)."""

    link: ShareLink
    release: Release
    cover: Asset | None


class ShareLinkService:
    """Creates, lists and revokes share links; serves the public listing and downloads."""

    def __init__(
        self,
        *,
        settings: Settings,
        releases: ReleaseService,
        artwork: ArtworkService,
        links: ShareLinkRepository,
        objects: ObjectStore,
    ) -> None:
        self._settings = settings
        self._releases = releases
        self._artwork = artwork
        self._links = links
        self._objects = objects

    def create(self, identity: Identity, release_id: str, *, expires_in: int | None) -> NewShareLink:
        """A share link for the caller's release valid ``expires_in`` s (default ``share_link_default_ttl_s``).

        Raises ``InvalidError`` (``invalid_expires_in``, 400) outside 60 s..``share_link_max_ttl_s``.
        """
        release = self._releases.get(identity, release_id)
        ttl = link_ttl(self._settings, expires_in)
        token_id, secret, secret_sha256 = mint_token()
        link = self._links.create(
            token_id=token_id,
            secret_sha256=secret_sha256,
            release_id=release.id,
            owner_id=identity.subject,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
        return NewShareLink(link=link, token=f"{token_id}.{secret}")

    def list(self, identity: Identity, release_id: str) -> list[ShareLink]:
        """The caller's release's share links (active, expired and revoked), newest first, with download counts."""
        release = self._releases.get(identity, release_id)
        return self._links.list_by_release(release.id)

    def revoke(self, identity: Identity, release_id: str, token_id: str) -> None:
        """Revoke one of the release's links; ``NotFoundError`` (``share_link_not_found``) if it is not one."""
        release = self._releases.get(identity, release_id)
        found = self._links.get_with_hash(token_id)
        if found is None or found[0].target != "release" or found[0].release_id != release.id:
            raise share_link_not_found()
        self._links.revoke(token_id)

    def open_link(self, token: str) -> ShareLink:
        """The active link ``token`` names, whatever it shares (a release, an asset, a collection).

        Raises ``NotFoundError`` (``share_link_not_found``) for unknown, tampered, expired or revoked tokens: one
        answer for all, and the secret is compared (in constant time) even when the id is unknown.
        """
        token_id, _, secret = token.partition(".")
        found = self._links.get_with_hash(token_id) if token_id and secret else None
        stored_hash = found[1] if found else _DUMMY_HASH
        # Compare even when the id is unknown so the answer takes as long either way.
        matches = hmac.compare_digest(_hash_secret(secret), stored_hash)
        if found is None or not matches or not found[0].is_active(utcnow()):
            raise share_link_not_found()
        return found[0]

    def open(self, token: str) -> SharedArtwork:
        """What a release link opens; ``NotFoundError`` (``share_link_not_found``) for unknown, expired or revoked
        tokens and for links to an asset or a collection (``open_link`` opens those)."""
        return self.open_release(self.open_link(token))

    def open_release(self, link: ShareLink) -> SharedArtwork:
        """The release and served cover of an open release link; ``share_link_not_found`` for another target or a
        release that is gone."""
        release = self._releases.get_any(link.release_id) if link.target == "release" and link.release_id else None
        if release is None:
            raise share_link_not_found()
        # The served version: the enhanced one when the owner prefers it (``ArtworkService.served_cover``).
        return SharedArtwork(link=link, release=release, cover=self._artwork.served_cover(release))

    def public_artwork(self, token: str) -> PublicArtwork:
        """The public listing: title, artist, colours, placeholder and every size that exists with its px and formats.

        Carries no keys, URLs of other releases, owner ids or metadata of the source file.
        """
        return self._listing(self.open(token))

    def share_page(self, token: str) -> tuple[PublicArtwork, dict[str, Any] | None]:
        """The public listing and a preview for the share page: ``{"url", "width", "height"}`` of the medium variant,
        else the largest image the cover has (the original when no variant exists), a presigned GET valid
        ``artwork_url_ttl_s``; None without artwork.

        Viewing the page is not a download: the preview is not counted.
        """
        return self.release_page(self.open(token))

    def release_page(self, shared: SharedArtwork) -> tuple[PublicArtwork, dict[str, Any] | None]:
        """``share_page`` of an opened release link."""
        listing = self._listing(shared)
        if shared.cover is None or shared.cover.media is None:
            return listing, None
        media = shared.cover.media
        image = media.variants.get("medium") or sizes_of(media)[largest_size(media)]
        url = self._objects.presign_get(image.key, expires_in=self._settings.artwork_url_ttl_s)
        return listing, {"url": url, "width": image.width, "height": image.height}

    def _listing(self, shared: SharedArtwork) -> PublicArtwork:
        listing = PublicArtwork(
            release=SharedRelease(title=shared.release.title, artist=shared.release.display_artist),
            expires_at=shared.link.expires_at,
            sizes=[],
            formats=[],
            default_size=None,
            dominant_color=None,
            palette=[],
            placeholder=None,
        )
        if shared.cover is None or shared.cover.media is None:
            return listing
        media = shared.cover.media
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
        return listing.model_copy(
            update={
                "sizes": sizes,
                "formats": common_formats(media),
                "default_size": default_size(media),
                "dominant_color": media.dominant_color,
                "palette": media.palette,
                "placeholder": media.placeholder,
            }
        )

    def download_url(self, token: str, *, size: str | None, fmt: str | None) -> str:
        """A presigned GET (≤ ``download_url_ttl_s``) of ``size`` in ``fmt``, with an attachment filename.

        ``size``: tiny|small|medium|large|original (default: ``default_size``: large when it exists, else the
        largest); ``fmt``: webp|png|jpeg (default: the stored format). Another format is the pre-made object the
        ingest worker recorded in ``media.derived``: nothing is decoded or encoded here. Raises ``InvalidError``
        (``invalid_size``/``invalid_format``), ``NotFoundError`` (``share_link_not_found``, ``artwork_not_ready``,
        ``size_not_available``, ``format_not_available`` with the available formats in details).
        """
        check_download_choice(size, fmt)
        return self.release_download_url(self.open(token), size=size, fmt=fmt)

    def release_download_url(self, shared: SharedArtwork, *, size: str | None, fmt: str | None) -> str:
        """``download_url`` of an opened release link (``size`` and ``fmt`` already checked)."""
        if shared.cover is None or shared.cover.media is None:
            raise NotFoundError("This release has no artwork yet.", code="artwork_not_ready")
        media = shared.cover.media
        size = size or default_size(media)
        image = pick_image(media, size, fmt or None)
        fmt = image.format
        filename = download_filename(
            artist=shared.release.display_artist,
            title=shared.release.title,
            size=size,
            extension=DOWNLOAD_FORMATS[fmt][0],
        )
        self._links.count_download(shared.link, size)
        return self._objects.presign_get(
            image.key,
            expires_in=self._settings.download_url_ttl_s,
            content_disposition=content_disposition(filename),
            content_type=DOWNLOAD_FORMATS[fmt][1],
        )


# -- what a cover offers: pure functions over its media ----------------------------------------------------------------


def sizes_of(media: AssetMedia) -> dict[str, StoredImage]:
    """The sizes the cover has, smallest first: its variants (``VARIANT_NAMES`` order) then ``original``."""
    sizes: dict[str, StoredImage] = {name: media.variants[name] for name in VARIANT_NAMES if name in media.variants}
    sizes["original"] = media.original
    return sizes


def largest_size(media: AssetMedia) -> str:
    """The size with the most pixels (the original included; on a tie the one listed last, so the original)."""
    sizes = sizes_of(media)
    return max(reversed(sizes), key=lambda name: sizes[name].width * sizes[name].height)


def default_size(media: AssetMedia) -> str:
    """The size a download without ``size`` gets: ``large`` when it exists, else ``largest_size``."""
    return "large" if "large" in media.variants else largest_size(media)


def available_formats(media: AssetMedia, size: str) -> list[str]:
    """The formats ``size`` can be downloaded in: its stored format and the derived ones ingest recorded, in
    ``DOWNLOAD_FORMATS`` order; ``[]`` for a size the cover does not have."""
    image = sizes_of(media).get(size)
    if image is None:
        return []
    present = {image.format, *media.derived.get(size, {})}
    return [fmt for fmt in DOWNLOAD_FORMATS if fmt in present]


def common_formats(media: AssetMedia) -> list[str]:
    """The formats every size of the cover can be downloaded in (what the share page's format picker offers)."""
    per_size = [set(available_formats(media, size)) for size in sizes_of(media)]
    return [fmt for fmt in DOWNLOAD_FORMATS if all(fmt in formats for formats in per_size)]


def pick_image(media: AssetMedia, size: str, fmt: str | None) -> StoredImage:
    """The stored object of ``size`` in ``fmt`` (None: the stored format): the variant or original itself, or the
    derived image recorded in ``media.derived[size][fmt]``.

    Raises ``NotFoundError``: ``size_not_available`` (details: ``size``, ``available`` sizes) or
    ``format_not_available`` (details: ``size``, ``format``, ``available`` formats; e.g. an asset ingested before
    derived images were made).
    """
    sizes = sizes_of(media)
    image = sizes.get(size)
    if image is None:
        raise NotFoundError(
            f"The {size} size does not exist for this artwork.",
            code="size_not_available",
            details={"size": size, "available": list(sizes)},
        )
    if fmt is None or fmt == image.format:
        return image
    derived = media.derived.get(size, {}).get(fmt)
    if derived is None:
        raise NotFoundError(
            f"The {size} size is not available as {fmt}.",
            code="format_not_available",
            details={"size": size, "format": fmt, "available": available_formats(media, size)},
        )
    return derived
