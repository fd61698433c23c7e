"""How a media asset is shown to its owner (and, through P8's share links, to others): ``MediaAssetView`` with its
variants and their delivery URLs.

Delivery rule (README "Delivery"): a ``public`` asset, when ``SLEEVE_MEDIA_PUBLIC_BASE_URL`` (a CDN in front of the
bucket) is set, is delivered as ``{base}/{key}``: a stable URL, ``url_expires_at`` None. Every other asset (private,
shared, or public without a CDN) is delivered by presigned GETs valid ``artwork_url_ttl_s`` seconds, with
``url_expires_at`` saying until when. No URL is issued for an asset whose delete is under way (``deleted_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

from chalicelib.config import Settings
from chalicelib.models.domain import VARIANT_NAMES, Asset, StoredImage
from chalicelib.models.views import AlbumArtView, MediaAssetView, MediaVariantView
from chalicelib.store.dynamo import utcnow
from chalicelib.store.objects import ObjectStore

#: Image formats Pillow writes → their MIME types (the original keeps its sniffed format).
IMAGE_CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
}


def image_content_type(image_format: str) -> str:
    """``jpeg`` → ``image/jpeg``; an unknown format ``x`` → ``image/x``."""
    return IMAGE_CONTENT_TYPES.get(image_format.lower(), f"image/{image_format.lower()}")


class MediaViews:
    """Renders assets as ``MediaAssetView`` (one presigned GET per stored rendition, made locally: no request to S3).

    ``view(asset)`` is what every part of the library answers with (``GET /media``, search hits, attachments, share
    links), so an asset looks the same wherever it is listed.
    """

    def __init__(self, *, settings: Settings, objects: ObjectStore, clock: Callable[[], datetime] = utcnow) -> None:
        self._settings = settings
        self._objects = objects
        self._clock = clock

    def delivery_url(self, asset: Asset, key: str) -> tuple[str, datetime | None]:
        """``(url, expires_at)`` of the object at ``key`` of ``asset`` (see the module's delivery rule)."""
        base = self._settings.media_public_base_url
        if asset.visibility == "public" and base:
            return f"{base.rstrip('/')}/{quote(key, safe='/')}", None
        ttl = self._settings.artwork_url_ttl_s
        return self._objects.presign_get(key, expires_in=ttl), self._clock() + timedelta(seconds=ttl)

    def variants(self, asset: Asset) -> list[MediaVariantView]:
        """Every stored rendition of ``asset``: the original first, then tiny…large (an image's variants made) or
        the poster (a video's, when one was made). Empty before the asset is ready, for metadata-only assets and
        for an asset being deleted."""
        if asset.deleted_at is not None or asset.status != "ready":
            return []
        views: list[MediaVariantView] = []
        if asset.video is not None:
            video = asset.video
            url, expires = self.delivery_url(asset, video.original.key)
            views.append(
                MediaVariantView(
                    kind="original",
                    format=video.container,
                    width=video.width,
                    height=video.height,
                    bytes=video.original.bytes,
                    url=url,
                    url_expires_at=expires,
                )
            )
            if video.poster is not None:
                views.append(self._image("poster", asset, StoredImage.model_validate(video.poster)))
            return views
        if asset.media is not None:
            views.append(self._image("original", asset, asset.media.original))
            for name in VARIANT_NAMES:
                image = asset.media.variants.get(name)
                if image is not None:
                    views.append(self._image(name, asset, image))
        return views

    def view(self, asset: Asset) -> MediaAssetView:
        """``asset`` as the API answers it (``models.views.MediaAssetView`` documents each field).

        ``content_type``, ``bytes``, ``width``/``height`` (px) and ``duration_ms`` describe the stored original and
        are None until the asset is ready (and for a metadata-only asset). Records made before the library read as
        private images from an upload.
        """
        variants = self.variants(asset)
        original = variants[0] if variants and variants[0].kind == "original" else None
        content_type: str | None = None
        duration_ms: int | None = None
        if asset.video is not None:
            content_type = asset.video.original.content_type
            duration_ms = asset.video.duration_ms
        elif asset.media is not None:
            content_type = image_content_type(asset.media.original.format)
        media = asset.media
        return MediaAssetView(
            id=asset.id,
            type=asset.kind,
            status=asset.status,
            visibility=asset.visibility,
            source=asset.source,
            content_type=content_type if asset.status == "ready" else None,
            bytes=original.bytes if original else None,
            width=original.width if original else None,
            height=original.height if original else None,
            duration_ms=duration_ms if asset.status == "ready" else None,
            checksum_sha256=asset.checksum_sha256,
            title=asset.title,
            description=asset.description,
            tags=list(asset.tags),
            filename=asset.filename,
            creator_description=asset.creator_description,
            name=asset.name,
            ai_metadata=asset.ai_metadata,
            music_metadata=asset.music_metadata,
            album_art=AlbumArtView.model_validate(asset.album_art.model_dump()) if asset.album_art else None,
            enhancement_type=asset.enhancement_type,
            original_asset_id=asset.original_asset_id,
            source_url=asset.source_url,
            job_id=asset.job_id,
            url=original.url if original else None,
            url_expires_at=original.url_expires_at if original else None,
            variants=variants,
            dominant_color=media.dominant_color if media else None,
            placeholder=media.placeholder if media else None,
            error=asset.error,
            created_at=asset.created_at,
            updated_at=asset.updated_at,
            deleted_at=asset.deleted_at,
        )

    def _image(self, kind: str, asset: Asset, image: StoredImage) -> MediaVariantView:
        url, expires = self.delivery_url(asset, image.key)
        return MediaVariantView.model_validate(
            {
                "kind": kind,
                "format": image.format,
                "width": image.width,
                "height": image.height,
                "bytes": image.bytes,
                "url": url,
                "url_expires_at": expires,
            }
        )
