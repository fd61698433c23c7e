"""Where an asset's bytes live in the media bucket: every S3 key Sleeve writes for an asset is built here.

```
uploads/{owner}/{asset_id}                          the browser's upload (the upload id is the asset id)
media/{owner}/{asset_id}/{run}/{name}.{ext}         one ingest run's original and variants
derived/{owner}/{asset_id}/{run}/{size}.{ext}       the same run's download formats
```

``run`` is the value recorded by the asset's conditional claim (``Asset.run_id``), unique per claim: two runs of one
asset never write the same key, so a superseded run cannot overwrite the objects the record points at. Keys of assets
made before runs existed (``media/{owner}/{asset_id}/{name}.{ext}``) still sit under the prefixes of
``asset_prefixes``. Pure functions; no I/O.
"""

from __future__ import annotations


def upload_key(owner_id: str, upload_id: str) -> str:
    """Where a browser uploads: ``uploads/{owner}/{upload_id}`` (DESIGN.md, storage keys)."""
    return f"uploads/{owner_id}/{upload_id}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """``uploads/{owner}/{upload_id}`` → ``(owner, upload_id)``; None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "uploads" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def media_key(owner_id: str, asset_id: str, run: str, name: str, extension: str) -> str:
    """``media/{owner}/{asset_id}/{run}/{name}.{ext}``: the original or a variant written by ingest run ``run``."""
    return f"media/{owner_id}/{asset_id}/{run}/{name}.{extension}"


def derived_key(owner_id: str, asset_id: str, run: str, size: str, extension: str) -> str:
    """``derived/{owner}/{asset_id}/{run}/{size}.{ext}``: ``size`` (tiny…original) converted to another format."""
    return f"derived/{owner_id}/{asset_id}/{run}/{size}.{extension}"


def run_prefixes(owner_id: str, asset_id: str, run: str) -> list[str]:
    """The two prefixes (ending in ``/``) under which ingest run ``run`` of an asset writes, and only it."""
    return [f"media/{owner_id}/{asset_id}/{run}/", f"derived/{owner_id}/{asset_id}/{run}/"]


def asset_prefixes(owner_id: str, asset_id: str) -> list[str]:
    """Everything of one asset in the bucket, for cleanup: ``[upload key, media prefix, derived prefix]``.

    ``uploads/{owner}/{asset_id}`` is the exact key of the upload (an asset id is a fixed-length hex uuid, so as a
    ``ListObjectsV2`` prefix it matches that key alone); ``media/{owner}/{asset_id}/`` and
    ``derived/{owner}/{asset_id}/`` end in ``/`` and hold every run's objects (and those of assets made before runs).
    Listing each entry as a prefix and deleting what it finds removes the asset's bytes, idempotently.
    """
    return [
        upload_key(owner_id, asset_id),
        f"media/{owner_id}/{asset_id}/",
        f"derived/{owner_id}/{asset_id}/",
    ]
