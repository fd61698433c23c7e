"""The enhancement policy on real covers: each refusal of a request, the offer range, the automatic start after ingest
(owner preferences on and off), a queue that cannot take the job, and the job routes' service."""

from __future__ import annotations

import boto3
import pytest
from chalice.test import Client

from chalicelib.container import (
    get_catalogue_repository,
    get_enhancement_service,
    get_job_service,
    get_preferences_repository,
)
from chalicelib.errors import AppError, ConflictError, NotFoundError
from chalicelib.models.domain import Identity
from chalicelib.models.jobs import ArtworkPreferences
from chalicelib.store.catalogue import CatalogueWrite
from chalicelib.store.queues import QueueSendError
from tests.integration.conftest import Aws, create_release, run_ingest, upload
from tests.integration.jobs_support import JOBS_QUEUE, asset_of, cover, image, job_bodies, job_of, use_lanczos

ALICE, BOB = Identity(subject="alice"), Identity(subject="bob")


@pytest.fixture(autouse=True)
def lanczos(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lanczos(monkeypatch)


def _refusal(release_id: str, identity: Identity = ALICE) -> AppError:
    with pytest.raises(AppError) as raised:
        get_enhancement_service().request(identity, release_id)
    return raised.value


def test_a_cover_of_1400_px_or_more_needs_no_enhancement(client: Client, aws: Aws) -> None:
    # Given a cover of 2725 x 2225 px
    release_id, _ = cover(client, aws, "photo-2725x2225.jpg")
    # When its owner asks for an enhancement
    error = _refusal(release_id)
    # Then 409 not_needed, naming the short side, and no job was queued
    assert (error.status, error.code) == (409, "not_needed")
    assert error.details["short_side_px"] == 2225
    assert job_bodies() == []


def test_a_release_without_a_ready_cover_has_nothing_to_enhance(client: Client, aws: Aws) -> None:
    release_id = str(create_release(client)["id"])
    error = _refusal(release_id)
    assert (error.status, error.code) == (409, "cover_not_ready")


def test_another_owners_release_is_not_found_and_a_locked_one_refused(client: Client, aws: Aws) -> None:
    release_id, _ = cover(client, aws, "portrait-450x600.jpg")
    assert isinstance(_refusal(release_id, BOB), NotFoundError)
    assert _refusal(release_id, BOB).code == "release_not_found"
    # Given the release locked
    repository = get_catalogue_repository()
    release = repository.get(release_id)
    assert release is not None
    repository.write(CatalogueWrite(release=release.model_copy(update={"lock_status": "locked"}), inferred_type=None))
    error = _refusal(release_id)
    assert (error.status, error.code) == (409, "release_locked")


def test_an_owner_who_does_not_allow_ai_is_refused_and_never_enhanced_automatically(client: Client, aws: Aws) -> None:
    # Given an owner who does not allow AI enhancement
    get_preferences_repository().put("alice", ArtworkPreferences(allow_ai_enhancement=False))
    # When a 128 px cover is ingested and a 450 px cover is asked for
    low_release, low_asset = cover(client, aws, "lowres-128.jpg")
    mid_release, _ = cover(client, aws, "portrait-450x600.jpg")
    error = _refusal(mid_release)
    # Then 409 ai_not_allowed, and nothing started by itself
    assert (error.status, error.code) == (409, "ai_not_allowed")
    assert asset_of(low_asset).enhancement_job_id is None
    assert job_bodies() == []
    assert _refusal(low_release).code == "ai_not_allowed"


def test_a_cover_in_the_offer_range_is_enhanced_on_request_once_at_a_time(client: Client, aws: Aws) -> None:
    # Given a 450 x 600 px cover (ingest started nothing: 450 px is above the automatic threshold)
    release_id, asset_id = cover(client, aws, "portrait-450x600.jpg")
    assert job_bodies() == [] and asset_of(asset_id).enhancement_job_id is None
    # When its owner asks for an enhancement, twice
    job = get_enhancement_service().request(ALICE, release_id)
    error = _refusal(release_id)
    # Then one queued job on the lanczos provider, linked from the original, one job.run message; the second request
    # is 409 enhancement_in_progress naming the first job
    assert (job.status, job.provider, job.kind, job.owner_id) == ("queued", "lanczos", "upscale", "alice")
    assert job.input == {
        "release_id": release_id,
        "asset_id": asset_id,
        "width": 450,
        "height": 600,
        "scale": 4,
        "target_px": 1400,
        "auto": False,
    }
    assert asset_of(asset_id).enhancement_job_id == job.id
    assert (error.code, error.details) == ("enhancement_in_progress", {"job_id": job.id})
    assert job_bodies() == [{"type": "job.run", "job_id": job.id}]
    # And once that job is canceled, a new request starts another
    get_job_service().cancel(ALICE, job.id)
    again = get_enhancement_service().request(ALICE, release_id)
    assert again.id != job.id and asset_of(asset_id).enhancement_job_id == again.id


@pytest.mark.parametrize(
    ("preferences", "started"),
    [
        (None, True),  # the defaults: auto_enhance_low_res and allow_ai_enhancement on
        (ArtworkPreferences(auto_enhance_low_res=False), False),
    ],
)
def test_ingest_of_a_cover_under_300_px_starts_a_job_when_the_owner_allows_it(
    client: Client, aws: Aws, preferences: ArtworkPreferences | None, started: bool
) -> None:
    # Given the owner's preferences
    if preferences is not None:
        get_preferences_repository().put("alice", preferences)
    # When a 128 px cover is ingested by the real ingest handler
    _, asset_id = cover(client, aws, "lowres-128.jpg")
    # Then with auto on, one queued automatic job for it (and its job.run message); with auto off, none
    job_id = asset_of(asset_id).enhancement_job_id
    bodies = job_bodies()
    if not started:
        assert job_id is None and bodies == []
        return
    assert job_id is not None and bodies == [{"type": "job.run", "job_id": job_id}]
    job = job_of(job_id)
    assert (job.status, job.input["auto"], job.input["width"]) == ("queued", True, 128)
    # And the hook run again (a replayed ingest event) starts nothing more
    assert get_enhancement_service().after_ingest(asset_id) == "has_job"
    assert job_bodies() == []


def test_a_request_whose_message_cannot_be_sent_fails_its_job(client: Client, aws: Aws) -> None:
    # Given a 450 px cover and the jobs queue gone
    release_id, asset_id = cover(client, aws, "portrait-450x600.jpg")
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=JOBS_QUEUE)["QueueUrl"])
    # When its owner asks for an enhancement
    with pytest.raises(QueueSendError) as raised:
        get_enhancement_service().request(ALICE, release_id)
    # Then 503 queue_unavailable, and the job is failed with that reason rather than left queued
    assert (raised.value.status, raised.value.code) == (503, "queue_unavailable")
    job = job_of(str(asset_of(asset_id).enhancement_job_id))
    assert job.status == "failed" and job.error is not None and job.error.code == "queue_unavailable"


