"""The writes that make an asset a video (or, when an upload declared as a video holds an image, an image again).

Ingest sets an asset's ``kind`` from its sniffed bytes, whatever the upload declared: the kind moves the asset's gsi4
key (``OWNER#{owner}#ASSETS#TYPE#{kind}``), so ``GET /media?type=`` lists it by what it holds. Each write holds only
while the ingest run that makes it still holds the asset's claim (``status`` processing, ``run_id``), like
``AssetRepository.complete``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.models.domain import Asset
from chalicelib.models.media import MediaType, VideoMedia
from chalicelib.store.assets import library_sort_key, type_partition
from chalicelib.store.dynamo import update_if, utcnow
from chalicelib.store.records import AssetRecord


def _claimed_by(run: str) -> Any:
    return (AssetRecord.status == "processing") & (AssetRecord.run_id == run)


def _kind_actions(asset: Asset, kind: MediaType) -> list[Any]:
    return [
        AssetRecord.kind.set(kind),
        AssetRecord.gsi4pk.set(type_partition(asset.owner_id, kind)),
        AssetRecord.gsi4sk.set(library_sort_key(asset.created_at, asset.id)),
    ]


def complete_video(asset: Asset, *, run: str, video: VideoMedia, checksum_sha256: str) -> bool:
    """Mark ``asset`` ``ready`` as a video: ``video``, ``kind`` video (and its gsi4 key), ``checksum_sha256`` (hex) of
    the stored original. False (nothing written) when another run claimed the asset since ``run`` did."""
    actions = [
        AssetRecord.status.set("ready"),
        AssetRecord.video.set(video.model_dump(mode="json", exclude_none=True)),
        AssetRecord.checksum_sha256.set(checksum_sha256),
        *_kind_actions(asset, "video"),
        AssetRecord.error.remove(),
        AssetRecord.updated_at.set(utcnow()),
    ]
    return update_if(AssetRecord(pk=f"ASSET#{asset.id}", sk="ASSET"), actions, _claimed_by(run))


def set_kind(asset: Asset, *, run: str, kind: MediaType) -> bool:
    """Set ``asset``'s ``kind`` (and its gsi4 key) while ``run`` holds its claim; False when it no longer does."""
    actions = [*_kind_actions(asset, kind), AssetRecord.updated_at.set(utcnow())]
    return update_if(AssetRecord(pk=f"ASSET#{asset.id}", sk="ASSET"), actions, _claimed_by(run))
