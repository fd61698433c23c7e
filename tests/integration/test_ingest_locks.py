"""Locks and covers at processing time: a reused upload form, a release locked or deleted before the worker runs, one
object per upload key, and the history entry of every cover change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.container import get_asset_repository, get_ingest_service
from chalicelib.store.records import ReleaseRecord
from chalicelib.workers.s3_events import object_created_records
from tests.integration.conftest import BUCKET, body_of, call, create_release, invoke_with_body, run_ingest, upload


def _lock(client, release_id: str) -> None:
    call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"})
    for target in ("mixed", "mastered", "released", "locked"):
        response = call(client, "POST", f"/releases/{release_id}/transition", {"to": target})
        assert response.status_code == 200, response.body


def _ticket(client, release_id: str) -> str:
    response = call(
        client, "POST", f"/releases/{release_id}/artwork/uploads", {"content_type": "image/png", "content_length": 10}
    )
    assert response.status_code == 201, response.body
    return str(body_of(response)["upload_id"])


def _post_again(aws, upload_id: str, data: bytes, content_type: str = "image/png") -> None:
    """The browser posts the same presigned form again (moto does not serve the form in-process: a PUT stands in)."""
    aws.s3.put_object(Bucket=BUCKET, Key=f"uploads/alice/{upload_id}", Body=data, ContentType=content_type)


def _artwork(client, release_id: str) -> dict[str, Any]:
    return body_of(call(client, "GET", f"/releases/{release_id}/artwork"))


def _cover_changes(client, release_id: str) -> list[dict[str, Any]]:
    items = body_of(call(client, "GET", f"/releases/{release_id}/history?limit=100"))["items"]
    return [item for item in items if item["metadata"].get("action") == "cover_changed"]


def _keys(aws, prefix: str) -> set[str]:
    return {o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}


def test_a_form_posted_again_after_the_release_locked_leaves_the_cover_alone(client, aws, shared_images):
    # Given a release whose cover came from an upload, then locked
    release = create_release(client)
    first = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    before = get_asset_repository().get(first)
    _lock(client, release["id"])
    # When the same presigned form is posted again, within its 15 minutes, with other bytes
    _post_again(aws, first, (shared_images / "gradients-1000.png").read_bytes())
    run_ingest(client, aws)
    # Then the cover, its asset and its objects are unchanged, and the history has one cover change only
    artwork = _artwork(client, release["id"])
    assert (artwork["asset_id"], artwork["original"]["width"]) == (first, 128)
    assert get_asset_repository().get(first) == before
    assert len(_cover_changes(client, release["id"])) == 1


def test_an_upload_that_arrives_after_the_release_locked_fails_release_locked(client, aws, shared_images):
    # Given a release with a cover, and a second form handed out before the release locked
    release = create_release(client)
    first = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    second = _ticket(client, release["id"])
    _lock(client, release["id"])
    # When the second form's bytes arrive and the worker runs
    _post_again(aws, second, (shared_images / "gradients-1000.png").read_bytes())
    run_ingest(client, aws)
    # Then that upload failed release_locked, made no objects, and the cover is the first one still
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{second}"))
    assert (state["status"], state["error"]["code"]) == ("failed", "release_locked")
    assert _keys(aws, f"media/alice/{second}/") == set() and _keys(aws, f"derived/alice/{second}/") == set()
    assert _artwork(client, release["id"])["asset_id"] == first
    assert len(_cover_changes(client, release["id"])) == 1


def test_a_second_object_under_an_upload_key_is_refused_and_changes_nothing(client, aws, shared_images, caplog):
    # Given an upload that became the cover of an unlocked release
    release = create_release(client)
    first = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    before = get_asset_repository().get(first)
    objects = {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]}
    # When a second object is written under the same upload key
    _post_again(aws, first, (shared_images / "gradients-1000.png").read_bytes())
    [message] = aws.receive_notifications()
    outcome = get_ingest_service().handle_object_created(object_created_records(message["Body"])[0])
    # Then it is refused as a reuse (logged), and the asset, its objects and the cover keep the first object's result
    assert outcome == "reused"
    assert "upload_reused" in caplog.text
    assert get_asset_repository().get(first) == before
    media = {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]}
    assert media == objects
    assert _artwork(client, release["id"])["original"]["width"] == 128


def test_every_cover_change_writes_a_history_entry(client, aws, shared_images):
    # Given a draft release
    release = create_release(client)
    # When a first upload becomes its cover, then a second one
    first = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    second = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes(), subject="alice")
    run_ingest(client, aws)
    # Then the history shows both changes, newest first, each naming the asset it replaced
    changes = _cover_changes(client, release["id"])
    assert [entry["metadata"] for entry in changes] == [
        {"action": "cover_changed", "asset_id": second, "upload_id": second, "previous_asset_id": first},
        {"action": "cover_changed", "asset_id": first, "upload_id": first, "previous_asset_id": None},
    ]
    assert all(
        (entry["from_status"], entry["to_status"], entry["changed_by"]) == ("draft", "draft", "alice")
        for entry in changes
    )


def test_an_older_upload_finishing_last_is_ready_without_a_cover_change(client, aws, shared_images):
    # Given two uploads of one release whose newer one finishes first
    release = create_release(client)
    older = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    older_body = aws.receive_notifications()[0]["Body"]
    newer = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    # When the older one finishes
    invoke_with_body(client, older_body)
    # Then it is ready, the cover stays the newer one, and only one cover change was recorded
    assert get_asset_repository().get(older).status == "ready"
    assert _artwork(client, release["id"])["asset_id"] == newer
    assert [entry["metadata"]["asset_id"] for entry in _cover_changes(client, release["id"])] == [newer]


def _during_processing(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run ``action()`` after the worker made and wrote the media, just before its finishing transaction."""
    service = get_ingest_service()
    real = service._make_media

    def make_media(*args: Any, **kwargs: Any) -> Any:
        media = real(*args, **kwargs)
        action()
        return media

    monkeypatch.setattr(service, "_make_media", make_media)


