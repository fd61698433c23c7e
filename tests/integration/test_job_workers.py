"""The jobs workers end to end on moto: ``handle_job``, the real ``handle_ingest`` the result goes through,
``handle_job_dead_letter``, ``reap_jobs`` and ``poll_predictions``, invoked with Lambda's event shapes; Replicate is
the real client over ``httpx.MockTransport(FakeReplicate.handle)``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest
from chalice.test import Client
from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.container import (
    get_asset_repository,
    get_attachment_repository,
    get_enhancement_service,
    get_job_repository,
    get_job_service,
)
from chalicelib.local.environment import stage_environment
from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.models.domain import Identity
from chalicelib.providers.base import ProviderFailure
from chalicelib.store.dynamo import utcnow
from chalicelib.store.jobs import StoredJob
from tests.conftest import REPO_ROOT
from tests.integration.conftest import Aws, reloading_queues, run_ingest
from tests.integration.jobs_support import (
    FAKE_REPLICATE_URL,
    JOBS_DLQ,
    JOBS_QUEUE,
    asset_of,
    cover,
    invoke_schedule,
    job_bodies,
    job_messages,
    job_of,
    moto_fake_replicate,
    pump,
    run_jobs,
    use_fake_replicate,
    use_lanczos,
    webhook_parts,
)
from tests.integration.sync_helpers import queue_url, receive_messages, sqs_event

ALICE = Identity(subject="alice")


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == message]


# -- the lanczos path ------------------------------------------------------------------------------------------------


def test_a_low_resolution_cover_comes_back_enhanced_through_the_same_ingest(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the lanczos upscaler and a 128 px cover ingested (which queued an automatic job)
    use_lanczos(monkeypatch)
    release_id, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = asset_of(original_id).enhancement_job_id
    assert job_id is not None
    # When the jobs worker and the ingest worker run until both queues are empty
    jobs, ingests = pump(client, aws)
    # Then the job succeeded with its result asset, ingested once from its upload key like an upload
    job = job_of(job_id)
    assert (jobs, ingests) == (1, 1)
    assert (job.status, job.attempts, job.error) == ("succeeded", 1, None)
    result = asset_of(str(job.result_asset_id))
    assert (result.status, result.source, result.original_asset_id, result.job_id) == (
        "ready",
        "ai_upscaled",
        original_id,
        job_id,
    )
    assert result.media is not None
    assert set(result.media.variants) == {"tiny", "small", "medium", "large"}
    assert min(result.media.original.width, result.media.original.height) >= 1400
    # And the original is kept, still the cover, and names its enhancement honestly (plain resampling, not AI)
    original = asset_of(original_id)
    assert original.status == "ready" and original.media is not None and original.media.original.width == 128
    assert original.enhancement is not None
    assert (original.enhancement.asset_id, original.enhancement.model, original.enhancement.ai) == (
        result.id,
        "lanczos",
        False,
    )
    enhancement_job, enhanced = get_enhancement_service().enhancement_of(original)
    assert enhancement_job is not None and enhancement_job.id == job_id and enhanced == result
    # And the result is filed under the release (its cleanup finds it) without becoming the cover
    assert result.id in {a.id for a in get_asset_repository().list_for_target(f"RELEASE#{release_id}")}
    assert get_attachment_repository().get(f"RELEASE#{release_id}", "cover")[0] == original_id


def test_a_second_delivery_of_job_run_changes_nothing(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an automatic job whose job.run message SQS delivers twice
    use_lanczos(monkeypatch)
    _, original_id = cover(client, aws, "lowres-128.jpg")
    (message,) = job_messages()
    client.lambda_.invoke("handle_job", sqs_event([message], JOBS_QUEUE))
    client.lambda_.invoke("handle_job", sqs_event([message], JOBS_QUEUE))
    pump(client, aws)
    # Then the job ran once
    job = job_of(str(asset_of(original_id).enhancement_job_id))
    assert (job.status, job.attempts) == ("succeeded", 1)


# -- the Replicate path ----------------------------------------------------------------------------------------------


@pytest.fixture
def fake(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    """The fake Replicate, reading input images from moto; every GET of a prediction moves it one step."""
    return moto_fake_replicate(monkeypatch)


def _started(client: Client, aws: Aws) -> tuple[str, str]:
    """A 128 px cover ingested and its automatic job run: ``(original id, job id)``, the prediction started."""
    _, original_id = cover(client, aws, "lowres-128.jpg")
    assert run_jobs(client) == 1
    job = job_of(str(asset_of(original_id).enhancement_job_id))
    assert job.status == "running" and job.external_id is not None
    return original_id, job.id


def _complete_prediction(fake: FakeReplicate) -> None:
    """Advance every prediction to its end as GETs of Replicate's API do (one step per GET: processing, then done)."""
    for prediction in fake.predictions():
        for _ in range(2):
            url = f"{FAKE_REPLICATE_URL}/v1/predictions/{prediction['id']}"
            fake.handle(httpx.Request("GET", url, headers={"Authorization": f"Bearer {fake.token}"}))


