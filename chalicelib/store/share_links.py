"""Share links in the single table (``SHARE#{token_id}``) and their per-size download counters.

A link opens a release's artwork, one media asset or a collection (an owner object's attached media); each shared
thing has its own gsi1 partition of links and counters (``shares_partition``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.models.domain import ShareLink, ShareTarget
from chalicelib.store.dynamo import get_item, update_if, utcnow
from chalicelib.store.records import DownloadCountRecord, ShareLinkRecord

_COUNTER_PREFIX = "DOWNLOADS#"


def _release_shares(release_id: str) -> str:
    """gsi1 partition of a release's share links and their download counters."""
    return f"RELEASE#{release_id}#SHARES"


def asset_shares(asset_id: str) -> str:
    """gsi1 partition of a media asset's share links and their download counters."""
    return f"ASSET#{asset_id}#SHARES"


def collection_shares(owner_id: str, owner_type: str, object_id: str) -> str:
    """gsi1 partition of the share links of a collection: the media attached to ``owner_type``/``object_id``, in
    the namespace of the caller ``owner_id`` (as attachments are)."""
    return f"COLLECTION#{owner_id}#{owner_type}#{object_id}#SHARES"


def shares_partition(link: ShareLink) -> str:
    """The gsi1 partition of what ``link`` shares."""
    if link.target == "asset" and link.asset_id:
        return asset_shares(link.asset_id)
    if link.target == "collection" and link.collection_type and link.collection_id:
        return collection_shares(link.owner_id, link.collection_type, link.collection_id)
    return _release_shares(link.release_id or "")


def _link_sort_key(created_at: datetime, token_id: str) -> str:
    """gsi1 sort key of a share link: creation time, then token id (newest first with a descending Query)."""
    return f"{created_at.isoformat()}#{token_id}"


def _share_items(partition: str) -> Iterator[dict[str, Any]]:
    """Every raw item of a gsi1 share partition (links and counters), one Query page at a time."""
    connection = ShareLinkRecord._get_connection()
    start: dict[str, Any] | None = None
    while True:
        page = connection.query(
            partition,
            index_name=ShareLinkRecord.by_release.Meta.index_name,
            exclusive_start_key=start,
        )
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _share_link(record: ShareLinkRecord, downloads: dict[str, int] | None = None) -> ShareLink:
    """The domain link of a record (pydantic picks ShareLink's fields; the secret's hash is not one of them; an
    absent ``target``, as on links stored before issue 11, reads as ``release``)."""
    values = {name: value for name, value in record.attribute_values.items() if value is not None}
    return ShareLink.model_validate({**values, "downloads": downloads or {}})


