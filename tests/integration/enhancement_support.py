"""Helpers of the enhancement API tests (part A of issue 10): a release with a ready cover, the jobs queue's
messages, one run of the jobs worker, and a job taken all the way to an enhanced cover with the Lanczos provider (no
model, no network: the same ingest path as a real upscale)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.config import stage_resource_name
from chalicelib.container import reset_container
from tests.integration.conftest import STAGE, Aws, body_of, call, create_release, run_ingest, upload
from tests.integration.sync_helpers import receive_messages

JOBS_QUEUE = stage_resource_name(STAGE, "jobs")
#: A 450×600 photo: short side 450 px, in the offered range (300..1399).
OFFERED = "portrait-450x600.jpg"


@pytest.fixture(autouse=True)
def lanczos_upscaler(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """New jobs use plain Lanczos resampling (``SLEEVE_UPSCALER=lanczos``): no model, no network, the same path.
    Autouse in the modules that import it."""
    monkeypatch.setenv("SLEEVE_UPSCALER", "lanczos")
    reset_container()


def ready_cover(
    client: Client, aws: Aws, images: Path, *, name: str = OFFERED, subject: str = "alice", **fields: Any
) -> str:
    """A release of ``subject`` whose cover ``name`` (from ../shared/images) is ingested and ready; its id."""
    release_id = str(create_release(client, subject=subject, **fields)["id"])
    upload(client, aws, release_id, (images / name).read_bytes(), subject=subject)
    run_ingest(client, aws)
    artwork = body_of(call(client, "GET", f"/releases/{release_id}/artwork", subject=subject))
    assert artwork["status"] == "ready", artwork
    return release_id


def jobs_messages() -> list[dict[str, Any]]:
    """Every message waiting on the jobs queue, deleted as read, as parsed JSON bodies."""
    return [json.loads(message["Body"]) for message in receive_messages(JOBS_QUEUE)]


def run_jobs(client: Client) -> list[dict[str, Any]]:
    """Deliver every waiting jobs-queue message to the jobs worker (``handle_job``), one per invocation as its batch
    size is 1; the messages."""
    messages = jobs_messages()
    for body in messages:
        event = client.events.generate_sqs_event(message_bodies=[json.dumps(body)], queue_name=JOBS_QUEUE)
        client.lambda_.invoke("handle_job", event)
    return messages


def enhance(client: Client, release_id: str, *, subject: str = "alice") -> dict[str, Any]:
    """``POST …/artwork/enhance``: the 202 job."""
    response = call(client, "POST", f"/releases/{release_id}/artwork/enhance", subject=subject)
    assert response.status_code == 202, response.body
    return dict(body_of(response))


def enhanced(client: Client, aws: Aws, release_id: str, *, subject: str = "alice") -> dict[str, Any]:
    """Enhance the release's ready cover through the whole flow (the test's ``SLEEVE_UPSCALER`` picks the provider):
    the request, the jobs worker, the ingest of the result; the job as it ended (succeeded)."""
    job = enhance(client, release_id, subject=subject)
    run_jobs(client)
    run_ingest(client, aws)
    ended = body_of(call(client, "GET", f"/jobs/{job['id']}", subject=subject))
    assert ended["status"] == "succeeded", ended
    return dict(ended)
