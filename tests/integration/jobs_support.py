"""Helpers of the jobs tests: the upscalers the container's enhancement service uses (the real Lanczos upscaler; the
real Replicate client over ``httpx.MockTransport(FakeReplicate.handle)``), a release whose cover went through the real
ingest handler, and the jobs queue pumped through the real worker handlers in Lambda's event shapes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest
from chalice.test import Client

from chalicelib.config import get_settings, stage_resource_name
from chalicelib.container import get_asset_repository, get_job_repository, reset_container
from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.models.domain import Asset
from chalicelib.providers.lanczos import LanczosUpscaler
from chalicelib.providers.replicate import ReplicateUpscaler
from chalicelib.providers.upscaling import Upscaler
from chalicelib.store.jobs import StoredJob
from tests.conftest import SHARED_IMAGES
from tests.integration.conftest import BUCKET, STAGE, Aws, create_release, run_ingest, upload
from tests.integration.sync_helpers import receive_messages, scheduled_event, sqs_event

JOBS_QUEUE = stage_resource_name(STAGE, "jobs")
JOBS_DLQ = stage_resource_name(STAGE, "jobs-dlq")
FAKE_REPLICATE_URL = "http://fake-replicate.test"
WEBHOOK_URL = "https://sleeve.test/webhooks/replicate"


def image(name: str) -> bytes:
    """One of the real test images of ../shared/images."""
    path = SHARED_IMAGES / name
    if not path.is_file():
        pytest.skip(f"the real test images are missing: expected {path}")
    return path.read_bytes()


def s3_fetch(url: str) -> bytes:
    """What the fake Replicate reads an input image with: the object a presigned moto URL names (in-process moto
    answers boto3, not httpx)."""
    parsed = urlparse(url)
    key = parsed.path.lstrip("/").removeprefix(f"{BUCKET}/")
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=key)["Body"]
    return bytes(body.read())


def _env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        key = f"SLEEVE_{name.upper()}" if not name.startswith("SLEEVE_") else name
        if value == "":
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    reset_container()


def use_lanczos(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """New jobs run on the real Lanczos upscaler (the container builds only it); ``env``: more ``SLEEVE_`` settings
    (lower-case names without the prefix)."""
    import chalicelib.container

    _env(monkeypatch, {"upscaler": "lanczos", **env})
    built: dict[str, Upscaler] = {}

    def upscalers() -> dict[str, Upscaler]:
        if not built:
            built["lanczos"] = LanczosUpscaler(get_settings())
        return built

    monkeypatch.setattr(chalicelib.container, "get_upscalers", upscalers)


def use_fake_replicate(monkeypatch: pytest.MonkeyPatch, fake: FakeReplicate, **env: str) -> None:
    """New jobs run on the real Replicate client whose HTTP (API and output downloads) ``fake`` answers; webhooks
    are addressed to ``WEBHOOK_URL``. ``env`` as for ``use_lanczos``."""
    import chalicelib.container

    settings_env = {**fake.settings_env(FAKE_REPLICATE_URL), "SLEEVE_REPLICATE_WEBHOOK_URL": WEBHOOK_URL}
    _env(monkeypatch, {**settings_env, "upscaler": "replicate", **env})
    built: dict[str, Upscaler] = {}

    def no_wait(_: float) -> None:
        return None

    def upscalers() -> dict[str, Upscaler]:
        if not built:
            settings = get_settings()
            transport = httpx.MockTransport(fake.handle)
            built["replicate"] = ReplicateUpscaler(settings, transport=transport, sleep=no_wait)
            built["lanczos"] = LanczosUpscaler(settings)
        return built

    monkeypatch.setattr(chalicelib.container, "get_upscalers", upscalers)


def moto_fake_replicate(monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    """The fake Replicate, reading input images from moto (``s3_fetch``); every GET of a prediction moves it one
    step; new jobs run on it (``use_fake_replicate``, the poller asking at once)."""
    replicate = FakeReplicate(fetch=s3_fetch, gets_per_step=1)
    use_fake_replicate(monkeypatch, replicate, replicate_poll_after_s="0")
    return replicate


def cover(client: Client, aws: Aws, name: str = "lowres-128.jpg", *, subject: str = "alice") -> tuple[str, str]:
    """A release of ``subject`` whose cover is the test image ``name``, ingested by the real ``handle_ingest``
    (which runs the enhancement hook after it); ``(release_id, asset_id)``."""
    release_id = str(create_release(client, subject=subject)["id"])
    asset_id = upload(client, aws, release_id, image(name), subject=subject)
    run_ingest(client, aws)
    asset = asset_of(asset_id)
    assert asset.status == "ready", asset.error
    return release_id, asset_id


def job_messages(name: str = JOBS_QUEUE) -> list[dict[str, Any]]:
    """Every message waiting on a jobs queue, as ReceiveMessage returns it (deleted as read)."""
    return receive_messages(name)


def job_bodies(name: str = JOBS_QUEUE) -> list[dict[str, Any]]:
    """The JSON bodies of every message waiting on a jobs queue (deleted as read)."""
    return [json.loads(message["Body"]) for message in job_messages(name)]


def run_jobs(client: Client) -> int:
    """Deliver every waiting jobs message to ``handle_job``, one Lambda SQS event each, until none waits; how many."""
    delivered = 0
    while messages := job_messages():
        for message in messages:
            client.lambda_.invoke("handle_job", sqs_event([message], JOBS_QUEUE))
            delivered += 1
    return delivered


def pump(client: Client, aws: Aws) -> tuple[int, int]:
    """Run the jobs worker and the ingest worker until neither queue holds a message: ``(job messages, ingest
    notifications)`` delivered."""
    jobs = ingests = 0
    while True:
        ran = run_jobs(client)
        ingested = len(run_ingest(client, aws))
        jobs, ingests = jobs + ran, ingests + ingested
        if not ran and not ingested:
            return jobs, ingests


def invoke_schedule(client: Client, name: str) -> Any:
    """Invoke a jobs schedule (``reap_jobs``, ``poll_predictions``) with EventBridge's scheduled event."""
    return client.lambda_.invoke(name, scheduled_event(name))


def job_of(job_id: str) -> StoredJob:
    """The job as stored."""
    job = get_job_repository().get(job_id)
    assert job is not None
    return job


def asset_of(asset_id: str) -> Asset:
    """The asset as stored."""
    asset = get_asset_repository().get(asset_id)
    assert asset is not None
    return asset


def webhook_parts(request: httpx.Request) -> tuple[str | None, str, bytes]:
    """``(job_id query parameter, webhook-id header, raw body)`` of a webhook the fake Replicate sends."""
    job_ids = parse_qs(request.url.query.decode()).get("job_id")
    return (job_ids[0] if job_ids else None), request.headers["webhook-id"], request.content
