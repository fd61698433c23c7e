"""The media library's reads and writes of ``ASSET#{id}`` items beyond ingest: filtered lists, metadata updates, the
delete tombstone, and the per-owner name counter.

Every list is a Query (gsi1 newest first, gsi3 by source, gsi4 by type), never a Scan. Raw PynamoDB failures become
return values here; callers never see botocore or PynamoDB types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.models.domain import Asset
from chalicelib.models.media import MediaSource, MediaType, Visibility
from chalicelib.store.assets import asset_of, owner_partition, source_partition, type_partition
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.store.dynamo import get_item, is_condition_failure, update_if, utcnow
from chalicelib.store.records import AssetRecord, NameCounterRecord

#: DynamoDB's BatchGetItem limit (100 keys per call; API reference, BatchGetItem).
BATCH_GET_LIMIT = 100
#: With a filter, each Query reads this many items at least (DynamoDB's ``Limit`` counts items read, before the filter).
FILTERED_READ = 100
#: At most this many Query pages per list request: a filter that matches little ends the page early with a
#: ``next_cursor`` (bounded cost per request) instead of reading a whole library.
MAX_READ_PAGES = 10
#: The attributes a library edit may write (PATCH and the bulk actions).
EDITABLE = frozenset(
    {
        "title",
        "description",
        "creator_description",
        "tags",
        "visibility",
        "music_metadata",
        "ai_metadata",
        "name",
        "album_art",
    }
)


@dataclass(frozen=True)
class AssetPage:
    """One page of a library list: ``items`` newest first and the cursor of the next page (None at the end)."""

    items: list[Asset]
    next_cursor: str | None


def _key(asset_id: str) -> AssetRecord:
    return AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")


def counter_key(owner_id: str, prefix: str) -> tuple[str, str]:
    """The counter item of ``owner_id``'s names starting ``prefix`` (``L.CAS.ATL``): ``(OWNER#{owner},
    NAMESEQ#{prefix})``."""
    return f"OWNER#{owner_id}", f"NAMESEQ#{prefix}"


