"""The one ingest path: bytes of an uploaded object → validated, oriented, sRGB variants, download formats, colours →
a ready asset, and the release's cover when it is the newest. A video (MP4, WebM, QuickTime by its bytes) uploaded
to the library is probed and stored as uploaded with a poster frame, never transcoded (``_ingest_video``).

Every event is handled idempotently (S3 events and SQS messages arrive at least once and out of order):

- an upload key accepts one object. The asset is claimed with a conditional write naming the object's ETag and S3
  ``sequencer``; a replay of that event finds it finished and changes nothing, and any other object written under the
  same key (a presigned POST sent again within its lifetime) is refused (``reused``) and changes nothing;
- the object is read by the ETag its event names (``If-Match``): an event whose object was already replaced is stale;
- each claim records a new run id and the run writes under keys of its own (``storage_keys``), so a superseded run
  never overwrites the objects of the run that finished; the run whose conditional finish fails deletes its own;
- the asset becomes ready, and the cover moves to it with a history entry, in one transaction conditioned on the
  release existing and not being ``locked``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from chalicelib.config import Settings
from chalicelib.errors import ImageRejectedError, NotFoundError, PayloadTooLargeError
from chalicelib.imaging.sniff import VideoContainer, sniff_format, sniff_video
from chalicelib.models.catalogue import HistoryEntry, Release
from chalicelib.models.domain import Asset, AssetError, AssetMedia, StoredImage
from chalicelib.models.media import VIDEO_CONTENT_TYPES, StoredFile, VideoMedia
from chalicelib.services.storage_keys import (
    asset_prefixes,
    derived_key,
    media_key,
    parse_upload_key,
    run_prefixes,
)
from chalicelib.store.assets import AssetRepository, normalise_sequencer
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.catalogue import CatalogueRepository
from chalicelib.store.covers import CoverWrite, write_cover
from chalicelib.store.dynamo import utcnow
from chalicelib.store.objects import ObjectReplacedError, ObjectStore
from chalicelib.store.video_assets import complete_video, set_kind

__all__ = ["IngestService", "ObjectCreated", "Outcome", "parse_upload_key"]

log = logging.getLogger(__name__)

Outcome = Literal["ready", "failed", "skipped", "ignored", "superseded", "reused", "stale"]

#: How many times the end of a run is planned and sent again when the release, the cover or a concurrent transaction
#: moved under it; past that the event raises and SQS redelivers it.
FINISH_ATTEMPTS = 5
#: Parallel S3 PUTs of one run's objects (boto3 clients are thread-safe).
PUT_THREADS = 8


@dataclass(frozen=True)
class ObjectCreated:
    """One ``s3:ObjectCreated:*`` record: bucket, decoded key, ``size`` bytes, ``etag``, ``sequencer`` (hex)."""

    bucket: str
    key: str
    size: int
    etag: str
    sequencer: str


def _error(code: str, message: str) -> AssetError:
    return AssetError(code=code, message=message)


class IngestService:
    """Turns uploaded objects into ready assets, or failed ones with a reason. Uploaded bytes are never deleted."""

    def __init__(
        self,
        *,
        settings: Settings,
        assets: AssetRepository,
        attachments: AttachmentRepository,
        catalogue: CatalogueRepository,
        objects: ObjectStore,
    ) -> None:
        self._settings = settings
        self._assets = assets
        self._attachments = attachments
        self._catalogue = catalogue
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

        ``ready``: the asset is ready (and the cover, unless a newer asset is). ``failed``: refused, ``error.code``
        says why (the image's codes, ``too_large``, ``upload_missing``, ``release_locked``, ``release_not_found``).
        ``skipped``: a replay of a finished event. ``reused``: a second object under an upload key whose asset was
        already claimed by another (``upload_reused``, logged; nothing changes). ``stale``: the object the event names
        was replaced before it was read. ``ignored``: not an upload of ours. ``superseded``: another run of the same
        asset claimed it meanwhile (this run's objects are deleted).
        """
        asset = self._asset_for(event)
        if asset is None:
            return "ignored"
        settled = self._settled(asset, event)
        if settled is not None:
            return settled
        if event.size > asset.max_bytes:
            return self._refuse(
                asset, event, _error("too_large", f"The upload holds more than {asset.max_bytes} bytes.")
            )
        try:
            data = self._objects.get_bytes(event.key, max_bytes=asset.max_bytes, if_match=event.etag)
        except ObjectReplacedError:
            log.info("stale event: %s no longer holds ETag %s", event.key, event.etag)
            return "stale"
        except NotFoundError:
            return self._refuse(asset, event, _error("upload_missing", "The uploaded file is gone."))
        except PayloadTooLargeError:
            return self._refuse(
                asset, event, _error("too_large", f"The upload holds more than {asset.max_bytes} bytes.")
            )
        claimed = self._assets.start_processing(asset.id, etag=event.etag, sequencer=event.sequencer, size=event.size)
        if claimed is None or claimed.run_id is None:
            return self._settled(self._assets.get(asset.id) or asset, event) or "skipped"
        run = claimed.run_id
        _release, refusal = self._check_target(claimed)
        if refusal is not None:
            return self._fail_run(claimed, run, refusal, wrote=False)
        by_bytes = self._ingest_by_bytes(claimed, run, data)
        if by_bytes is not None:
            return by_bytes
        try:
            media = self._make_media(claimed, run, data)
        except ImageRejectedError as exc:
            return self._fail_run(claimed, run, _error(exc.code, exc.message), wrote=False)
        return self._finish(claimed, run, media)

    def _ingest_by_bytes(self, asset: Asset, run: str, data: bytes) -> Outcome | None:
        """What the sniffed bytes, not the declared type, make of the upload; None: the image pipeline's (an image,
        or bytes it refuses as it always did). Videos are taken only from the library's own uploads (source
        ``upload``, made for no target): a video sent as release artwork stays ``unsupported_format``. An upload
        declared as a video fails ``not_a_video`` unless it holds a video or an image (an image within
        ``upload_max_bytes`` becomes an image asset)."""
        container = sniff_video(data)
        if container is not None and asset.source == "upload" and asset.attach_to is None:
            return self._ingest_video(asset, run, data, container)
        if asset.declared_content_type not in VIDEO_CONTENT_TYPES or container is not None:
            return None
        if sniff_format(data) is None:
            refusal = _error("not_a_video", "The file is neither a video nor an image.")
            return self._fail_run(asset, run, refusal, wrote=False)
        if len(data) > self._settings.upload_max_bytes:
            message = f"An image may hold {self._settings.upload_max_bytes} bytes at most."
            return self._fail_run(asset, run, _error("too_large", message), wrote=False)
        if asset.kind != "image" and not set_kind(asset, run=run, kind="image"):
            return self._lost(asset, run)
        return None

    def _ingest_video(self, asset: Asset, run: str, data: bytes, container: VideoContainer) -> Outcome:
        """Probe, poster, store the original as uploaded and the poster, then ``ready`` (no transcoding)."""
        from chalicelib.imaging import video as videos  # pymediainfo and PyAV: the worker's imports only

        try:
            probe = videos.probe_video(data, container)
        except videos.VideoRejectedError as exc:
            return self._fail_run(asset, run, _error(exc.code, exc.message), wrote=False)
        poster = videos.make_poster(data, probe, max_pixels=self._settings.max_pixels)
        content_type = videos.CONTAINER_CONTENT_TYPES[container]
        original = StoredFile(
            key=media_key(asset.owner_id, asset.id, run, "original", videos.CONTAINER_EXTENSIONS[container]),
            bytes=len(data),
            content_type=content_type,
        )
        self._objects.put_bytes(original.key, data, content_type=content_type)
        stored_poster = None
        if poster is not None:
            key = media_key(asset.owner_id, asset.id, run, "poster", poster.extension)
            self._objects.put_bytes(key, poster.data, content_type=poster.content_type)
            stored_poster = StoredImage(
                key=key, width=poster.width, height=poster.height, bytes=len(poster.data), format=poster.format
            )
        video = VideoMedia(
            original=original,
            container=container,
            video_codec=probe.video_codec,
            width=probe.width,
            height=probe.height,
            duration_ms=probe.duration_ms,
            poster=stored_poster.model_dump() if stored_poster else None,
        )
        if not complete_video(asset, run=run, video=video, checksum_sha256=hashlib.sha256(data).hexdigest()):
            return self._lost(asset, run)
        return self._won(asset, run)

    def _settled(self, asset: Asset, event: ObjectCreated) -> Outcome | None:
        """What an already claimed asset means for this event; None while it may still be claimed by it."""
        if asset.source_sequencer is None:
            return None
        if asset.source_sequencer == normalise_sequencer(event.sequencer) and asset.source_etag == event.etag:
            return None if asset.status == "processing" else "skipped"
        log.warning(
            "upload_reused: %s received a second object (ETag %s); asset %s keeps the object it was claimed by "
            "(ETag %s, %s)",
            event.key,
            event.etag,
            asset.id,
            asset.source_etag,
            asset.status,
        )
        return "reused"

    def _refuse(self, asset: Asset, event: ObjectCreated, error: AssetError) -> Outcome:
        claimed = self._assets.start_processing(asset.id, etag=event.etag, sequencer=event.sequencer, size=event.size)
        if claimed is None or claimed.run_id is None:
            return self._settled(self._assets.get(asset.id) or asset, event) or "skipped"
        return self._fail_run(claimed, claimed.run_id, error, wrote=False)

    def _fail_run(self, asset: Asset, run: str, error: AssetError, *, wrote: bool) -> Outcome:
        log.info("upload %s refused: %s (%s)", asset.id, error.code, error.message)
        failed = self._assets.fail(asset.id, run=run, error=error)
        if wrote:
            self._objects.delete_prefixes(run_prefixes(asset.owner_id, asset.id, run))
        return "failed" if failed else "superseded"

    def _check_target(self, asset: Asset) -> tuple[Release | None, AssetError | None]:
        """The release the asset is made for, or why the asset must fail: ``release_not_found``, ``release_locked``."""
        target = asset.attach_to.rpartition("#")[0] if asset.attach_to else ""
        if not target.startswith("RELEASE#"):
            return None, None
        release = self._catalogue.get(target.removeprefix("RELEASE#"))
        if release is None:
            return None, _error("release_not_found", "The release this upload was made for no longer exists.")
        if release.lock_status == "locked":
            return release, _error("release_locked", "The release was locked; its artwork cannot change.")
        return release, None

    def _make_media(self, asset: Asset, run: str, data: bytes) -> AssetMedia:
        # Pillow stays out of the API's import path: only the worker pays for it.
        from chalicelib.imaging import EncodedImage, derive_formats, process_image

        result = process_image(
            data,
            max_pixels=self._settings.max_pixels,
            original_max_px=self._settings.original_max_px,
            min_source_px=self._settings.min_source_px,
        )
        sizes: dict[str, EncodedImage] = {**result.variants, "original": result.original}
        derived = derive_formats(sizes)
        owner, asset_id = asset.owner_id, asset.id
        writes: list[tuple[str, EncodedImage]] = [
            (media_key(owner, asset_id, run, name, image.extension), image) for name, image in sizes.items()
        ]
        writes += [
            (derived_key(owner, asset_id, run, size, image.extension), image)
            for size, formats in derived.items()
            for image in formats.values()
        ]
        with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
            list(pool.map(lambda w: self._objects.put_bytes(w[0], w[1].data, content_type=w[1].content_type), writes))
        # The library's checksum is of the stored original (what a download returns), recorded while the run holds
        # its claim (a superseded run's write is refused by the run condition).
        checksum = hashlib.sha256(result.original.data).hexdigest()
        self._assets.set_checksum(asset_id, run=run, checksum_sha256=checksum)

        def stored(key: str, image: EncodedImage) -> StoredImage:
            return StoredImage(
                key=key, width=image.width, height=image.height, bytes=len(image.data), format=image.format
            )

        keys = iter(key for key, _ in writes)
        images = {name: stored(next(keys), image) for name, image in sizes.items()}
        derived_images = {
            size: {fmt: stored(next(keys), image) for fmt, image in formats.items()}
            for size, formats in derived.items()
        }
        original = images.pop("original")
        return AssetMedia(
            original=original,
            variants=images,
            derived=derived_images,
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

    def _finish(self, asset: Asset, run: str, media: AssetMedia) -> Outcome:
        """Make the asset ready and, when it is the newest, the cover: one transaction, planned again if it moved."""
        target, _, role = (asset.attach_to or "").rpartition("#")
        if not target.startswith("RELEASE#"):
            if not self._assets.complete(asset.id, run=run, media=media):
                return self._lost(asset, run)
            if target:
                self._attachments.attach_if_newer(target, role, asset=asset)
            return self._won(asset, run)
        for attempt in range(FINISH_ATTEMPTS):
            release, refusal = self._check_target(asset)
            if refusal is not None or release is None:
                error = refusal or _error("release_not_found", "The release no longer exists.")
                return self._fail_run(asset, run, error, wrote=True)
            holder = self._attachments.holder(target, role)
            newest = holder is None or holder[1] < asset.created_at
            previous = holder[0] if holder else None
            outcome = write_cover(
                CoverWrite(
                    asset=asset,
                    run=run,
                    media=media,
                    release_id=release.id,
                    production_status=release.production_status,
                    role=role,
                    previous_asset_id=previous,
                    history=self._cover_history(release, asset, previous) if newest else None,
                )
            )
            if outcome == "written":
                return self._won(asset, run)
            if outcome == "superseded":
                return self._lost(asset, run)
            if outcome == "conflict":
                time.sleep(random.uniform(0, 0.05 * 2**attempt))  # full jitter (AWS Architecture Blog, backoff)
            # release_changed / attachment_changed: read both again and plan anew.
        self._objects.delete_prefixes(run_prefixes(asset.owner_id, asset.id, run))
        raise RuntimeError(f"asset {asset.id}: the cover kept changing during {FINISH_ATTEMPTS} attempts")

    @staticmethod
    def _cover_history(release: Release, asset: Asset, previous: str | None) -> HistoryEntry:
        return HistoryEntry(
            id=uuid.uuid4().hex,
            release_id=release.id,
            from_status=release.production_status,
            to_status=release.production_status,
            changed_by=asset.owner_id,
            changed_at=utcnow(),
            metadata={
                "action": "cover_changed",
                "asset_id": asset.id,
                "upload_id": asset.id,
                "previous_asset_id": previous,
            },
        )

    def _won(self, asset: Asset, run: str) -> Outcome:
        # The record now names this run's keys and no other run can finish: what other runs left (a worker that died
        # after writing) is nobody's.
        mine = run_prefixes(asset.owner_id, asset.id, run)
        leftovers = [
            key
            for prefix in asset_prefixes(asset.owner_id, asset.id)[1:]
            for key in self._objects.list_keys(prefix)
            if not key.startswith(tuple(mine))
        ]
        if leftovers:
            self._objects.delete_keys(leftovers)
        return "ready"

    def _lost(self, asset: Asset, run: str) -> Outcome:
        log.info("asset %s: run %s was superseded by a newer claim; deleting its objects", asset.id, run)
        self._objects.delete_prefixes(run_prefixes(asset.owner_id, asset.id, run))
        return "superseded"

    def handle_dead_letter(self, event: ObjectCreated, *, receive_count: int | None) -> bool:
        """An event that failed every retry: its asset ends ``failed`` (``processing_failed``) unless already ready,
        and the objects of its last run are deleted.

        Returns whether the asset was marked failed.
        """
        asset = self._asset_for(event)
        if asset is None:
            return False
        attempts = f" after {receive_count} attempts" if receive_count else ""
        error = _error("processing_failed", f"Processing the upload failed{attempts}; the uploaded file is kept.")
        marked = self._assets.fail(asset.id, run=None, error=error)
        current = self._assets.get(asset.id) if marked else None
        if current is not None and current.run_id:
            self._objects.delete_prefixes(run_prefixes(current.owner_id, current.id, current.run_id))
        return marked
