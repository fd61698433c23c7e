"""Media assets in the single table: ``ASSET#{id}`` items whose status only moves forward, by conditional writes.

Raw PynamoDB failures become AppErrors or return values here; callers never see botocore or PynamoDB types.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.models.domain import Asset, AssetError, AssetMedia, AssetSource
from chalicelib.store.catalogue import sortable_time
from chalicelib.store.dynamo import get_item, is_condition_failure, update_if, utcnow
from chalicelib.store.records import AssetRecord

#: S3 sequencers are hex strings of varying length; left-padded to this width they compare as strings.
SEQUENCER_WIDTH = 32


def normalise_sequencer(sequencer: str) -> str:
    """An S3 event ``sequencer`` left-padded with zeros so that string order is numeric order.

    Source: S3 docs, "Event message structure": the greater hexadecimal sequencer value is the later event.
    """
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


def _asset(record: AssetRecord) -> Asset:
    """The domain asset of a record: pydantic validates the stored attributes (maps become plain dicts)."""
    values: dict[str, Any] = dict(record.attribute_values)
    for name in ("media", "error", "enhancement", "ai_metadata", "music_metadata", "album_art", "video"):
        if values.get(name) is not None:
            values[name] = values[name].as_dict()
    for name in ("visibility", "tags"):  # absent on records made before the library: the model's defaults
        if values.get(name) is None:
            values.pop(name, None)
    return Asset.model_validate({**values, "id": record.asset_id})


def target_partition(target: str) -> str:
    """The gsi2 partition of the assets made for ``target`` (``RELEASE#{id}``…): ``{target}#ASSETS``."""
    return f"{target}#ASSETS"


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
        filed_under: str | None = None,
        source: AssetSource = "upload",
        original_asset_id: str | None = None,
        job_id: str | None = None,
    ) -> Asset:
        """Record an upload the browser (or an upscaling job) is about to make (status ``pending``).

        ``attach_to`` (``"{target}#{role}"``, e.g. ``"RELEASE#abc#cover"``) also files the asset under its target in
        gsi2 (``{target}#ASSETS`` / ``{created}#{asset_id}``), so a target's assets can be listed for cleanup;
        ``filed_under`` (``"RELEASE#abc"``) files an asset attached to nothing there (an upscaling result).
        ``source``, ``original_asset_id`` and ``job_id`` describe an upscaling result. Raises PynamoDB's
        ``PutError`` (condition failure) when the asset id exists.
        """
        now = utcnow()
        target = attach_to.rpartition("#")[0] if attach_to else filed_under
        record = AssetRecord(
            pk=f"ASSET#{asset_id}",
            sk="ASSET",
            gsi1pk=f"OWNER#{owner_id}#ASSETS",
            gsi1sk=f"{now.isoformat()}#{asset_id}",
            gsi2pk=target_partition(target) if target else None,
            gsi2sk=f"{sortable_time(now)}#{asset_id}" if target else None,
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
            source=source,
            original_asset_id=original_asset_id,
            job_id=job_id,
        )
        record.save(condition=AssetRecord.pk.does_not_exist())
        return _asset(record)

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None (strongly consistent read)."""
        record = get_item(AssetRecord, f"ASSET#{asset_id}", "ASSET")
        return _asset(record) if record else None

    def list_for_target(self, target: str, *, page_size: int | None = None) -> list[Asset]:
        """Every asset made for ``target`` (``"RELEASE#{id}"``…), oldest first, whatever its status.

        One Query on gsi2 ``{target}#ASSETS``, following every page (``page_size`` items per page; DynamoDB's 1 MB
        otherwise). gsi2 is eventually consistent: an asset created a moment ago may be missing.
        """
        query = AssetRecord.by_target.query(target_partition(target), page_size=page_size)
        return [_asset(record) for record in query]

    def delete(self, asset_id: str) -> None:
        """Delete the asset's record; deleting one that does not exist is not an error (idempotent)."""
        AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET").delete()

    def start_processing(self, asset_id: str, *, etag: str, sequencer: str, size: int) -> Asset | None:
        """Claim the asset for the object (``etag``, ``sequencer``) with a new run; None when the claim is refused.

        An upload key accepts one object: the claim succeeds for a ``pending`` asset never claimed, and for a
        redelivery of the event already claimed (same sequencer and ETag, still ``processing``: the worker died, or
        SQS delivered twice). Each claim records a new ``run_id`` (32 hex digits), so of two runs of one asset only the
        one that claimed last can finish; the other's ``complete``/``fail`` returns False. Refused: a replay of a
        finished event, and any other object under the same key (the caller tells them apart from the record).
        """
        seq = normalise_sequencer(sequencer)
        fresh = AssetRecord.source_sequencer.does_not_exist() & (AssetRecord.status == "pending")
        redelivery = (
            (AssetRecord.status == "processing")
            & (AssetRecord.source_sequencer == seq)
            & (AssetRecord.source_etag == etag)
        )
        record = AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")
        try:
            record.update(
                actions=[
                    AssetRecord.status.set("processing"),
                    AssetRecord.source_etag.set(etag),
                    AssetRecord.source_sequencer.set(seq),
                    AssetRecord.run_id.set(uuid.uuid4().hex),
                    AssetRecord.received_bytes.set(size),
                    AssetRecord.attempts.add(1),
                    AssetRecord.error.remove(),
                    AssetRecord.updated_at.set(utcnow()),
                ],
                condition=AssetRecord.pk.exists() & (fresh | redelivery),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return _asset(record)

    def complete(self, asset_id: str, *, run: str, media: AssetMedia) -> bool:
        """Mark ``ready`` with the pipeline output; False if another run claimed the asset since ``run`` did."""
        record, actions, condition = completion(asset_id, run=run, media=media)
        return update_if(record, actions, condition)

    def fail(self, asset_id: str, *, run: str | None, error: AssetError) -> bool:
        """Mark ``failed`` with ``{"code", "message"}``; the uploaded bytes stay where they are.

        False if another run claimed the asset since ``run`` did. With ``run`` None (the dead-letter path) any asset
        not yet ``ready`` is failed.
        """
        if run is None:
            condition = AssetRecord.pk.exists() & AssetRecord.status.is_in("pending", "processing")
        else:
            condition = _run_condition(run)
        actions = [
            AssetRecord.status.set("failed"),
            AssetRecord.error.set(error.model_dump()),
            AssetRecord.updated_at.set(utcnow()),
        ]
        return update_if(AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET"), actions, condition)


def _run_condition(run: str) -> Any:
    return (AssetRecord.status == "processing") & (AssetRecord.run_id == run)


def completion(asset_id: str, *, run: str, media: AssetMedia) -> tuple[AssetRecord, list[Any], Any]:
    """The update that marks the asset ``ready`` with ``media``, only while ``run`` holds its claim.

    ``(record, actions, condition)`` for ``Model.update`` or a transaction's update (store/covers.py).
    """
    actions = [
        AssetRecord.status.set("ready"),
        AssetRecord.media.set(media.model_dump()),
        AssetRecord.error.remove(),
        AssetRecord.updated_at.set(utcnow()),
    ]
    return AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET"), actions, _run_condition(run)
