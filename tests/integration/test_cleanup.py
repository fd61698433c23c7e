"""The release cleanup worker: deleting a release leaves nothing of it in the bucket or the table, idempotently.

The worker runs through ``chalice.test.Client``'s Lambda invoke with the SQS event shape Lambda sends, fed the message
the API really queued (read back from moto's cleanup queue). Only these tests Scan the table and list the bucket:
the code never does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import (
    BUCKET,
    CLEANUP_DLQ,
    CLEANUP_QUEUE,
    body_of,
    call,
    create_release,
    run_ingest,
    upload,
)


def _queue_url(aws: Any) -> str:
    return str(aws.sqs.get_queue_url(QueueName=CLEANUP_QUEUE)["QueueUrl"])


def _receive_cleanups(aws: Any) -> list[str]:
    """The bodies of every message waiting on the cleanup queue (deleted as read)."""
    url = _queue_url(aws)
    bodies: list[str] = []
    while True:
        batch = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(message["Body"])


def _invoke(client: Any, function: str, body: str) -> Any:
    """Invoke a cleanup worker with one SQS message whose body is ``body`` (Lambda's SQS event shape)."""
    queue = CLEANUP_DLQ if function == "handle_cleanup_dead_letter" else CLEANUP_QUEUE
    return client.lambda_.invoke(function, client.events.generate_sqs_event(message_bodies=[body], queue_name=queue))


def _table_items() -> list[dict[str, Any]]:
    """Every item of the table, raw (a Scan: tests only)."""
    import boto3

    from chalicelib.config import get_settings

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(get_settings().table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _bucket_keys(aws: Any) -> set[str]:
    keys: set[str] = set()
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def _mentions(item: Any, needles: set[str]) -> bool:
    """Whether any needle occurs in any key or value of ``item`` (rendered as JSON)."""
    text = json.dumps(item, default=str)
    return any(needle in text for needle in needles)


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item["pk"]), str(item["sk"])


def _png(aws: Any, client: Any, token: str) -> None:
    response = client.http.request("GET", f"/s/{token}/download?size=small&format=png", headers={})
    assert response.status_code == 302, response.body


def _full_release(client: Any, aws: Any, shared_images: Any, *, title: str, isrcs: list[str]) -> dict[str, Any]:
    """A release of alice with tracks (ISRCs), a collaborator, history, two processed uploads, and two share links
    each downloaded; returns ``{"id", "assets", "tokens", "isrcs"}``."""
    release = create_release(client, title=title)
    rid = release["id"]
    for number, isrc in enumerate(isrcs, start=1):
        track = call(client, "POST", f"/releases/{rid}/tracks", {"title": f"Track {number}", "isrc": isrc})
        assert track.status_code == 201, track.body
    collaborator = call(client, "POST", f"/releases/{rid}/collaborators", {"role": "producer", "name": "Mark Bell"})
    assert collaborator.status_code == 201, collaborator.body
    moved = call(client, "POST", f"/releases/{rid}/transition", {"to": "recording", "reason": "studio booked"})
    assert moved.status_code == 200, moved.body
    assets = []
    for image in ("portrait-450x600.jpg", "photo-1024x772.webp"):
        content_type = "image/webp" if image.endswith(".webp") else "image/jpeg"
        assets.append(upload(client, aws, rid, (shared_images / image).read_bytes(), content_type=content_type))
        run_ingest(client, aws)
    tokens = []
    for _ in range(2):
        created = body_of(call(client, "POST", f"/releases/{rid}/share-links", {}))
        tokens.append(created["token_id"])
        _png(aws, client, created["token"])
        assert client.http.request("GET", f"/s/{created['token']}/download", headers={}).status_code == 302
    return {"id": rid, "assets": assets, "tokens": tokens, "isrcs": isrcs}


@pytest.fixture
def two_releases(client, aws, shared_images):
    """Alice's release to delete and another of hers that must stay untouched."""
    doomed = _full_release(client, aws, shared_images, title="Doomed", isrcs=["USRC17607839", "GBAYE0601498"])
    kept = _full_release(client, aws, shared_images, title="Kept", isrcs=["USRC17607840"])
    _receive_cleanups(aws)
    return doomed, kept


def _needles(release: dict[str, Any]) -> set[str]:
    return {release["id"], *release["assets"], *release["tokens"], *release["isrcs"]}


def test_deleting_a_release_leaves_nothing_of_it_and_touches_nothing_else(client, aws, two_releases):
    doomed, kept = two_releases
    # Given both releases fully in the table and the bucket
    items_before = _table_items()
    keys_before = _bucket_keys(aws)
    doomed_items = [item for item in items_before if _mentions(item, _needles(doomed))]
    doomed_keys = {key for key in keys_before if any(asset in key for asset in doomed["assets"])}
    # (the fixture really made every kind of item and object this test claims to remove)
    kinds = {"#".join(str(item["sk"]).split("#")[:2]) for item in doomed_items}
    assert {"RELEASE", "RELEASE#TRACK", "RELEASE#COLLABORATOR", "ATTACHMENT#cover", "ISRC", "ASSET", "SHARE"} <= kinds
    assert {kind.split("#")[0] for kind in kinds} >= {"HISTORY", "DOWNLOADS"}
    assert {key.split("/")[0] for key in doomed_keys} == {"uploads", "media", "derived"}

    # When the owner deletes it through the API and the cleanup worker runs on the message the API queued
    assert call(client, "DELETE", f"/releases/{doomed['id']}").status_code == 204
    messages = _receive_cleanups(aws)
    assert [json.loads(body)["release_id"] for body in messages] == [doomed["id"]]
    assert json.loads(messages[0])["type"] == "release_cleanup"
    _invoke(client, "handle_cleanup", messages[0])

    # Then nothing of it is left in the table or the bucket, and everything else is exactly as it was
    items_after = _table_items()
    keys_after = _bucket_keys(aws)
    assert [item for item in items_after if _mentions(item, _needles(doomed))] == []
    assert not any(str(item["pk"]) == "CLEANUP" for item in items_after)
    assert keys_after == keys_before - doomed_keys
    doomed_item_keys = {_key(item) for item in doomed_items}
    expected = sorted((item for item in items_before if _key(item) not in doomed_item_keys), key=_key)
    assert sorted(items_after, key=_key) == expected
    # the other release still works end to end
    assert call(client, "GET", f"/releases/{kept['id']}").status_code == 200
    links = body_of(call(client, "GET", f"/releases/{kept['id']}/share-links"))["items"]
    assert len(links) == 2 and all(link["downloads"] for link in links)
    # and the deleted one's ISRCs are free again
    other = create_release(client, title="Reissue")
    reuse = call(client, "POST", f"/releases/{other['id']}/tracks", {"title": "Again", "isrc": doomed["isrcs"][0]})
    assert reuse.status_code == 201, reuse.body

    # When the same message is delivered again (SQS delivers at least once)
    items_again = _table_items()
    _invoke(client, "handle_cleanup", messages[0])
    # Then nothing changes
    assert sorted(_table_items(), key=_key) == sorted(items_again, key=_key)
    assert _bucket_keys(aws) == keys_after


def test_a_cleanup_naming_a_live_release_is_refused(client, aws, two_releases):
    _, kept = two_releases
    # Given a forged or stale message naming a release that exists
    items_before = _table_items()
    keys_before = _bucket_keys(aws)
    body = json.dumps(
        {
            "type": "release_cleanup",
            "release_id": kept["id"],
            "owner_id": "alice",
            "requested_at": "2026-01-01T00:00:00Z",
        }
    )
    # When the worker gets it
    _invoke(client, "handle_cleanup", body)
    # Then nothing is touched
    assert sorted(_table_items(), key=_key) == sorted(items_before, key=_key)
    assert _bucket_keys(aws) == keys_before


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"type": "something_else", "release_id": "abc", "owner_id": "alice", "requested_at": "2026-01-01T00:00:00Z"}',
        '{"type": "release_cleanup", "owner_id": "alice", "requested_at": "2026-01-01T00:00:00Z"}',
        '{"type": "release_cleanup", "release_id": "../x", "owner_id": "a", "requested_at": "2026-01-01T00:00:00Z"}',
        '{"type": "release_cleanup", "release_id": {"S": "x"}, "owner_id": "a", "requested_at": "yesterday"}',
    ],
)
def test_malformed_cleanup_messages_are_dropped_and_the_dead_letter_consumer_never_raises(client, aws, body, caplog):
    # When either consumer gets a message that is not a release cleanup
    _invoke(client, "handle_cleanup", body)
    _invoke(client, "handle_cleanup_dead_letter", body)
    # Then both return normally (Lambda deletes the message) and the drop is logged
    assert "malformed cleanup message" in caplog.text


