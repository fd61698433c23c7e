"""AI generation end to end on the local stack: ``POST /media/generate`` → the generate queue → the generate worker →
the image PUT at its upload key → S3 → SQS → the ingest worker → the job ``succeeded`` → the asset ready in the
library (``GET /media?source=generated``).

- The session's stack is ``make run``'s configuration (no Replicate token): the typographic cover, recorded honestly
  as ``sleeve-typographic``.
- A second stack (``replicate``) has the session's fake Replicate's settings: flux-schnell's prediction created by
  name (``POST /v1/models/black-forest-labs/flux-schnell/predictions``), its signed webhook to this stack's
  ``/webhooks/replicate``, the output downloaded and ingested.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from chalicelib.local.process import StackProcess, spawn_stack
from tests.e2e.conftest import Api, FakeDspService, FakeReplicateService, stack_environment, wait_for
from tests.e2e.test_enhancement_flow import settled_job

PROMPT = "A lighthouse in a storm, album cover, bold type"


def new_subject(prefix: str) -> str:
    return f"e2e-gen-{prefix}-{uuid.uuid4().hex[:8]}"


def generated_in_library(api: Api, subject: str, asset_id: str) -> dict[str, Any]:
    """The asset as ``GET /media?source=generated`` lists it (asserted present and ready)."""
    response = api.get("/media?source=generated", subject=subject)
    assert response.status_code == 200, response.text
    items = {item["id"]: item for item in response.json()["items"]}
    assert asset_id in items, items
    item: dict[str, Any] = items[asset_id]
    assert (item["status"], item["source"], item["type"]) == ("ready", "generated", "image"), item
    return item


def original_size(url: str) -> tuple[int, int]:
    fetched = httpx.get(url)
    assert fetched.status_code == 200, url
    with Image.open(io.BytesIO(fetched.content)) as image:
        return image.size


def test_without_a_replicate_token_a_prompt_becomes_a_typographic_cover_in_the_library(
    api: Api, stack: StackProcess
) -> None:
    # Given a new owner on make run's stack (no Replicate token)
    subject = new_subject("typo")

    # When they ask for a 16:9 image
    started = time.monotonic()
    response = api.post(
        "/media/generate",
        {"prompt": PROMPT, "params": {"aspect_ratio": "16:9", "seed": 7}, "title": "Storm", "tags": ["sea"]},
        subject=subject,
    )

    # Then a generate job on the typographic cover is queued, and it succeeds once its image went through ingest
    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["kind"], queued["provider"], queued["model"]) == ("generate", "typographic", "sleeve-typographic")
    job = settled_job(api, subject, queued["id"], stack, timeout_s=60)
    elapsed = time.monotonic() - started
    print(f"typographic generation, request to succeeded job: {elapsed:.2f} s")
    assert job["status"] == "succeeded", job
    assert job["result_asset_id"] == queued["result_asset_id"]

    # And the image is in the owner's library of generated media: ready, 1024x576, with the title and tags, and
    # ai_metadata saying a program (not a model) made it from this prompt
    item = generated_in_library(api, subject, job["result_asset_id"])
    assert (item["title"], item["tags"], item["width"], item["height"]) == ("Storm", ["sea"], 1024, 576), item
    metadata = item["ai_metadata"]
    assert (metadata["generated_by"], metadata["generation_strategy"]) == ("sleeve-typographic", "typographic")
    assert metadata["input_context"]["creator_description"] == PROMPT
    assert original_size(item["url"]) == (1024, 576)

    # And another owner's library does not show it
    other = api.get("/media?source=generated", subject=new_subject("other"))
    assert other.status_code == 200 and other.json()["items"] == []


@dataclass
class ReplicateStack:
    """A stack whose new generations run on the fake Replicate."""

    stack: StackProcess
    api: Api
    replicate: FakeReplicateService


@pytest.fixture(scope="module")
def replicate(
    jwt_secret: str, fake_replicate: FakeReplicateService, fake_dsp: FakeDspService
) -> Iterator[ReplicateStack]:
    # The fake DSP's settings too, so that nothing on this stack could ever reach a real DSP.
    env = stack_environment(fake_dsp.settings_env() | fake_replicate.settings_env())
    process = spawn_stack(env=env, retry_delay_s=1, schedule_time_scale=0.05)
    try:
        with httpx.Client(base_url=process.api_url, timeout=30) as http:
            yield ReplicateStack(stack=process, api=Api(http=http, secret=jwt_secret), replicate=fake_replicate)
    finally:
        code = process.stop()
        assert code == 0, f"the replicate stack did not stop cleanly (exit {code}):\n{process.log_tail()}"


def test_with_replicate_flux_schnell_runs_by_name_and_its_webhook_completes_the_job(replicate: ReplicateStack) -> None:
    # Given a stack pointed at the fake Replicate
    subject = new_subject("flux")

    # When its owner asks for a 3:4 image
    started = time.monotonic()
    response = replicate.api.post(
        "/media/generate", {"prompt": PROMPT, "params": {"aspect_ratio": "3:4", "seed": 3}}, subject=subject
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["provider"], queued["model"]) == ("replicate", "black-forest-labs/flux-schnell"), queued

    # Then flux-schnell's prediction was created by name, its signed webhook reached this stack and was accepted,
    # and the job succeeded once the output went through ingest
    job = settled_job(replicate.api, subject, queued["id"], replicate.stack, timeout_s=60)
    print(f"fake-Replicate generation, request to succeeded job: {time.monotonic() - started:.2f} s")
    assert job["status"] == "succeeded", job
    fake = replicate.replicate.fake
    creates = [r for r in fake.recorded() if r.path == "/v1/models/black-forest-labs/flux-schnell/predictions"]
    assert creates and all(r.method == "POST" and r.authorization_sent for r in creates), creates
    [prediction] = [p for p in fake.predictions() if p["id"] == job["external_id"]]
    assert prediction["status"] == "succeeded" and prediction["input"]["aspect_ratio"] == "3:4", prediction
    webhook_url = f"{replicate.stack.api_url}/webhooks/replicate?job_id={job['id']}"
    deliveries = [d for d in fake.deliveries if d.prediction_id == job["external_id"]]
    assert [(d.url, d.status) for d in deliveries] == [(webhook_url, 200)], deliveries

    # And the image is in the library, 3:4, named after the model that made it
    item = wait_for(
        lambda: generated_in_library(replicate.api, subject, job["result_asset_id"]),
        timeout_s=10,
        what="the generated asset in the library",
    )
    assert item["width"] * 4 == item["height"] * 3, item
    assert item["ai_metadata"]["generated_by"] == "black-forest-labs/flux-schnell", item
    assert item["ai_metadata"]["generation_strategy"] == "text-to-image", item
