"""AI generation on moto through Replicate's text-to-image: the real client (``ReplicateImageGenerator``) over
``httpx.MockTransport(FakeReplicate.handle)``, the real ``POST /webhooks/replicate`` route with the fake's signed
delivery, the real ``poll_predictions``/``reap_jobs`` schedules, ``POST /jobs/{id}/cancel``, and the real
``handle_ingest`` the output goes through. A generate job's reports go to the generate queue, never the jobs queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import boto3
import httpx
import pytest
from chalice.test import Client

from chalicelib.container import get_enhancement_service, get_generation_service
from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.providers.base import ProviderFailure
from chalicelib.store.dynamo import get_item, utcnow
from chalicelib.store.records import AssetRecord
from tests.integration.conftest import Aws, body_of, call
from tests.integration.generation_support import (
    GENERATE_QUEUE,
    PROMPT,
    generate,
    generate_bodies,
    pump_generation,
    run_generate,
    use_fake_replicate_generation,
)
from tests.integration.jobs_support import (
    FAKE_REPLICATE_URL,
    asset_of,
    invoke_schedule,
    job_bodies,
    job_of,
    webhook_parts,
)
from tests.integration.sync_helpers import queue_url


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, aws: Aws) -> Iterator[FakeReplicate]:
    """The fake Replicate; every GET of a prediction moves it one step; the poller asks at once."""
    replicate = FakeReplicate(gets_per_step=1)
    use_fake_replicate_generation(monkeypatch, replicate, replicate_poll_after_s="0")
    yield replicate


def _complete(fake: FakeReplicate) -> None:
    """Advance every prediction to its end as GETs of Replicate's API do."""
    for prediction in fake.predictions():
        for _ in range(2):
            url = f"{FAKE_REPLICATE_URL}/v1/predictions/{prediction['id']}"
            fake.handle(httpx.Request("GET", url, headers={"Authorization": f"Bearer {fake.token}"}))


def _started(client: Client) -> str:
    """A generation whose prediction was created; its job id."""
    job = generate(client, {"prompt": PROMPT, "params": {"aspect_ratio": "3:4", "seed": 9}, "tags": ["storm"]})
    assert job["provider"] == "replicate" and job["model"] == "black-forest-labs/flux-schnell"
    assert run_generate(client) == 1
    running = job_of(job["id"])
    assert running.status == "running" and running.external_id is not None
    return str(job["id"])


def _deliver(client: Client, request: httpx.Request) -> str:
    """POST the fake's signed webhook to the real route; its ``status``."""
    path = f"{request.url.path}?{request.url.query.decode()}"
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-") or k == "content-type"}
    response = client.http.request("POST", path, headers=headers, body=request.content)
    assert response.status_code == 200, response.body
    return str(body_of(response)["status"])


