"""Integration fixtures: moto's in-process AWS provisioned from infra/template.json, and chalice.test.Client.

Given/When/Then helpers build the exact event shapes Lambda receives (an S3 notification inside an SQS message).
"""

from __future__ import annotations

import importlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.auth import issue_local_token
from chalicelib.config import stage_resource_name
from chalicelib.container import reset_container
from chalicelib.local.provision import ProvisionResult, provision
from chalicelib.models.catalogue import Track
from tests.conftest import REPO_ROOT

TEMPLATE = REPO_ROOT / "infra" / "template.json"
# The local stage's names (infra/template.json with Stage=local, as the local stack provisions it).
STAGE = "local"
TABLE = stage_resource_name(STAGE)
BUCKET = f"sleeve-{STAGE}-media-123456789012-us-east-1"
INGEST_QUEUE = stage_resource_name(STAGE, "ingest")
INGEST_DLQ = stage_resource_name(STAGE, "ingest-dlq")
SYNC_QUEUE = stage_resource_name(STAGE, "dsp-sync")
CLEANUP_QUEUE = stage_resource_name(STAGE, "cleanup")
CLEANUP_DLQ = stage_resource_name(STAGE, "cleanup-dlq")
SECRET = "integration-test-secret-of-at-least-32-bytes"
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SLEEVE_STAGE": STAGE,
    "SLEEVE_BUCKET_NAME": BUCKET,
    "SLEEVE_JWT_SECRET": SECRET,
}


def provision_local(session: boto3.Session) -> ProvisionResult:
    """infra/template.json provisioned on ``session`` (inside ``mock_aws``) for the local stage."""
    return provision(TEMPLATE, session, parameters={"Stage": STAGE})


@dataclass
class Aws:
    """The provisioned emulation: boto3 clients and the physical names."""

    s3: Any
    sqs: Any
    ingest_queue_url: str
    dead_letter_queue_url: str

    def receive_notifications(self, *, wait: int = 1) -> list[dict[str, Any]]:
        """Every message waiting on the ingest queue (deleted as read), as SQS returns them."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.ingest_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(QueueUrl=self.ingest_queue_url, ReceiptHandle=message["ReceiptHandle"])
            messages.extend(batch)
            wait = 0


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """moto's AWS with the table, bucket (CORS, notifications) and queues of infra/template.json."""
    for name in list(os.environ):
        if name.startswith("SLEEVE_"):
            monkeypatch.delenv(name)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        provision_local(boto3.Session(region_name="us-east-1"))
        reset_container()
        sqs = boto3.client("sqs", region_name="us-east-1")
        aws = Aws(
            s3=boto3.client("s3", region_name="us-east-1"),
            sqs=sqs,
            ingest_queue_url=sqs.get_queue_url(QueueName=INGEST_QUEUE)["QueueUrl"],
            dead_letter_queue_url=sqs.get_queue_url(QueueName=INGEST_DLQ)["QueueUrl"],
        )
        # Configuring the notification sends s3:TestEvent; start each test with an empty queue.
        aws.receive_notifications(wait=0)
        yield aws
    reset_container()


@pytest.fixture
def client(aws: Aws) -> Iterator[Client]:
    """chalice.test.Client on the app (stage ``test``: .chalice/config.json's stage variables are not applied)."""
    from app import app

    with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as test_client:
        yield test_client


def auth(subject: str = "alice", groups: tuple[str, ...] = ()) -> dict[str, str]:
    """Headers of a request by ``subject`` (a JSON body included)."""
    token = issue_local_token(subject=subject, groups=groups, secret=SECRET)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def call(
    client: Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    subject: str = "alice",
    headers: dict[str, str] | None = None,
) -> Any:
    """One HTTP call through the local gateway; ``body`` is sent as JSON."""
    request_headers = auth(subject) if headers is None else headers
    payload = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    return client.http.request(method, path, headers=request_headers, body=payload)


def run_ingest(client: Client, aws: Aws, *, function: str = "handle_ingest") -> list[dict[str, Any]]:
    """Deliver every waiting S3 notification to ``function`` in the exact Lambda SQS event shape; returns them."""
    messages = aws.receive_notifications()
    for message in messages:
        invoke_with_body(client, message["Body"], function=function)
    return messages


def invoke_with_body(client: Client, body: str, *, function: str = "handle_ingest") -> Any:
    """Invoke an SQS worker with one message whose body is ``body``."""
    queue = INGEST_DLQ if function == "handle_ingest_dead_letter" else INGEST_QUEUE
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name=queue)
    return client.lambda_.invoke(function, event)


def create_release(client: Client, *, subject: str = "alice", **fields: Any) -> dict[str, Any]:
    """A new release of ``subject``."""
    body = {"title": "Homogenic", "display_artist": "Björk", **fields}
    response = call(client, "POST", "/releases", body, subject=subject)
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def upload(
    client: Client,
    aws: Aws,
    release_id: str,
    data: bytes,
    *,
    content_type: str = "image/jpeg",
    subject: str = "alice",
    declared_length: int | None = None,
) -> str:
    """Presign an upload and put ``data`` at its key (moto does not serve the POST form in-process); the upload id."""
    response = call(
        client,
        "POST",
        f"/releases/{release_id}/artwork/uploads",
        {"content_type": content_type, "content_length": declared_length or len(data)},
        subject=subject,
    )
    assert response.status_code == 201, response.body
    ticket = json.loads(response.body)
    aws.s3.put_object(Bucket=BUCKET, Key=ticket["fields"]["key"], Body=data, ContentType=content_type)
    return str(ticket["upload_id"])


def body_of(response: Any) -> Any:
    """The JSON body of a test response."""
    return json.loads(response.body)


def seed_tracks(release_id: str, isrcs: list[str | None], *, per_write: int = 33) -> list[Track]:
    """Tracks on disc 1 numbered 1.. with ``isrcs`` (None: no ISRC; the others claimed), put straight through the
    repository ``per_write`` at a time: a few transactions instead of one request per track."""
    from chalicelib.container import get_catalogue_repository
    from chalicelib.store.catalogue import CatalogueWrite

    repository = get_catalogue_repository()
    now = datetime.now(UTC)
    tracks = [
        Track(
            id=uuid.uuid4().hex,
            release_id=release_id,
            title=f"Track {n}",
            track_number=n,
            isrc=isrc,
            created_at=now,
            updated_at=now,
        )
        for n, isrc in enumerate(isrcs, start=1)
    ]
    for start in range(0, len(tracks), per_write):
        detail = repository.load(release_id)
        assert detail is not None
        chunk = tracks[start : start + per_write]
        release = detail.release.model_copy(update={"track_count": start + len(chunk)})
        claims = [(t.isrc, t.id) for t in chunk if t.isrc]
        repository.write(CatalogueWrite(release=release, inferred_type="album", put_tracks=chunk, claim_isrcs=claims))
    return tracks


def reloading_queues(monkeypatch: pytest.MonkeyPatch, variable: str) -> Iterator[Callable[[str | None], ModuleType]]:
    """The body of a fixture (``yield from``): a function that re-imports ``chalicelib.workers.queues`` with the
    environment variable ``variable`` set to a value (None: unset) and returns it; re-imported as it was afterwards."""
    from chalicelib.workers import queues

    def load(value: str | None) -> ModuleType:
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
        return importlib.reload(queues)

    yield load
    monkeypatch.undo()
    importlib.reload(queues)
