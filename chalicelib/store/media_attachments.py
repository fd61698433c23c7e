"""Media attachments in the single table: which of the caller's assets fill which roles of an owner object.

Items (``records.MediaAttachmentRecord``): pk ``ATTACH#{owner}#{owner_type}#{owner_id}`` (``owner`` is the caller, so
a client's own type such as ``scene/x`` is namespaced by caller), sk ``cover`` for the one cover of the object or
``{role}#{sort_order:010d}#{attachment_id}`` for the ordered roles; gsi1 ``ASSET#{asset_id}#ATTACHMENTS`` /
``{attachment_id}`` lists an asset's attachments. One Query lists an object's attachments in sk order: the cover
first, then each role in ``sort_order`` (ties in attach order: attachment ids start with the time).

Writes go through :func:`send`: one TransactWriteItems of labelled steps whose cancellation reasons name the steps
whose condition failed, so a service can tell "the release moved", "the asset went" and "another cover came" apart.
Raw PynamoDB failures never leave this module except as ``TransientTransactionError`` (retry) or
``TransactionFailedError`` (500).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.models.catalogue import HistoryEntry
from chalicelib.models.domain import Asset
from chalicelib.models.media import MediaAttachment
from chalicelib.store.assets import asset_of
from chalicelib.store.catalogue import history_record, release_partition
from chalicelib.store.dynamo import get_item, is_condition_failure
from chalicelib.store.records import (
    AssetRecord,
    AttachmentRecord,
    MediaAttachmentRecord,
    ReleaseRecord,
    TrackRecord,
)
from chalicelib.store.transactions import (
    RETRYABLE_ERRORS,
    RETRYABLE_REASONS,
    TransactionFailedError,
    TransientTransactionError,
    connection_to,
)

#: The sort key of an owner object's cover.
COVER_SK = "cover"
#: BatchGetItem reads at most 100 keys per request (DynamoDB API reference, BatchGetItem).
BATCH_GET_MAX = 100
#: A track is named ``{release_id}.{track_id}`` (tracks live in their release's partition; there is no index by
#: track id alone).
TRACK_SEPARATOR = "."

StepKind = Literal["check", "delete", "put", "update"]
#: The order PynamoDB lays out a ``TransactWrite``'s actions (pynamodb/connection/base.py, 6.x).
_KIND_ORDER: tuple[StepKind, ...] = ("check", "delete", "put", "update")


def owner_partition(owner: str, owner_type: str, owner_id: str) -> str:
    """The partition of an owner object's attachments: ``ATTACH#{owner}#{owner_type}#{owner_id}``.

    ``owner_type`` and ``owner_id`` never hold ``#`` (the request models' patterns), so two objects never share one.
    """
    return f"ATTACH#{owner}#{owner_type}#{owner_id}"


def asset_partition(asset_id: str) -> str:
    """The gsi1 partition of an asset's attachments: ``ASSET#{asset_id}#ATTACHMENTS``."""
    return f"ASSET#{asset_id}#ATTACHMENTS"


def sort_key(attachment: MediaAttachment) -> str:
    """``cover``, or ``{role}#{sort_order:010d}#{id}`` for the ordered roles (ten digits: string order is numeric)."""
    if attachment.role == "cover":
        return COVER_SK
    return f"{attachment.role}#{attachment.sort_order:010d}#{attachment.id}"


