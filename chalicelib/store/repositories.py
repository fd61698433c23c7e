"""Repositories over the PynamoDB records: domain objects in and out, conditional writes for every state change.

Raw PynamoDB failures become AppErrors here (``raise … from exc``); callers never see botocore or PynamoDB types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model

from chalicelib.models.domain import Asset, AssetError, AssetMedia, ShareLink
from chalicelib.store.records import (
    AssetRecord,
    AttachmentRecord,
    DownloadCountRecord,
    ShareLinkRecord,
)

#: S3 sequencers are hex strings of varying length; left-padded to this width they compare as strings.
SEQUENCER_WIDTH = 32


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def normalise_sequencer(sequencer: str) -> str:
    """An S3 event ``sequencer`` left-padded with zeros so that string order is numeric order.

    Source: S3 docs, "Event message structure": the greater hexadecimal sequencer value is the later event.
    """
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


def _is_condition_failure(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def _get(model: type[Model], pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


# -- media assets ---------------------------------------------------------------------------------------------------


def _asset(record: AssetRecord) -> Asset:
    media = record.media.as_dict() if record.media is not None else None
    error = record.error.as_dict() if record.error is not None else None
    return Asset(
        id=record.asset_id,
        owner_id=record.owner_id,
        status=record.status,  # type: ignore[arg-type]
        upload_key=record.upload_key,
        declared_content_type=record.declared_content_type,
        declared_bytes=int(record.declared_bytes),
        max_bytes=int(record.max_bytes),
        filename=record.filename,
        attach_to=record.attach_to,
        source_etag=record.source_etag,
        source_sequencer=record.source_sequencer,
        received_bytes=int(record.received_bytes) if record.received_bytes is not None else None,
        media=AssetMedia.model_validate(media) if media else None,
        error=AssetError.model_validate(error) if error else None,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class AssetRepository:
    """Media assets: ``ASSET#{id}`` items whose status only moves forward, guarded by conditional writes."""

    def create_pending(
        self,
        *,
        asset_id: str,
        owner_id: str,
        upload_key: str,
        declared_content_type: str,
        declared_bytes: int,
        max_bytes: int,
        filename: str | None,
        attach_to: str | None,
    ) -> Asset:
        """Record an upload the browser is about to make (status ``pending``)."""
        now = utcnow()
        record = AssetRecord(
            pk=f"ASSET#{asset_id}",
            sk="ASSET",
            gsi1pk=f"OWNER#{owner_id}#ASSETS",
            gsi1sk=f"{now.isoformat()}#{asset_id}",
            asset_id=asset_id,
            owner_id=owner_id,
            status="pending",
            upload_key=upload_key,
            declared_content_type=declared_content_type,
            declared_bytes=declared_bytes,
            max_bytes=max_bytes,
            filename=filename,
            attach_to=attach_to,
            created_at=now,
            updated_at=now,
        )
        record.save(condition=AssetRecord.pk.does_not_exist())
        return _asset(record)

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None (strongly consistent read)."""
        record = _get(AssetRecord, f"ASSET#{asset_id}", "ASSET")
        return _asset(record) if record else None

    def start_processing(self, asset_id: str, *, etag: str, sequencer: str, size: int) -> Asset | None:
        """Claim the asset for the object version (``etag``, ``sequencer``); None when this event must be skipped.

        Skipped: a replay of an event already finished (same sequencer, ready or failed) and a stale event (an older
        sequencer than the one the asset was last claimed with). A redelivery of the event being processed (same
        sequencer, still ``processing``: the worker died) may claim again.
        """
        seq = normalise_sequencer(sequencer)
        fresh = AssetRecord.source_sequencer.does_not_exist() & AssetRecord.status.is_in("pending", "processing")
        redelivery = (AssetRecord.status == "processing") & (AssetRecord.source_sequencer == seq)
        newer = AssetRecord.source_sequencer < seq
        record = AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")
        try:
            record.update(
                actions=[
                    AssetRecord.status.set("processing"),
                    AssetRecord.source_etag.set(etag),
                    AssetRecord.source_sequencer.set(seq),
                    AssetRecord.received_bytes.set(size),
                    AssetRecord.attempts.add(1),
                    AssetRecord.error.remove(),
                    AssetRecord.updated_at.set(utcnow()),
                ],
                condition=AssetRecord.pk.exists() & (fresh | redelivery | newer),
            )
        except UpdateError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return _asset(record)

    def complete(self, asset_id: str, *, sequencer: str, media: AssetMedia) -> bool:
        """Mark ``ready`` with the pipeline output; False if a newer object version claimed the asset meanwhile."""
        return self._finish(
            asset_id,
            sequencer,
            [AssetRecord.status.set("ready"), AssetRecord.media.set(media.model_dump()), AssetRecord.error.remove()],
        )

    def fail(self, asset_id: str, *, sequencer: str | None, error: AssetError) -> bool:
        """Mark ``failed`` with ``{"code", "message"}``; the uploaded bytes stay where they are.

        With ``sequencer`` None (the dead-letter path) any asset not yet ``ready`` is failed.
        """
        return self._finish(
            asset_id, sequencer, [AssetRecord.status.set("failed"), AssetRecord.error.set(error.model_dump())]
        )

    def _finish(self, asset_id: str, sequencer: str | None, actions: list[Any]) -> bool:
        if sequencer is None:
            condition = AssetRecord.pk.exists() & AssetRecord.status.is_in("pending", "processing")
        else:
            condition = (AssetRecord.status == "processing") & (
                AssetRecord.source_sequencer == normalise_sequencer(sequencer)
            )
        record = AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")
        try:
            record.update(actions=[*actions, AssetRecord.updated_at.set(utcnow())], condition=condition)
        except UpdateError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True


# -- attachments ------------------------------------------------------------------------------------------------------


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
        return self._update(
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
        return self._update(
            record,
            [
                AttachmentRecord.owner_id.set(asset.owner_id),
                AttachmentRecord.asset_id.set(asset.id),
                AttachmentRecord.asset_created_at.set(asset.created_at),
                AttachmentRecord.attached_at.set(utcnow()),
            ],
            condition,
        )

    @staticmethod
    def _update(record: AttachmentRecord, actions: list[Any], condition: Any) -> bool:
        try:
            record.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def get(self, target: str, role: str) -> tuple[str | None, str | None]:
        """``(attached asset id, newest upload's asset id)`` of the role; ``(None, None)`` when never used."""
        record = _get(AttachmentRecord, target, f"ATTACHMENT#{role}")
        return (record.asset_id, record.latest_asset_id) if record else (None, None)


# -- share links ------------------------------------------------------------------------------------------------------


def _share_link(record: ShareLinkRecord, downloads: dict[str, int] | None = None) -> ShareLink:
    return ShareLink(
        token_id=record.token_id,
        release_id=record.release_id,
        owner_id=record.owner_id,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        downloads=downloads or {},
    )


class ShareLinkRepository:
    """Share links (``SHARE#{token_id}``) and their per-size download counters."""

    def create(
        self, *, token_id: str, secret_sha256: str, release_id: str, owner_id: str, expires_at: datetime | None
    ) -> ShareLink:
        """Store a new share link (the token's secret only as its SHA-256 hex digest)."""
        now = utcnow()
        record = ShareLinkRecord(
            pk=f"SHARE#{token_id}",
            sk="SHARE",
            gsi1pk=f"RELEASE#{release_id}#SHARES",
            gsi1sk=f"{now.isoformat()}#{token_id}",
            token_id=token_id,
            secret_sha256=secret_sha256,
            release_id=release_id,
            owner_id=owner_id,
            created_at=now,
            expires_at=expires_at,
        )
        record.save(condition=ShareLinkRecord.pk.does_not_exist())
        return _share_link(record)

    def get_with_hash(self, token_id: str) -> tuple[ShareLink, str] | None:
        """The share link and its stored secret hash, or None."""
        record = _get(ShareLinkRecord, f"SHARE#{token_id}", "SHARE")
        return (_share_link(record), record.secret_sha256) if record else None

    def list_by_release(self, release_id: str) -> list[ShareLink]:
        """A release's share links, newest first, with their download counts."""
        records = ShareLinkRecord.by_release.query(f"RELEASE#{release_id}#SHARES", scan_index_forward=False)
        return [_share_link(r, self.download_counts(r.token_id)) for r in records]

    def revoke(self, token_id: str) -> bool:
        """Revoke (idempotent: the first revocation time is kept). False if the link does not exist."""
        record = ShareLinkRecord(pk=f"SHARE#{token_id}", sk="SHARE")
        try:
            record.update(
                actions=[ShareLinkRecord.revoked_at.set(ShareLinkRecord.revoked_at | utcnow())],
                condition=ShareLinkRecord.pk.exists(),
            )
        except UpdateError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def count_download(self, token_id: str, size: str) -> None:
        """Add one download of ``size`` (atomic ``ADD``; creates the counter on first use)."""
        DownloadCountRecord(pk=f"SHARE#{token_id}", sk=f"DOWNLOADS#{size}").update(
            actions=[DownloadCountRecord.count.add(1)]
        )

    def download_counts(self, token_id: str) -> dict[str, int]:
        """``{size: downloads}`` of a share link (one Query on its partition)."""
        counts: dict[str, int] = {}
        for record in DownloadCountRecord.query(f"SHARE#{token_id}", DownloadCountRecord.sk.startswith("DOWNLOADS#")):
            counts[record.sk.removeprefix("DOWNLOADS#")] = int(record.count)
        return counts
