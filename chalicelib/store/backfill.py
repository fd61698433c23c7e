"""The legacy backfill's table access (issue 11, ``services/backfill.py``): the Scan for legacy work, its checkpoint,
the per-release artwork import mark and the conditional update that fills an asset's missing library fields.

The Scan here is the one Scan of Sleeve: an operator's backfill (``python -m chalicelib.cli backfill``), never a
request path. Raw PynamoDB failures other than condition failures are left to raise (the worker's SQS retry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.models.domain import Asset
from chalicelib.store.assets import asset_of
from chalicelib.store.dynamo import get_item, is_condition_failure, update_if, utcnow
from chalicelib.store.records import (
    ArtworkImportRecord,
    AssetRecord,
    BackfillCheckpointRecord,
    ReleaseRecord,
)

CHECKPOINT_PK = "BACKFILL#media"
CHECKPOINT_SK = "CHECKPOINT"
ARTWORK_MARK_SK = "BACKFILL#artwork"
#: Marks that end a release's backfill: nothing more to send for it.
FINAL_MARK_STATES = frozenset({"started", "refused", "covered"})

type ItemKind = Literal["release", "asset", "mark"]


@dataclass(frozen=True)
class ScannedItem:
    """One item of a Scan page: ``kind`` (``release``, ``asset``, or ``mark`` for a release's artwork mark), ``id``
    (release or asset id), ``key`` (its DynamoDB JSON primary key, a valid ExclusiveStartKey) and, for a mark,
    whether it is ``final`` (its release needs nothing more)."""

    kind: ItemKind
    id: str
    key: dict[str, Any]
    final: bool = False


@dataclass(frozen=True)
class ScanPage:
    """One Scan page: the legacy ``items`` it matched, how many items DynamoDB read (``scanned``) and the
    LastEvaluatedKey (``last_key``, None at the end of the table)."""

    items: list[ScannedItem]
    scanned: int
    last_key: dict[str, Any] | None


@dataclass(frozen=True)
class Checkpoint:
    """The saved state of the backfill's pass (``BackfillCheckpointRecord``)."""

    last_key: dict[str, Any] | None
    scanned: int
    sent: int
    dead_lettered: int
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class LegacyAsset:
    """An asset as the backfill reads it: the domain ``asset`` and whether its gsi3 (by source) and gsi4 (by type)
    keys exist."""

    asset: Asset
    has_source_key: bool
    has_type_key: bool


@dataclass(frozen=True)
class AssetFill:
    """What the backfill writes on one asset (None: leave that field alone): ``creator_description``,
    ``ai_metadata`` (a dict), and the (pk, sk) of its gsi3 (``source_keys``) and gsi4 (``type_keys``) entries."""

    creator_description: str | None = None
    ai_metadata: dict[str, Any] | None = None
    source_keys: tuple[str, str] | None = None
    type_keys: tuple[str, str] | None = None

    @property
    def empty(self) -> bool:
        """Nothing to write."""
        return (self.creator_description, self.ai_metadata, self.source_keys, self.type_keys) == (None,) * 4


def _legacy_filter() -> Any:
    """The Scan's FilterExpression: releases with an ``artwork_url``, their artwork marks, and legacy assets: live
    (no ``deleted_at``) and made before the library (no gsi3 or no gsi4 key: ``create_pending`` writes both for every
    new asset, and the backfill's one conditional update writes them with the other fields)."""
    asset = (
        (AssetRecord.sk == "ASSET")
        & AssetRecord.deleted_at.does_not_exist()
        & (AssetRecord.gsi3pk.does_not_exist() | AssetRecord.gsi4pk.does_not_exist())
    )
    release = (ReleaseRecord.sk == "RELEASE") & ReleaseRecord.artwork_url.exists()
    return asset | release | (ArtworkImportRecord.sk == ARTWORK_MARK_SK)


def _scanned_item(raw: dict[str, Any]) -> ScannedItem | None:
    pk, sk = raw["pk"]["S"], raw["sk"]["S"]
    key = {"pk": raw["pk"], "sk": raw["sk"]}
    if sk == "ASSET" and pk.startswith("ASSET#"):
        return ScannedItem("asset", pk.removeprefix("ASSET#"), key)
    if sk == "RELEASE" and pk.startswith("RELEASE#"):
        return ScannedItem("release", pk.removeprefix("RELEASE#"), key)
    if sk == ARTWORK_MARK_SK and pk.startswith("RELEASE#"):
        final = raw.get("state", {}).get("S") in FINAL_MARK_STATES
        return ScannedItem("mark", pk.removeprefix("RELEASE#"), key, final=final)
    return None


def _mark_key(release_id: str) -> tuple[str, str]:
    return f"RELEASE#{release_id}", ARTWORK_MARK_SK


class BackfillStore:
    """The backfill's reads and conditional writes on the single table."""

    def scan_page(self, start_key: dict[str, Any] | None, *, page_size: int) -> ScanPage:
        """One page of the Scan for legacy work, from ``start_key`` (exclusive; None: the table's start), reading at
        most ``page_size`` items (DynamoDB's ``Limit``: counted before the filter, so a page may match none).

        A Scan reads the whole table and is allowed only here: the operator's backfill, never a request path. Only
        the keys and ``state`` come back (a ProjectionExpression), but read units are charged on the whole items
        scanned: eventually consistent, half a unit per 4 KB of a page (DynamoDB, "Read consumption for Scan").
        """
        connection = AssetRecord._get_connection()
        response = connection.scan(
            filter_condition=_legacy_filter(),
            attributes_to_get=["pk", "sk", "state"],
            limit=page_size,
            exclusive_start_key=start_key,  # type: ignore[arg-type]  # PynamoDB types it str; it takes the key map
            consistent_read=False,  # half the read units; each worker reads its item again, strongly consistent
        )
        items = [item for raw in response.get("Items", []) if (item := _scanned_item(raw)) is not None]
        return ScanPage(
            items=items, scanned=int(response.get("ScannedCount", 0)), last_key=response.get("LastEvaluatedKey")
        )

    def approximate_item_count(self) -> int | None:
        """DescribeTable's ``ItemCount`` (DynamoDB updates it about every six hours), for the progress bar."""
        table = AssetRecord._get_connection().describe_table()
        count = table.get("ItemCount")
        return int(count) if count is not None else None

    # -- checkpoint ----------------------------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        """The saved checkpoint, or None before the first run (strongly consistent)."""
        record = get_item(BackfillCheckpointRecord, CHECKPOINT_PK, CHECKPOINT_SK)
        if record is None:
            return None
        return Checkpoint(
            last_key=json.loads(record.last_key) if record.last_key else None,
            scanned=int(record.scanned or 0),
            sent=int(record.sent or 0),
            dead_lettered=int(record.dead_lettered or 0),
            started_at=record.started_at,
            finished_at=record.finished_at,
        )

    def save_checkpoint(
        self, *, last_key: dict[str, Any] | None, scanned: int, sent: int, started_at: datetime, reset_dead: bool
    ) -> None:
        """Save where the pass stands (an update: the dead-letter count ADDed by the DLQ consumer is kept unless
        ``reset_dead``). ``last_key`` None marks the pass finished."""
        now = utcnow()
        actions: list[Any] = [
            BackfillCheckpointRecord.scanned.set(scanned),
            BackfillCheckpointRecord.sent.set(sent),
            BackfillCheckpointRecord.started_at.set(started_at),
            BackfillCheckpointRecord.updated_at.set(now),
        ]
        if last_key is None:
            actions += [BackfillCheckpointRecord.last_key.remove(), BackfillCheckpointRecord.finished_at.set(now)]
        else:
            actions += [
                BackfillCheckpointRecord.last_key.set(json.dumps(last_key, sort_keys=True)),
                BackfillCheckpointRecord.finished_at.remove(),
            ]
        if reset_dead:
            actions.append(BackfillCheckpointRecord.dead_lettered.set(0))
        BackfillCheckpointRecord(pk=CHECKPOINT_PK, sk=CHECKPOINT_SK).update(actions=actions)

    def count_dead_letter(self) -> None:
        """ADD 1 to the checkpoint's ``dead_lettered`` (creates the item when absent)."""
        BackfillCheckpointRecord(pk=CHECKPOINT_PK, sk=CHECKPOINT_SK).update(
            actions=[BackfillCheckpointRecord.dead_lettered.add(1)]
        )

    # -- releases ------------------------------------------------------------------------------------------------

    def artwork_mark(self, release_id: str) -> ArtworkImportRecord | None:
        """The release's artwork mark, or None (strongly consistent)."""
        return get_item(ArtworkImportRecord, *_mark_key(release_id))  # type: ignore[no-any-return]

    def claim_artwork(
        self, release_id: str, *, owner_id: str, source_url: str, state: str, stale_before: datetime
    ) -> datetime | None:
        """Put the release's mark in ``state`` (``claimed`` or ``covered``) if it has none, or only a claim made
        before ``stale_before`` (its worker died). Returns the new ``claimed_at`` (the claim's token), or None when
        another mark holds the release."""
        pk, sk = _mark_key(release_id)
        now = utcnow()
        record = ArtworkImportRecord(
            pk=pk,
            sk=sk,
            release_id=release_id,
            owner_id=owner_id,
            source_url=source_url,
            state=state,
            claimed_at=now,
            updated_at=now,
        )
        stale = (ArtworkImportRecord.state == "claimed") & (ArtworkImportRecord.claimed_at < stale_before)
        try:
            record.save(condition=ArtworkImportRecord.pk.does_not_exist() | stale)
        except PutError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return now

    def settle_artwork(
        self, release_id: str, claimed_at: datetime, *, asset_id: str | None = None, refusal: str | None = None
    ) -> bool:
        """End the claim made at ``claimed_at``: ``started`` with ``asset_id``, or ``refused`` with ``refusal``.
        False when the claim is no longer this one's."""
        actions: list[Any] = [ArtworkImportRecord.updated_at.set(utcnow())]
        if asset_id is not None:
            actions += [ArtworkImportRecord.state.set("started"), ArtworkImportRecord.asset_id.set(asset_id)]
        else:
            actions += [ArtworkImportRecord.state.set("refused"), ArtworkImportRecord.refusal.set(refusal or "")]
        condition = (ArtworkImportRecord.state == "claimed") & (ArtworkImportRecord.claimed_at == claimed_at)
        return update_if(ArtworkImportRecord(*_mark_key(release_id)), actions, condition)

    def release_claim(self, release_id: str, claimed_at: datetime) -> None:
        """Delete the claim made at ``claimed_at`` (its import could not start; a retry claims again). Idempotent."""
        condition = (ArtworkImportRecord.state == "claimed") & (ArtworkImportRecord.claimed_at == claimed_at)
        try:
            ArtworkImportRecord(*_mark_key(release_id)).delete(condition=condition)
        except DeleteError as exc:
            if not is_condition_failure(exc):
                raise

    # -- assets --------------------------------------------------------------------------------------------------

    def legacy_asset(self, asset_id: str) -> LegacyAsset | None:
        """The asset with its index keys' presence, or None when it does not exist (strongly consistent)."""
        record = get_item(AssetRecord, f"ASSET#{asset_id}", "ASSET")
        if record is None:
            return None
        return LegacyAsset(
            asset=asset_of(record),
            has_source_key=record.gsi3pk is not None,
            has_type_key=record.gsi4pk is not None,
        )

    def fill_asset(self, asset_id: str, fill: AssetFill) -> Asset | None:
        """Write ``fill`` in one conditional update: each field only while still absent (never overwriting), only on
        a live asset (no ``deleted_at``: a delete under way removed its list keys). Returns the asset as written
        (DynamoDB's ALL_NEW), or None when the condition failed (the caller reads again)."""
        actions: list[Any] = []
        condition: Any = AssetRecord.pk.exists() & AssetRecord.deleted_at.does_not_exist()
        if fill.creator_description is not None:
            actions.append(AssetRecord.creator_description.set(fill.creator_description))
            condition &= AssetRecord.creator_description.does_not_exist()
        if fill.ai_metadata is not None:
            actions.append(AssetRecord.ai_metadata.set(fill.ai_metadata))
            condition &= AssetRecord.ai_metadata.does_not_exist()
        if fill.source_keys is not None:
            actions += [AssetRecord.gsi3pk.set(fill.source_keys[0]), AssetRecord.gsi3sk.set(fill.source_keys[1])]
            condition &= AssetRecord.gsi3pk.does_not_exist()
        if fill.type_keys is not None:
            actions += [AssetRecord.gsi4pk.set(fill.type_keys[0]), AssetRecord.gsi4sk.set(fill.type_keys[1])]
            condition &= AssetRecord.gsi4pk.does_not_exist()
        record = AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")
        if not update_if(record, actions, condition):
            return None
        return asset_of(record)
