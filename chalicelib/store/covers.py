"""The one transaction that ends an ingest run of a release's artwork: the asset ``ready`` and, when it is the newest,
the release's cover moved to it with a history entry, all on condition that the release still exists and is not
``locked``. Either all of it is written or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models.catalogue import HistoryEntry
from chalicelib.models.domain import Asset, AssetMedia
from chalicelib.store.assets import completion
from chalicelib.store.catalogue import history_record, release_partition
from chalicelib.store.dynamo import utcnow
from chalicelib.store.records import AttachmentRecord, ReleaseRecord
from chalicelib.store.transactions import connection_to

#: What became of a cover write: ``written``; ``superseded`` (another run claimed the asset); ``release_changed``
#: (the release is gone, locked, or its production status moved since it was read); ``attachment_changed`` (another
#: asset took the role since it was read); ``conflict`` (DynamoDB's TransactionConflict or throttling: nothing was
#: written, send it again).
CoverOutcome = Literal["written", "superseded", "release_changed", "attachment_changed", "conflict"]

#: Cancellation reasons that mean "not now" (DynamoDB API reference, TransactWriteItems, CancellationReasons).
_TRANSIENT = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


@dataclass(frozen=True)
class CoverWrite:
    """The end of one ingest run of an asset made for a release's ``role``.

    ``asset`` was claimed by ``run`` and becomes ``ready`` with ``media``. The release must still exist, not be
    ``locked`` and still be in ``production_status`` (the status the history entry records). With ``history`` set, the
    role moves to ``asset`` on condition that it is still held by ``previous_asset_id`` (None: held by none), and the
    entry is written in the release's partition; without it (a newer asset holds the role) only the asset changes.
    """

    asset: Asset
    run: str
    media: AssetMedia
    release_id: str
    production_status: str
    role: str
    previous_asset_id: str | None
    history: HistoryEntry | None


def write_cover(change: CoverWrite) -> CoverOutcome:
    """Send ``change`` as one TransactWriteItems request and say what became of it (see ``CoverOutcome``).

    Raises ``TransactWriteError`` for anything else DynamoDB answers (the worker's retry sends it again).
    """
    release_key = release_partition(change.release_id)
    # PynamoDB sends condition checks, deletes, puts, then updates (pynamodb/connection/base.py); the labels follow
    # that order so each cancellation reason pairs with its item.
    labels: list[str] = ["release"]
    asset_record, asset_actions, asset_condition = completion(change.asset.id, run=change.run, media=change.media)
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.condition_check(
                ReleaseRecord,
                release_key,
                "RELEASE",
                condition=ReleaseRecord.pk.exists()
                & (ReleaseRecord.lock_status != "locked")
                & (ReleaseRecord.production_status == change.production_status),
            )
            if change.history is not None:
                transaction.save(history_record(change.history))
                labels.append("history")
            transaction.update(asset_record, actions=asset_actions, condition=asset_condition)
            labels.append("asset")
            if change.history is not None:
                attachment = AttachmentRecord(pk=release_key, sk=f"ATTACHMENT#{change.role}")
                held_by = (
                    AttachmentRecord.asset_id.does_not_exist()
                    if change.previous_asset_id is None
                    else AttachmentRecord.asset_id == change.previous_asset_id
                )
                transaction.update(
                    attachment,
                    actions=[
                        AttachmentRecord.owner_id.set(change.asset.owner_id),
                        AttachmentRecord.asset_id.set(change.asset.id),
                        AttachmentRecord.asset_created_at.set(change.asset.created_at),
                        AttachmentRecord.attached_at.set(utcnow()),
                    ],
                    condition=held_by,
                )
                labels.append("attachment")
    except TransactWriteError as exc:
        return _outcome(exc, labels)
    return "written"


def _outcome(exc: TransactWriteError, labels: list[str]) -> CoverOutcome:
    if exc.cause_response_code != "TransactionCanceledException":
        raise exc
    failed = {
        label: reason.code
        for label, reason in zip(labels, exc.cancellation_reasons, strict=False)
        if reason is not None and reason.code not in ("None", "")
    }
    conditions = {label for label, code in failed.items() if code == "ConditionalCheckFailed"}
    # The asset first: a run that lost its claim has nothing left to decide.
    if "asset" in conditions:
        return "superseded"
    if "release" in conditions:
        return "release_changed"
    if "attachment" in conditions:
        return "attachment_changed"
    if failed and all(code in _TRANSIENT for code in failed.values()):
        return "conflict"
    raise exc


def _connection() -> Connection:
    """The catalogue's cached connection, bound like the records (moto's URL locally)."""
    meta = ReleaseRecord.Meta
    return connection_to(meta.region, meta.host)
