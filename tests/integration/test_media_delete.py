"""Deleting a media asset leaves nothing behind: no object, variant, attachment, index item or record; an interrupted
delete is finished by the next; an enhanced version goes with its original and is unlinked from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import container
from tests.integration.conftest import BUCKET, TABLE, Aws, body_of, call, create_release, run_ingest
from tests.integration.media_support import leftovers, media_upload, seed_asset


def _ready_image(client: Client, aws: Aws, shared_images: Path, **fields: Any) -> str:
    asset_id = media_upload(client, aws, (shared_images / "portrait-450x600.jpg").read_bytes(), **fields)
    run_ingest(client, aws)
    assert body_of(call(client, "GET", f"/media/{asset_id}"))["status"] == "ready"
    return asset_id


def _orphans(asset_id: str) -> dict[str, list[Any]]:
    """What is left of the asset, release history entries aside (they record that a cover changed, by design)."""
    left = leftovers(asset_id)
    left["items"] = [item for item in left["items"] if not item["sk"]["S"].startswith("HISTORY#")]
    return left


def test_delete_leaves_no_object_variant_attachment_index_item_or_record(client: Client, aws: Aws, shared_images: Path):
    # Given a ready, tagged, named image with variants, attached to a scene's gallery and as a release's cover
    asset_id = _ready_image(client, aws, shared_images, tags=["press"], layer="L", category="CAS", subcategory="ATL")
    release = create_release(client)
    for target in (
        {"owner_type": "scene", "owner_id": "act1-scene3", "role": "gallery"},
        {"owner_type": "release", "owner_id": release["id"], "role": "cover"},
    ):
        response = call(client, "POST", f"/media/{asset_id}/attach", target)
        assert response.status_code == 201, response.body
    # and shared through a share link
    assert call(client, "PATCH", f"/media/{asset_id}", {"visibility": "shared"}).status_code == 200
    assert call(client, "POST", f"/media/{asset_id}/share-links", {}).status_code == 201
    before = leftovers(asset_id)
    assert len(before["objects"]) > 3 and len(before["items"]) > 3  # original, variants, derived; tag/term items…
    # When it is deleted
    response = call(client, "DELETE", f"/media/{asset_id}")
    # Then nothing of it is left in the bucket or the table
    assert response.status_code == 204, response.body
    assert _orphans(asset_id) == {"objects": [], "items": []}
    # And it is gone from reads, lists, attachments and the release's artwork
    assert body_of(call(client, "GET", f"/media/{asset_id}"))["error"]["code"] == "media_not_found"
    assert body_of(call(client, "GET", "/media"))["items"] == []
    assert body_of(call(client, "GET", "/owners/scene/act1-scene3/media"))["items"] == []
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["asset_id"] is None
    # And a second delete answers the 404 of an unknown asset
    assert call(client, "DELETE", f"/media/{asset_id}").status_code == 404


def test_delete_leaves_no_cover_marker_naming_the_asset(client: Client, aws: Aws, shared_images: Path):
    # Given a ready image attached as a release's cover
    asset_id = _ready_image(client, aws, shared_images)
    release = create_release(client)
    body = {"owner_type": "release", "owner_id": release["id"], "role": "cover"}
    assert call(client, "POST", f"/media/{asset_id}/attach", body).status_code == 201
    # When it is deleted
    assert call(client, "DELETE", f"/media/{asset_id}").status_code == 204
    # Then no item of the table names it, the release's cover pointer included
    assert _orphans(asset_id) == {"objects": [], "items": []}


def test_an_interrupted_delete_hides_the_asset_and_the_next_delete_finishes_it(
    client: Client, aws: Aws, shared_images: Path, monkeypatch: pytest.MonkeyPatch
):
    # Given a ready image, and an object store that fails once while deleting
    asset_id = _ready_image(client, aws, shared_images, title="Half")
    objects = container.get_object_store()
    real = objects.delete_prefixes
    failures = iter([RuntimeError("S3 is down")])

    def flaky(prefixes: list[str]) -> list[str]:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(prefixes)

    monkeypatch.setattr(objects, "delete_prefixes", flaky)
    # When a delete fails half-way
    assert call(client, "DELETE", f"/media/{asset_id}").status_code == 500
    # Then the asset has already left the library (tombstoned) while its objects are still there
    assert body_of(call(client, "GET", "/media"))["items"] == []
    assert call(client, "GET", f"/media/{asset_id}").status_code == 404
    assert leftovers(asset_id)["objects"]
    # And a second delete finishes it
    assert call(client, "DELETE", f"/media/{asset_id}").status_code == 204
    assert _orphans(asset_id) == {"objects": [], "items": []}


def _link_enhanced(original_id: str, enhanced_id: str) -> None:
    """Make ``enhanced_id`` the enhanced version of ``original_id`` as a succeeded upscale job leaves them."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ASSET#{original_id}"}, "sk": {"S": "ASSET"}},
        UpdateExpression="SET enhancement = :e",
        ExpressionAttributeValues={
            ":e": {
                "M": {
                    "asset_id": {"S": enhanced_id},
                    "model": {"S": "lanczos"},
                    "ai": {"BOOL": False},
                    "enhanced_at": {"S": "2026-11-26T10:00:00+00:00"},
                    "job_id": {"S": "0" * 32},
                }
            }
        },
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ASSET#{enhanced_id}"}, "sk": {"S": "ASSET"}},
        UpdateExpression="SET original_asset_id = :o",
        ExpressionAttributeValues={":o": {"S": original_id}},
    )


