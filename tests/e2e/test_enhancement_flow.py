"""AI upscaling end to end on the local stack: a real presigned POST → S3 → SQS → the ingest worker → an enhancement
job on the jobs queue → the upscaler → the result through the same ingest path → the artwork view.

- The session's stack is ``make run``'s configuration (no Replicate token): a cover under 300 px is enhanced by
  itself, by the local Real-ESRGAN when the laptop extra works here, else by Lanczos, recorded honestly.
- A second stack (``replicate``) has the session's fake Replicate's settings and short timers (``rate(1 minute)`` ×
  0.05 = 3 s for the reaper and the poller): the webhook path, the poller path (no webhook), a failed prediction, an
  output over the size cap, and a job whose worker died, ended by the reaper.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from chalicelib.config import Settings
from chalicelib.local.process import StackProcess, spawn_stack
from chalicelib.models.jobs import TERMINAL_STATUSES
from chalicelib.store.catalogue_records import sortable_time
from chalicelib.store.jobs import JOB_SK, OPEN_JOBS, job_partition, open_key, owner_partition, status_partition
from chalicelib.store.records import JobRecord
from tests.e2e.conftest import (
    Api,
    FakeDspService,
    FakeReplicateService,
    expected_local,
    stack_environment,
    wait_for,
)
from tests.e2e.test_artwork_flow import post_form, request_upload

LOWRES = "lowres-128.jpg"
PORTRAIT = "portrait-450x600.jpg"
VARIANT_PX = {"tiny": 64, "small": 300, "medium": 640, "large": 1400}  # DESIGN.md, "Storage keys"
#: The local model took 15–35 s for 128 px on two shared cores, then the result's ingest; generous for CI.
JOB_WAIT_S = 120.0
#: The replicate stack's output cap (the 1800×2400 PNG of the portrait is about 5 MB).
OUTPUT_MAX_BYTES = 20_000_000
#: Settings.job_max_attempts: the stacks keep the default.
JOB_MAX_ATTEMPTS: int = Settings.model_fields["job_max_attempts"].default


def new_subject(prefix: str) -> str:
    return f"e2e-{prefix}-{uuid.uuid4().hex[:8]}"


def upload_cover(api: Api, subject: str, image: Path) -> str:
    """A new release of ``subject`` with ``image`` uploaded as its cover through the presigned POST; its id."""
    created = api.post("/releases", {"title": "Debut", "display_artist": "Björk"}, subject=subject)
    assert created.status_code == 201, created.text
    release_id = str(created.json()["id"])
    data = image.read_bytes()
    ticket = request_upload(api, subject, release_id, data, "image/jpeg", image.name)
    post_form(ticket, data, "image/jpeg", image.name)
    return release_id


def artwork(api: Api, subject: str, release_id: str, version: str | None = None) -> dict[str, Any]:
    query = f"?version={version}" if version else ""
    response = api.get(f"/releases/{release_id}/artwork{query}", subject=subject)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ready_artwork(api: Api, subject: str, release_id: str) -> dict[str, Any]:
    """The artwork view once the upload's ingest ended (``ready`` asserted)."""

    def probe() -> dict[str, Any] | None:
        body = artwork(api, subject, release_id)
        return body if body["status"] in ("ready", "failed") else None

    body = wait_for(probe, timeout_s=60, what=f"the cover of {release_id} to be ingested")
    assert body["status"] == "ready", body
    return body


def settled_job(api: Api, subject: str, job_id: str, stack: StackProcess, *, timeout_s: float = JOB_WAIT_S) -> Any:
    """``GET /jobs/{id}`` once the job ended; on a timeout the stack's log is in the message."""

    def probe() -> dict[str, Any] | None:
        response = api.get(f"/jobs/{job_id}", subject=subject)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        # moto's server applies an update's actions to the stored item one by one, so a read in between can see
        # the new status before the `finished_at` written in the same transaction (DynamoDB never shows that).
        return job if job["status"] in TERMINAL_STATUSES and job["finished_at"] else None

    try:
        return wait_for(probe, timeout_s=timeout_s, interval_s=0.25, what=f"job {job_id} to end")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- stack log ---\n{stack.log_tail(8000)}") from None


