"""Release artwork: presigned uploads, and the artwork view of a release (its ``cover`` attachment)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings
from chalicelib.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from chalicelib.models.api import UPLOAD_CONTENT_TYPES
from chalicelib.models.catalogue import Release
from chalicelib.models.domain import Asset, Identity, StoredImage, UploadTicket
from chalicelib.models.jobs import TERMINAL_STATUSES, ArtworkPreferences, Job
from chalicelib.models.views import ArtworkVersion, ArtworkView, ImageView
from chalicelib.services.enhancement_policy import refusal, short_side
from chalicelib.services.lifecycle import artwork_editable
from chalicelib.services.releases import ReleaseService
from chalicelib.services.storage_keys import upload_key
from chalicelib.store.assets import AssetRepository
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.dynamo import utcnow
from chalicelib.store.objects import ObjectStore

if TYPE_CHECKING:
    from chalicelib.services.enhancement import EnhancementService

#: Declared types a browser may upload; the worker sniffs the real format from the bytes anyway.
ALLOWED_UPLOAD_TYPES = UPLOAD_CONTENT_TYPES
COVER_ROLE = "cover"


def release_target(release_id: str) -> str:
    """The attachment owner key of a release: ``RELEASE#{id}``."""
    return f"RELEASE#{release_id}"


@dataclass(frozen=True)
class ReleaseArtwork:
    """A release, its current cover asset (ready) and its newest upload when that one is not ready yet."""

    release: Release
    cover: Asset | None
    latest: Asset | None


@dataclass(frozen=True)
class CoverVersions:
    """A cover's versions (SPEC "Served version"): the ``original`` asset the release's cover attachment names, its
    ready ``enhanced`` asset (None without one), the running or last enhancement ``job``, and the owner's
    ``preferences``."""

    original: Asset
    enhanced: Asset | None
    job: Job | None
    preferences: ArtworkPreferences

    @property
    def served(self) -> Asset:
        """The enhanced version when it exists and the owner prefers it (``prefer_ai_enhancement``), else the
        original."""
        if self.enhanced is not None and self.preferences.prefer_ai_enhancement:
            return self.enhanced
        return self.original

    @property
    def names(self) -> list[ArtworkVersion]:
        """The versions that exist, ``original`` first."""
        return ["original", "enhanced"] if self.enhanced is not None else ["original"]


