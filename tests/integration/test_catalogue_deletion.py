"""Deleting a release (one transaction, a cleanup marker, a cleanup message), purging what it owned, and queue sends
that fail (the release-now DSP sync, the cleanup request): logged, counted as EMF metrics, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.container import get_catalogue_repository
from chalicelib.store.records import AttachmentRecord
from tests.integration.conftest import CLEANUP_QUEUE, SYNC_QUEUE, TABLE, body_of, call, create_release, seed_tracks

ISRC = "USRC17607839"
OTHER_ISRC = "GBAYE0601498"


def partition(release_id: str) -> list[str]:
    """The sort keys of every item in the release's partition, read with a raw Query (no record class in between)."""
    table = boto3.client("dynamodb", region_name="us-east-1")
    items = table.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RELEASE#{release_id}"}},
        ConsistentRead=True,
    )["Items"]
    return sorted(item["sk"]["S"] for item in items)


def queue_messages(aws: Any, name: str) -> list[dict[str, Any]]:
    """Every message waiting on queue ``name`` (deleted as read), as JSON."""
    url = aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
    bodies: list[dict[str, Any]] = []
    while batch := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(json.loads(message["Body"]))
    return bodies


def emf_metrics(output: str) -> list[tuple[str, str]]:
    """``(namespace, metric name)`` of every CloudWatch EMF line in ``output``."""
    found: list[tuple[str, str]] = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            found += [(directive["Namespace"], metric["Name"]) for metric in directive["Metrics"]]
    return found


def a_release_with_everything(client: Any) -> tuple[str, dict[str, Any]]:
    """A release with two tracks (one holding ``ISRC``), a collaborator, history entries and a cover attachment."""
    rid = create_release(client)["id"]
    track = body_of(call(client, "POST", f"/releases/{rid}/tracks", {"title": "Jóga", "isrc": ISRC}))
    assert call(client, "POST", f"/releases/{rid}/tracks", {"title": "Hunter"}).status_code == 201
    credit = {"name": "Mark Bell", "role": "producer", "split": 50}
    assert call(client, "POST", f"/releases/{rid}/collaborators", credit).status_code == 201
    assert call(client, "POST", f"/releases/{rid}/transition", {"to": "recording"}).status_code == 200
    now = datetime.now(UTC)
    AttachmentRecord(
        f"RELEASE#{rid}", "ATTACHMENT#cover", owner_id=rid, asset_id="a1", asset_created_at=now, attached_at=now
    ).save()
    return rid, track


# -- delete -----------------------------------------------------------------------------------------------------------


def test_a_delete_removes_the_release_and_its_claims_and_leaves_a_marker_and_a_cleanup_message(client, aws):
    # Given a release with tracks, a claimed ISRC, a collaborator, history and an attachment
    rid, track = a_release_with_everything(client)
    before = datetime.now(UTC)

    # When it is deleted
    response = call(client, "DELETE", f"/releases/{rid}")

    # Then everything of it answers 404 and its ISRC is free at once
    assert response.status_code == 204, response.body
    for path in ("", "/tracks", f"/tracks/{track['id']}", "/collaborators", "/history", "/editable-fields"):
        assert call(client, "GET", f"/releases/{rid}{path}").status_code == 404, path
    repository = get_catalogue_repository()
    assert repository.isrc_holder("alice", ISRC) is None
    # And the release item went in the transaction; the rest waits for the cleanup worker, named by a marker…
    left = partition(rid)
    assert "RELEASE" not in left and "ATTACHMENT#cover" in left and len(left) == 6  # 2 tracks, 1 credit, 2 history
    (pending,) = repository.pending_cleanups(datetime.now(UTC) + timedelta(seconds=1), 10)
    assert (pending.release_id, pending.owner_id) == (rid, "alice")
    assert before <= pending.requested_at <= datetime.now(UTC)
    # …and by one message on the cleanup queue
    (message,) = queue_messages(aws, CLEANUP_QUEUE)
    assert message == {
        "type": "release_cleanup",
        "release_id": rid,
        "owner_id": "alice",
        "requested_at": pending.requested_at.isoformat(),
    }


def test_the_purge_deletes_every_item_of_the_partition_and_is_idempotent(client, aws):
    rid, _ = a_release_with_everything(client)
    # Given an item of a kind the catalogue does not know, in the same partition
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=TABLE, Item={"pk": {"S": f"RELEASE#{rid}"}, "sk": {"S": "SOMETHING#else"}}
    )
    assert call(client, "DELETE", f"/releases/{rid}").status_code == 204
    repository = get_catalogue_repository()
    left = partition(rid)

    # When the cleanup purges the partition, twice, and finishes
    first = repository.purge_release_partition(rid)
    second = repository.purge_release_partition(rid)
    repository.finish_cleanup(rid)

    # Then nothing of it is left, the first run named the attachment's asset, and no cleanup is pending
    assert len(left) == 7  # 2 tracks, 1 credit, 2 history entries, the attachment and the unknown item
    assert partition(rid) == []
    assert (first, second) == (["a1"], [])
    assert repository.pending_cleanups(datetime.now(UTC) + timedelta(seconds=1), 10) == []
    repository.finish_cleanup(rid)  # finishing twice is fine


