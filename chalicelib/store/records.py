"""PynamoDB records of the single ``sleeve`` table (declared in infra/template.json).

Key design (every access pattern is a GetItem or a Query, never a Scan):

| item           | pk                  | sk                 | gsi1pk                   | gsi1sk                  |
|----------------|---------------------|--------------------|--------------------------|-------------------------|
| release        | RELEASE#{id}        | RELEASE            | OWNER#{owner}#RELEASES   | {created_at}#{id}       |
| media asset    | ASSET#{id}          | ASSET              | OWNER#{owner}#ASSETS     | {created_at}#{id}       |
| attachment     | {TYPE}#{owner_id}   | ATTACHMENT#{role}  | –                        | –                       |
| share link     | SHARE#{token_id}    | SHARE              | RELEASE#{id}#SHARES      | {created_at}#{token_id} |
| download count | SHARE#{token_id}    | DOWNLOADS#{size}   | –                        | –                       |

Table name, endpoint and region are bound at run time by ``bind_records`` (never at import time).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class _TableMeta:
    table_name = "sleeve"
    host: str | None = None
    region = "us-east-1"


class _BaseRecord(Model):
    """Common key attributes of every item in the single table."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class _Gsi1Meta:
    index_name = "gsi1"
    projection = AllProjection()


class ReleasesByOwnerIndex(GlobalSecondaryIndex["ReleaseRecord"]):
    """gsi1: an owner's releases, newest first with ``scan_index_forward=False``."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class AssetsByOwnerIndex(GlobalSecondaryIndex["AssetRecord"]):
    """gsi1: an owner's media assets, newest first."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ShareLinksByReleaseIndex(GlobalSecondaryIndex["ShareLinkRecord"]):
    """gsi1: a release's share links, newest first."""

    class Meta(_Gsi1Meta):
        pass

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ReleaseRecord(_BaseRecord):
    """A release of an owner. ``version`` guards concurrent writes (optimistic locking)."""

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_owner = ReleasesByOwnerIndex()

    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    title = UnicodeAttribute()
    artist = UnicodeAttribute()
    artwork_url = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class AssetRecord(_BaseRecord):
    """A media asset: one uploaded image and everything the ingest worker made of it.

    ``status``: pending → processing → ready | failed. ``media`` holds the pipeline's output
    (original, variants, colours, placeholder…) once ready; ``error`` holds ``{"code", "message"}`` once failed.
    ``source_sequencer`` is the S3 event sequencer of the object the current state was made from.
    """

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_owner = AssetsByOwnerIndex()

    asset_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute(default="image")
    source = UnicodeAttribute(default="upload")
    status = UnicodeAttribute()
    upload_key = UnicodeAttribute()
    declared_content_type = UnicodeAttribute()
    declared_bytes = NumberAttribute()
    max_bytes = NumberAttribute()
    filename = UnicodeAttribute(null=True)
    attach_to = UnicodeAttribute(null=True)  # "{TYPE}#{owner_id}#{role}", e.g. "RELEASE#abc#cover"
    source_etag = UnicodeAttribute(null=True)
    source_sequencer = UnicodeAttribute(null=True)
    received_bytes = NumberAttribute(null=True)
    media: MapAttribute[str, Any] = MapAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class AttachmentRecord(_BaseRecord):
    """Which asset fills a role (``cover``…) of an owner object (a release…), and the newest upload started for it.

    ``asset_id`` only moves to a newer ready asset; ``latest_asset_id`` only to a newer upload (by creation time).
    """

    class Meta(_TableMeta):
        pass

    owner_id = UnicodeAttribute()
    asset_id = UnicodeAttribute(null=True)
    asset_created_at = UTCDateTimeAttribute(null=True)
    attached_at = UTCDateTimeAttribute(null=True)
    latest_asset_id = UnicodeAttribute(null=True)
    latest_created_at = UTCDateTimeAttribute(null=True)


class ShareLinkRecord(_BaseRecord):
    """A public share link of a release. Only the SHA-256 of the token's secret is stored."""

    class Meta(_TableMeta):
        pass

    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_release = ShareLinksByReleaseIndex()

    token_id = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    release_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)


class DownloadCountRecord(_BaseRecord):
    """Downloads of one size through one share link, incremented atomically with ``ADD``."""

    class Meta(_TableMeta):
        pass

    count = NumberAttribute(default=0)  # type: ignore[assignment]  # shadows Model.count, a classmethod


RECORDS: tuple[type[Model], ...] = (ReleaseRecord, AssetRecord, AttachmentRecord, ShareLinkRecord, DownloadCountRecord)


def bind_records(*, table_name: str, region: str, host: str | None) -> None:
    """Point every record class at ``table_name`` in ``region`` (through ``host``, moto's URL locally).

    Drops cached connections so the next call uses the new binding.
    """
    for record in RECORDS:
        record.Meta.table_name = table_name
        record.Meta.region = region
        record.Meta.host = host
        record._connection = None
