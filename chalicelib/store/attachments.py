"""Attachments in the single table: which asset fills a role (``cover``) of an owner object such as a release."""

from __future__ import annotations

from datetime import datetime

from chalicelib.models.domain import Asset
from chalicelib.store.dynamo import get_item, update_if, utcnow
from chalicelib.store.records import AttachmentRecord


class AttachmentRepository:
    """Which asset fills a role of an owner object: ``{TYPE}#{owner_id}`` / ``ATTACHMENT#{role}``.

    ``target`` is ``"RELEASE#{id}"``-shaped. Both pointers only ever move to a newer asset (by creation time), so an
    older upload finishing after a newer one changes nothing.
    """

    def note_upload(self, target: str, role: str, *, asset: Asset) -> bool:
        """Record ``asset`` as the newest upload started for the role; False if a newer one is recorded."""
        record = AttachmentRecord(pk=target, sk=f"ATTACHMENT#{role}")
        condition = AttachmentRecord.latest_created_at.does_not_exist() | (
            AttachmentRecord.latest_created_at < asset.created_at
        )
        return update_if(
            record,
            [
                AttachmentRecord.owner_id.set(asset.owner_id),
                AttachmentRecord.latest_asset_id.set(asset.id),
                AttachmentRecord.latest_created_at.set(asset.created_at),
            ],
            condition,
        )

    def attach_if_newer(self, target: str, role: str, *, asset: Asset) -> bool:
        """Point the role at the ready ``asset`` unless it, or a newer asset, is attached already.

        Returns True when this call attached it; False when it was already attached (a replay changes nothing) or
        a newer asset holds the role.
        """
        record = AttachmentRecord(pk=target, sk=f"ATTACHMENT#{role}")
        condition = AttachmentRecord.asset_created_at.does_not_exist() | (
            AttachmentRecord.asset_created_at < asset.created_at
        )
        return update_if(
            record,
            [
                AttachmentRecord.owner_id.set(asset.owner_id),
                AttachmentRecord.asset_id.set(asset.id),
                AttachmentRecord.asset_created_at.set(asset.created_at),
                AttachmentRecord.attached_at.set(utcnow()),
            ],
            condition,
        )

    def holder(self, target: str, role: str) -> tuple[str, datetime] | None:
        """``(asset id, its creation time)`` of the asset attached to the role, or None (strongly consistent)."""
        record = get_item(AttachmentRecord, target, f"ATTACHMENT#{role}")
        if record is None or record.asset_id is None or record.asset_created_at is None:
            return None
        return record.asset_id, record.asset_created_at

    def get(self, target: str, role: str) -> tuple[str | None, str | None]:
        """``(attached asset id, newest upload's asset id)`` of the role; ``(None, None)`` when never used."""
        record = get_item(AttachmentRecord, target, f"ATTACHMENT#{role}")
        return (record.asset_id, record.latest_asset_id) if record else (None, None)
