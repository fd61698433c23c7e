"""The one ingest path: bytes of an uploaded object → validated, oriented, sRGB variants, colours → a ready asset.

Every event is handled idempotently (S3 events and SQS messages arrive at least once and out of order): the asset is
claimed with a conditional write keyed on the object's S3 ``sequencer``, so a replay finds it finished and changes
nothing, and a stale event (an older object version) is ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from chalicelib.config import Settings
from chalicelib.errors import ImageRejectedError, NotFoundError, PayloadTooLargeError
from chalicelib.models.domain import Asset, AssetError, AssetMedia, StoredImage
from chalicelib.store.assets import AssetRepository, normalise_sequencer
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.objects import ObjectStore

log = logging.getLogger(__name__)

Outcome = Literal["ready", "failed", "skipped", "ignored", "superseded"]


@dataclass(frozen=True)
class ObjectCreated:
    """One ``s3:ObjectCreated:*`` record: bucket, decoded key, ``size`` bytes, ``etag``, ``sequencer`` (hex)."""

    bucket: str
    key: str
    size: int
    etag: str
    sequencer: str


def media_key(owner_id: str, asset_id: str, name: str, extension: str) -> str:
    """``media/{owner}/{asset_id}/{name}.{ext}`` (DESIGN.md, storage keys)."""
    return f"media/{owner_id}/{asset_id}/{name}.{extension}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """``uploads/{owner}/{upload_id}`` → ``(owner, upload_id)``; None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "uploads" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class IngestService:
    """Turns uploaded objects into ready assets, or failed ones with a reason. Uploaded bytes are never deleted."""

    def __init__(
        self, *, settings: Settings, assets: AssetRepository, attachments: AttachmentRepository, objects: ObjectStore
    ) -> None:
        self._settings = settings
        self._assets = assets
        self._attachments = attachments
        self._objects = objects

    def _asset_for(self, event: ObjectCreated) -> Asset | None:
        if event.bucket != self._objects.bucket:
            log.warning("ignoring an event of bucket %s", event.bucket)
            return None
        parsed = parse_upload_key(event.key)
        if parsed is None:
            log.info("ignoring key %s: not an upload", event.key)
            return None
        owner_id, upload_id = parsed
        asset = self._assets.get(upload_id)
        if asset is None or asset.owner_id != owner_id or asset.upload_key != event.key:
            log.warning("ignoring key %s: no matching upload record", event.key)
            return None
        return asset

    def handle_object_created(self, event: ObjectCreated) -> Outcome:
        """Process one uploaded object. Returns what happened; raises only for unexpected (retryable) failures.

        ``ready``: variants written, asset ready, cover attached unless a newer one is. ``failed``: the bytes were
        refused (``error.code`` says why). ``skipped``: a replay or a stale event. ``ignored``: not an upload of ours.
        ``superseded``: a newer version of the object claimed the asset while this one was processed.
        """
        asset = self._asset_for(event)
        if asset is None:
            return "ignored"
        claimed = self._assets.start_processing(asset.id, etag=event.etag, sequencer=event.sequencer, size=event.size)
        if claimed is None:
            self._finish_replay(asset.id, event)
            return "skipped"
        try:
            media = self._make_media(claimed, event)
        except (ImageRejectedError, PayloadTooLargeError, NotFoundError) as exc:
            code = exc.code if not isinstance(exc, NotFoundError) else "upload_missing"
            log.info("upload %s refused: %s (%s)", asset.id, code, exc.message)
            self._assets.fail(asset.id, sequencer=event.sequencer, error=AssetError(code=code, message=exc.message))
            return "failed"
        if not self._assets.complete(asset.id, sequencer=event.sequencer, media=media):
            return "superseded"
        self._attach(claimed)
        return "ready"

    def _finish_replay(self, asset_id: str, event: ObjectCreated) -> None:
        # A worker that died between "ready" and the attachment leaves the cover unattached; the redelivered event
        # completes it. For an ordinary replay the attachment already names this asset and nothing changes.
        current = self._assets.get(asset_id)
        if current and current.status == "ready" and current.source_sequencer == normalise_sequencer(event.sequencer):
            self._attach(current)

    def _attach(self, asset: Asset) -> None:
        if not asset.attach_to:
            return
        target, _, role = asset.attach_to.rpartition("#")
        self._attachments.attach_if_newer(target, role, asset=asset)

    def _make_media(self, asset: Asset, event: ObjectCreated) -> AssetMedia:
        # Pillow stays out of the API's import path: only the worker pays for it.
        from chalicelib.imaging import process_image

        if event.size > asset.max_bytes:
            raise PayloadTooLargeError(f"The upload holds more than {asset.max_bytes} bytes.", code="too_large")
        data = self._objects.get_bytes(event.key, max_bytes=asset.max_bytes)
        result = process_image(
            data, max_pixels=self._settings.max_pixels, original_max_px=self._settings.original_max_px
        )
        stored: dict[str, StoredImage] = {}
        for name, image in [("original", result.original), *result.variants.items()]:
            key = media_key(asset.owner_id, asset.id, name, image.extension)
            self._objects.put_bytes(key, image.data, content_type=image.content_type)
            stored[name] = StoredImage(
                key=key, width=image.width, height=image.height, bytes=len(image.data), format=image.format
            )
        original = stored.pop("original")
        return AssetMedia(
            original=original,
            variants=stored,
            missing_variants=list(result.missing_variants),
            source_format=result.source_format,
            source_width=result.source_width,
            source_height=result.source_height,
            cropped=result.cropped,
            crop_box=list(result.crop_box) if result.crop_box else None,
            dominant_color=result.dominant_color,
            palette=list(result.palette),
            placeholder=result.placeholder,
            animated=result.animated,
            frame_count=result.frame_count,
        )

    def handle_dead_letter(self, event: ObjectCreated, *, receive_count: int | None) -> bool:
        """An event that failed every retry: its asset ends ``failed`` (``processing_failed``) unless already ready.

        Returns whether the asset was marked failed.
        """
        asset = self._asset_for(event)
        if asset is None:
            return False
        attempts = f" after {receive_count} attempts" if receive_count else ""
        error = AssetError(
            code="processing_failed", message=f"Processing the upload failed{attempts}; the uploaded file is kept."
        )
        return self._assets.fail(asset.id, sequencer=None, error=error)