def test_an_automatic_job_whose_message_cannot_be_sent_stays_queued_for_the_reaper(client: Client, aws: Aws) -> None:
    # Given the jobs queue gone
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=JOBS_QUEUE)["QueueUrl"])
    # When a 128 px cover is ingested
    _, asset_id = cover(client, aws, "lowres-128.jpg")
    # Then its ingest stands and the automatic job waits queued (the reaper sends job.run again at its deadline)
    assert asset_of(asset_id).status == "ready"
    job = job_of(str(asset_of(asset_id).enhancement_job_id))
    assert job.status == "queued"


def test_the_job_service_shows_and_cancels_only_the_owners_jobs(client: Client, aws: Aws) -> None:
    release_id, _ = cover(client, aws, "portrait-450x600.jpg")
    job = get_enhancement_service().request(ALICE, release_id)
    service = get_job_service()
    # Bob sees nothing of alice's job
    with pytest.raises(NotFoundError) as hidden:
        service.get(BOB, job.id)
    assert hidden.value.code == "job_not_found"
    with pytest.raises(NotFoundError):
        service.cancel(BOB, job.id)
    assert service.list(BOB, status=None, kind=None, limit=10, cursor=None).items == []
    # Alice lists it, cancels it, and cannot cancel it again
    assert [j.id for j in service.list(ALICE, status="queued", kind="upscale", limit=10, cursor=None).items] == [job.id]
    canceled = service.cancel(ALICE, job.id)
    assert canceled.status == "canceled" and canceled.finished_at is not None
    with pytest.raises(ConflictError) as ended:
        service.cancel(ALICE, job.id)
    assert (ended.value.code, ended.value.details["status"]) == ("job_finished", "canceled")
    assert service.list(ALICE, status="queued", kind=None, limit=10, cursor=None).items == []


def test_an_uploaded_cover_not_yet_ingested_is_not_ready(client: Client, aws: Aws) -> None:
    # Given a release whose only upload is still pending
    release_id = str(create_release(client)["id"])
    upload(client, aws, release_id, image("portrait-450x600.jpg"))
    error = _refusal(release_id)
    assert error.code == "cover_not_ready"
    run_ingest(client, aws)
    assert get_enhancement_service().request(ALICE, release_id).status == "queued"
