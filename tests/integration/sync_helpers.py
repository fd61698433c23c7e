"""Helpers of the DSP sync tests: a released release made through the API, the sync queues read back from moto, and
the Lambda SQS and EventBridge events built from what is really waiting there (the shapes the embedded stack sends).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.config import get_settings, stage_resource_name
from chalicelib.local.fake_dsp import FakeDsp
from chalicelib.local.pump import build_scheduled_event, build_sqs_record
from chalicelib.models.sync import DspConflict
from tests.integration.conftest import STAGE, call, create_release
from tests.integration.dsp_sync_support import providers_for, use_fake

REGION, ACCOUNT = "us-east-1", "123456789012"
SYNC_QUEUE = stage_resource_name(STAGE, "dsp-sync")
SYNC_DLQ = stage_resource_name(STAGE, "dsp-sync-dlq")
#: A UPC-A with a valid check digit (GS1's example) and three ISRCs of one registrant.
UPC = "036000241457"
#: (title, duration ms, ISRC) of the tracks ``released`` adds by default.
TRACKS: tuple[tuple[str, int | None, str | None], ...] = (("Hunter", 255000, "GBUM72400101"),)


def released(
    client: Client,
    *,
    subject: str = "alice",
    upc: str | None = UPC,
    tracks: tuple[tuple[str, int | None, str | None], ...] = TRACKS,
    title: str = "Homogenic",
) -> str:
    """A release of ``subject`` with ``tracks`` taken draft → mixed → mastered through the API, then out with
    ``POST /releases/{id}/release-now``; its id. Releasing queues a ``dsp_sync`` message (reason ``released``)."""
    fields: dict[str, Any] = {"title": title} | ({"upc": upc} if upc else {})
    release_id = str(create_release(client, subject=subject, **fields)["id"])
    for name, duration_ms, isrc in tracks:
        body: dict[str, Any] = {"title": name}
        if duration_ms is not None:
            body["duration_ms"] = duration_ms
        if isrc is not None:
            body["isrc"] = isrc
        response = call(client, "POST", f"/releases/{release_id}/tracks", body, subject=subject)
        assert response.status_code == 201, response.body
    for target in ("mixed", "mastered"):
        response = call(client, "POST", f"/releases/{release_id}/transition", {"to": target}, subject=subject)
        assert response.status_code == 200, response.body
    response = call(client, "POST", f"/releases/{release_id}/release-now", {}, subject=subject)
    assert response.status_code == 200, response.body
    return release_id


def use_fake_dsp(monkeypatch: pytest.MonkeyPatch, dsp: FakeDsp) -> None:
    """Settings point at ``dsp`` (its credentials included), and the container's provider factory builds the real
    provider clients over ``httpx.MockTransport(dsp.handle)``: the container's own sync service syncs against it."""
    import chalicelib.container

    use_fake(monkeypatch, dsp)
    monkeypatch.setattr(chalicelib.container, "get_dsp_providers", lambda: providers_for(dsp, get_settings()))


def _sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def queue_url(name: str = SYNC_QUEUE) -> str:
    """The URL of a queue of the local stage."""
    return str(_sqs().get_queue_url(QueueName=name)["QueueUrl"])


def receive_messages(name: str = SYNC_QUEUE) -> list[dict[str, Any]]:
    """Every message waiting on queue ``name`` as ReceiveMessage returns it (all system and message attributes),
    deleted as read."""
    sqs, url = _sqs(), queue_url(name)
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def drain_sync_queue() -> list[dict[str, Any]]:
    """The JSON bodies of every message waiting on the DSP-sync queue, deleted as read."""
    return [json.loads(message["Body"]) for message in receive_messages()]


def sqs_event(messages: list[dict[str, Any]], name: str = SYNC_QUEUE) -> dict[str, Any]:
    """Lambda's SQS event for ``messages`` received from queue ``name`` (``build_sqs_record``: the AWS Lambda
    developer guide's shape, as the embedded stack's pump delivers it)."""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    return {"Records": [build_sqs_record(message, queue_arn=arn, region=REGION) for message in messages]}


def body_event(body: str, name: str = SYNC_QUEUE) -> dict[str, Any]:
    """Lambda's SQS event of one message with ``body``, sent to and received from queue ``name`` on moto (so its
    attributes are SQS's own)."""
    _sqs().send_message(QueueUrl=queue_url(name), MessageBody=body)
    (message,) = receive_messages(name)
    return sqs_event([message], name)


def scheduled_event(rule: str = "enqueue_due_dsp_syncs") -> dict[str, Any]:
    """EventBridge's scheduled event for the stage's rule of ``rule``."""
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/sleeve-{STAGE}-{rule}-event"
    return build_scheduled_event(rule_arn=arn, region=REGION, account_id=ACCOUNT)


def seed_conflict(release_id: str, track_id: str, *, local_ms: int = 255000, dsp_ms: int = 262000) -> DspConflict:
    """An open ``duration_ms`` conflict of the track put on the release straight through the repository (as a sync
    would leave it), for tests that need a conflict id without running a sync; the conflict."""
    from chalicelib.container import get_catalogue_repository
    from chalicelib.services.dsp_conflicts import conflict_id
    from chalicelib.services.lifecycle import infer_release_type
    from chalicelib.store.catalogue import CatalogueWrite

    repository = get_catalogue_repository()
    detail = repository.load(release_id)
    assert detail is not None
    conflict = DspConflict(
        id=conflict_id("local_vs_dsp", "duration_ms", track_id),
        kind="local_vs_dsp",
        field="duration_ms",
        track_id=track_id,
        disc_number=1,
        track_number=1,
        local_value=local_ms,
        dsp_value=dsp_ms,
        service="spotify",
        dsp_values={"spotify": dsp_ms},
        status="open",
        resolution=None,
        value=None,
        detected_at=datetime.now(UTC),
        resolved_at=None,
        resolved_by=None,
    )
    release = detail.release.model_copy(update={"dsp_conflicts": [*detail.release.dsp_conflicts, conflict]})
    repository.write(CatalogueWrite(release=release, inferred_type=infer_release_type(detail.tracks)))
    return conflict