def new_attachment_id() -> str:
    """32 hex digits that sort in creation order: milliseconds since the epoch (12 digits), then 20 random ones."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def track_owner_id(release_id: str, track_id: str) -> str:
    """The ``owner_id`` of a track: ``{release_id}.{track_id}``."""
    return f"{release_id}{TRACK_SEPARATOR}{track_id}"


def attachment_record(attachment: MediaAttachment) -> MediaAttachmentRecord:
    """The stored item of ``attachment``."""
    return MediaAttachmentRecord(
        pk=owner_partition(attachment.owner, attachment.owner_type, attachment.owner_id),
        sk=sort_key(attachment),
        gsi1pk=asset_partition(attachment.asset_id),
        gsi1sk=attachment.id,
        attachment_id=attachment.id,
        asset_id=attachment.asset_id,
        owner=attachment.owner,
        owner_type=attachment.owner_type,
        owner_id=attachment.owner_id,
        role=attachment.role,
        sort_order=attachment.sort_order,
        meta_json=json.dumps(attachment.meta, separators=(",", ":")) if attachment.meta else None,
        created_at=attachment.created_at,
    )


def attachment_of(record: MediaAttachmentRecord) -> MediaAttachment:
    """The domain attachment of a stored item."""
    values: dict[str, Any] = dict(record.attribute_values)
    meta = values.pop("meta_json", None)
    return MediaAttachment.model_validate({**values, "id": record.attachment_id, "meta": json.loads(meta or "{}")})


@dataclass(frozen=True)
class Step:
    """One action of a transaction: ``kind`` on ``record`` with ``condition`` (and ``actions`` for an update),
    labelled so that a cancellation reason names what failed (``release``, ``asset``, ``attachment``, ``pointer``…)."""

    label: str
    kind: StepKind
    record: Model
    condition: Any = None
    actions: list[Any] = field(default_factory=list)


def send(steps: Sequence[Step]) -> frozenset[str]:
    """Write ``steps`` in one TransactWriteItems request, all or nothing; the labels whose condition failed (empty:
    written).

    Raises ``TransientTransactionError`` when only conflicts or throttling cancelled it (nothing was written: read,
    plan and send again) and ``TransactionFailedError`` (500) for any other refusal. Source: DynamoDB API reference,
    TransactWriteItems (``CancellationReasons`` are in the order of the items sent).
    """
    sent = sorted(steps, key=lambda step: _KIND_ORDER.index(step.kind))
    meta = MediaAttachmentRecord.Meta
    try:
        with TransactWrite(connection=connection_to(meta.region, meta.host)) as transaction:
            for step in sent:
                if step.kind == "check":
                    record: Any = step.record
                    transaction.condition_check(type(record), record.pk, record.sk, step.condition)
                elif step.kind == "delete":
                    transaction.delete(step.record, condition=step.condition)
                elif step.kind == "put":
                    transaction.save(step.record, condition=step.condition)
                else:
                    transaction.update(step.record, actions=step.actions, condition=step.condition)
    except TransactWriteError as exc:
        return _failed_labels(exc, sent)
    return frozenset()


def _failed_labels(exc: TransactWriteError, sent: list[Step]) -> frozenset[str]:
    code = exc.cause_response_code or ""
    if code in RETRYABLE_ERRORS:
        raise TransientTransactionError([code]) from exc
    if code != "TransactionCanceledException":
        raise TransactionFailedError("The attachment could not be written.", details={"error": code}) from exc
    reasons = [
        (step.label, reason.code)
        for step, reason in zip(sent, exc.cancellation_reasons, strict=False)
        if reason is not None and reason.code not in (None, "", "None")
    ]
    failed = frozenset(label for label, reason in reasons if reason == "ConditionalCheckFailed")
    if failed:
        return failed
    if reasons and all(reason in RETRYABLE_REASONS for _, reason in reasons):
        raise TransientTransactionError([reason for _, reason in reasons]) from exc
    raise TransactionFailedError(
        "The attachment could not be written.", details={"error": code, "reasons": [r for _, r in reasons]}
    ) from exc


class MediaAttachmentRepository:
    """Reads and single-item deletes of attachments; multi-item writes are planned by the service and sent with
    :func:`send`."""

    def list_for_owner(self, owner: str, owner_type: str, owner_id: str) -> list[MediaAttachment]:
        """Every attachment of the object, the cover first, then each role in ``sort_order`` (one strongly
        consistent Query, every page)."""
        query = MediaAttachmentRecord.query(owner_partition(owner, owner_type, owner_id), consistent_read=True)
        return [attachment_of(record) for record in query]

    def cover(self, owner: str, owner_type: str, owner_id: str) -> MediaAttachment | None:
        """The object's cover attachment, or None (strongly consistent GetItem)."""
        record = get_item(MediaAttachmentRecord, owner_partition(owner, owner_type, owner_id), COVER_SK)
        return attachment_of(record) if record is not None else None

    def in_role(self, owner: str, owner_type: str, owner_id: str, role: str) -> list[MediaAttachment]:
        """The object's attachments in an ordered ``role``, in ``sort_order`` (strongly consistent Query)."""
        query = MediaAttachmentRecord.query(
            owner_partition(owner, owner_type, owner_id),
            MediaAttachmentRecord.sk.startswith(f"{role}#"),
            consistent_read=True,
        )
        return [attachment_of(record) for record in query]

    def list_for_asset(self, asset_id: str) -> list[MediaAttachment]:
        """Every attachment of the asset (gsi1; eventually consistent: one written a moment ago may be missing)."""
        return [attachment_of(record) for record in MediaAttachmentRecord.by_asset.query(asset_partition(asset_id))]

    def find(self, asset_id: str, attachment_id: str) -> MediaAttachment | None:
        """The asset's attachment ``attachment_id`` (gsi1, then a strongly consistent GetItem of the item it names,
        so one replaced meanwhile is not returned), or None."""
        hits = MediaAttachmentRecord.by_asset.query(
            asset_partition(asset_id), MediaAttachmentRecord.gsi1sk == attachment_id
        )
        for hit in hits:
            record = get_item(MediaAttachmentRecord, hit.pk, hit.sk)
            if record is not None and record.attachment_id == attachment_id and record.asset_id == asset_id:
                return attachment_of(record)
        return None

    def delete(self, attachment: MediaAttachment) -> bool:
        """Delete the attachment while its item still is it (the same id); False when it is gone or was replaced."""
        record = attachment_record(attachment)
        try:
            record.delete(condition=MediaAttachmentRecord.attachment_id == attachment.id)
        except DeleteError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delete_for_owner(self, owner: str, owner_type: str, owner_id: str) -> int:
        """Delete every attachment of the object (its whole partition, in batches); how many it deleted.
        Idempotent: a second run finds nothing."""
        query = MediaAttachmentRecord.query(owner_partition(owner, owner_type, owner_id), consistent_read=True)
        records = list(query)
        with MediaAttachmentRecord.batch_write() as batch:
            for record in records:
                batch.delete(record)
        return len(records)

    def track_owner_ids(self, release_id: str) -> list[str]:
        """The ``owner_id`` of every track still in the release's partition (``{release_id}.{track_id}``)."""
        query = TrackRecord.query(
            release_partition(release_id), TrackRecord.sk.startswith("RELEASE#TRACK#"), consistent_read=True
        )
        return [track_owner_id(release_id, record.track_id) for record in query]

    def track_owner(self, release_id: str, track_id: str) -> str | None:
        """The owner (user id) of the track, or None when there is no such track (strongly consistent GetItem)."""
        record = get_item(TrackRecord, release_partition(release_id), f"RELEASE#TRACK#{track_id}")
        return str(record.owner_id) if isinstance(record, TrackRecord) else None

    def asset(self, asset_id: str) -> Asset | None:
        """One asset, or None (strongly consistent GetItem)."""
        record = get_item(AssetRecord, f"ASSET#{asset_id}", "ASSET")
        return asset_of(record) if record is not None else None

    def assets(self, asset_ids: Iterable[str]) -> dict[str, Asset]:
        """The assets by id (strongly consistent BatchGetItem, ≤ 100 keys a request, unprocessed keys retried by
        PynamoDB); missing ids are left out."""
        keys = [(f"ASSET#{asset_id}", "ASSET") for asset_id in dict.fromkeys(asset_ids)]
        found: dict[str, Asset] = {}
        for start in range(0, len(keys), BATCH_GET_MAX):
            for record in AssetRecord.batch_get(keys[start : start + BATCH_GET_MAX], consistent_read=True):
                asset = asset_of(record)
                found[asset.id] = asset
        return found


