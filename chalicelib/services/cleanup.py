"""The release cleanup: everything a deleted release left behind, removed idempotently by the cleanup worker.

Deleting a release (``ReleaseService.delete``) removes the release item and its ISRC claims in one transaction with a
pending-cleanup marker (``CLEANUP`` / ``RELEASE#{id}``) and queues ``{"type": "release_cleanup", "release_id",
"owner_id", "requested_at"}``. This service then removes, in this order:

0. (with a job repository) the open jobs of the release's assets (an original's ``enhancement_job_id``, a result's
   ``job_id``) end ``failed`` (``release_not_found``): their workers then write nothing more (``enhancement_run``);
1. the release's assets (``list_for_target("RELEASE#{id}")``, and any asset its cover attachment names that the
   eventually consistent index does not list yet, or that predates it): every S3 object of each (its ``uploads/`` key
   and everything under its ``media/`` and ``derived/`` prefixes, listed page by page and deleted in batches of
   ≤ 1000), its media-library attachments anywhere (``AttachmentService.detach_all``), then the asset item;
2. the release's share links (gsi1 ``RELEASE#{id}#SHARES``) and their download counters;
2b. (with the media library's attachments) the attachments of the release and of each of its tracks
   (``ATTACH#{owner}#release#{id}``, ``ATTACH#{owner}#track#{id}.{track_id}``): the attached library assets stay;
3. the release partition (tracks, collaborators, history, attachments) and any ISRC claim still naming the release;
4. the marker, last, so a cleanup that dies half-way is found by the sweep and run again.

Every step deletes what it finds and finds nothing the second time, so a replayed or re-sent message changes nothing.
A message naming a release that still exists is refused (logged, dropped): nothing of a live release is touched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.models.catalogue import Release
from chalicelib.models.domain import Asset
from chalicelib.models.jobs import OPEN_STATUSES, Job, JobError
from chalicelib.services.artwork import COVER_ROLE, release_target
from chalicelib.services.storage_keys import asset_prefixes

log = logging.getLogger(__name__)

#: How old a pending-cleanup marker must be before the sweep sends its message again (the worker normally removes it
#: within seconds of the deletion; the queue's visibility timeout and retries stay well under this).
RESEND_AFTER = timedelta(minutes=15)
#: How many markers one sweep re-sends at most (the rest wait for the next sweep).
RESEND_LIMIT = 100

CleanupOutcome = Literal["cleaned", "refused", "dropped"]

#: The error of a job ended because its release was deleted (the jobs worker ends one it meets with the same).
RELEASE_DELETED = JobError(code="release_not_found", message="The release was deleted while the job ran.")

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class ReleaseCleanupMessage(BaseModel):
    """The cleanup queue's message: ``{"type": "release_cleanup", "release_id", "owner_id", "requested_at"}``.

    Ids are the catalogue's (``[A-Za-z0-9_-]``, ≤ 64 characters), so no crafted id can name another key's prefix;
    ``requested_at`` is ISO-8601 with a time zone. Other keys are ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["release_cleanup"]
    release_id: str = Field(pattern=_ID_PATTERN)
    owner_id: str = Field(min_length=1, max_length=256)
    requested_at: datetime


@dataclass(frozen=True)
class CleanupReport:
    """What one cleanup removed: asset items (ids), S3 objects, share-link items (links and their counters), and how
    many open jobs of those assets it ended."""

    release_id: str
    assets: list[str]
    objects: int
    share_link_items: int
    jobs_ended: int = 0
    attachments: int = 0


class Marker(Protocol):
    """A pending-cleanup marker as the catalogue returns it (``PendingCleanup``)."""

    @property
    def release_id(self) -> str: ...

    @property
    def owner_id(self) -> str: ...

    @property
    def requested_at(self) -> datetime: ...


class Catalogue(Protocol):
    """What the cleanup needs of ``CatalogueRepository``."""

    def get(self, release_id: str) -> Release | None: ...

    def pending_cleanups(self, older_than: datetime, limit: int) -> Sequence[Marker]: ...

    def purge_release_partition(self, release_id: str) -> list[str]: ...

    def finish_cleanup(self, release_id: str) -> None: ...


class Assets(Protocol):
    """What the cleanup needs of ``AssetRepository``."""

    def list_for_target(self, target: str) -> list[Asset]: ...

    def get(self, asset_id: str) -> Asset | None: ...

    def delete(self, asset_id: str) -> None: ...


class Attachments(Protocol):
    """What the cleanup needs of ``AttachmentRepository``."""

    def get(self, target: str, role: str) -> tuple[str | None, str | None]: ...


class MediaAttachments(Protocol):
    """What the cleanup needs of ``AttachmentService`` (the media library's attachments)."""

    def delete_for_release(self, owner: str, release_id: str) -> int: ...

    def detach_all(self, asset: Asset) -> int: ...


class ShareLinks(Protocol):
    """What the cleanup needs of ``ShareLinkRepository``."""

    def delete_for_release(self, release_id: str) -> int: ...


class Jobs(Protocol):
    """What the cleanup needs of ``JobRepository``."""

    def get(self, job_id: str) -> Job | None: ...

    def fail(self, job: Job, *, error: JobError, now: datetime) -> Job | None: ...


class Objects(Protocol):
    """What the cleanup needs of ``ObjectStore``."""

    def delete_prefixes(self, prefixes: list[str]) -> list[str]: ...


class Queue(Protocol):
    """The cleanup queue (``MessageQueue``)."""

    def send(self, message: Mapping[str, Any]) -> str: ...


def cleanup_message(release_id: str, owner_id: str, requested_at: datetime) -> dict[str, Any]:
    """The cleanup queue's message body for a deleted release (see ``ReleaseCleanupMessage``)."""
    return {
        "type": "release_cleanup",
        "release_id": release_id,
        "owner_id": owner_id,
        "requested_at": requested_at.isoformat(),
    }