def test_deleting_an_enhanced_version_unlinks_it_from_its_original(aws: Aws, client: Client):
    # Given an original and its enhanced version
    original, enhanced = seed_asset("alice"), seed_asset("alice", source="ai_upscaled")
    _link_enhanced(original, enhanced)
    # When the enhanced version is deleted
    assert call(client, "DELETE", f"/media/{enhanced}").status_code == 204
    # Then the original stays, no longer naming it
    kept = container.get_asset_repository().get(original)
    assert kept is not None and kept.enhancement is None
    assert container.get_asset_repository().get(enhanced) is None


def test_deleting_an_original_deletes_its_enhanced_version(aws: Aws, client: Client):
    # Given an original and its enhanced version
    original, enhanced = seed_asset("alice"), seed_asset("alice", source="ai_upscaled")
    _link_enhanced(original, enhanced)
    # When the original is deleted
    assert call(client, "DELETE", f"/media/{original}").status_code == 204
    # Then both are gone
    assert _orphans(original)["items"] == [] and _orphans(enhanced)["items"] == []


def test_another_owner_cannot_delete(aws: Aws, client: Client):
    # Given alice's asset
    asset_id = seed_asset("alice", title="Mine")
    # When bob deletes it
    response = call(client, "DELETE", f"/media/{asset_id}", subject="bob")
    # Then he gets the 404 of an unknown asset, and it is untouched
    assert response.status_code == 404 and body_of(response)["error"]["code"] == "media_not_found"
    assert body_of(call(client, "GET", f"/media/{asset_id}"))["title"] == "Mine"


def test_an_ingest_finishing_during_a_delete_leaves_no_object(
    client: Client, aws: Aws, shared_images: Path, monkeypatch: pytest.MonkeyPatch
):
    # Given an upload whose bytes are in the bucket but not yet ingested
    data = (shared_images / "portrait-450x600.jpg").read_bytes()
    asset_id = media_upload(client, aws, data)
    objects = container.get_object_store()
    delete_prefixes = objects.delete_prefixes

    def then_ingest(prefixes: list[str]) -> list[str]:
        deleted = delete_prefixes(prefixes)
        # When a worker that had read the bytes before the delete claims and writes right after the objects went
        # (the bytes put back stand for the copy the worker holds)
        aws.s3.put_object(Bucket=BUCKET, Key=f"uploads/alice/{asset_id}", Body=data, ContentType="image/jpeg")
        run_ingest(client, aws)
        return deleted

    monkeypatch.setattr(objects, "delete_prefixes", then_ingest)
    assert call(client, "DELETE", f"/media/{asset_id}").status_code == 204
    # Then the run may neither claim nor finish the tombstoned asset: no media or derived object outlives it
    assert [key for key in leftovers(asset_id)["objects"] if not key.startswith("uploads/")] == []
    assert _orphans(asset_id)["items"] == []
