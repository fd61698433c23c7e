"""Records ⇄ domain models of the release catalogue, through pydantic: only renamed and derived fields are named.

Keys: a release and everything it owns share the partition ``RELEASE#{id}``; ISRC claims sit at
``ISRC#{owner}#{isrc}`` (see ``chalicelib.store.records``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from chalicelib.models.catalogue import (
    Collaborator,
    HistoryEntry,
    Release,
    Track,
    bp_to_percent,
    percent_to_bp,
)
from chalicelib.store.records import (
    CatalogueRecord,
    CollaboratorRecord,
    HistoryRecord,
    IsrcClaimRecord,
    ReleaseRecord,
    TrackRecord,
)

#: The gsi3 partition of releases whose DSP sync is due (a sparse index: only those releases carry it).
DSP_SYNC_DUE = "DSP_SYNC_DUE"


def sortable_time(moment: datetime) -> str:
    """A UTC timestamp that sorts as a string: ``2026-11-21T09:30:00.000000Z`` (always with microseconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def release_partition(release_id: str) -> str:
    """The partition key of a release and everything it owns: ``RELEASE#{id}``."""
    return f"RELEASE#{release_id}"


def _versioned[RecordT: CatalogueRecord](record: RecordT, version: int) -> RecordT:
    """``record`` at the version that was read; a new item (0) keeps none, and PynamoDB writes it with 1."""
    if version:
        record.version = version
    return record


# -- records ⇄ domain (pydantic both ways; the exceptions are spelled out) ------------------------------------------


def _model[ModelT: BaseModel](model: type[ModelT], record: Any, **renamed: Any) -> ModelT:
    """``model`` validated from ``record``'s stored attributes and ``renamed``, the fields stored under another name
    or derived. DynamoDB keeps no null attributes: an absent field takes the model's default, or None when the model
    has none (a nullable required field such as a history entry's ``from_status``)."""
    values = {**record.attribute_values, **renamed}
    fields = {
        name: values.get(name) for name, info in model.model_fields.items() if name in values or info.is_required()
    }
    return model.model_validate(fields)


def _plain(value: Any) -> Any:
    """A raw MapAttribute value as plain JSON-able Python."""
    return value.as_dict() if hasattr(value, "as_dict") else value


def _iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


#: Release fields stored under another name or shape: the id, the type (set vs inferred), calendar dates, conflicts.
_RELEASE_APART = {"id", "version", "release_type", "release_type_source", "scheduled_release_date"}
_RELEASE_APART |= {"actual_release_date", "dsp_conflicts", "dsp_ids"}


def release_record(release: Release, inferred_type: str | None) -> ReleaseRecord:
    """The stored item of ``release`` (keys, gsi1–gsi3, ``release_type`` only when set) at its read version."""
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
        release_type=release.release_type if release.release_type_source == "set" else None,
        inferred_release_type=inferred_type,
        scheduled_release_date=_iso_date(release.scheduled_release_date),
        actual_release_date=_iso_date(release.actual_release_date),
        dsp_conflicts=[c.model_dump(mode="json") for c in release.dsp_conflicts] or None,
        dsp_ids=dict(release.dsp_ids) or None,
        **release.model_dump(exclude=_RELEASE_APART),
    )
    return _versioned(record, release.version)


def release_of(record: ReleaseRecord) -> Release:
    """The release of a stored item (the type set, else the inferred one)."""
    explicit_type = record.release_type
    return _model(
        Release,
        record,
        id=record.release_id,
        release_type=explicit_type or record.inferred_release_type,
        release_type_source="set" if explicit_type else "inferred",
        dsp_conflicts=[_plain(c) for c in record.dsp_conflicts or []],
        dsp_ids=_plain(record.dsp_ids) or {},
    )


def track_record(track: Track, owner_id: str) -> TrackRecord:
    """The stored item of ``track`` (``bpm`` as a decimal string) at its read version."""
    record = TrackRecord(
        pk=release_partition(track.release_id),
        sk=f"RELEASE#TRACK#{track.id}",
        track_id=track.id,
        owner_id=owner_id,
        bpm=str(track.bpm) if track.bpm is not None else None,  # a decimal string, never a float
        dsp_ids=dict(track.dsp_ids) or None,
        **track.model_dump(exclude={"id", "version", "bpm", "dsp_ids"}),
    )
    return _versioned(record, track.version)


def track_of(record: TrackRecord) -> Track:
    """The track of a stored item."""
    return _model(Track, record, id=record.track_id, dsp_ids=_plain(record.dsp_ids) or {})


def collaborator_record(collaborator: Collaborator, owner_id: str) -> CollaboratorRecord:
    """The stored item of ``collaborator`` (``split`` as integer basis points) at its read version."""
    split = collaborator.split
    record = CollaboratorRecord(
        pk=release_partition(collaborator.release_id),
        sk=f"RELEASE#COLLABORATOR#{collaborator.id}",
        collaborator_id=collaborator.id,
        owner_id=owner_id,
        split_bp=percent_to_bp(split) if split is not None else None,
        **collaborator.model_dump(exclude={"id", "version", "split"}),
    )
    return _versioned(record, collaborator.version)


def collaborator_of(record: CollaboratorRecord) -> Collaborator:
    """The collaborator of a stored item."""
    split = bp_to_percent(int(record.split_bp)) if record.split_bp is not None else None
    return _model(Collaborator, record, id=record.collaborator_id, split=split)


def history_record(entry: HistoryEntry) -> HistoryRecord:
    """The stored item of a history entry (``HISTORY#{changed_at}#{id}`` in the release partition)."""
    return HistoryRecord(
        pk=release_partition(entry.release_id),
        sk=f"HISTORY#{sortable_time(entry.changed_at)}#{entry.id}",
        entry_id=entry.id,
        metadata=entry.metadata or None,
        created_at=entry.changed_at,
        updated_at=entry.changed_at,
        **entry.model_dump(exclude={"id", "metadata"}),
    )


def history_of(record: HistoryRecord) -> HistoryEntry:
    """The history entry of a stored item."""
    metadata = _plain(record.metadata) if record.metadata is not None else {}
    return _model(HistoryEntry, record, id=record.entry_id, metadata=metadata)


def claim_key(owner_id: str, isrc: str) -> str:
    """The partition key of an ISRC claim: ``ISRC#{owner}#{isrc}``."""
    return f"ISRC#{owner_id}#{isrc}"


def claim_record(owner_id: str, isrc: str) -> IsrcClaimRecord:
    """The key-only item of an ISRC claim (for deletes)."""
    return IsrcClaimRecord(claim_key(owner_id, isrc), "ISRC")


def cleanup_key(release_id: str) -> str:
    """The sort key of a release's pending-cleanup marker: ``RELEASE#{id}``."""
    return f"RELEASE#{release_id}"