def parse_cleanup_message(body: str) -> ReleaseCleanupMessage | None:
    """The message in an SQS body, or None (logged) when it is not JSON or not a release cleanup of the right shape."""
    try:
        return ReleaseCleanupMessage.model_validate(json.loads(body))
    except ValueError as exc:  # json.JSONDecodeError and pydantic's ValidationError are both ValueErrors
        errors = exc.errors(include_input=False) if isinstance(exc, ValidationError) else str(exc)
        log.error("dropping a malformed cleanup message: %s", errors)
        return None


class CleanupService:
    """Removes what deleted releases left behind, and re-sends cleanups whose marker is still there after a while."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        assets: Assets,
        attachments: Attachments,
        links: ShareLinks,
        objects: Objects,
        queue: Queue,
        jobs: Jobs | None = None,
        media_attachments: MediaAttachments | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._catalogue = catalogue
        self._media_attachments = media_attachments
        self._jobs = jobs
        self._now = now
        self._assets = assets
        self._attachments = attachments
        self._links = links
        self._objects = objects
        self._queue = queue

    def handle_message(self, body: str) -> CleanupOutcome:
        """One cleanup-queue message body: ``cleaned``, ``refused`` (the release exists) or ``dropped`` (malformed).

        Raises whatever an AWS call raises (throttling, an outage): SQS then retries and finally dead-letters it.
        """
        message = parse_cleanup_message(body)
        if message is None:
            return "dropped"
        report = self.clean_release(message.release_id, owner_id=message.owner_id)
        return "refused" if report is None else "cleaned"

    def clean_release(self, release_id: str, *, owner_id: str | None = None) -> CleanupReport | None:
        """Remove everything of the deleted release ``release_id`` (module docstring) of ``owner_id`` (the message's;
        None: its media attachments are left); None, with nothing touched, when the release item still exists.
        Idempotent: a second run removes nothing more and reports nothing removed.
        """
        if self._catalogue.get(release_id) is not None:
            log.error("refusing to clean up release %s: it still exists", release_id)
            return None
        target = release_target(release_id)
        assets = self._release_assets(target)
        jobs_ended = self._end_jobs(assets)
        objects = 0
        attachments = 0
        for asset in assets:
            # Bytes first, record last: a run cut short still finds the asset, and with it the keys to delete.
            objects += len(self._objects.delete_prefixes(asset_prefixes(asset.owner_id, asset.id)))
            if self._media_attachments is not None:
                # An artwork upload may also be attached elsewhere in the library (a scene's gallery…).
                attachments += self._media_attachments.detach_all(asset)
            self._assets.delete(asset.id)
        share_link_items = self._links.delete_for_release(release_id)
        if self._media_attachments is not None and owner_id is not None:
            # Before the purge: the tracks in the partition name their attachments' partitions.
            attachments += self._media_attachments.delete_for_release(owner_id, release_id)
        # The attachments' asset ids it returns were all in ``assets`` (read before the attachments went).
        self._catalogue.purge_release_partition(release_id)
        self._catalogue.finish_cleanup(release_id)
        report = CleanupReport(
            release_id=release_id,
            assets=[asset.id for asset in assets],
            objects=objects,
            share_link_items=share_link_items,
            jobs_ended=jobs_ended,
            attachments=attachments,
        )
        log.info("cleaned up release %s: %s", release_id, report)
        return report

    def _end_jobs(self, assets: Sequence[Asset]) -> int:
        """End ``failed`` (``release_not_found``) every open job the assets name (an original's
        ``enhancement_job_id``, a result's ``job_id``), before their bytes go; how many it ended. A job that ended
        meanwhile is left as it is (the write is conditional on the status)."""
        if self._jobs is None:
            return 0
        ended = 0
        for job_id in sorted({i for asset in assets for i in (asset.enhancement_job_id, asset.job_id) if i}):
            job = self._jobs.get(job_id)
            if job is not None and job.status in OPEN_STATUSES:
                ended += self._jobs.fail(job, error=RELEASE_DELETED, now=self._now()) is not None
        return ended

    def _release_assets(self, target: str) -> list[Asset]:
        """The target's assets from gsi2, and those its cover attachment names that gsi2 does not list (an asset made
        a moment ago: the index is eventually consistent; one made before the index existed)."""
        assets = {asset.id: asset for asset in self._assets.list_for_target(target)}
        for asset_id in self._attachments.get(target, COVER_ROLE):
            if asset_id and asset_id not in assets:
                asset = self._assets.get(asset_id)
                if asset is not None and _belongs_to(asset, target):
                    assets[asset.id] = asset
        return list(assets.values())

    def resend_pending(self, now: datetime, *, older_than: timedelta = RESEND_AFTER, limit: int = RESEND_LIMIT) -> int:
        """Send again the cleanup message of every marker requested before ``now - older_than`` (at most ``limit``),
        as first requested; the number sent. A marker stays until its cleanup finishes, so a lost or
        dead-lettered message is retried here. Raises what the queue raises (the schedule's next run tries again).
        """
        pending = self._catalogue.pending_cleanups(now - older_than, limit)
        for marker in pending:
            self._queue.send(cleanup_message(marker.release_id, marker.owner_id, marker.requested_at))
        if pending:
            log.warning("re-sent %d pending release cleanups", len(pending))
        return len(pending)


def _belongs_to(asset: Asset, target: str) -> bool:
    """Whether ``asset`` was made for ``target`` (its ``attach_to`` is ``{target}#{role}``)."""
    return bool(asset.attach_to) and str(asset.attach_to).rpartition("#")[0] == target
