"""Nothing is left behind by a delete: a release deleted while one of its enhancement jobs runs leaves no result asset
(record or object) and the job ends ``failed`` (``release_not_found``), whichever step the job had reached when the
release went and whether its cleanup ran before or after. Real workers on moto (``handle_job``, ``handle_ingest``,
``handle_cleanup``), Replicate through the real client over ``httpx.MockTransport(FakeReplicate.handle)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import pytest
from chalice.test import Client

from chalicelib.container import get_asset_repository, get_enhancement_service
from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.services.storage_keys import asset_prefixes, upload_key
from chalicelib.store.objects import ObjectStore
from tests.integration.conftest import BUCKET, CLEANUP_QUEUE, Aws, call, run_ingest
from tests.integration.jobs_support import (
    FAKE_REPLICATE_URL,
    asset_of,
    cover,
    invoke_schedule,
    job_of,
    moto_fake_replicate,
    pump,
    run_jobs,
    use_lanczos,
    webhook_parts,
)
from tests.integration.sync_helpers import receive_messages, sqs_event


@pytest.fixture
def fake(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    """The fake Replicate, reading input images from moto; every GET of a prediction moves it one step."""
    return moto_fake_replicate(monkeypatch)


def _delete(client: Client, release_id: str) -> None:
    """``DELETE /releases/{id}``: the release item goes at once, its cleanup is queued."""
    assert call(client, "DELETE", f"/releases/{release_id}").status_code == 204


def _clean_up(client: Client) -> int:
    """Deliver every waiting cleanup message to the real ``handle_cleanup``; how many."""
    messages = receive_messages(CLEANUP_QUEUE)
    for message in messages:
        client.lambda_.invoke("handle_cleanup", sqs_event([message], CLEANUP_QUEUE))
    return len(messages)


def _objects_of(owner_id: str, asset_id: str) -> list[str]:
    """Every object under the asset's prefixes (its upload key, media/ and derived/)."""
    s3 = boto3.client("s3", region_name="us-east-1")
    keys: list[str] = []
    for prefix in asset_prefixes(owner_id, asset_id):
        keys += [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return keys


def _complete_prediction(fake: FakeReplicate) -> None:
    """Advance every prediction to its end as GETs of Replicate's API do."""
    for prediction in fake.predictions():
        for _ in range(2):
            url = f"{FAKE_REPLICATE_URL}/v1/predictions/{prediction['id']}"
            fake.handle(httpx.Request("GET", url, headers={"Authorization": f"Bearer {fake.token}"}))


def _report_by_webhook(fake: FakeReplicate) -> None:
    """The finished prediction's signed webhook, handed to the service as the route does after verifying it."""
    (delivery,) = fake.deliver_webhooks()
    assert get_enhancement_service().accept_webhook(*webhook_parts(delivery)) == "queued"


def _assert_left_nothing(job_id: str, code: str = "release_not_found") -> None:
    """The job ended failed with ``code``; its result asset has no record and no object."""
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None, job
    assert job.error.code == code
    assert job.finished_at is not None
    result_id = str(job.result_asset_id)
    assert get_asset_repository().get(result_id) is None
    assert _objects_of(job.owner_id, result_id) == []


# -- before the provider is called -----------------------------------------------------------------------------------


def test_a_job_of_a_deleted_release_fails_without_calling_the_provider(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a 128 px cover whose automatic Replicate job is queued, and its release deleted before the job runs
    release_id, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = str(asset_of(original_id).enhancement_job_id)
    _delete(client, release_id)
    # When the jobs worker runs job.run
    assert run_jobs(client) == 1
    # Then the job failed release_not_found, Replicate was never asked, and no result exists
    assert not any(r.method == "POST" and r.path.endswith("/predictions") for r in fake.recorded())
    _assert_left_nothing(job_id)


# -- before the result is created ------------------------------------------------------------------------------------


def _started(client: Client, aws: Aws) -> tuple[str, str, str]:
    """A 128 px cover and its automatic Replicate job running: ``(release id, original id, job id)``."""
    release_id, original_id = cover(client, aws, "lowres-128.jpg")
    assert run_jobs(client) == 1
    job = job_of(str(asset_of(original_id).enhancement_job_id))
    assert job.status == "running" and job.external_id is not None
    return release_id, original_id, job.id


def test_a_prediction_finishing_after_its_release_was_deleted_creates_no_result(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running Replicate job whose release is deleted (its cleanup not run yet)
    release_id, original_id, job_id = _started(client, aws)
    _delete(client, release_id)
    # When its prediction succeeds, the webhook reports it and the workers run
    _complete_prediction(fake)
    _report_by_webhook(fake)
    pump(client, aws)
    # Then no result asset was created or stored, and the job failed release_not_found
    _assert_left_nothing(job_id)
    # And the cleanup then removes the original as usual, leaving nothing of either
    assert _clean_up(client) == 1
    assert get_asset_repository().get(original_id) is None
    _assert_left_nothing(job_id)


def test_a_prediction_reported_after_the_release_cleanup_leaves_no_orphan(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running Replicate job whose prediction succeeded (the fake reads the input as it finishes), then its
    # release deleted and cleaned up (the original asset is gone) before any report
    release_id, original_id, job_id = _started(client, aws)
    _complete_prediction(fake)
    _delete(client, release_id)
    assert _clean_up(client) == 1
    assert get_asset_repository().get(original_id) is None
    # When the poller reports the prediction and the workers run
    invoke_schedule(client, "poll_predictions")
    pump(client, aws)
    # Then no result asset exists anywhere, and the job failed release_not_found (the cleanup ended it)
    _assert_left_nothing(job_id)


# -- between the result's creation and its ingest --------------------------------------------------------------------


def _result_handed_to_ingest(client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A 128 px cover whose automatic Lanczos job created its result asset and PUT it; its ingest not run yet:
    ``(release id, job id)``."""
    use_lanczos(monkeypatch)
    release_id, original_id = cover(client, aws, "lowres-128.jpg")
    assert run_jobs(client) == 1
    job = job_of(str(asset_of(original_id).enhancement_job_id))
    assert job.status == "running"
    assert asset_of(str(job.result_asset_id)).status == "pending"
    return release_id, job.id


def test_a_result_ingested_after_its_release_was_deleted_is_discarded(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job whose result was handed to ingest, then its release deleted (the cleanup not run yet)
    release_id, job_id = _result_handed_to_ingest(client, aws, monkeypatch)
    _delete(client, release_id)
    # When the ingest worker ingests the result (and the enhancement hook runs after it)
    assert len(run_ingest(client, aws)) == 1
    # Then the result's record and every object it had (upload, media, derived) are gone; the job failed
    _assert_left_nothing(job_id)
    # And the cleanup afterwards finds nothing more of it
    assert _clean_up(client) == 1
    _assert_left_nothing(job_id)


def test_a_cleanup_between_the_result_and_its_ingest_ends_the_job(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job whose result was handed to ingest, then its release deleted and cleaned up
    release_id, job_id = _result_handed_to_ingest(client, aws, monkeypatch)
    _delete(client, release_id)
    assert _clean_up(client) == 1
    # When the ingest worker receives the result's notification
    run_ingest(client, aws)
    # Then nothing of the result is left, and the job is not left running: it failed release_not_found
    _assert_left_nothing(job_id)


def test_a_cleanup_while_the_result_is_being_stored_leaves_nothing(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an automatic Lanczos job, and a release deleted and cleaned up just as the worker PUTs the result
    # (after its record was created: the cleanup finds that record and deletes it, then the object arrives)
    use_lanczos(monkeypatch)
    release_id, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = str(asset_of(original_id).enhancement_job_id)
    put_bytes: Callable[..., Any] = ObjectStore.put_bytes

    def delete_then_put(store: ObjectStore, key: str, data: bytes, **kwargs: Any) -> Any:
        job = job_of(job_id)
        if key == upload_key(job.owner_id, str(job.result_asset_id)):
            _delete(client, release_id)
            assert _clean_up(client) == 1
        return put_bytes(store, key, data, **kwargs)

    monkeypatch.setattr(ObjectStore, "put_bytes", delete_then_put)
    # When the jobs worker runs the job and the ingest worker receives the result's notification
    assert run_jobs(client) == 1
    run_ingest(client, aws)
    # Then no record and no object of the result is left, and the job failed release_not_found
    _assert_left_nothing(job_id)


# -- the top-up hands on a large enough output unchanged ------------------------------------------------------------


def test_an_output_large_enough_is_handed_to_ingest_unchanged_and_labelled_without_lanczos(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a 450x600 cover enhanced on request: Replicate's x4 output is 1800x2400, past the 1400 px target
    release_id, original_id = cover(client, aws, "portrait-450x600.jpg")
    response = call(client, "POST", f"/releases/{release_id}/artwork/enhance")
    assert response.status_code == 202, response.body
    job_id = json.loads(response.body)["id"]
    assert run_jobs(client) == 1
    _complete_prediction(fake)
    (prediction,) = fake.predictions()
    output = fake.handle(httpx.Request("GET", str(prediction["output"]))).content
    # When the webhook reports it and the jobs worker hands the output to ingest
    _report_by_webhook(fake)
    assert run_jobs(client) == 1
    # Then the bytes at the result's upload key are the provider's own, neither decoded nor re-encoded
    job = job_of(job_id)
    s3 = boto3.client("s3", region_name="us-east-1")
    stored = s3.get_object(Bucket=BUCKET, Key=upload_key(job.owner_id, str(job.result_asset_id)))["Body"].read()
    assert stored == output
    # And once ingested the artwork names the model alone: nothing was resampled
    pump(client, aws)
    assert job_of(job_id).status == "succeeded"
    enhancement = asset_of(original_id).enhancement
    assert enhancement is not None
    assert (enhancement.model, enhancement.ai) == ("real-esrgan-x4plus", True)
    result = asset_of(enhancement.asset_id)
    assert result.media is not None and (result.media.original.width, result.media.original.height) == (1800, 2400)