def image_size(url: str) -> tuple[int, int]:
    fetched = httpx.get(url)
    assert fetched.status_code == 200, url
    with Image.open(io.BytesIO(fetched.content)) as image:
        return image.size


def assert_enhanced_variants(view: dict[str, Any]) -> None:
    """Every variant up to ``large`` exists at its size, and its URL serves an image of that size."""
    assert set(view["variants"]) >= set(VARIANT_PX), view["variants"]
    for name, px in VARIANT_PX.items():
        variant = view["variants"][name]
        assert (variant["width"], variant["height"]) == (px, px), name
    assert image_size(view["variants"]["large"]["url"]) == (1400, 1400)


# -- make run's configuration: an automatic job on the local Real-ESRGAN (or Lanczos) ----------------------------------


def test_a_low_res_upload_is_enhanced_by_itself_up_to_large(api: Api, stack: StackProcess, shared_images: Path) -> None:
    expected = expected_local()
    print(f"automatic enhancement expected with {expected.provider}: {expected.why}")
    # Given a new owner (default preferences: automatic enhancement on) and a release
    subject = new_subject("auto")

    # When lowres-128.jpg is uploaded as its cover the way a browser does
    release_id = upload_cover(api, subject, shared_images / LOWRES)

    # Then its ingest made only `tiny` and started a job by itself, on the provider the stack can run
    original = ready_artwork(api, subject, release_id)
    assert (original["original"]["width"], original["original"]["height"]) == (128, 128)
    job_view = wait_for(
        lambda: artwork(api, subject, release_id)["enhancement_job"],
        timeout_s=30,
        what="the automatic enhancement job",
    )
    assert job_view["input"]["auto"] is True and job_view["kind"] == "upscale", job_view
    assert job_view["provider"] == expected.provider, f"{expected.why}; the job: {job_view}"
    job = settled_job(api, subject, job_view["id"], stack)
    assert job["status"] == "succeeded", f"{expected.why}; the job: {job}"
    assert job["finished_at"] and job["result_asset_id"], job

    # And the artwork serves the enhanced version (the owner prefers it by default), with every variant up to large,
    # named after the model that made it and marked as an upscale
    served = artwork(api, subject, release_id)
    assert served["version"] == "enhanced" and served["versions"] == ["original", "enhanced"], served
    assert served["asset_id"] == job["result_asset_id"]
    assert (served["upscaled"], served["is_ai_enhanced"], served["ai_enhancement_model"]) == (
        True,
        expected.ai,
        expected.model_label,
    ), f"{expected.why}; the view: {served}"
    assert served["ai_enhanced_at"] and served["enhancement_offered"] is False
    assert (served["original"]["width"], served["original"]["height"]) == (1400, 1400)
    assert_enhanced_variants(served)

    # And the original upload stays reachable as it was: 128 px, `tiny` only
    kept = artwork(api, subject, release_id, "original")
    assert (kept["version"], kept["upscaled"], kept["is_ai_enhanced"]) == ("original", False, False)
    assert set(kept["variants"]) == {"tiny"} and kept["original"]["width"] == 128, kept


# -- the Replicate path, on a second stack pointed at the fake Replicate, with short timers -------------------------


@dataclass
class ReplicateStack:
    """A stack whose new jobs run on the fake Replicate; reaper and poller every 3 s, poller after 1 s."""

    stack: StackProcess
    api: Api
    replicate: FakeReplicateService


@pytest.fixture(scope="module")
def replicate(
    jwt_secret: str, fake_replicate: FakeReplicateService, fake_dsp: FakeDspService
) -> Iterator[ReplicateStack]:
    # The fake DSP's settings too, so that nothing on this stack could ever reach a real DSP.
    env = stack_environment(
        fake_dsp.settings_env()
        | fake_replicate.settings_env()
        | {
            "SLEEVE_REPLICATE_POLL_AFTER_S": "1",
            "SLEEVE_REPLICATE_OUTPUT_MAX_BYTES": str(OUTPUT_MAX_BYTES),
        }
    )
    process = spawn_stack(env=env, retry_delay_s=1, schedule_time_scale=0.05)
    try:
        with httpx.Client(base_url=process.api_url, timeout=30) as http:
            yield ReplicateStack(stack=process, api=Api(http=http, secret=jwt_secret), replicate=fake_replicate)
    finally:
        code = process.stop()
        assert code == 0, f"the replicate stack did not stop cleanly (exit {code}):\n{process.log_tail()}"


