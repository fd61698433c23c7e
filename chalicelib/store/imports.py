"""The two writes of URL imports beside ``AssetRepository``: the link from an imported image to the asset whose album
art it is (``album_art_of``), and that asset's ``album_art`` filled once the image is ready. Both conditional, both
within one owner."""

from __future__ import annotations

from chalicelib.models.media import AlbumArt
from chalicelib.store.dynamo import update_if, utcnow
from chalicelib.store.records import AssetRecord


def _key(asset_id: str) -> AssetRecord:
    return AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")


class ImportLinkRepository:
    """``album_art_of`` links of imported images (``ASSET#{id}`` items of ``AssetRecord``)."""

    def link_album_art(self, asset_id: str, *, owner_id: str, album_art_of: str) -> bool:
        """Record on the new import ``asset_id`` that it is the album art of ``album_art_of``; False when the import
        is gone or not ``owner_id``'s (nothing written)."""
        condition = AssetRecord.pk.exists() & (AssetRecord.owner_id == owner_id)
        actions = [AssetRecord.album_art_of.set(album_art_of)]
        return update_if(_key(asset_id), actions, condition)

    def fill_album_art(self, target_id: str, *, owner_id: str, art: AlbumArt) -> bool:
        """Write ``art`` as the ``album_art`` of ``target_id`` if that asset is ``owner_id``'s, not being deleted, and
        its ``album_art.asset_id`` still names ``art.asset_id`` (the import; a newer album art is left alone). False
        when a condition failed (nothing written)."""
        condition = (
            AssetRecord.pk.exists()
            & (AssetRecord.owner_id == owner_id)
            & AssetRecord.deleted_at.does_not_exist()
            & (AssetRecord.album_art["asset_id"] == art.asset_id)
        )
        actions = [
            AssetRecord.album_art.set(art.model_dump(mode="json", exclude_none=True)),
            AssetRecord.updated_at.set(utcnow()),
        ]
        return update_if(_key(target_id), actions, condition)