def test_only_markers_older_than_the_cut_off_are_pending(client):
    rid = create_release(client)["id"]
    assert call(client, "DELETE", f"/releases/{rid}").status_code == 204
    repository = get_catalogue_repository()

    assert repository.pending_cleanups(datetime.now(UTC) - timedelta(minutes=5), 10) == []
    assert [p.release_id for p in repository.pending_cleanups(datetime.now(UTC) + timedelta(seconds=1), 10)] == [rid]


def test_the_purge_keeps_an_isrc_another_release_took_since(client):
    doomed = create_release(client, title="Doomed")["id"]
    survivor = create_release(client, title="Survivor")["id"]
    # Given a deleted release's track still naming ISRC, which the delete freed and another release then took
    seed_tracks(doomed, [ISRC])
    assert call(client, "DELETE", f"/releases/{doomed}").status_code == 204
    taken = body_of(call(client, "POST", f"/releases/{survivor}/tracks", {"title": "Jóga", "isrc": ISRC}))

    # When the partition of the deleted release is purged
    get_catalogue_repository().purge_release_partition(doomed)

    # Then the other release keeps its claim
    assert get_catalogue_repository().isrc_holder("alice", ISRC) == (survivor, taken["id"])


def test_deleting_a_release_whose_99_tracks_all_hold_an_isrc_fits_one_transaction(client):
    # Given 99 tracks, each with its ISRC: the release, 99 claims and the marker would be 101 items
    rid = create_release(client)["id"]
    isrcs = [f"USRC1{n:07d}" for n in range(1, 100)]
    tracks = seed_tracks(rid, isrcs)
    repository = get_catalogue_repository()

    # When it is deleted
    response = call(client, "DELETE", f"/releases/{rid}")

    # Then it is gone at once with 98 ISRCs free; the last claim is left for the purge, which frees it
    assert response.status_code == 204, response.body
    assert call(client, "GET", f"/releases/{rid}").status_code == 404
    assert [repository.isrc_holder("alice", isrc) for isrc in isrcs[:98]] == [None] * 98
    assert repository.isrc_holder("alice", isrcs[98]) == (rid, tracks[98].id)
    repository.purge_release_partition(rid)
    assert repository.isrc_holder("alice", isrcs[98]) is None


# -- failed sends -----------------------------------------------------------------------------------------------------


def test_release_now_with_the_sync_queue_gone_stays_released_and_due_and_counts_the_failure(client, aws, capsys):
    # Given a mastered release, and a DSP-sync queue that no longer exists
    rid = create_release(client)["id"]
    assert call(client, "POST", f"/releases/{rid}/tracks", {"title": "Jóga"}).status_code == 201
    for target in ("mixed", "mastered"):
        assert call(client, "POST", f"/releases/{rid}/transition", {"to": target}).status_code == 200
    aws.sqs.delete_queue(QueueUrl=aws.sqs.get_queue_url(QueueName=SYNC_QUEUE)["QueueUrl"])
    capsys.readouterr()

    # When it is released now
    response = call(client, "POST", f"/releases/{rid}/release-now", {"reason": "go"})

    # Then the release is released, stays due for the sync schedule, and one EMF metric counts the failed send
    assert response.status_code == 200, response.body
    assert body_of(response)["production_status"] == "released"
    due = get_catalogue_repository().list_due_for_sync(datetime.now(UTC) + timedelta(seconds=1), limit=100)
    assert rid in {r.id for r in due}
    assert emf_metrics(capsys.readouterr().out).count(("Sleeve", "DspSyncEnqueueFailed")) == 1


def test_a_delete_with_the_cleanup_queue_gone_answers_204_keeps_the_marker_and_counts_the_failure(client, aws, capsys):
    rid = create_release(client)["id"]
    aws.sqs.delete_queue(QueueUrl=aws.sqs.get_queue_url(QueueName=CLEANUP_QUEUE)["QueueUrl"])
    capsys.readouterr()

    response = call(client, "DELETE", f"/releases/{rid}")

    assert response.status_code == 204, response.body
    pending = get_catalogue_repository().pending_cleanups(datetime.now(UTC) + timedelta(seconds=1), 10)
    assert [p.release_id for p in pending] == [rid]
    assert emf_metrics(capsys.readouterr().out).count(("Sleeve", "ReleaseCleanupEnqueueFailed")) == 1


@pytest.mark.parametrize("queue", [SYNC_QUEUE, CLEANUP_QUEUE])
def test_no_metric_is_counted_when_the_sends_succeed(client, aws, capsys, queue):
    rid = create_release(client)["id"]
    assert call(client, "POST", f"/releases/{rid}/tracks", {"title": "Jóga"}).status_code == 201
    capsys.readouterr()
    if queue == SYNC_QUEUE:
        for target in ("mixed", "mastered", "released"):
            assert call(client, "POST", f"/releases/{rid}/transition", {"to": target}).status_code == 200
    else:
        assert call(client, "DELETE", f"/releases/{rid}").status_code == 204

    assert emf_metrics(capsys.readouterr().out) == []
    assert [m["release_id"] for m in queue_messages(aws, queue)] == [rid]
