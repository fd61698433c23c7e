"""Media assets in the single table: ``ASSET#{id}`` items whose status only moves forward, by conditional writes.

Raw PynamoDB failures become AppErrors or return values here; callers never see botocore or PynamoDB types.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.models.domain import Asset, AssetError, AssetMedia
from chalicelib.store.dynamo import get_item, is_condition_failure, utcnow
from chalicelib.store.records import AssetRecord

#: S3 sequencers are hex strings of varying length; left-padded to this width they compare as strings.
SEQUENCER_WIDTH = 32


def normalise_sequencer(sequencer: str) -> str:
    """An S3 event ``sequencer`` left-padded with zeros so that string order is numeric order.

    Source: S3 docs, "Event message structure": the greater hexadecimal sequencer value is the later event.
    """
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


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
        record = get_item(AssetRecord, f"ASSET#{asset_id}", "ASSET")
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
            if is_condition_failure(exc):
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
            if is_condition_failure(exc):
                return False
            raise
        return True
