"""AI generation on moto with the typographic cover (no Replicate token): ``POST /media/generate`` → the generate
queue → ``handle_generate`` → the result PUT at its upload key → the real ``handle_ingest`` → the job ``succeeded``
with the asset ready in the library (source ``generated``, honest ``ai_metadata``); cancel, the dead-letter queue and
the reaper each end the job, and nothing is left half-written."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from chalice.test import Client

from chalicelib.container import get_generation_service, get_job_repository
from chalicelib.services.storage_keys import asset_prefixes
from chalicelib.store.dynamo import get_item, utcnow
from chalicelib.store.jobs import StoredJob
from chalicelib.store.records import AssetRecord
from tests.integration.conftest import BUCKET, TABLE, Aws, body_of, call, run_ingest
from tests.integration.generation_support import (
    GENERATE_DLQ,
    GENERATE_QUEUE,
    PROMPT,
    generate,
    generate_bodies,
    generate_messages,
    pump_generation,
    run_generate,
    use_typographic,
)
from tests.integration.jobs_support import asset_of, invoke_schedule, job_bodies, job_of
from tests.integration.sync_helpers import receive_messages, sqs_event


def _objects_of(owner: str, asset_id: str) -> list[str]:
    s3 = boto3.client("s3", region_name="us-east-1")
    keys: list[str] = []
    for prefix in asset_prefixes(owner, asset_id):
        keys += [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return keys


def test_a_prompt_becomes_a_ready_generated_asset_through_the_one_ingest_path(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no Replicate token
    use_typographic(monkeypatch)

    # When alice asks for a 16:9 image with a title and tags
    body = {"prompt": PROMPT, "params": {"aspect_ratio": "16:9", "seed": 7}, "title": "Storm", "tags": ["sea"]}
    job = generate(client, body)

    # Then a queued generate job on the typographic cover answers, with job.run on the generate queue (not the jobs
    # queue)
    assert (job["kind"], job["status"], job["provider"], job["model"]) == (
        "generate",
        "queued",
        "typographic",
        "sleeve-typographic",
    )
    assert job["input"]["prompt"] == PROMPT and job["input"]["params"]["aspect_ratio"] == "16:9"
    assert job_bodies() == []
    (message,) = generate_messages()
    assert json.loads(message["Body"]) == {"type": "job.run", "job_id": job["id"]}

    # And when the worker runs it and the S3 event brings the result to the real ingest worker
    client.lambda_.invoke("handle_generate", sqs_event([message], GENERATE_QUEUE))
    (notification,) = run_ingest(client, aws)
    assert f"uploads%2Falice%2F{job['result_asset_id']}" in notification["Body"]

    # Then the job succeeded with its result, which is ready: 1024x576, source generated, filed in the library by
    # source and by type, with the title, the tags and ai_metadata saying a program made it from this prompt
    done = job_of(job["id"])
    assert done.status == "succeeded" and done.finished_at is not None
    asset = asset_of(str(done.result_asset_id))
    assert asset.status == "ready" and asset.media is not None
    assert (asset.media.original.width, asset.media.original.height) == (1024, 576)
    assert (asset.source, asset.job_id, asset.title, asset.tags) == ("generated", job["id"], "Storm", ["sea"])
    assert asset.ai_metadata is not None
    metadata = asset.ai_metadata
    assert (metadata.generated_by, metadata.generation_strategy) == ("sleeve-typographic", "typographic")
    assert metadata.input_context is not None and metadata.input_context.creator_description == PROMPT
    assert metadata.processing_time_ms is not None and metadata.generated_at is not None
    record = get_item(AssetRecord, f"ASSET#{asset.id}", "ASSET")
    assert record is not None
    assert record.gsi3pk == "OWNER#alice#ASSETS#SOURCE#generated"
    assert record.gsi4pk == "OWNER#alice#ASSETS#TYPE#image"

    # And GET /jobs/{id} shows it to alice
    response = call(client, "GET", f"/jobs/{job['id']}")
    assert response.status_code == 200 and body_of(response)["result_asset_id"] == asset.id

    # And search and the tag list find it by its title and its tag
    found = body_of(call(client, "GET", "/media/search?q=stor"))["items"]
    assert [hit["asset"]["id"] for hit in found] == [asset.id]
    assert [item["id"] for item in body_of(call(client, "GET", "/media?tag=sea"))["items"]] == [asset.id]


def test_a_second_delivery_of_job_run_and_a_replayed_ingest_change_nothing(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generation that ran to success
    use_typographic(monkeypatch)
    job = generate(client)
    (message,) = generate_messages()
    client.lambda_.invoke("handle_generate", sqs_event([message], GENERATE_QUEUE))
    run_ingest(client, aws)
    assert job_of(job["id"]).status == "succeeded"

    # When job.run is delivered again and the ingest hook runs again
    client.lambda_.invoke("handle_generate", sqs_event([message], GENERATE_QUEUE))
    outcome = get_generation_service().after_ingest(job["result_asset_id"])

    # Then nothing new was made: no new upload, the job still succeeded once with the same result
    assert run_ingest(client, aws) == []
    assert outcome == "duplicate"
    assert job_of(job["id"]).result_asset_id == job["result_asset_id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": ""},
        {"prompt": "x" * 1001},
        {"prompt": "ok", "params": {"aspect_ratio": "7:3"}},
        {"prompt": "ok", "params": {"num_inference_steps": 5}},
        {"prompt": "ok", "params": {"seed": -1}},
    ],
)
def test_bad_requests_are_422_and_queue_nothing(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch, body: dict[str, object]
) -> None:
    # Given the typographic generator
    use_typographic(monkeypatch)

    # When the body breaks the request model
    response = call(client, "POST", "/media/generate", body)

    # Then 422 in the one error shape, and no job was queued
    assert response.status_code == 422, response.body
    assert body_of(response)["error"]["code"]
    assert generate_bodies() == []


def test_a_job_canceled_before_it_runs_never_makes_an_asset(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a queued generation
    use_typographic(monkeypatch)
    job = generate(client)

    # When alice cancels it, then its job.run arrives
    response = call(client, "POST", f"/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and body_of(response)["status"] == "canceled"
    run_generate(client)

    # Then it stays canceled and no asset or upload exists; a second cancel is 409 job_finished
    assert job_of(job["id"]).status == "canceled"
    assert run_ingest(client, aws) == []
    assert get_item(AssetRecord, f"ASSET#{job['result_asset_id']}", "ASSET") is None
    again = call(client, "POST", f"/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "job_finished"


def test_a_result_that_arrives_after_a_cancel_is_discarded_by_its_ingest(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generation with a title and a tag whose image was PUT for ingest (and indexed)
    use_typographic(monkeypatch)
    job = generate(client, {"prompt": PROMPT, "title": "Storm", "tags": ["sea"]})
    run_generate(client)
    assert asset_of(job["result_asset_id"]).status == "pending"

    # When alice cancels it before its ingest runs, then the ingest runs
    assert call(client, "POST", f"/jobs/{job['id']}/cancel").status_code == 200
    run_ingest(client, aws)

    # Then the job stays canceled and its result is gone: no record, no object under its prefixes
    assert job_of(job["id"]).status == "canceled"
    assert get_item(AssetRecord, f"ASSET#{job['result_asset_id']}", "ASSET") is None
    assert _objects_of("alice", job["result_asset_id"]) == []
    # and no item but the job's own names it (no search or tag item)
    table = boto3.client("dynamodb", region_name="us-east-1")
    items = [item for page in table.get_paginator("scan").paginate(TableName=TABLE) for item in page["Items"]]
    naming = [item["pk"]["S"] for item in items if job["result_asset_id"] in str(item)]
    assert naming == [f"JOB#{job['id']}"]


def test_a_dead_lettered_message_ends_the_job_failed(client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a queued generation whose job.run failed every retry and sits on the generate DLQ
    use_typographic(monkeypatch)
    job = generate(client)
    (message,) = generate_messages()
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq_url = sqs.get_queue_url(QueueName=GENERATE_DLQ)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=message["Body"])

    # When the dead-letter consumer runs
    client.lambda_.invoke("handle_generate_dead_letter", sqs_event(receive_messages(GENERATE_DLQ), GENERATE_DLQ))

    # Then the job failed dead_lettered, and a late job.run does nothing
    failed = job_of(job["id"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "dead_lettered"
    client.lambda_.invoke("handle_generate", sqs_event([message], GENERATE_QUEUE))
    assert job_of(job["id"]).status == "failed"
    assert run_ingest(client, aws) == []


def _start_as_a_dying_worker(job_id: str) -> StoredJob:
    job = job_of(job_id)
    now = utcnow()
    started = get_job_repository().start(job, now=now, deadline=now + timedelta(minutes=30))
    assert started is not None
    return started


def test_the_reaper_sends_job_run_to_the_generate_queue_then_fails_the_job_at_its_last_deadline(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two runs allowed and a generation whose job.run was lost
    use_typographic(monkeypatch, job_max_attempts="2", job_queued_deadline_s="1")
    job = generate(client)
    generate_bodies()  # lost

    # When the reaper runs past its queued deadline (the schedule the jobs workers share)
    from chalicelib.container import get_enhancement_service

    assert get_enhancement_service().reap(utcnow() + timedelta(hours=1)) == 1

    # Then job.run is on the GENERATE queue again (not the jobs queue)
    assert job_bodies() == []
    assert generate_bodies() == [{"type": "job.run", "job_id": job["id"]}]

    # And when a worker takes it and dies, the next reaper run has no run left and fails it deadline_exceeded
    _start_as_a_dying_worker(job["id"])
    assert get_enhancement_service().reap(utcnow() + timedelta(hours=2)) == 1
    failed = job_of(job["id"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "deadline_exceeded"


def test_the_reaper_settles_a_running_job_whose_result_was_ingested(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generation whose result was ingested but whose hook never ran (the ingest worker died after it)
    use_typographic(monkeypatch)
    job = generate(client)
    run_generate(client)
    monkeypatch.setattr("chalicelib.container.get_ingest_hooks", lambda: ())
    run_ingest(client, aws)
    assert (job_of(job["id"]).status, asset_of(job["result_asset_id"]).status) == ("running", "ready")

    # When the reaper runs past the running deadline
    from chalicelib.container import get_enhancement_service

    assert get_enhancement_service().reap(utcnow() + timedelta(hours=1)) == 1

    # Then the job succeeded with that result (not re-run, not failed)
    assert job_of(job["id"]).status == "succeeded"
    assert generate_bodies() == []


def test_the_whole_flow_runs_from_the_queues(client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the typographic generator
    use_typographic(monkeypatch)

    # When a generation is requested and every queue is pumped through its real worker
    job = generate(client, {"prompt": "Neon rain over a night market", "params": {"aspect_ratio": "9:16"}})
    steps, ingests = pump_generation(client, aws)

    # Then one generate step and one ingest ended it succeeded, and the schedule's reaper has nothing to do
    assert (steps, ingests) == (1, 1)
    assert job_of(job["id"]).status == "succeeded"
    invoke_schedule(client, "reap_jobs")
    assert job_of(job["id"]).status == "succeeded"


def test_a_result_whose_ingest_dead_letters_fails_the_job_result_rejected_and_leaves_nothing(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generation whose image was handed to ingest
    use_typographic(monkeypatch)
    job = generate(client)
    run_generate(client)
    assert job_of(job["id"]).status == "running"

    # When the image's notification fails every ingest and reaches the ingest dead-letter consumer
    (notification,) = run_ingest(client, aws, function="handle_ingest_dead_letter")
    assert notification

    # Then the job ended failed result_rejected with the ingest's reason, and the failed result left the library:
    # no record, no object under its prefixes
    failed = job_of(job["id"])
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "result_rejected"
    assert "processing_failed" in failed.error.message
    assert get_item(AssetRecord, f"ASSET#{job['result_asset_id']}", "ASSET") is None
    assert _objects_of("alice", job["result_asset_id"]) == []