def test_the_dead_letter_consumer_logs_a_failed_cleanup(client, aws, caplog):
    # Given a cleanup that failed every retry
    body = json.dumps(
        {"type": "release_cleanup", "release_id": "abc123", "owner_id": "alice", "requested_at": "2026-01-01T00:00:00Z"}
    )
    # When the dead-letter consumer gets it
    _invoke(client, "handle_cleanup_dead_letter", body)
    # Then it is logged as an error naming the release
    logged = [r for r in caplog.records if r.getMessage() == "release cleanup dead-lettered"]
    assert [(r.levelname, getattr(r, "release_id", None)) for r in logged] == [("ERROR", "abc123")]


def test_the_sweep_resends_cleanups_whose_marker_is_older_than_15_minutes(client, aws, shared_images):
    from chalicelib.store.dynamo import utcnow
    from chalicelib.store.records import CleanupRecord

    # Given two deleted releases whose cleanup messages were lost; one deleted 20 minutes ago, one just now
    old = create_release(client, title="Old")
    new = create_release(client, title="New")
    assert call(client, "DELETE", f"/releases/{old['id']}").status_code == 204
    assert call(client, "DELETE", f"/releases/{new['id']}").status_code == 204
    assert len(_receive_cleanups(aws)) == 2  # lost
    marker = CleanupRecord.get("CLEANUP", f"RELEASE#{old['id']}")
    marker.update(actions=[CleanupRecord.requested_at.set(utcnow() - timedelta(minutes=20))])
    # When the 15-minute schedule fires
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:rule/resend"]
    )
    client.lambda_.invoke("resend_pending_cleanups", event)
    # Then only the old one's cleanup is queued again, and running it removes the marker
    resent = _receive_cleanups(aws)
    assert [json.loads(body)["release_id"] for body in resent] == [old["id"]]
    _invoke(client, "handle_cleanup", resent[0])
    markers = {str(item["sk"]) for item in _table_items() if item["pk"] == "CLEANUP"}
    assert markers == {f"RELEASE#{new['id']}"}


