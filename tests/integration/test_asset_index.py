"""Assets filed under their target (gsi2) so cleanup can find a release's assets, and idempotent deletes."""

from __future__ import annotations

from chalicelib.container import get_asset_repository
from chalicelib.services.storage_keys import asset_prefixes
from tests.integration.conftest import BUCKET, call, create_release, run_ingest, upload


def _start_upload(client, release_id: str) -> str:
    response = call(
        client,
        "POST",
        f"/releases/{release_id}/artwork/uploads",
        {"content_type": "image/jpeg", "content_length": 10},
    )
    assert response.status_code == 201, response.body
    return str(response.json_body["upload_id"])


def test_a_releases_assets_are_listed_by_target_across_pages(client, aws):
    # Given three uploads started for one release and one for another release
    release, other = create_release(client), create_release(client)
    ids = [_start_upload(client, release["id"]) for _ in range(3)]
    _start_upload(client, other["id"])
    repository = get_asset_repository()
    # When the release's assets are listed, one item per Query page
    listed = repository.list_for_target(f"RELEASE#{release['id']}", page_size=1)
    # Then every page was followed: the three assets, oldest first, and none of the other release
    assert [asset.id for asset in listed] == ids
    assert repository.list_for_target(f"RELEASE#{release['id']}") == listed
    assert repository.list_for_target("RELEASE#unknown") == []


def test_deleting_an_asset_is_idempotent(client, aws):
    # Given an asset of a release
    release = create_release(client)
    asset_id = _start_upload(client, release["id"])
    repository = get_asset_repository()
    # When it is deleted twice
    repository.delete(asset_id)
    repository.delete(asset_id)
    # Then it is gone and the second delete raised nothing
    assert repository.get(asset_id) is None
    assert repository.list_for_target(f"RELEASE#{release['id']}") == []


def test_every_object_of_an_ingested_asset_lies_under_its_prefixes(client, aws, shared_images):
    # Given an upload that the worker turned into a ready cover
    release = create_release(client)
    asset_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    # When the bucket is listed
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    # Then every object (upload, media, derived) lies under one of the asset's prefixes
    prefixes = asset_prefixes("alice", asset_id)
    assert len(keys) > 1
    assert all(any(key.startswith(prefix) for prefix in prefixes) for key in keys), keys
