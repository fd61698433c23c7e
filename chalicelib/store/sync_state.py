"""The DSP sync state of a release: one item beside the release (``pk RELEASE#{id}``, ``sk DSP_SYNC``).

The item sits outside the catalogue Query's ``begins_with(sk, "RELEASE")``, so loading a release never reads it; it is
read with one GetItem by ``GET /releases/{id}/sync/status``. A sync's final write puts it in the catalogue transaction
(``CatalogueWrite.sync_state``), so the state and the release's ``last_dsp_sync_at`` never disagree; the marks
``queued`` and ``running`` are single UpdateItems. The purge of a deleted release's partition removes it with the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.models.sync import ErrorInfo, ServiceSync, SyncState, TrackMatch, Unmatched
from chalicelib.store.catalogue_records import release_partition
from chalicelib.store.dynamo import is_condition_failure
from chalicelib.store.records import SyncStateRecord

#: The sort key of the sync-state item.
SYNC_STATE_SK = "DSP_SYNC"


class SyncReport(BaseModel):
    """What the last sync found: each configured service's outcome, the local tracks matched (one entry per service
    that lists the track) and the tracks left without a counterpart."""

    services: list[ServiceSync] = Field(default_factory=list)
    matches: list[TrackMatch] = Field(default_factory=list)
    unmatched: Unmatched = Field(default_factory=Unmatched)


class StoredSyncState(BaseModel):
    """The stored sync state of one release.

    ``requested_at``: the newest sync request seen; ``started_at``: when the running sync began;
    ``served_at``: the release's ``last_dsp_sync_at`` as the last completed sync wrote it (the dedupe mark);
    ``last_synced_at``: when the last sync that wrote finished; ``error`` why it is ``failed`` (or, on ``synced``, why
    the release was not locked).
    """

    release_id: str
    owner_id: str
    state: SyncState
    requested_at: datetime | None = None
    started_at: datetime | None = None
    served_at: datetime | None = None
    last_synced_at: datetime | None = None
    error: ErrorInfo | None = None
    report: SyncReport = Field(default_factory=SyncReport)
    updated_at: datetime


def sync_state_record(state: StoredSyncState) -> SyncStateRecord:
    """The item of ``state`` (``report`` and ``error`` as plain JSON maps)."""
    return SyncStateRecord(
        release_partition(state.release_id),
        SYNC_STATE_SK,
        error=state.error.model_dump(mode="json") if state.error else None,
        report=state.report.model_dump(mode="json"),
        **state.model_dump(exclude={"error", "report"}),
    )


def _plain(value: Any) -> Any:
    return value.as_dict() if hasattr(value, "as_dict") else value


def sync_state_of(record: SyncStateRecord) -> StoredSyncState:
    """The sync state of a stored item."""
    values = {name: value for name, value in record.attribute_values.items() if name not in {"pk", "sk"}}
    values["error"] = _plain(record.error) if record.error is not None else None
    values["report"] = _plain(record.report) if record.report is not None else {}
    return StoredSyncState.model_validate(values)


class SyncStateRepository:
    """The sync-state items: one GetItem to read, one UpdateItem per mark; the final state is written in the
    sync's catalogue transaction instead (``CatalogueWrite.sync_state``)."""

    def get(self, release_id: str) -> StoredSyncState | None:
        """The release's sync state (GetItem, strongly consistent), or None when it never had one.

        An item holding nothing but its keys also reads as None: DynamoDB applies an UpdateItem atomically, but moto
        server (the embedded stack) creates the item of an UpdateItem first and sets its attributes after, so a read
        in another thread can see the bare item for a moment (seen as a 500 of ``GET …/sync/status`` in the e2e tier).
        """
        try:
            record = SyncStateRecord.get(release_partition(release_id), SYNC_STATE_SK, consistent_read=True)
        except DoesNotExist:
            return None
        if record.state is None:
            return None
        return sync_state_of(record)

    def mark_queued(self, release_id: str, owner_id: str, requested_at: datetime) -> None:
        """Set the state ``queued`` at ``requested_at`` (the error cleared); creates the item when there is none."""
        record = SyncStateRecord(release_partition(release_id), SYNC_STATE_SK)
        record.update(
            actions=[
                SyncStateRecord.release_id.set(release_id),
                SyncStateRecord.owner_id.set(owner_id),
                SyncStateRecord.state.set("queued"),
                SyncStateRecord.requested_at.set(requested_at),
                SyncStateRecord.error.remove(),
                SyncStateRecord.updated_at.set(requested_at),
            ]
        )

    def mark_running(
        self, release_id: str, owner_id: str, requested_at: datetime, now: datetime
    ) -> StoredSyncState | None:
        """Set the state ``running`` for the request made at ``requested_at``, unless a completed sync already served
        it (``served_at >= requested_at``): then None, and nothing changes. Returns the state as updated (the last
        sync's report kept), one UpdateItem with ``ReturnValues=ALL_NEW``."""
        record = SyncStateRecord(release_partition(release_id), SYNC_STATE_SK)
        condition = SyncStateRecord.served_at.does_not_exist() | (SyncStateRecord.served_at < requested_at)
        try:
            record.update(
                actions=[
                    SyncStateRecord.release_id.set(release_id),
                    SyncStateRecord.owner_id.set(owner_id),
                    SyncStateRecord.state.set("running"),
                    SyncStateRecord.requested_at.set(requested_at),
                    SyncStateRecord.started_at.set(now),
                    SyncStateRecord.error.remove(),
                    SyncStateRecord.updated_at.set(now),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return sync_state_of(record)

    def put(self, state: StoredSyncState) -> None:
        """Write ``state`` whole (PutItem): the end of a sync that writes nothing else (a retry, a failure)."""
        sync_state_record(state).save()