@pytest.fixture
def faults(replicate: ReplicateStack) -> Iterator[ReplicateStack]:
    """The replicate stack; the fake's faults are reset after the test."""
    try:
        yield replicate
    finally:
        replicate.replicate.fake.set_faults()


def enhance_portrait(replicate: ReplicateStack, shared_images: Path, prefix: str) -> tuple[str, str, dict[str, Any]]:
    """A release with the 450×600 portrait as its ready cover (offered, not automatic), then ``POST …/enhance``:
    (subject, release id, the 202 job)."""
    subject = new_subject(prefix)
    release_id = upload_cover(replicate.api, subject, shared_images / PORTRAIT)
    view = ready_artwork(replicate.api, subject, release_id)
    assert (view["enhancement_offered"], view["enhancement_job"]) == (True, None), view
    response = replicate.api.post(f"/releases/{release_id}/artwork/enhance", None, subject=subject)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert (job["provider"], job["status"], job["input"]["auto"]) == ("replicate", "queued", False), job
    return subject, release_id, job


def prediction_of(replicate: ReplicateStack, external_id: str) -> dict[str, Any]:
    [prediction] = [p for p in replicate.replicate.fake.predictions() if p["id"] == external_id]
    return prediction


def test_replicate_webhook_completes_the_job_and_the_enhanced_cover_is_served(
    replicate: ReplicateStack, shared_images: Path
) -> None:
    # Given an offered cover (450×600) on a stack pointed at the fake Replicate
    # When its owner asks for an enhancement
    subject, release_id, started = enhance_portrait(replicate, shared_images, "webhook")

    # Then the worker created a prediction with a webhook to this stack's API, the fake's signed webhook was
    # accepted, and the job succeeded once the result went through ingest
    job = settled_job(replicate.api, subject, started["id"], replicate.stack)
    assert job["status"] == "succeeded", job
    prediction = prediction_of(replicate, job["external_id"])
    assert prediction["status"] == "succeeded"
    assert prediction["input"]["scale"] == 4 and prediction["input"]["image"].startswith(replicate.stack.moto_url)
    webhook_url = f"{replicate.stack.api_url}/webhooks/replicate?job_id={job['id']}"
    deliveries = [d for d in replicate.replicate.fake.deliveries if d.prediction_id == job["external_id"]]
    assert [(d.url, d.status) for d in deliveries] == [(webhook_url, 200)], deliveries
    assert job["model"].startswith("nightmareai/real-esrgan:"), job

    # And the enhanced version (×4: 1800×2400, no resampling needed) is served, named after Replicate's model
    served = artwork(replicate.api, subject, release_id)
    assert (served["version"], served["is_ai_enhanced"], served["ai_enhancement_model"]) == (
        "enhanced",
        True,
        "real-esrgan-x4plus",
    ), served
    assert (served["original"]["width"], served["original"]["height"]) == (1800, 2400)
    assert_enhanced_variants(served)
    assert artwork(replicate.api, subject, release_id, "original")["original"]["width"] == 450


def test_without_a_webhook_the_poller_completes_the_job(faults: ReplicateStack, shared_images: Path) -> None:
    # Given a fake Replicate that never sends the webhook
    faults.replicate.fake.set_faults(no_webhook=True)

    # When an enhancement is asked for
    subject, release_id, started = enhance_portrait(faults, shared_images, "poller")

    # Then the poller (every 3 s here, for predictions older than 1 s) asked for the prediction and the job succeeded
    job = settled_job(faults.api, subject, started["id"], faults.stack)
    assert job["status"] == "succeeded", job
    assert not [d for d in faults.replicate.fake.deliveries if d.prediction_id == job["external_id"]]
    asked = [r for r in faults.replicate.fake.recorded() if r.path == f"/v1/predictions/{job['external_id']}"]
    assert asked and all(r.method == "GET" and r.authorization_sent for r in asked), asked
    assert artwork(faults.api, subject, release_id)["version"] == "enhanced"