@dataclass(frozen=True)
class CoverPointerMove:
    """A change of a release's cover pointer (``RELEASE#{id}`` / ``ATTACHMENT#cover``, read by the artwork view)
    made with an attachment change, in the same transaction.

    The pointer moves from ``previous_asset_id`` (None: held by none) to ``asset_id``, on condition that it still
    names ``previous_asset_id``, and ``asset_id`` becomes the newest upload of the role too, at ``at`` (so an older
    upload still in flight never takes the cover back). With ``production_status`` set, the release must still exist
    in that status (and, with ``refuse_locked``, not be ``locked``), and ``history`` is written in its partition.
    """

    release_id: str
    owner: str
    previous_asset_id: str | None
    asset_id: str
    at: datetime
    production_status: str | None
    refuse_locked: bool
    history: HistoryEntry | None = None


@dataclass(frozen=True)
class CoverPointerClear:
    """``asset_id`` leaves a release's cover pointer: with ``cover`` the cover is cleared (on condition that the pointer
    still names it), with ``latest`` the newest-upload marker is (on condition that it still names it), so no item
    names the asset afterwards. ``production_status``, ``refuse_locked`` and ``history`` as in ``CoverPointerMove``.
    """

    release_id: str
    asset_id: str
    cover: bool
    latest: bool
    at: datetime
    production_status: str | None
    refuse_locked: bool
    history: HistoryEntry | None = None