def _waiting(name: str = JOBS_QUEUE) -> int:
    """How many messages wait on a queue (without receiving them)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_webhook_and_poller_both_report_and_the_result_is_ingested_once(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running Replicate job whose prediction has finished
    original_id, job_id = _started(client, aws)
    (prediction,) = fake.predictions()
    assert prediction["input"]["scale"] == 4
    _complete_prediction(fake)
    # When its webhook arrives (verified by the route) and the poller asks too, before the worker runs
    (delivery,) = fake.deliver_webhooks()
    query_job, webhook_id, body = webhook_parts(delivery)
    assert query_job == job_id
    assert get_enhancement_service().accept_webhook(query_job, webhook_id, body) == "queued"
    invoke_schedule(client, "poll_predictions")  # replicate_poll_after_s is 0 in these tests
    # Then two job.prediction messages wait, and the worker ingests the result once
    assert _waiting() == 2
    jobs, ingests = pump(client, aws)
    assert (jobs, ingests) == (2, 1)
    job = job_of(job_id)
    assert job.status == "succeeded"
    result = asset_of(str(job.result_asset_id))
    assert result.status == "ready" and result.source == "ai_upscaled"
    # And the artwork names the model: Real-ESRGAN x4 (512 px) topped up with Lanczos to 1400 px
    original = asset_of(original_id)
    assert original.enhancement is not None
    assert (original.enhancement.model, original.enhancement.ai) == ("real-esrgan-x4plus+lanczos", True)
    assert job.model == f"nightmareai/real-esrgan:{fake.version}"


def test_a_replayed_webhook_is_a_duplicate_and_one_for_no_job_is_ignored(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running Replicate job whose prediction finished, and a webhook Replicate delivers twice (same id)
    fake.set_faults(replay=True)
    _, job_id = _started(client, aws)
    _complete_prediction(fake)
    first, second = fake.deliver_webhooks()
    service = get_enhancement_service()
    # When both arrive, and bodies that name no job or are not predictions
    outcomes = [service.accept_webhook(*webhook_parts(request)) for request in (first, second)]
    _, _, body = webhook_parts(first)
    # Then the first is queued, the replay is a duplicate, the others are ignored; one message waits
    assert outcomes == ["queued", "duplicate"]
    assert service.accept_webhook(None, "msg_other", body) == "ignored"
    assert service.accept_webhook("0" * 32, "msg_other", body) == "ignored"
    assert service.accept_webhook(job_id, "msg_other", b"not json") == "ignored"
    assert service.accept_webhook(job_id, "msg_other", b'{"id": 5}') == "ignored"
    assert _waiting() == 1


def test_a_failed_prediction_fails_its_job_with_the_providers_reason(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given predictions that fail
    fake.set_faults(fail_with="CUDA out of memory")
    original_id, job_id = _started(client, aws)
    _complete_prediction(fake)
    # When the webhook reports it and the worker runs
    (delivery,) = fake.deliver_webhooks()
    assert get_enhancement_service().accept_webhook(*webhook_parts(delivery)) == "queued"
    pump(client, aws)
    # Then the job failed provider_failed with the prediction's error, and nothing was ingested or linked
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None
    assert (job.error.code, job.error.message) == ("provider_failed", "CUDA out of memory")
    assert asset_of(original_id).enhancement is None
    assert get_asset_repository().get(str(job.result_asset_id)) is None


def test_an_output_above_the_cap_fails_its_job_output_too_large(
    client: Client, aws: Aws, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given outputs capped at 2 MB and a prediction whose output file is 3 MB
    use_fake_replicate(monkeypatch, fake, replicate_poll_after_s="0", replicate_output_max_bytes="2000000")
    fake.set_faults(output_too_large_bytes=3_000_000)
    original_id, job_id = _started(client, aws)
    _complete_prediction(fake)
    # When the poller reports it and the worker runs
    invoke_schedule(client, "poll_predictions")
    pump(client, aws)
    # Then the job failed output_too_large and the original has no enhancement
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None and job.error.code == "output_too_large"
    assert asset_of(original_id).enhancement is None


def test_an_output_that_is_not_an_image_fails_its_job(client: Client, aws: Aws, fake: FakeReplicate) -> None:
    fake.set_faults(output_not_image=True)
    _, job_id = _started(client, aws)
    _complete_prediction(fake)
    invoke_schedule(client, "poll_predictions")
    pump(client, aws)
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None and job.error.code == "output_not_image"


def test_a_canceled_job_stays_canceled_when_its_result_reports_late(
    client: Client, aws: Aws, fake: FakeReplicate
) -> None:
    # Given a running Replicate job its owner cancels (Replicate is asked to stop the prediction)
    original_id, job_id = _started(client, aws)
    canceled = get_job_service().cancel(ALICE, job_id)
    assert canceled.status == "canceled"
    assert any(r.method == "POST" and r.path.endswith("/cancel") for r in fake.recorded())
    (prediction,) = fake.predictions()
    assert prediction["status"] == "canceled"
    # When a late report of its prediction arrives (say it had succeeded) and the worker runs
    late = {
        "type": "job.prediction",
        "job_id": job_id,
        "prediction": {"external_id": prediction["id"], "status": "succeeded", "output_urls": ["http://x.test/o.png"]},
    }
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=queue_url(JOBS_QUEUE), MessageBody=json.dumps(late))
    jobs, ingests = pump(client, aws)
    # Then nothing changed: still canceled, nothing ingested, the original not linked
    assert (jobs, ingests) == (1, 0)
    job = job_of(job_id)
    assert job.status == "canceled" and job.output_claimed_at is None
    assert asset_of(original_id).enhancement is None


def test_a_create_that_keeps_being_rate_limited_is_retried_then_dead_lettered(
    client: Client, aws: Aws, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given Replicate answering 429 to every create, and jobs allowed more runs than the queue's five receives
    use_fake_replicate(monkeypatch, fake, job_max_attempts="10", provider_max_retries="0")
    fake.set_faults(rate_limit_creates=100, retry_after_s=0)
    _, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = str(asset_of(original_id).enhancement_job_id)
    sqs, url = boto3.client("sqs", region_name="us-east-1"), queue_url(JOBS_QUEUE)
    # When Lambda receives job.run five times (the queue's maxReceiveCount) and the worker raises each time
    for attempt in range(1, 6):
        (message,) = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        with pytest.raises(ProviderFailure) as raised:
            client.lambda_.invoke("handle_job", sqs_event([message], JOBS_QUEUE))
        assert raised.value.code == "rate_limited"
        # the job went back to queued, so the next delivery can run it
        assert (job_of(job_id).status, job_of(job_id).attempts) == ("queued", attempt)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    # Then SQS moves it to the dead-letter queue, whose consumer ends the job failed dead_lettered
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    dead = receive_messages(JOBS_DLQ)
    assert [json.loads(m["Body"]) for m in dead] == [{"type": "job.run", "job_id": job_id}]
    client.lambda_.invoke("handle_job_dead_letter", sqs_event(dead, JOBS_DLQ))
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None and job.error.code == "dead_lettered"
    assert len(_logged(caplog, "job step will be retried")) == 5
    (line,) = _logged(caplog, "job message dead-lettered")
    assert (line.levelname, line.__dict__.get("marked_failed")) == ("ERROR", True)


@pytest.mark.parametrize("body", ["", "not json", "[]", '{"type": "job.run"}', '{"type": "job.run", "job_id": "../x"}'])
def test_malformed_messages_are_dropped_by_both_consumers(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    use_lanczos(monkeypatch)
    sqs = boto3.client("sqs", region_name="us-east-1")
    for name, function in ((JOBS_QUEUE, "handle_job"), (JOBS_DLQ, "handle_job_dead_letter")):
        sqs.send_message(QueueUrl=queue_url(name), MessageBody=body or " ")
        client.lambda_.invoke(function, sqs_event(receive_messages(name), name))
    assert [r.__dict__.get("outcome") for r in _logged(caplog, "job step finished")] == ["malformed"]
    assert [r.__dict__.get("marked_failed") for r in _logged(caplog, "job message dead-lettered")] == [False]


# -- the reaper ------------------------------------------------------------------------------------------------------


def test_the_reaper_requeues_a_job_past_its_deadline_then_fails_it_deadline_exceeded(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given jobs allowed two runs, and an automatic job whose job.run message was lost
    use_lanczos(monkeypatch, job_max_attempts="2")
    _, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = str(asset_of(original_id).enhancement_job_id)
    assert job_bodies() == [{"type": "job.run", "job_id": job_id}]  # lost
    service = get_enhancement_service()
    later = utcnow() + timedelta(hours=1)
    # When the reaper runs past its queued deadline: job.run is sent again and the deadline moves
    assert service.reap(later) == 1
    requeued = job_of(job_id)
    assert (requeued.status, requeued.resends) == ("queued", 1)
    assert requeued.deadline_at is not None and requeued.deadline_at > later
    (message,) = job_messages()
    # And a worker takes it but dies while running (its message is gone, the job stays running)
    assert json.loads(message["Body"]) == {"type": "job.run", "job_id": job_id}
    started = start_as_a_dying_worker(job_id)
    assert started.status == "running" and started.attempts == 1
    # Then at the running deadline the reaper has no run left (1 run + 1 re-send = 2) and fails it
    assert service.reap(utcnow() + timedelta(hours=2)) == 1
    job = job_of(job_id)
    assert job.status == "failed" and job.error is not None and job.error.code == "deadline_exceeded"
    assert job_bodies() == []
    # And an ended job is no longer the reaper's: another run changes nothing
    assert service.reap(utcnow() + timedelta(hours=3)) == 0


def start_as_a_dying_worker(job_id: str) -> StoredJob:
    """Move a queued job to running as a worker does before it dies."""
    job = job_of(job_id)
    now = utcnow()
    started = get_job_repository().start(job, now=now, deadline=now + timedelta(minutes=30))
    assert started is not None
    return started


def test_the_reaper_schedule_handles_what_is_past_its_deadline(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a queued deadline of one second and a queued job whose message was lost
    use_lanczos(monkeypatch, job_queued_deadline_s="1")
    _, original_id = cover(client, aws, "lowres-128.jpg")
    job_bodies()  # the job.run message is lost
    time.sleep(1.2)
    # When EventBridge runs the reaper
    invoke_schedule(client, "reap_jobs")
    # Then it sent job.run again, and the job runs to success
    (line,) = _logged(caplog, "jobs past their deadline handled")
    assert line.__dict__.get("handled") == 1
    pump(client, aws)
    assert job_of(str(asset_of(original_id).enhancement_job_id)).status == "succeeded"


def test_the_reaper_asks_replicate_once_then_cancels_and_requeues_a_stuck_prediction(
    client: Client, aws: Aws, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a running Replicate job whose prediction never advances (no GET moves it)
    use_fake_replicate(monkeypatch, fake, replicate_poll_after_s="0")
    fake.set_progress(gets_per_step=None, seconds_per_step=None)
    _, job_id = _started(client, aws)
    (prediction,) = fake.predictions()
    # When the reaper runs past its running deadline
    assert get_enhancement_service().reap(utcnow() + timedelta(hours=1)) == 1
    # Then the prediction was asked about once, then canceled; the job is queued again with job.run sent
    gets = [r for r in fake.recorded() if r.method == "GET" and r.path.endswith(prediction["id"])]
    assert len(gets) == 1
    assert fake.predictions()[0]["status"] == "canceled"
    job = job_of(job_id)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job_bodies() == [{"type": "job.run", "job_id": job_id}]


def test_a_result_whose_ingest_dead_letters_fails_its_job_result_rejected(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an automatic lanczos job whose result was handed to ingest
    use_lanczos(monkeypatch)
    _, original_id = cover(client, aws, "lowres-128.jpg")
    assert run_jobs(client) == 1
    job_id = str(asset_of(original_id).enhancement_job_id)
    assert job_of(job_id).status == "running"
    # When the result's notification fails every ingest and reaches the ingest dead-letter consumer
    (notification,) = run_ingest(client, aws, function="handle_ingest_dead_letter")
    assert notification
    # Then the result asset failed, and its job ended failed result_rejected (not left for the reaper)
    job = job_of(job_id)
    assert asset_of(str(job.result_asset_id)).status == "failed"
    assert job.status == "failed" and job.error is not None and job.error.code == "result_rejected"
    assert "processing_failed" in job.error.message
    assert asset_of(original_id).enhancement is None


# -- the schedules' rate ---------------------------------------------------------------------------------------------


@pytest.fixture
def reload_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], ModuleType]]:
    """chalicelib.workers.queues as imported with ``SLEEVE_JOBS_SCHEDULE_MINUTES`` set (None: unset); reloaded back
    afterwards."""

    yield from reloading_queues(monkeypatch, "SLEEVE_JOBS_SCHEDULE_MINUTES")


@pytest.mark.parametrize(("value", "minutes"), [(None, 5), ("1", 1), ("30", 30)])
def test_the_jobs_schedule_rate_and_the_setting_read_the_same_variable(
    value: str | None, minutes: int, monkeypatch: pytest.MonkeyPatch, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    workers = reload_queues(value)
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_STAGE", "local")
    assert workers.JOBS_SCHEDULE_MINUTES == Settings().jobs_schedule_minutes == minutes  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["0", "1441", "often"])
def test_a_bad_jobs_schedule_rate_stops_the_import(
    value: str, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    with pytest.raises(ValidationError):
        reload_queues(value)


_JOB_SCHEDULES_OF_APP = """
from chalice.app import ScheduledEventConfig
from app import app
names = ("reap_jobs", "poll_predictions")
found = {s.name: s.schedule_expression.to_string() for s in app.event_sources if isinstance(s, ScheduledEventConfig)}
print(" ".join(found[name] for name in names))
"""


@pytest.mark.parametrize(("stage", "expression"), [("local", "rate(1 minute)"), ("prod", "rate(5 minutes)")])
def test_the_stage_decides_the_jobs_schedules(stage: str, expression: str) -> None:
    # Given the stage's variables from .chalice/config.json, When app.py is imported with them
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLEEVE_")} | stage_environment(REPO_ROOT, stage)
    result = subprocess.run(
        [sys.executable, "-c", _JOB_SCHEDULES_OF_APP],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # Then the reaper and the poller run at that rate (every minute on the embedded stack)
    assert result.stdout.split() == expression.split() * 2


def test_a_job_canceled_while_its_prediction_is_created_stops_that_prediction(
    client: Client, aws: Aws, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an automatic Replicate job its owner cancels while the worker is creating its prediction
    import chalicelib.container

    _, original_id = cover(client, aws, "lowres-128.jpg")
    job_id = str(asset_of(original_id).enhancement_job_id)
    upscaler = chalicelib.container.get_upscalers()["replicate"]
    create = upscaler.start

    def create_then_cancel(request: Any) -> Any:
        started = create(request)
        get_job_service().cancel(ALICE, job_id)
        return started

    monkeypatch.setattr(upscaler, "start", create_then_cancel)
    # When the worker runs the job
    assert run_jobs(client) == 1
    # Then the job stays canceled without a prediction id, and the prediction it created was canceled at Replicate
    job = job_of(job_id)
    assert (job.status, job.external_id) == ("canceled", None)
    (prediction,) = fake.predictions()
    assert prediction["status"] == "canceled"