class ShareLinkRepository:
    """Share links (``SHARE#{token_id}``) and their per-size download counters."""

    def create(
        self,
        *,
        token_id: str,
        secret_sha256: str,
        owner_id: str,
        expires_at: datetime | None,
        release_id: str | None = None,
        target: ShareTarget = "release",
        asset_id: str | None = None,
        collection_type: str | None = None,
        collection_id: str | None = None,
    ) -> ShareLink:
        """Store a new share link (the token's secret only as its SHA-256 hex digest) of a release (``release_id``),
        an asset (``target="asset"``, ``asset_id``) or a collection (``target="collection"``, ``collection_type``,
        ``collection_id``). A release link is written exactly as before issue 11 (no ``target`` attribute)."""
        now = utcnow()
        link = ShareLink(
            token_id=token_id,
            release_id=release_id,
            target=target,
            asset_id=asset_id,
            collection_type=collection_type,
            collection_id=collection_id,
            owner_id=owner_id,
            created_at=now,
            expires_at=expires_at,
        )
        record = ShareLinkRecord(
            pk=f"SHARE#{token_id}",
            sk="SHARE",
            gsi1pk=shares_partition(link),
            gsi1sk=_link_sort_key(now, token_id),
            token_id=token_id,
            secret_sha256=secret_sha256,
            release_id=release_id,
            target=None if target == "release" else target,
            asset_id=asset_id,
            collection_type=collection_type,
            collection_id=collection_id,
            owner_id=owner_id,
            created_at=now,
            expires_at=expires_at,
        )
        record.save(condition=ShareLinkRecord.pk.does_not_exist())
        return _share_link(record)

    def get_with_hash(self, token_id: str) -> tuple[ShareLink, str] | None:
        """The share link and its stored secret hash, or None."""
        record = get_item(ShareLinkRecord, f"SHARE#{token_id}", "SHARE")
        return (_share_link(record), record.secret_sha256) if record else None

    def list_by_release(self, release_id: str) -> list[ShareLink]:
        """A release's share links, newest first, with their download counts.

        One Query of gsi1 ``RELEASE#{id}#SHARES`` (paginated past 1 MB) returns the links and their counters together;
        the index is eventually consistent, so a download of the last second may not be counted yet.
        """
        return self.list_in(_release_shares(release_id))

    def list_in(self, partition: str) -> list[ShareLink]:
        """The share links of one gsi1 partition (``asset_shares``, ``collection_shares``…), newest first, with their
        download counts: one Query, as ``list_by_release``."""
        links: list[ShareLinkRecord] = []
        counts: dict[str, dict[str, int]] = {}
        for item in _share_items(partition):
            sk = item["sk"]["S"]
            if sk == "SHARE":
                links.append(ShareLinkRecord.from_raw_data(item))
            elif sk.startswith(_COUNTER_PREFIX):
                token_id = item["pk"]["S"].removeprefix("SHARE#")
                counts.setdefault(token_id, {})[sk.removeprefix(_COUNTER_PREFIX)] = int(item["count"]["N"])
        links.sort(key=lambda record: record.gsi1sk, reverse=True)
        return [_share_link(record, counts.get(record.token_id)) for record in links]

    def delete_for_release(self, release_id: str) -> int:
        """Delete every share link of a release and every download counter of those links; the number of items.

        The release's gsi1 partition gives the links and the counters that carry the index keys; a Query of each
        link's own partition (``SHARE#{token_id}``) finds the counters written before they did. Deletes go out in
        BatchWriteItem calls of ≤ 25 (PynamoDB resends unprocessed items). Idempotent: a second call finds nothing.
        """
        return self.delete_in(_release_shares(release_id))

    def delete_for_asset(self, asset_id: str) -> int:
        """Delete every share link of a media asset and their counters (``delete_for_release``'s rules)."""
        return self.delete_in(asset_shares(asset_id))

    def delete_in(self, partition: str) -> int:
        """Delete every share link of one gsi1 partition and their counters; the number of items deleted."""
        keys: set[tuple[str, str]] = set()
        token_ids: set[str] = set()
        for item in _share_items(partition):
            keys.add((item["pk"]["S"], item["sk"]["S"]))
            if item["sk"]["S"] == "SHARE":
                token_ids.add(item["pk"]["S"].removeprefix("SHARE#"))
        for token_id in token_ids:
            for record in DownloadCountRecord.query(
                f"SHARE#{token_id}", DownloadCountRecord.sk.startswith(_COUNTER_PREFIX)
            ):
                keys.add((record.pk, record.sk))
        with ShareLinkRecord.batch_write() as batch:
            for pk, sk in sorted(keys):
                batch.delete(ShareLinkRecord(pk=pk, sk=sk))
        return len(keys)

    def revoke(self, token_id: str) -> bool:
        """Revoke (idempotent: the first revocation time is kept). False if the link does not exist."""
        record = ShareLinkRecord(pk=f"SHARE#{token_id}", sk="SHARE")
        return update_if(
            record,
            [ShareLinkRecord.revoked_at.set(ShareLinkRecord.revoked_at | utcnow())],
            ShareLinkRecord.pk.exists(),
        )

    def count_download(self, link: ShareLink, size: str) -> None:
        """Add one download of ``size`` through ``link`` (atomic ``ADD``; creates the counter on first use).

        The counter also gets the link's gsi1 partition, so listing the shared thing's links reads it in the same
        Query.
        """
        DownloadCountRecord(pk=f"SHARE#{link.token_id}", sk=f"{_COUNTER_PREFIX}{size}").update(
            actions=[
                DownloadCountRecord.count.add(1),
                DownloadCountRecord.gsi1pk.set(shares_partition(link)),
                DownloadCountRecord.gsi1sk.set(
                    f"{_link_sort_key(link.created_at, link.token_id)}#{_COUNTER_PREFIX}{size}"
                ),
            ]
        )