def _one_cover(client: Any, aws: Any, shared_images: Any) -> tuple[str, str]:
    """A release of alice with one processed cover; ``(release_id, asset_id)``."""
    release = create_release(client, title="Single")
    asset_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    return release["id"], asset_id


def _delete_and_clean(client: Any, aws: Any, release_id: str) -> None:
    assert call(client, "DELETE", f"/releases/{release_id}").status_code == 204
    for body in _receive_cleanups(aws):
        _invoke(client, "handle_cleanup", body)


def test_an_asset_missing_from_the_target_index_is_found_through_the_cover_attachment(client, aws, shared_images):
    from chalicelib.store.records import AssetRecord

    # Given a cover asset made before assets were filed under their target (no gsi2 keys)
    release_id, asset_id = _one_cover(client, aws, shared_images)
    AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET").update(
        actions=[AssetRecord.gsi2pk.remove(), AssetRecord.gsi2sk.remove()]
    )
    assert any(asset_id in key for key in _bucket_keys(aws))
    # When its release is deleted and cleaned up
    _delete_and_clean(client, aws, release_id)
    # Then the asset and every object of it are gone too
    assert not any(asset_id in key for key in _bucket_keys(aws))
    assert [item for item in _table_items() if _mentions(item, {asset_id, release_id})] == []


def test_objects_are_listed_page_by_page_and_deleted_in_batches_of_at_most_1000(
    client, aws, shared_images, monkeypatch
):
    import botocore.client

    # Given an asset with 2,100 more objects under its derived/ prefix than one ListObjectsV2 page holds
    release_id, asset_id = _one_cover(client, aws, shared_images)
    for n in range(2100):
        aws.s3.put_object(Bucket=BUCKET, Key=f"derived/alice/{asset_id}/old-run-{n:04d}/small.png", Body=b"x")
    calls: list[tuple[str, int]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "DeleteObjects":
            calls.append((operation, len(params["Delete"]["Objects"])))
        elif operation == "ListObjectsV2":
            calls.append((operation, 0))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    # When its release is deleted and cleaned up
    _delete_and_clean(client, aws, release_id)
    # Then every object is gone, listed over several pages and deleted in batches of at most 1000 keys
    monkeypatch.undo()
    assert not any(asset_id in key for key in _bucket_keys(aws))
    sizes = [size for operation, size in calls if operation == "DeleteObjects"]
    assert sum(sizes) >= 2100 and max(sizes) <= 1000 and len(sizes) >= 3
    assert sum(1 for operation, _ in calls if operation == "ListObjectsV2") >= 3 + 2  # derived pages + the others
