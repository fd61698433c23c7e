"""The release catalogue in the single table: releases with their tracks, collaborators, history and ISRC claims.

Every change is one ``TransactWriteItems`` (``chalicelib.store.transactions``): the release item, conditioned on the
version that was read, together with every item the change touches (tracks, collaborators, the history entry, ISRC
claims). Either all of it is written or none of it, and a writer that read a stale release fails instead of
overwriting a newer one. Records map to the domain models through pydantic; only renamed and derived fields are named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, NoReturn

from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError

from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.models.catalogue import (
    Collaborator,
    HistoryEntry,
    ProductionStatus,
    Release,
    ReleaseDetail,
    Track,
)
from chalicelib.models.domain import Page
from chalicelib.store.catalogue_records import (
    DSP_SYNC_DUE,
    claim_key,
    claim_record,
    cleanup_key,
    collaborator_of,
    collaborator_record,
    history_of,
    history_record,
    release_of,
    release_partition,
    release_record,
    sortable_time,
    track_of,
    track_record,
)
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.store.dynamo import is_condition_failure
from chalicelib.store.records import (
    AttachmentRecord,
    CatalogueRecord,
    CleanupRecord,
    CollaboratorRecord,
    HistoryRecord,
    IsrcClaimRecord,
    ReleaseRecord,
    TrackRecord,
)
from chalicelib.store.sync_state import StoredSyncState, sync_state_record
from chalicelib.store.transactions import MAX_TRANSACTION_ITEMS, Step, send_transaction

__all__ = [
    "DSP_SYNC_DUE",
    "CatalogueRepository",
    "CatalogueWrite",
    "PendingCleanup",
    "ReleaseDeletion",
    "VersionConflictError",
    "history_record",
    "release_partition",
    "sortable_time",
]

#: The partition of the pending-cleanup markers of deleted releases.
CLEANUP = "CLEANUP"


class VersionConflictError(PreconditionFailedError):
    """An item changed between the read and the conditional write (``version_mismatch``, 412).

    ``target`` names the item: ``release``, ``track`` or ``collaborator``. Services retry the read-modify-write when
    the caller sent no ``If-Match``; with one, the retry's version check answers 412.
    """

    default_code = "version_mismatch"

    def __init__(self, target: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"The {target} changed since it was read.", details={"target": target, **(details or {})})
        self.target = target


# -- writes -----------------------------------------------------------------------------------------------------------


@dataclass
class CatalogueWrite:
    """One atomic change of a release and what it owns.

    ``release`` is the release as it must be stored, carrying the ``version`` that was read (0 for a new release): the
    write only succeeds if the stored version still is that one. Tracks and collaborators in ``put_*`` / ``delete_*``
    carry the version read too (0 for new ones). ``claim_isrcs`` are ``(isrc, track_id)`` pairs to reserve in the
    owner's catalogue, ``free_isrcs`` the ISRCs to release, ``reassign_isrcs`` ``(isrc, track_id)`` pairs whose claim
    moves to another track of the same release (conditioned on the claim naming this release: a swap of two tracks'
    ISRCs cannot free and claim one item in one transaction). ``sync_state`` is the DSP sync state to put with the
    change (a sync's final write). ``inferred_type`` is the release type the tracks imply.
    """

    release: Release
    inferred_type: str | None
    put_tracks: list[Track] = field(default_factory=list)
    delete_tracks: list[Track] = field(default_factory=list)
    put_collaborators: list[Collaborator] = field(default_factory=list)
    delete_collaborators: list[Collaborator] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    claim_isrcs: list[tuple[str, str]] = field(default_factory=list)
    free_isrcs: list[str] = field(default_factory=list)
    reassign_isrcs: list[tuple[str, str]] = field(default_factory=list)
    sync_state: StoredSyncState | None = None

    def item_count(self) -> int:
        """The items the transaction writes (DynamoDB takes at most ``MAX_TRANSACTION_ITEMS``)."""
        return (
            1
            + len(self.put_tracks)
            + len(self.delete_tracks)
            + len(self.put_collaborators)
            + len(self.delete_collaborators)
            + len(self.history)
            + len(self.claim_isrcs)
            + len(self.free_isrcs)
            + len(self.reassign_isrcs)
            + (1 if self.sync_state is not None else 0)
        )


class PendingCleanup(NamedTuple):
    """A deleted release whose cleanup has not finished (its ``CleanupRecord``)."""

    release_id: str
    owner_id: str
    requested_at: datetime


@dataclass(frozen=True)
class ReleaseDeletion:
    """The deletion of ``release`` (at the version read), the ISRC claims its tracks hold, and the time it was
    asked for (the cleanup marker's ``requested_at``)."""

    release: Release
    isrcs: list[str]
    requested_at: datetime


class CatalogueRepository:
    """Releases, tracks, collaborators, history entries, ISRC claims and cleanup markers; every access is a GetItem,
    a Query or a transaction."""

    # -- reads --------------------------------------------------------------------------------------------------------

    def get(self, release_id: str) -> Release | None:
        """The release item alone (GetItem, strongly consistent), or None."""
        try:
            return release_of(ReleaseRecord.get(release_partition(release_id), "RELEASE", consistent_read=True))
        except DoesNotExist:
            return None

    def load(self, release_id: str) -> ReleaseDetail | None:
        """The release with its tracks (running order) and collaborators, from one strongly consistent Query
        (``pk = RELEASE#{id} AND begins_with(sk, "RELEASE")``); None if there is no such release."""
        release: Release | None = None
        tracks: list[Track] = []
        collaborators: list[Collaborator] = []
        items = CatalogueRecord.query(
            release_partition(release_id), CatalogueRecord.sk.startswith("RELEASE"), consistent_read=True
        )
        for item in items:
            if isinstance(item, ReleaseRecord):
                release = release_of(item)
            elif isinstance(item, TrackRecord):
                tracks.append(track_of(item))
            elif isinstance(item, CollaboratorRecord):
                collaborators.append(collaborator_of(item))
        if release is None:
            return None
        tracks.sort(key=lambda t: (t.disc_number, t.track_number, t.created_at))
        collaborators.sort(key=lambda c: (c.created_at, c.id))
        return ReleaseDetail(release=release, tracks=tracks, collaborators=collaborators)

    def list_by_owner(self, owner_id: str, *, limit: int, cursor: str | None) -> Page:
        """An owner's releases, newest first (Query on gsi1)."""
        partition = f"OWNER#{owner_id}#RELEASES"
        start = decode_cursor(cursor, partition_attr="gsi1pk", partition_value=partition)
        result = ReleaseRecord.by_owner.query(
            partition, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        return Page(items=[release_of(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def list_by_status(self, owner_id: str, status: ProductionStatus, *, limit: int, cursor: str | None) -> Page:
        """An owner's releases in one production status, newest first (Query on gsi2)."""
        partition = f"OWNER#{owner_id}#STATUS#{status}"
        start = decode_cursor(cursor, partition_attr="gsi2pk", partition_value=partition)
        result = ReleaseRecord.by_status.query(
            partition, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        return Page(items=[release_of(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def list_due_for_sync(self, now: datetime, *, limit: int) -> list[Release]:
        """Releases whose DSP sync is due at or before ``now``, oldest due first (Query on the sparse gsi3)."""
        return self.due_for_sync_page(now, limit=limit, cursor=None).items

    def due_for_sync_page(self, now: datetime, *, limit: int, cursor: str | None) -> Page:
        """One page (at most ``limit``) of the releases due at or before ``now``, oldest due first: one Query on the
        sparse gsi3 (``gsi3pk = DSP_SYNC_DUE AND gsi3sk <= {now}#~``), never a Scan. ``next_cursor`` continues it
        (None on the last page)."""
        start = decode_cursor(cursor, partition_attr="gsi3pk", partition_value=DSP_SYNC_DUE)
        result = ReleaseRecord.due_for_sync.query(
            DSP_SYNC_DUE, ReleaseRecord.gsi3sk <= f"{sortable_time(now)}#~", limit=limit, last_evaluated_key=start
        )
        items = [release_of(r) for r in result]
        return Page(items=items, next_cursor=encode_cursor(result.last_evaluated_key))

    def history(self, release_id: str, *, limit: int, cursor: str | None) -> Page:
        """A release's history entries, newest first (Query ``begins_with(sk, "HISTORY#")`` in its partition)."""
        partition = release_partition(release_id)
        start = decode_cursor(cursor, partition_attr="pk", partition_value=partition)
        result = HistoryRecord.query(
            partition,
            HistoryRecord.sk.startswith("HISTORY#"),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=start,
        )
        return Page(items=[history_of(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def isrc_holder(self, owner_id: str, isrc: str) -> tuple[str, str] | None:
        """``(release_id, track_id)`` of the owner's track holding ``isrc``, or None."""
        try:
            claim = IsrcClaimRecord.get(claim_key(owner_id, isrc), "ISRC", consistent_read=True)
        except DoesNotExist:
            return None
        return claim.release_id, claim.track_id

    # -- writes -------------------------------------------------------------------------------------------------------

    def write(self, change: CatalogueWrite) -> None:
        """Apply ``change`` in one transaction.

        Raises ``TransactionTooLargeError`` (409 ``transaction_too_large``) when it needs more than 100 items,
        ``VersionConflictError`` (412) when the release, a track or a collaborator changed since it was read,
        ``ConflictError`` (``isrc_in_use``, 409, details naming the holding track) when an ISRC to claim is held by
        another track of the owner, and the retryable or fatal errors of ``send_transaction``.
        """
        release = change.release
        owner = release.owner_id
        steps = [Step("Put", "release", release.id, release_record(release, change.inferred_type))]
        steps += [Step("Delete", "track", t.id, track_record(t, owner)) for t in change.delete_tracks]
        steps += [
            Step("Delete", "collaborator", c.id, collaborator_record(c, owner)) for c in change.delete_collaborators
        ]
        steps += [Step("Delete", "isrc_free", isrc, claim_record(owner, isrc)) for isrc in change.free_isrcs]
        steps += [Step("Put", "track", t.id, track_record(t, owner)) for t in change.put_tracks]
        steps += [Step("Put", "collaborator", c.id, collaborator_record(c, owner)) for c in change.put_collaborators]
        steps += [Step("Put", "history", e.id, history_record(e)) for e in change.history]
        for isrc, track_id in change.claim_isrcs:
            claim = IsrcClaimRecord(
                claim_key(owner, isrc), "ISRC", owner_id=owner, isrc=isrc, release_id=release.id, track_id=track_id
            )
            steps.append(Step("Put", "isrc", isrc, claim, IsrcClaimRecord.pk.does_not_exist()))
        for isrc, track_id in change.reassign_isrcs:
            claim = IsrcClaimRecord(
                claim_key(owner, isrc), "ISRC", owner_id=owner, isrc=isrc, release_id=release.id, track_id=track_id
            )
            steps.append(Step("Put", "isrc", isrc, claim, IsrcClaimRecord.release_id == release.id))
        if change.sync_state is not None:
            steps.append(Step("Put", "sync_state", release.id, sync_state_record(change.sync_state)))
        send_transaction(steps, lambda step, exc: self._condition_failed(step, exc, owner))

    def delete(self, deletion: ReleaseDeletion) -> list[str]:
        """Delete a release in one transaction: the release item (conditioned on the version read), the ISRC claims of
        its tracks, and a pending-cleanup marker (``CLEANUP`` / ``RELEASE#{id}``) put in its place.

        Tracks, collaborators, history entries and attachments stay for the cleanup worker
        (``purge_release_partition``); nothing reaches them once the release item is gone. Returns the ISRCs left
        claimed because the transaction had no room for them (only when 99 tracks all hold one): the purge frees them.
        Raises ``VersionConflictError`` when the release changed since it was read.
        """
        release = deletion.release
        room = MAX_TRANSACTION_ITEMS - 2
        freed, left = deletion.isrcs[:room], deletion.isrcs[room:]
        marker = CleanupRecord(
            CLEANUP,
            cleanup_key(release.id),
            release_id=release.id,
            owner_id=release.owner_id,
            requested_at=deletion.requested_at,
        )
        steps = [Step("Delete", "release", release.id, release_record(release, None))]
        steps += [Step("Delete", "isrc_free", isrc, claim_record(release.owner_id, isrc)) for isrc in freed]
        steps.append(Step("Put", "cleanup", release.id, marker))
        send_transaction(steps, lambda step, exc: self._condition_failed(step, exc, release.owner_id))
        return left

    def _condition_failed(self, step: Step, exc: TransactWriteError, owner_id: str) -> NoReturn:
        """The domain error of a step whose condition failed: a held ISRC, or an item at another version."""
        if step.kind == "isrc":
            holder = self.isrc_holder(owner_id, step.key)
            details: dict[str, Any] = {"isrc": step.key}
            if holder:
                details.update(release_id=holder[0], track_id=holder[1])
            raise ConflictError(
                "This ISRC is already used by another track of your catalogue.", code="isrc_in_use", details=details
            ) from exc
        raise VersionConflictError(step.kind, {"id": step.key}) from exc

    # -- cleanup of deleted releases ----------------------------------------------------------------------------------

    def pending_cleanups(self, older_than: datetime, limit: int) -> list[PendingCleanup]:
        """Up to ``limit`` deleted releases whose cleanup was asked for before ``older_than`` and is not finished
        (Query ``pk = CLEANUP``, strongly consistent; the filter on ``requested_at`` runs after the read)."""
        found: list[PendingCleanup] = []
        markers = CleanupRecord.query(
            CLEANUP,
            CleanupRecord.sk.startswith("RELEASE#"),
            filter_condition=CleanupRecord.requested_at < older_than,
            consistent_read=True,
        )
        for marker in markers:
            found.append(PendingCleanup(marker.release_id, marker.owner_id, marker.requested_at))
            if len(found) >= limit:
                break
        return found

    def finish_cleanup(self, release_id: str) -> None:
        """Delete the release's pending-cleanup marker (nothing happens if there is none)."""
        CleanupRecord(CLEANUP, cleanup_key(release_id)).delete()

    def purge_release_partition(self, release_id: str) -> list[str]:
        """Delete every item of the ``RELEASE#{id}`` partition (tracks, collaborators, history, attachments, anything
        else) and the ISRC claims its tracks still hold; returns the ids of the assets its attachments named
        (``asset_id`` and ``latest_asset_id``, sorted, distinct), which it leaves alone. Idempotent: a second run finds
        nothing and returns ``[]``.

        A claim is only deleted while it still names this release and track (a condition), so an ISRC another
        release took since is kept. Claims go first: a run cut short still finds the tracks that name them.
        """
        partition = release_partition(release_id)
        for track in TrackRecord.query(partition, TrackRecord.sk.startswith("RELEASE#TRACK#"), consistent_read=True):
            if track.isrc:
                self._free_claim(track.owner_id, track.isrc, release_id, track.track_id)
        # AttachmentRecord carries no discriminator, so its Query returns every item of the partition, whatever kind
        # (only the attachments' own attributes are read).
        items = list(AttachmentRecord.query(partition, consistent_read=True))
        attachments = [item for item in items if item.sk.startswith("ATTACHMENT#")]
        assets = {a.asset_id for a in attachments if a.asset_id} | {
            a.latest_asset_id for a in attachments if a.latest_asset_id
        }
        with AttachmentRecord.batch_write() as batch:
            for item in items:
                batch.delete(item)
        return sorted(assets)

    def _free_claim(self, owner_id: str, isrc: str, release_id: str, track_id: str) -> None:
        """Delete the claim of ``isrc`` if it still names this release and track (else it is another's: kept)."""
        condition = (IsrcClaimRecord.release_id == release_id) & (IsrcClaimRecord.track_id == track_id)
        try:
            claim_record(owner_id, isrc).delete(condition=condition)
        except DeleteError as exc:
            if not is_condition_failure(exc):
                raise