def test_the_webhook_and_the_poller_both_report_and_the_image_is_ingested_once(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running generation whose flux-schnell prediction finished
    job_id = _started(client)
    (prediction,) = fake.predictions()
    assert prediction["model"] == "black-forest-labs/flux-schnell"
    assert prediction["input"]["aspect_ratio"] == "3:4" and prediction["input"]["seed"] == 9
    _complete(fake)

    # When its signed webhook reaches POST /webhooks/replicate and the poller asks too, before any worker runs
    (delivery,) = fake.deliver_webhooks()
    assert webhook_parts(delivery)[0] == job_id
    assert _deliver(client, delivery) == "queued"
    invoke_schedule(client, "poll_predictions")

    # Then both reports wait on the generate queue (none on the jobs queue)
    assert job_bodies() == []
    reports = generate_bodies()
    assert [body["type"] for body in reports] == ["job.prediction", "job.prediction"]

    # And replayed through the worker, the image is downloaded and ingested once; the job succeeded
    sqs = boto3.client("sqs", region_name="us-east-1")
    for body in reports:
        sqs.send_message(QueueUrl=queue_url(GENERATE_QUEUE), MessageBody=json.dumps(body))
    steps, ingests = pump_generation(client, aws)
    assert (steps, ingests) == (2, 1)
    job = job_of(job_id)
    assert job.status == "succeeded"
    asset = asset_of(str(job.result_asset_id))
    assert asset.status == "ready" and asset.source == "generated" and asset.tags == ["storm"]
    assert asset.media is not None and asset.media.source_format == "webp"
    assert asset.media.original.width * 4 == asset.media.original.height * 3
    assert asset.ai_metadata is not None
    assert (asset.ai_metadata.generated_by, asset.ai_metadata.generation_strategy) == (
        "black-forest-labs/flux-schnell",
        "text-to-image",
    )


def test_a_failed_prediction_fails_the_job_with_the_providers_reason(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a generation whose prediction fails
    fake.set_faults(fail_with="NSFW content detected.")
    job_id = _started(client)
    _complete(fake)

    # When its webhook is received and the worker runs
    (delivery,) = fake.deliver_webhooks()
    assert _deliver(client, delivery) == "queued"
    pump_generation(client, aws)

    # Then the job failed provider_failed with Replicate's message, and no asset was made
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None
    assert (job.error.code, job.error.message) == ("provider_failed", "NSFW content detected.")
    assert get_item(AssetRecord, f"ASSET#{job.result_asset_id}", "ASSET") is None


def test_an_output_that_is_not_an_image_fails_the_job(client: Client, aws: Aws, fake: FakeReplicate) -> None:
    # Given a generation whose output file is HTML
    fake.set_faults(output_not_image=True)
    job_id = _started(client)
    _complete(fake)

    # When the poller reports it and the worker runs
    invoke_schedule(client, "poll_predictions")
    pump_generation(client, aws)

    # Then the job failed output_not_image and nothing was ingested
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None and job.error.code == "output_not_image"
    assert get_item(AssetRecord, f"ASSET#{job.result_asset_id}", "ASSET") is None


def test_cancel_stops_the_prediction_and_a_late_report_changes_nothing(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running generation
    job_id = _started(client)

    # When alice cancels it
    response = call(client, "POST", f"/jobs/{job_id}/cancel")

    # Then it is canceled and Replicate was asked to cancel its prediction
    assert response.status_code == 200 and body_of(response)["status"] == "canceled"
    assert fake.predictions()[0]["status"] == "canceled"
    cancels = [r for r in fake.recorded() if r.method == "POST" and r.path.endswith("/cancel")]
    assert len(cancels) == 1

    # And the canceled prediction's webhook, queued and run, changes nothing
    (delivery,) = fake.deliver_webhooks()
    assert _deliver(client, delivery) == "queued"
    pump_generation(client, aws)
    job = job_of(job_id)
    assert job.status == "canceled"
    assert get_item(AssetRecord, f"ASSET#{job.result_asset_id}", "ASSET") is None


def test_a_create_rate_limited_past_the_retries_is_put_back_and_retried(
    client: Client, aws: Aws, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client that does not retry, and Replicate throttling the next create
    use_fake_replicate_generation(monkeypatch, fake, provider_max_retries="0", replicate_poll_after_s="0")
    fake.set_faults(rate_limit_creates=1, retry_after_s=0)
    job = generate(client)

    # When the worker runs job.run
    with pytest.raises(ProviderFailure) as raised:
        run_generate(client)

    # Then it raised (so SQS delivers again) after putting the job back to queued; the next delivery starts it
    assert raised.value.code == "rate_limited"
    assert (job_of(job["id"]).status, job_of(job["id"]).attempts) == ("queued", 1)
    assert get_generation_service().run(job["id"]) == "started"


def test_the_reaper_asks_once_then_cancels_a_stuck_prediction_and_requeues_on_the_generate_queue(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running generation whose prediction never advances
    fake.set_progress(gets_per_step=None, seconds_per_step=None)
    job_id = _started(client)

    # When the reaper runs past its running deadline
    assert get_enhancement_service().reap(utcnow() + timedelta(hours=1)) == 1

    # Then the prediction was canceled, and the job is queued again with job.run on the generate queue
    assert fake.predictions()[0]["status"] == "canceled"
    assert (job_of(job_id).status, job_of(job_id).attempts) == ("queued", 1)
    assert job_bodies() == []
    assert generate_bodies() == [{"type": "job.run", "job_id": job_id}]