@pytest.mark.parametrize(
    ("change", "code"),
    [("delete", "release_not_found"), ("lock", "release_locked")],
)
def test_a_release_deleted_or_locked_while_processing_fails_the_upload_and_its_objects_go(
    client, aws, shared_images, monkeypatch, change, code
):
    # Given a release with a cover, and a second upload whose worker is running
    release = create_release(client)
    first = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    second = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    record = ReleaseRecord.get(f"RELEASE#{release['id']}", "RELEASE")

    def meanwhile() -> None:
        # When the release is deleted, or locked, after the worker checked it and before it finished
        if change == "delete":
            record.delete()
        else:
            record.update(actions=[ReleaseRecord.lock_status.set("locked")])

    _during_processing(monkeypatch, meanwhile)
    [message] = aws.receive_notifications()
    outcome = get_ingest_service().handle_object_created(object_created_records(message["Body"])[0])
    # Then the upload failed with the reason, this run's objects are gone and the cover did not move
    asset = get_asset_repository().get(second)
    assert (outcome, asset.status, asset.error.code) == ("failed", "failed", code)
    assert _keys(aws, f"media/alice/{second}/") == set() and _keys(aws, f"derived/alice/{second}/") == set()
    assert get_ingest_service()._attachments.get(f"RELEASE#{release['id']}", "cover")[0] == first
    if change == "lock":
        assert len(_cover_changes(client, release["id"])) == 1  # the first upload's only


def test_an_upload_processed_after_its_release_was_deleted_fails_release_not_found(client, aws, shared_images):
    # Given an upload whose release is deleted before the worker runs
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    [message] = aws.receive_notifications()
    ReleaseRecord.get(f"RELEASE#{release['id']}", "RELEASE").delete()
    # When the notification reaches the worker
    invoke_with_body(client, message["Body"])
    # Then the upload failed release_not_found and nothing was written for it
    asset = get_asset_repository().get(upload_id)
    assert (asset.status, asset.error.code) == ("failed", "release_not_found")
    assert _keys(aws, "media/") == set() and _keys(aws, "derived/") == set()


def test_an_image_too_small_for_the_smallest_variant_fails_too_small(client, aws):
    import io

    from PIL import Image

    # Given a 48x200 px upload (the tiny variant is 64 px square)
    buffer = io.BytesIO()
    Image.new("RGB", (48, 200), (200, 30, 30)).save(buffer, "PNG")
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], buffer.getvalue(), content_type="image/png")
    # When the worker runs
    run_ingest(client, aws)
    # Then it is refused too_small instead of becoming a cover without variants
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}"))
    assert (state["status"], state["error"]["code"]) == ("failed", "too_small")
    assert _artwork(client, release["id"])["asset_id"] is None


def test_the_minimum_short_side_is_a_setting(client, aws, shared_images, monkeypatch):
    from chalicelib.container import reset_container

    # Given SLEEVE_MIN_SOURCE_PX above the 128 px of lowres-128.jpg
    monkeypatch.setenv("SLEEVE_MIN_SOURCE_PX", "200")
    reset_container()
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    # Then the upload is refused too_small, with the configured minimum
    asset = get_asset_repository().get(upload_id)
    assert (asset.status, asset.error.code) == ("failed", "too_small")
    assert "200 px" in asset.error.message


def test_the_history_entry_is_json_serialisable(client, aws, shared_images):
    release = create_release(client)
    upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    assert json.dumps(_cover_changes(client, release["id"]))