def _release_steps(
    release_id: str, production_status: str | None, refuse_locked: bool, history: HistoryEntry | None
) -> list[Step]:
    if production_status is None:
        return []
    condition = ReleaseRecord.pk.exists() & (ReleaseRecord.production_status == production_status)
    if refuse_locked:
        condition = condition & (ReleaseRecord.lock_status != "locked")
    steps = [Step("release", "check", ReleaseRecord(release_partition(release_id), "RELEASE"), condition)]
    if history is not None:
        steps.append(Step("history", "put", history_record(history)))
    return steps


def _pointer_steps(move: CoverPointerMove | CoverPointerClear) -> list[Step]:
    steps = _release_steps(move.release_id, move.production_status, move.refuse_locked, move.history)
    pointer = AttachmentRecord(release_partition(move.release_id), "ATTACHMENT#cover")
    if isinstance(move, CoverPointerClear):
        actions: list[Any] = [AttachmentRecord.attached_at.set(move.at)]
        condition: Any = AttachmentRecord.pk.exists()
        if move.cover:
            actions.append(AttachmentRecord.asset_id.remove())
            condition = condition & (AttachmentRecord.asset_id == move.asset_id)
        if move.latest:
            actions += [AttachmentRecord.latest_asset_id.remove(), AttachmentRecord.latest_created_at.remove()]
            condition = condition & (AttachmentRecord.latest_asset_id == move.asset_id)
        steps.append(Step("pointer", "update", pointer, condition, actions))
        return steps
    held = (
        AttachmentRecord.asset_id.does_not_exist()
        if move.previous_asset_id is None
        else AttachmentRecord.asset_id == move.previous_asset_id
    )
    actions = [
        AttachmentRecord.owner_id.set(move.owner),
        AttachmentRecord.asset_id.set(move.asset_id),
        AttachmentRecord.asset_created_at.set(move.at),
        AttachmentRecord.attached_at.set(move.at),
        AttachmentRecord.latest_asset_id.set(move.asset_id),
        AttachmentRecord.latest_created_at.set(move.at),
    ]
    steps.append(Step("pointer", "update", pointer, held, actions))
    return steps


def write_attachment(
    attachment: MediaAttachment,
    *,
    replaces: str | None,
    require_ready: bool,
    pointer: CoverPointerMove | None = None,
) -> frozenset[str]:
    """Put ``attachment`` in one transaction with a check of its asset and, for a release's cover, the pointer move.

    Conditions (the label that fails): ``asset`` (it exists, is not being deleted and, with ``require_ready``, is
    ``ready``); ``attachment`` (its key is free, or, with ``replaces``, still holds the attachment of that id);
    ``release`` and ``pointer`` (``CoverPointerMove``). Returns the failed labels (empty: written); raises as
    :func:`send`.
    """
    condition = AssetRecord.pk.exists() & AssetRecord.deleted_at.does_not_exist()
    if require_ready:
        condition = condition & (AssetRecord.status == "ready")
    steps = [Step("asset", "check", AssetRecord(f"ASSET#{attachment.asset_id}", "ASSET"), condition)]
    held = (
        MediaAttachmentRecord.pk.does_not_exist()
        if replaces is None
        else MediaAttachmentRecord.attachment_id == replaces
    )
    steps.append(Step("attachment", "put", attachment_record(attachment), held))
    if pointer is not None:
        steps += _pointer_steps(pointer)
    return send(steps)


def remove_attachment(attachment: MediaAttachment | None, *, pointer: CoverPointerClear | None) -> frozenset[str]:
    """Delete ``attachment`` (while its item still is it: label ``attachment``) and/or take an asset out of a
    release's cover pointer (``CoverPointerClear``, label ``pointer``), in one transaction. Returns the failed
    labels."""
    steps: list[Step] = []
    if attachment is not None:
        condition = MediaAttachmentRecord.attachment_id == attachment.id
        steps.append(Step("attachment", "delete", attachment_record(attachment), condition))
    if pointer is not None:
        steps += _pointer_steps(pointer)
    return send(steps) if steps else frozenset()
