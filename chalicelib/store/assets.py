"""Media assets in the single table: ``ASSET#{id}`` items whose status only moves forward, by conditional writes.

Raw PynamoDB failures become AppErrors or return values here; callers never see botocore or PynamoDB types.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pynamodb.exceptions import UpdateError

from chalicelib.models.domain import Asset, AssetError, AssetMedia, AssetSource
from chalicelib.models.media import LibraryFields
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


def asset_of(record: AssetRecord) -> Asset:
    """The domain asset of a record: pydantic validates the stored attributes (maps become plain dicts)."""
    values: dict[str, Any] = dict(record.attribute_values)
    for name in ("media", "error", "enhancement", "ai_metadata", "music_metadata", "album_art", "video"):
        if values.get(name) is not None:
            values[name] = values[name].as_dict()
    for name in ("visibility", "tags"):  # absent on records made before the library: the model's defaults
        if values.get(name) is None:
            values.pop(name, None)
    return Asset.model_validate({**values, "id": record.asset_id})


def owner_partition(owner_id: str) -> str:
    """The gsi1 partition of an owner's library: ``OWNER#{owner}#ASSETS``."""
    return f"OWNER#{owner_id}#ASSETS"


def source_partition(owner_id: str, source: str) -> str:
    """The gsi3 partition of an owner's assets from one source: ``OWNER#{owner}#ASSETS#SOURCE#{source}``."""
    return f"OWNER#{owner_id}#ASSETS#SOURCE#{source}"


def type_partition(owner_id: str, kind: str) -> str:
    """The gsi4 partition of an owner's assets of one type: ``OWNER#{owner}#ASSETS#TYPE#{kind}``."""
    return f"OWNER#{owner_id}#ASSETS#TYPE#{kind}"


def library_sort_key(created_at: datetime, asset_id: str) -> str:
    """The sort key of an asset in gsi1, gsi3 and gsi4: ``{created iso}#{id}`` (newest first when read backwards)."""
    return f"{created_at.isoformat()}#{asset_id}"


def library_keys(*, owner_id: str, source: str, kind: str, created_at: datetime, asset_id: str) -> dict[str, str]:
    """The attributes that list an asset in the library by source (gsi3) and by type (gsi4), by attribute name.

    Written by ``create_pending`` for every new asset and by the backfill for assets made before them.
    """
    sort_key = library_sort_key(created_at, asset_id)
    return {
        "gsi3pk": source_partition(owner_id, source),
        "gsi3sk": sort_key,
        "gsi4pk": type_partition(owner_id, kind),
        "gsi4sk": sort_key,
    }


def library_attributes(library: LibraryFields) -> dict[str, Any]:
    """``library`` as AssetRecord attribute values (maps as JSON-ready dicts; unset fields and empty tags left out)."""
    values = library.model_dump(mode="json", exclude_none=True)
    if not values.get("tags"):
        values.pop("tags", None)
    return values


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
        library: LibraryFields | None = None,
        status: Literal["pending", "ready"] = "pending",
    ) -> Asset:
        """Record an upload the browser (or an upscaling job) is about to make (status ``pending``).

        ``attach_to`` (``"{target}#{role}"``, e.g. ``"RELEASE#abc#cover"``) also files the asset under its target in
        gsi2 (``{target}#ASSETS`` / ``{created}#{asset_id}``), so a target's assets can be listed for cleanup;
        ``filed_under`` (``"RELEASE#abc"``) files an asset attached to nothing there (an upscaling result).
        ``source``, ``original_asset_id`` and ``job_id`` describe an upscaling result. ``library``: the media
        library's fields the asset starts with (default: a private image with none set). Every new asset is listed
        in the library by source (gsi3) and type (gsi4) as well as newest first (gsi1). ``status`` ``ready`` only
        for an asset made from metadata alone (``POST /media``: no bytes will ever arrive). Raises PynamoDB's
        ``PutError`` (condition failure) when the asset id exists.
        """
        now = utcnow()
        target = attach_to.rpartition("#")[0] if attach_to else filed_under
        fields = library or LibraryFields()
        listed: dict[str, Any] = {
            **library_keys(owner_id=owner_id, source=source, kind=fields.kind, created_at=now, asset_id=asset_id),
            **library_attributes(fields),
        }
        record = AssetRecord(
            pk=f"ASSET#{asset_id}",
            sk="ASSET",
            gsi1pk=owner_partition(owner_id),
            gsi1sk=library_sort_key(now, asset_id),
            **listed,
            gsi2pk=target_partition(target) if target else None,
            gsi2sk=f"{sortable_time(now)}#{asset_id}" if target else None,
            asset_id=asset_id,
            owner_id=owner_id,
            status=status,
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
        return asset_of(record)

    def get(self, asset_id: str) -> Asset | None:
        """The asset, or None (strongly consistent read)."""
        record = get_item(AssetRecord, f"ASSET#{asset_id}", "ASSET")
        return asset_of(record) if record else None

    def list_for_target(self, target: str, *, page_size: int | None = None) -> list[Asset]:
        """Every asset made for ``target`` (``"RELEASE#{id}"``…), oldest first, whatever its status.

        One Query on gsi2 ``{target}#ASSETS``, following every page (``page_size`` items per page; DynamoDB's 1 MB
        otherwise). gsi2 is eventually consistent: an asset created a moment ago may be missing.
        """
        query = AssetRecord.by_target.query(target_partition(target), page_size=page_size)
        return [asset_of(record) for record in query]

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
                # A tombstoned asset (a delete under way) is never claimed: nothing may write under its prefixes.
                condition=AssetRecord.pk.exists() & AssetRecord.deleted_at.does_not_exist() & (fresh | redelivery),
            )
        except UpdateError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return asset_of(record)

    def complete(self, asset_id: str, *, run: str, media: AssetMedia) -> bool:
        """Mark ``ready`` with the pipeline output; False if another run claimed the asset since ``run`` did."""
        record, actions, condition = completion(asset_id, run=run, media=media)
        return update_if(record, actions, condition)

    def set_checksum(self, asset_id: str, *, run: str, checksum_sha256: str) -> bool:
        """Record the SHA-256 (hex) of the stored original of run ``run``; False if another run claimed the asset."""
        actions = [AssetRecord.checksum_sha256.set(checksum_sha256)]
        return update_if(AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET"), actions, _run_condition(run))

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
    # A run ends only while it holds the claim and no delete has started (a tombstoned asset's run fails to finish
    # and deletes its own objects, so none outlive the asset).
    return (AssetRecord.status == "processing") & (AssetRecord.run_id == run) & AssetRecord.deleted_at.does_not_exist()


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
