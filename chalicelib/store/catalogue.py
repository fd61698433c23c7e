"""The release catalogue in the single table: releases with their tracks, collaborators, history and ISRC claims.

Every change is one ``TransactWriteItems``: the release item, conditioned on the version that was read, together with
every item the change touches (tracks, collaborators, the history entry, ISRC claims). Either all of it is written or
none of it, and a writer that read a stale release fails instead of overwriting a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NoReturn, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.models.catalogue import (
    Collaborator,
    HistoryEntry,
    ProductionStatus,
    Release,
    ReleaseDetail,
    Track,
    bp_to_percent,
    percent_to_bp,
)
from chalicelib.models.domain import Page
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.store.records import (
    AttachmentRecord,
    CatalogueRecord,
    CollaboratorRecord,
    HistoryRecord,
    IsrcClaimRecord,
    ReleaseRecord,
    TrackRecord,
)

#: The gsi3 partition of releases whose DSP sync is due (a sparse index: only those releases carry it).
DSP_SYNC_DUE = "DSP_SYNC_DUE"


class VersionConflictError(PreconditionFailedError):
    """An item changed between the read and the conditional write (``version_mismatch``, 412).

    ``target`` names the item: ``release``, ``track`` or ``collaborator``. Services retry the read-modify-write when
    the caller sent no ``If-Match``; with one, the retry's version check answers 412.
    """

    default_code = "version_mismatch"

    def __init__(self, target: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"The {target} changed since it was read.", details={"target": target, **(details or {})})
        self.target = target


def sortable_time(moment: datetime) -> str:
    """A UTC timestamp that sorts as a string: ``2026-11-21T09:30:00.000000Z`` (always with microseconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def release_partition(release_id: str) -> str:
    """The partition key of a release and everything it owns: ``RELEASE#{id}``."""
    return f"RELEASE#{release_id}"


RecordT = TypeVar("RecordT", bound=CatalogueRecord)


def _versioned(record: RecordT, version: int) -> RecordT:
    """``record`` at the version that was read; a new item (0) keeps none, and PynamoDB writes it with 1."""
    if version:
        record.version = version
    return record


# -- records ⇄ domain -------------------------------------------------------------------------------------------------


def _release_record(release: Release, inferred_type: str | None) -> ReleaseRecord:
    created = sortable_time(release.created_at)
    due = release.dsp_sync_due_at
    record = ReleaseRecord(
        pk=release_partition(release.id),
        sk="RELEASE",
        gsi1pk=f"OWNER#{release.owner_id}#RELEASES",
        gsi1sk=f"{created}#{release.id}",
        gsi2pk=f"OWNER#{release.owner_id}#STATUS#{release.production_status}",
        gsi2sk=f"{created}#{release.id}",
        gsi3pk=DSP_SYNC_DUE if due else None,
        gsi3sk=f"{sortable_time(due)}#{release.id}" if due else None,
        release_id=release.id,
        owner_id=release.owner_id,
        title=release.title,
        display_artist=release.display_artist,
        release_type=release.release_type if release.release_type_source == "set" else None,
        inferred_release_type=inferred_type,
        label=release.label,
        genre=release.genre,
        upc=release.upc,
        p_line=release.p_line,
        c_line=release.c_line,
        explicit=release.explicit,
        description=release.description,
        production_status=release.production_status,
        lock_status=release.lock_status,
        scheduled_release_date=_iso_date(release.scheduled_release_date),
        actual_release_date=_iso_date(release.actual_release_date),
        locked_at=release.locked_at,
        locked_by_sync=release.locked_by_sync,
        distributor_id=release.distributor_id,
        distribution_status=release.distribution_status,
        last_dsp_sync_at=release.last_dsp_sync_at,
        dsp_sync_due_at=due,
        dsp_conflicts=release.dsp_conflicts or None,
        artwork_url=release.artwork_url,
        track_count=release.track_count,
        duration_ms=release.duration_ms,
        created_at=release.created_at,
        updated_at=release.updated_at,
    )
    return _versioned(record, release.version)


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _release(record: ReleaseRecord) -> Release:
    explicit_type = record.release_type
    return Release(
        id=record.release_id,
        owner_id=record.owner_id,
        title=record.title,
        display_artist=record.display_artist,
        release_type=explicit_type or record.inferred_release_type,  # type: ignore[arg-type]
        release_type_source="set" if explicit_type else "inferred",
        label=record.label,
        genre=record.genre,
        upc=record.upc,
        p_line=record.p_line,
        c_line=record.c_line,
        explicit=bool(record.explicit),
        description=record.description,
        production_status=record.production_status,  # type: ignore[arg-type]
        lock_status=record.lock_status,  # type: ignore[arg-type]
        scheduled_release_date=_date(record.scheduled_release_date),
        actual_release_date=_date(record.actual_release_date),
        locked_at=record.locked_at,
        locked_by_sync=bool(record.locked_by_sync),
        distributor_id=record.distributor_id,
        distribution_status=record.distribution_status,  # type: ignore[arg-type]
        last_dsp_sync_at=record.last_dsp_sync_at,
        dsp_sync_due_at=record.dsp_sync_due_at,
        dsp_conflicts=[_plain(c) for c in record.dsp_conflicts or []],
        artwork_url=record.artwork_url,
        track_count=int(record.track_count or 0),
        duration_ms=int(record.duration_ms or 0),
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
    )


def _plain(value: Any) -> Any:
    """A raw MapAttribute value as plain JSON-able Python."""
    return value.as_dict() if hasattr(value, "as_dict") else value


def _track_record(track: Track, owner_id: str) -> TrackRecord:
    record = TrackRecord(
        pk=release_partition(track.release_id),
        sk=f"RELEASE#TRACK#{track.id}",
        track_id=track.id,
        release_id=track.release_id,
        owner_id=owner_id,
        title=track.title,
        track_number=track.track_number,
        disc_number=track.disc_number,
        duration_ms=track.duration_ms,
        isrc=track.isrc,
        explicit=track.explicit,
        bpm=str(track.bpm) if track.bpm is not None else None,
        musical_key=track.musical_key,
        production_notes=track.production_notes,
        created_at=track.created_at,
        updated_at=track.updated_at,
    )
    return _versioned(record, track.version)


def _track(record: TrackRecord) -> Track:
    return Track(
        id=record.track_id,
        release_id=record.release_id,
        title=record.title,
        track_number=int(record.track_number),
        disc_number=int(record.disc_number or 1),
        duration_ms=int(record.duration_ms) if record.duration_ms is not None else None,
        isrc=record.isrc,
        explicit=bool(record.explicit),
        bpm=Decimal(record.bpm) if record.bpm is not None else None,
        musical_key=record.musical_key,
        production_notes=record.production_notes,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
    )


def _collaborator_record(collaborator: Collaborator, owner_id: str) -> CollaboratorRecord:
    record = CollaboratorRecord(
        pk=release_partition(collaborator.release_id),
        sk=f"RELEASE#COLLABORATOR#{collaborator.id}",
        collaborator_id=collaborator.id,
        release_id=collaborator.release_id,
        owner_id=owner_id,
        role=collaborator.role,
        name=collaborator.name,
        isrc_party_id=collaborator.isrc_party_id,
        split_bp=percent_to_bp(collaborator.split) if collaborator.split is not None else None,
        creator_id=collaborator.creator_id,
        created_at=collaborator.created_at,
        updated_at=collaborator.updated_at,
    )
    return _versioned(record, collaborator.version)


def _collaborator(record: CollaboratorRecord) -> Collaborator:
    return Collaborator(
        id=record.collaborator_id,
        release_id=record.release_id,
        role=record.role,  # type: ignore[arg-type]
        name=record.name,
        isrc_party_id=record.isrc_party_id,
        split=bp_to_percent(int(record.split_bp)) if record.split_bp is not None else None,
        creator_id=record.creator_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version=int(record.version or 0),
    )


def history_record(entry: HistoryEntry) -> HistoryRecord:
    """The stored item of a history entry (``HISTORY#{changed_at}#{id}`` in the release partition)."""
    return HistoryRecord(
        pk=release_partition(entry.release_id),
        sk=f"HISTORY#{sortable_time(entry.changed_at)}#{entry.id}",
        entry_id=entry.id,
        release_id=entry.release_id,
        from_status=entry.from_status,
        to_status=entry.to_status,
        changed_by=entry.changed_by,
        changed_at=entry.changed_at,
        reason=entry.reason,
        metadata=entry.metadata or None,
        created_at=entry.changed_at,
        updated_at=entry.changed_at,
    )


def _history(record: HistoryRecord) -> HistoryEntry:
    return HistoryEntry(
        id=record.entry_id,
        release_id=record.release_id,
        from_status=record.from_status,  # type: ignore[arg-type]
        to_status=record.to_status,  # type: ignore[arg-type]
        changed_by=record.changed_by,
        changed_at=record.changed_at,
        reason=record.reason,
        metadata=_plain(record.metadata) if record.metadata is not None else {},
    )


def _claim_key(owner_id: str, isrc: str) -> str:
    return f"ISRC#{owner_id}#{isrc}"


# -- writes -----------------------------------------------------------------------------------------------------------


@dataclass
class CatalogueWrite:
    """One atomic change of a release and what it owns.

    ``release`` is the release as it must be stored, carrying the ``version`` that was read (0 for a new release): the
    write only succeeds if the stored version still is that one. Tracks and collaborators in ``put_*`` / ``delete_*``
    carry the version read too (0 for new ones). ``claim_isrcs`` are ``(isrc, track_id)`` pairs to reserve in the
    owner's catalogue, ``free_isrcs`` the ISRCs to release. ``inferred_type`` is the release type the tracks imply.
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


class CatalogueRepository:
    """Releases, tracks, collaborators, history entries and ISRC claims; every access is a GetItem or a Query."""

    # -- reads --------------------------------------------------------------------------------------------------------

    def get(self, release_id: str) -> Release | None:
        """The release item alone (GetItem, strongly consistent), or None."""
        try:
            return _release(ReleaseRecord.get(release_partition(release_id), "RELEASE", consistent_read=True))
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
                release = _release(item)
            elif isinstance(item, TrackRecord):
                tracks.append(_track(item))
            elif isinstance(item, CollaboratorRecord):
                collaborators.append(_collaborator(item))
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
        return Page(items=[_release(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def list_by_status(self, owner_id: str, status: ProductionStatus, *, limit: int, cursor: str | None) -> Page:
        """An owner's releases in one production status, newest first (Query on gsi2)."""
        partition = f"OWNER#{owner_id}#STATUS#{status}"
        start = decode_cursor(cursor, partition_attr="gsi2pk", partition_value=partition)
        result = ReleaseRecord.by_status.query(
            partition, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
        return Page(items=[_release(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def list_due_for_sync(self, now: datetime, *, limit: int) -> list[Release]:
        """Releases whose DSP sync is due at or before ``now``, oldest due first (Query on the sparse gsi3)."""
        result = ReleaseRecord.due_for_sync.query(
            DSP_SYNC_DUE, ReleaseRecord.gsi3sk <= f"{sortable_time(now)}#~", limit=limit
        )
        return [_release(r) for r in result]

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
        return Page(items=[_history(r) for r in result], next_cursor=encode_cursor(result.last_evaluated_key))

    def isrc_holder(self, owner_id: str, isrc: str) -> tuple[str, str] | None:
        """``(release_id, track_id)`` of the owner's track holding ``isrc``, or None."""
        try:
            claim = IsrcClaimRecord.get(_claim_key(owner_id, isrc), "ISRC", consistent_read=True)
        except DoesNotExist:
            return None
        return claim.release_id, claim.track_id

    # -- writes -------------------------------------------------------------------------------------------------------

    def write(self, change: CatalogueWrite) -> None:
        """Apply ``change`` in one transaction (DynamoDB takes at most 100 items; the service caps tracks).

        Raises ``VersionConflictError`` (412) when the release, a track or a collaborator changed since it was read,
        and ``ConflictError`` (``isrc_in_use``, 409, details naming the holding track) when an ISRC to claim is held
        by another track of the owner.
        """
        release = change.release
        owner = release.owner_id
        deleted: list[tuple[str, str]] = []
        put: list[tuple[str, str]] = []
        try:
            with TransactWrite(connection=_connection()) as transaction:
                for track in change.delete_tracks:
                    transaction.delete(_track_record(track, owner))
                    deleted.append(("track", track.id))
                for collaborator in change.delete_collaborators:
                    transaction.delete(_collaborator_record(collaborator, owner))
                    deleted.append(("collaborator", collaborator.id))
                for isrc in change.free_isrcs:
                    transaction.delete(IsrcClaimRecord(_claim_key(owner, isrc), "ISRC"))
                    deleted.append(("isrc_free", isrc))
                transaction.save(_release_record(release, change.inferred_type))
                put.append(("release", release.id))
                for track in change.put_tracks:
                    transaction.save(_track_record(track, owner))
                    put.append(("track", track.id))
                for collaborator in change.put_collaborators:
                    transaction.save(_collaborator_record(collaborator, owner))
                    put.append(("collaborator", collaborator.id))
                for entry in change.history:
                    transaction.save(history_record(entry))
                    put.append(("history", entry.id))
                for isrc, track_id in change.claim_isrcs:
                    claim = IsrcClaimRecord(
                        _claim_key(owner, isrc),
                        "ISRC",
                        owner_id=owner,
                        isrc=isrc,
                        release_id=release.id,
                        track_id=track_id,
                    )
                    transaction.save(claim, condition=IsrcClaimRecord.pk.does_not_exist())
                    put.append(("isrc", isrc))
        except TransactWriteError as exc:
            # PynamoDB sends deletes before puts; cancellation reasons come back in that order.
            self._raise_cancelled(exc, [*deleted, *put], owner)

    def delete(self, detail: ReleaseDetail) -> None:
        """Delete a release: the release item (conditioned on its version) and its ISRC claims in one transaction,
        then its tracks, collaborators, history and attachments, which nothing reaches once the release item is gone.

        Raises ``VersionConflictError`` when the release changed since ``detail`` was read.
        """
        release = detail.release
        labels: list[tuple[str, str]] = []
        try:
            with TransactWrite(connection=_connection()) as transaction:
                for track in detail.tracks:
                    if track.isrc:
                        transaction.delete(IsrcClaimRecord(_claim_key(release.owner_id, track.isrc), "ISRC"))
                        labels.append(("isrc_free", track.isrc))
                transaction.delete(_release_record(release, None))
                labels.append(("release", release.id))
        except TransactWriteError as exc:
            self._raise_cancelled(exc, labels, release.owner_id)
        partition = release_partition(release.id)
        leftovers: list[tuple[type[Model], Any]] = [
            (CatalogueRecord, CatalogueRecord.sk.startswith("RELEASE#")),
            (HistoryRecord, HistoryRecord.sk.startswith("HISTORY#")),
            (AttachmentRecord, AttachmentRecord.sk.startswith("ATTACHMENT#")),
        ]
        for model, range_condition in leftovers:
            with model.batch_write() as batch:
                for item in model.query(partition, range_condition):
                    batch.delete(item)

    def _raise_cancelled(self, exc: TransactWriteError, labels: list[tuple[str, str]], owner_id: str) -> NoReturn:
        if exc.cause_response_code != "TransactionCanceledException":
            raise exc
        for (kind, key), reason in zip(labels, exc.cancellation_reasons, strict=False):
            if reason is None or reason.code != "ConditionalCheckFailed":
                continue
            if kind == "isrc":
                holder = self.isrc_holder(owner_id, key)
                details: dict[str, Any] = {"isrc": key}
                if holder:
                    details.update(release_id=holder[0], track_id=holder[1])
                raise ConflictError(
                    "This ISRC is already used by another track of your catalogue.", code="isrc_in_use", details=details
                ) from exc
            raise VersionConflictError(kind, {"id": key}) from exc
        # A TransactionConflict: another transaction touched the same items at the same moment; a retry is safe.
        raise VersionConflictError("release") from exc


def _connection() -> Connection:
    """The PynamoDB connection transactions go through, reused: building one loads botocore's DynamoDB model."""
    meta = CatalogueRecord.Meta
    return _connection_to(meta.region, meta.host)


@lru_cache(maxsize=4)
def _connection_to(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)