def test_a_failed_prediction_ends_the_job_failed_with_its_reason(faults: ReplicateStack, shared_images: Path) -> None:
    # Given predictions that fail on Replicate's side
    faults.replicate.fake.set_faults(fail_with="CUDA out of memory. Tried to allocate 2.00 GiB")

    # When an enhancement is asked for
    subject, release_id, started = enhance_portrait(faults, shared_images, "failed")

    # Then the job ends failed with the prediction's error, and the original stays the only version
    job = settled_job(faults.api, subject, started["id"], faults.stack)
    assert job["status"] == "failed" and job["error"]["code"] == "provider_failed", job
    assert "CUDA out of memory" in job["error"]["message"], job
    view = artwork(faults.api, subject, release_id)
    assert (view["version"], view["versions"], view["upscaled"]) == ("original", ["original"], False), view
    assert view["enhancement_job"]["status"] == "failed"


def test_an_output_over_the_size_cap_ends_the_job_failed(faults: ReplicateStack, shared_images: Path) -> None:
    # Given predictions whose output file is larger than the stack's cap
    faults.replicate.fake.set_faults(output_too_large_bytes=OUTPUT_MAX_BYTES + 1)

    # When an enhancement is asked for
    subject, release_id, started = enhance_portrait(faults, shared_images, "toolarge")

    # Then the download stops at the cap and the job ends failed with output_too_large; nothing was linked
    job = settled_job(faults.api, subject, started["id"], faults.stack)
    assert job["status"] == "failed" and job["error"]["code"] == "output_too_large", job
    assert artwork(faults.api, subject, release_id)["versions"] == ["original"]


def test_a_job_whose_worker_died_is_ended_failed_by_the_reaper(replicate: ReplicateStack) -> None:
    # Given a job its worker left `running` when it died, on its last attempt, whose deadline has passed: written
    # into the stack's table as the store writes a running job (open in gsi3 under its deadline)
    subject = new_subject("reaper")
    job_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    created, started, deadline = now - timedelta(minutes=40), now - timedelta(minutes=31), now - timedelta(minutes=1)
    record = JobRecord(
        pk=job_partition(job_id),
        sk=JOB_SK,
        gsi1pk=owner_partition(subject),
        gsi1sk=f"{sortable_time(created)}#{job_id}",
        gsi2pk=status_partition(subject, "running"),
        gsi2sk=f"{sortable_time(created)}#{job_id}",
        gsi3pk=OPEN_JOBS,
        gsi3sk=open_key(deadline, job_id),
        job_id=job_id,
        owner_id=subject,
        kind="upscale",
        provider="local",
        model="realesrgan-x4plus",
        status="running",
        attempts=JOB_MAX_ATTEMPTS,
        input={"release_id": uuid.uuid4().hex, "asset_id": uuid.uuid4().hex, "width": 128, "height": 128},
        created_at=created,
        updated_at=started,
        started_at=started,
        deadline_at=deadline,
        result_asset_id=uuid.uuid4().hex,
    )
    dynamodb = replicate_boto3(replicate, "dynamodb")
    dynamodb.put_item(TableName=replicate.stack.table_name, Item=record.serialize())
    assert replicate.api.get(f"/jobs/{job_id}", subject=subject).json()["status"] == "running"

    # When the reaper runs (every 3 s on this stack)
    began = time.monotonic()
    job = settled_job(replicate.api, subject, job_id, replicate.stack, timeout_s=30)

    # Then it ended the job failed with deadline_exceeded instead of running it a fourth time
    assert job["status"] == "failed" and job["error"]["code"] == "deadline_exceeded", job
    assert job["attempts"] == JOB_MAX_ATTEMPTS and job["finished_at"], job
    print(f"reaped {time.monotonic() - began:.1f} s after the write")


def replicate_boto3(replicate: ReplicateStack, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=replicate.stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