class MediaRepository:
    """Library reads and conditional writes of assets (``store/assets.py`` keeps creation and the ingest states)."""

    def next_name_seq(self, owner_id: str, prefix: str) -> int:
        """The next number of ``owner_id``'s names with ``prefix`` (1, 2, …): one atomic UpdateItem ``ADD seq 1``
        returning the new value, so concurrent calls never get the same number (a number taken by a request that
        then fails is skipped, never given twice)."""
        pk, sk = counter_key(owner_id, prefix)
        record = NameCounterRecord(pk=pk, sk=sk)
        record.update(actions=[NameCounterRecord.seq.add(1)])
        return int(record.seq)

    def get_many(self, asset_ids: Iterable[str]) -> dict[str, Asset]:
        """The assets of ``asset_ids`` that exist, by id (BatchGetItem, 100 keys per call; unprocessed keys are read
        again by PynamoDB)."""
        keys = [(f"ASSET#{asset_id}", "ASSET") for asset_id in dict.fromkeys(asset_ids)]
        found: dict[str, Asset] = {}
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            for record in AssetRecord.batch_get(keys[start : start + BATCH_GET_LIMIT]):
                found[record.asset_id] = asset_of(record)
        return found

    def list_assets(
        self,
        owner_id: str,
        *,
        kind: MediaType | None,
        source: MediaSource | None,
        visibility: Visibility | None,
        limit: int,
        cursor: str | None,
    ) -> AssetPage:
        """``owner_id``'s library newest first: a Query of gsi4 (``kind`` given), gsi3 (``source`` given) or gsi1.

        The filters the index does not serve are FilterExpressions (``visibility``: an asset without the attribute is
        ``private``; ``source`` when both are given). Pages are read on until ``limit`` assets match or the list
        ends, so a page is short only at the end, or after ``MAX_READ_PAGES`` reads (then ``next_cursor`` goes on
        from the last item read). Tombstoned assets have no index keys and never appear. Raises ``InvalidError``
        (``invalid_cursor``) for a cursor this list did not issue for this owner.
        """
        index: Any
        if kind is not None:
            index, attr, partition = AssetRecord.by_type, "gsi4pk", type_partition(owner_id, kind)
        elif source is not None:
            index, attr, partition = AssetRecord.by_source, "gsi3pk", source_partition(owner_id, source)
        else:
            index, attr, partition = AssetRecord.by_owner, "gsi1pk", owner_partition(owner_id)
        conditions: list[Condition] = []
        if kind is not None and source is not None:
            conditions.append(AssetRecord.source == source)
        if visibility == "private":
            conditions.append(AssetRecord.visibility.does_not_exist() | (AssetRecord.visibility == "private"))
        elif visibility is not None:
            conditions.append(AssetRecord.visibility == visibility)
        condition: Condition | None = None
        for part in conditions:
            condition = part if condition is None else condition & part
        list_name = f"media-{attr.removesuffix('pk')}"
        start = decode_cursor(cursor, partition_attr=attr, partition_value=partition, list_name=list_name)
        result = index.query(
            partition,
            scan_index_forward=False,
            page_size=limit if condition is None else max(limit, FILTERED_READ),
            last_evaluated_key=start,
            filter_condition=condition,
        )
        pages = result.page_iter
        key_names = ("pk", "sk", attr, attr.removesuffix("pk") + "sk")
        items: list[Asset] = []
        for read, page in enumerate(pages, start=1):
            raw_items = page.get("Items", [])
            for position, raw in enumerate(raw_items, start=1):
                items.append(asset_of(AssetRecord.from_raw_data(raw)))
                if len(items) == limit:
                    more_here = position < len(raw_items)
                    last = {name: raw[name] for name in key_names} if more_here else pages.last_evaluated_key
                    return AssetPage(items, encode_cursor(last, list_name=list_name))
            if read >= MAX_READ_PAGES:
                break
        return AssetPage(items, encode_cursor(pages.last_evaluated_key, list_name=list_name))

    def update(self, before: Asset, changes: dict[str, Any], *, unnamed: bool = False) -> Asset | None:
        """Write ``changes`` (attribute name → value; None removes the attribute) to ``before``'s item if it is
        unchanged since it was read (same ``updated_at``), still ``before.owner_id``'s and not tombstoned (and, with
        ``unnamed``, still without a ``name``); ``updated_at`` is set. Only the library's editable fields
        (``EDITABLE``) may change; a ValueError otherwise.

        Returns the asset as written (UpdateItem's ALL_NEW), or None when a condition failed (the caller reads again).
        """
        unknown = changes.keys() - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        actions: list[Any] = [AssetRecord.updated_at.set(utcnow())]
        for name, value in changes.items():
            attribute = getattr(AssetRecord, name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        condition = (
            AssetRecord.pk.exists()
            & (AssetRecord.owner_id == before.owner_id)
            & (AssetRecord.updated_at == before.updated_at)
            & AssetRecord.deleted_at.does_not_exist()
        )
        if unnamed:
            condition = condition & AssetRecord.name.does_not_exist()
        record = _key(before.id)
        try:
            record.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return asset_of(record)

    def tombstone(self, asset: Asset) -> Asset | None:
        """Start a delete: set ``deleted_at`` and remove the gsi1/gsi3/gsi4 keys in one conditional update, so the
        asset leaves every library list at once. An asset already tombstoned is returned as it is (the delete is
        resumed); None when the item is gone or not ``asset.owner_id``'s."""
        if asset.deleted_at is not None:
            return asset
        record = _key(asset.id)
        now = utcnow()
        actions: list[Any] = [
            AssetRecord.deleted_at.set(now),
            AssetRecord.updated_at.set(now),
            AssetRecord.gsi1pk.remove(),
            AssetRecord.gsi1sk.remove(),
            AssetRecord.gsi3pk.remove(),
            AssetRecord.gsi3sk.remove(),
            AssetRecord.gsi4pk.remove(),
            AssetRecord.gsi4sk.remove(),
        ]
        condition = AssetRecord.pk.exists() & (AssetRecord.owner_id == asset.owner_id)
        try:
            record.update(actions=actions, condition=condition & AssetRecord.deleted_at.does_not_exist())
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            current = get_item(AssetRecord, f"ASSET#{asset.id}", "ASSET")  # a concurrent delete tombstoned it
            return asset_of(current) if current is not None and current.owner_id == asset.owner_id else None
        return asset_of(record)

    def clear_enhancement(self, original_id: str, enhanced_id: str) -> bool:
        """Remove ``enhancement`` from the original asset ``original_id`` if it still names ``enhanced_id`` (the
        enhanced version is being deleted); False when it names another or the original is gone."""
        condition = AssetRecord.pk.exists() & (AssetRecord.enhancement["asset_id"] == enhanced_id)
        actions = [AssetRecord.enhancement.remove(), AssetRecord.updated_at.set(utcnow())]
        return update_if(_key(original_id), actions, condition)

    def delete(self, asset_id: str) -> None:
        """Delete the asset's item (the last step of a delete); one already gone is not an error."""
        _key(asset_id).delete()