class ArtworkService:
    """Starts uploads and assembles the artwork view of a release."""

    def __init__(
        self,
        *,
        settings: Settings,
        releases: ReleaseService,
        assets: AssetRepository,
        attachments: AttachmentRepository,
        objects: ObjectStore,
        enhancements: Callable[[], EnhancementService] | None = None,
    ) -> None:
        """``enhancements``: the enhancement service's factory, called when a cover has an enhancement or a job
        (lazily, so that service may itself be built with this one); None: every cover is served as uploaded."""
        self._settings = settings
        self._releases = releases
        self._assets = assets
        self._attachments = attachments
        self._objects = objects
        self._enhancements = enhancements

    def create_upload(
        self, identity: Identity, release_id: str, *, content_type: str, content_length: int, filename: str | None
    ) -> UploadTicket:
        """Record a ``pending`` asset and presign a POST for it.

        ``content_type`` must be one of ``ALLOWED_UPLOAD_TYPES`` (else ``UnsupportedMediaTypeError``, 415);
        ``content_length`` bytes must be 1..``upload_max_bytes`` (else ``PayloadTooLargeError``, 413, or
        ``InvalidError``). The POST allows exactly the key ``uploads/{owner}/{upload_id}``, exactly that
        Content-Type, 1..max bytes, for ``upload_url_ttl_s`` (≤ 900 s). A ``locked`` release refuses new artwork
        (``ConflictError``, ``release_locked``, 409); ``partial_lock`` still allows it.
        """
        release = self._releases.get(identity, release_id)
        if not artwork_editable(release.lock_status):
            raise ConflictError(
                "The artwork of a locked release cannot change.",
                code="release_locked",
                details={"lock_status": release.lock_status},
            )
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in ALLOWED_UPLOAD_TYPES:
            raise UnsupportedMediaTypeError(
                f"Artwork must be one of {', '.join(ALLOWED_UPLOAD_TYPES)}.",
                code="unsupported_media_type",
                details={"content_type": content_type, "allowed": list(ALLOWED_UPLOAD_TYPES)},
            )
        max_bytes = self._settings.upload_max_bytes
        if content_length <= 0:
            raise InvalidError("content_length must be a positive number of bytes.", code="invalid_content_length")
        if content_length > max_bytes:
            raise PayloadTooLargeError(
                f"Artwork may be at most {max_bytes} bytes.",
                code="too_large",
                details={"content_length": content_length, "max_bytes": max_bytes},
            )
        upload_id = uuid.uuid4().hex
        key = upload_key(identity.subject, upload_id)
        asset = self._assets.create_pending(
            asset_id=upload_id,
            owner_id=identity.subject,
            upload_key=key,
            declared_content_type=media_type,
            declared_bytes=content_length,
            max_bytes=max_bytes,
            filename=filename,
            attach_to=f"{release_target(release.id)}#{COVER_ROLE}",
        )
        self._attachments.note_upload(release_target(release.id), COVER_ROLE, asset=asset)
        ttl = self._settings.upload_url_ttl_s
        url, fields = self._objects.presign_post(key, content_type=media_type, max_bytes=max_bytes, expires_in=ttl)
        return UploadTicket(
            upload_id=upload_id,
            url=url,
            fields=fields,
            expires_at=utcnow() + timedelta(seconds=ttl),
            max_bytes=max_bytes,
        )

    def get_upload(self, identity: Identity, release_id: str, upload_id: str) -> Asset:
        """The state of one upload of the caller's release; ``NotFoundError`` (``upload_not_found``) otherwise."""
        release = self._releases.get(identity, release_id)
        asset = self._assets.get(upload_id)
        if (
            asset is None
            or asset.owner_id != identity.subject
            or asset.attach_to != f"{release_target(release.id)}#{COVER_ROLE}"
        ):
            raise NotFoundError("No such upload.", code="upload_not_found", details={"upload_id": upload_id})
        return asset

    def release_artwork(self, release: Release) -> ReleaseArtwork:
        """The cover (the newest ready upload) and the newest upload if it is still pending, processing or failed."""
        cover_id, latest_id = self._attachments.get(release_target(release.id), COVER_ROLE)
        cover = self._assets.get(cover_id) if cover_id else None
        latest = None
        if latest_id and latest_id != cover_id:
            candidate = self._assets.get(latest_id)
            if candidate is not None and candidate.status != "ready":
                latest = candidate
        return ReleaseArtwork(release=release, cover=cover, latest=latest)

    def cover_versions(self, release: Release, cover: Asset, *, with_preferences: bool = True) -> CoverVersions:
        """The versions of ``release``'s ready ``cover`` (``EnhancementService.enhancement_of``) and the owner's
        preferences. A cover that never had an enhancement job (every cover ingested before issue 10) is read
        without touching the jobs; ``with_preferences=False`` skips the preferences read when nothing but the
        original exists (the defaults stand in)."""
        if self._enhancements is None or (cover.enhancement is None and cover.enhancement_job_id is None):
            job, enhanced = None, None
        else:
            job, enhanced = self._enhancements().enhancement_of(cover)
            if enhanced is not None and (enhanced.status != "ready" or enhanced.media is None):
                enhanced = None
        preferences = ArtworkPreferences()
        if self._enhancements is not None and (with_preferences or enhanced is not None):
            preferences = self._enhancements().get_preferences(Identity(subject=release.owner_id))
        return CoverVersions(original=cover, enhanced=enhanced, job=job, preferences=preferences)

    def served_cover(self, release: Release) -> Asset | None:
        """The version of ``release``'s ready cover that is served (and shared): ``CoverVersions.served``; None
        without a ready cover."""
        cover = self.release_artwork(release).cover
        if cover is None or cover.media is None:
            return None
        return self.cover_versions(release, cover, with_preferences=False).served

    def get_artwork(self, identity: Identity, release_id: str, *, version: ArtworkVersion | None = None) -> ArtworkView:
        """The artwork view of the caller's release (see the README's ``GET /releases/{id}/artwork``).

        ``status`` is the newest upload's (pending | processing | failed) until it is ready, then ``ready``;
        ``none`` without any upload. Variant and original URLs are presigned GETs valid ``artwork_url_ttl_s``.
        Without uploaded artwork, the legacy ``artwork_url`` is returned as ``fallback_url``. The images are those
        of ``version`` of the cover (None: the served one, ``CoverVersions.served``). Raises ``NotFoundError``
        (``release_not_found``) for a release the caller does not own, (``enhancement_not_found``) for ``enhanced``
        when the cover has no ready enhanced version.
        """
        release = self._releases.get(identity, release_id)
        artwork = self.release_artwork(release)
        cover, latest = artwork.cover, artwork.latest
        status = latest.status if latest else (cover.status if cover else "none")
        versions = self.cover_versions(release, cover) if cover is not None and cover.media is not None else None
        if version == "enhanced" and (versions is None or versions.enhanced is None):
            raise NotFoundError(
                "This artwork has no enhanced version.",
                code="enhancement_not_found",
                details={"versions": versions.names if versions else []},
            )
        shown = versions.enhanced if version == "enhanced" and versions else None
        if shown is None and versions is not None:
            shown = versions.original if version == "original" else versions.served
        view = ArtworkView(
            status=status,
            upload_id=latest.id if latest else (cover.id if cover else None),
            asset_id=shown.id if shown else (cover.id if cover else None),
            variants={},
            original=None,
            missing_variants=[],
            cropped=None,
            dominant_color=None,
            palette=[],
            placeholder=None,
            error=latest.error if latest else None,
            fallback_url=artwork.release.artwork_url if cover is None else None,
        )
        if versions is not None and shown is not None and shown.media is not None:
            media = shown.media
            ttl = self._settings.artwork_url_ttl_s
            view = view.model_copy(
                update={
                    "variants": {name: self._image_view(image, ttl) for name, image in media.variants.items()},
                    "original": self._image_view(media.original, ttl),
                    "missing_variants": media.missing_variants,
                    "cropped": media.cropped,
                    "dominant_color": media.dominant_color,
                    "palette": media.palette,
                    "placeholder": media.placeholder,
                    "placeholder_kind": media.placeholder_kind,
                    "animated": media.animated,
                    **self._enhancement_fields(release, versions, shown),
                }
            )
        return view

    def _enhancement_fields(self, release: Release, versions: CoverVersions, shown: Asset) -> dict[str, Any]:
        """The view's enhancement fields for ``shown`` (a version of ``versions``)."""
        enhancement = versions.original.enhancement
        enhanced = shown is versions.enhanced
        job = versions.job
        side = short_side(versions.original)
        offered = (
            versions.enhanced is None
            and (job is None or job.status in TERMINAL_STATUSES)
            and side is not None
            and refusal(side, versions.preferences, self._settings) is None
            and artwork_editable(release.lock_status)
        )
        return {
            "version": "enhanced" if enhanced else "original",
            "versions": versions.names,
            "upscaled": enhanced,
            "is_ai_enhanced": bool(enhanced and enhancement and enhancement.ai),
            "ai_enhancement_model": enhancement.model if enhanced and enhancement else None,
            "ai_enhanced_at": enhancement.enhanced_at if enhanced and enhancement else None,
            "enhancement_job": job,
            "enhancement_offered": offered,
        }

    def _image_view(self, image: StoredImage, ttl: int) -> ImageView:
        return ImageView(
            url=self._objects.presign_get(image.key, expires_in=ttl),
            width=image.width,
            height=image.height,
            bytes=image.bytes,
            format=image.format,
        )
