"""The job, preference and webhook-receipt repositories on moto's table: every transition a conditional write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.container import get_asset_repository, get_job_repository, get_preferences_repository
from chalicelib.errors import InvalidError
from chalicelib.models.domain import AssetEnhancement
from chalicelib.models.jobs import ArtworkPreferences, JobError
from chalicelib.store.jobs import JobRepository, StoredJob
from chalicelib.store.webhook_receipts import WebhookReceiptRepository
from tests.integration.conftest import Aws

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def new_job(owner: str = "alice", *, at: datetime = T0, kind: str = "upscale", provider: str = "lanczos") -> StoredJob:
    """A queued job created at ``at`` (deadline 15 minutes later)."""
    return StoredJob.model_validate(
        {
            "id": uuid.uuid4().hex,
            "owner_id": owner,
            "kind": kind,
            "provider": provider,
            "model": provider,
            "status": "queued",
            "input": {"release_id": "r1", "asset_id": "a1", "width": 128, "height": 128, "scale": 4, "auto": True},
            "created_at": at,
            "deadline_at": at + timedelta(minutes=15),
            "result_asset_id": uuid.uuid4().hex,
            "updated_at": at,
        }
    )


@pytest.fixture
def jobs(aws: Aws) -> JobRepository:
    return get_job_repository()


def _original(owner: str = "alice") -> str:
    asset_id = uuid.uuid4().hex
    get_asset_repository().create_pending(
        asset_id=asset_id,
        owner_id=owner,
        upload_key=f"uploads/{owner}/{asset_id}",
        declared_content_type="image/jpeg",
        declared_bytes=10,
        max_bytes=100,
        filename=None,
        attach_to="RELEASE#r1#cover",
    )
    return asset_id


def test_a_job_round_trips_and_starts_once(jobs: JobRepository) -> None:
    # Given a queued job
    job = new_job()
    assert jobs.create(job)
    stored = jobs.get(job.id)
    assert stored is not None and stored.public() == job.public()
    # When two workers start it
    first = jobs.start(stored, now=T0, deadline=T0 + timedelta(minutes=30))
    second = jobs.start(stored, now=T0, deadline=T0 + timedelta(minutes=30))
    # Then only the first moves it to running, counting the attempt and moving its deadline
    assert first is not None and second is None
    assert (first.status, first.attempts, first.started_at) == ("running", 1, T0)
    assert first.deadline_at == T0 + timedelta(minutes=30)
    assert first.input["width"] == 128 and first.input["auto"] is True


def test_the_owner_list_is_newest_first_filtered_by_status_and_kind_with_cursors(jobs: JobRepository) -> None:
    # Given alice's three jobs (one of them running, one a generation) and bob's one
    made = [new_job(at=T0 + timedelta(seconds=n)) for n in range(3)]
    made[2] = new_job(at=T0 + timedelta(seconds=2), kind="generate")
    for job in [*made, new_job("bob")]:
        jobs.create(job)
    running = jobs.start(made[1], now=T0, deadline=T0 + timedelta(hours=1))
    assert running is not None
    # When alice lists them, one per page, then by status and by kind
    first = jobs.list_for_owner("alice", status=None, kind=None, limit=1, cursor=None)
    rest = jobs.list_for_owner("alice", status=None, kind=None, limit=5, cursor=first.next_cursor)
    by_status = jobs.list_for_owner("alice", status="running", kind=None, limit=5, cursor=None)
    by_kind = jobs.list_for_owner("alice", status=None, kind="upscale", limit=5, cursor=None)
    # Then newest first, paged by the cursor, the status Query on gsi2 and the kind filter
    assert [j.id for j in first.items + rest.items] == [made[2].id, made[1].id, made[0].id]
    assert [j.id for j in by_status.items] == [made[1].id]
    assert [j.id for j in by_kind.items] == [made[1].id, made[0].id]
    # And a cursor of alice's list cannot page bob's
    with pytest.raises(InvalidError):
        jobs.list_for_owner("bob", status=None, kind=None, limit=1, cursor=first.next_cursor)


def test_an_output_is_claimed_once_until_its_lease_passes(jobs: JobRepository) -> None:
    job = new_job()
    jobs.create(job)
    running = jobs.start(job, now=T0, deadline=T0 + timedelta(hours=1))
    assert running is not None
    # When two reports claim the output, and a third after the lease
    assert jobs.claim_output(running, now=T0, lease=LEASE)
    assert not jobs.claim_output(running, now=T0 + timedelta(minutes=1), lease=LEASE)
    # Then the third takes the claim over (the first claimer died)
    assert jobs.claim_output(running, now=T0 + LEASE + timedelta(seconds=1), lease=LEASE)
    # And a claim naming another prediction is refused
    assert not jobs.claim_output(running, now=T0 + 2 * LEASE + timedelta(seconds=2), lease=LEASE, external_id="x")


def test_success_links_the_original_in_one_transaction_only_while_the_job_runs(jobs: JobRepository) -> None:
    # Given two running jobs of one original, one of which is then canceled
    original = _original()
    done, canceled = new_job(), new_job()
    for job in (done, canceled):
        jobs.create(job)
        assert jobs.start(job, now=T0, deadline=T0 + timedelta(hours=1)) is not None
    assert jobs.cancel(canceled, now=T0) is not None

    def enhancement(job: StoredJob) -> AssetEnhancement:
        return AssetEnhancement(
            asset_id=str(job.result_asset_id), model="lanczos", ai=False, enhanced_at=T0, job_id=job.id
        )

    # When both report success
    late = jobs.succeed(canceled, enhancement=enhancement(canceled), original_asset_id=original)
    assert get_asset_repository().get(original).enhancement is None  # type: ignore[union-attr]
    ok = jobs.succeed(done, enhancement=enhancement(done), original_asset_id=original)
    again = jobs.succeed(done, enhancement=enhancement(done), original_asset_id=original)
    # Then the canceled job stays canceled and links nothing; the running one succeeds once and links its result
    assert (late, ok, again) == ("not_running", "succeeded", "not_running")
    assert jobs.get(canceled.id).status == "canceled"  # type: ignore[union-attr]
    finished = jobs.get(done.id)
    assert finished is not None and (finished.status, finished.finished_at) == ("succeeded", T0)
    linked = get_asset_repository().get(original)
    assert linked is not None and linked.enhancement == enhancement(done)
    # And a success whose original is gone writes nothing
    orphan = new_job()
    jobs.create(orphan)
    jobs.start(orphan, now=T0, deadline=T0 + timedelta(hours=1))
    assert jobs.succeed(orphan, enhancement=enhancement(orphan), original_asset_id="gone") == "original_missing"
    assert jobs.get(orphan.id).status == "running"  # type: ignore[union-attr]


def test_ended_jobs_leave_the_open_index_and_the_reaper_pages_by_deadline(jobs: JobRepository) -> None:
    # Given three open jobs with deadlines 15, 16 and 17 minutes after T0, the middle one then failed
    made = [new_job(at=T0 + timedelta(minutes=n)) for n in range(3)]
    for job in made:
        jobs.create(job)
    failed = jobs.fail(made[1], error=JobError(code="x", message="y"), now=T0)
    assert failed is not None and failed.error == JobError(code="x", message="y") and failed.finished_at == T0
    assert jobs.fail(made[1], error=JobError(code="z", message="w"), now=T0) is None
    # When the reaper asks for the jobs past their deadline at T0 + 16.5 min, one per page
    now = T0 + timedelta(minutes=16, seconds=30)
    first = jobs.open_past_deadline(now, limit=1, cursor=None)
    second = jobs.open_past_deadline(now, limit=1, cursor=first.next_cursor)
    # Then only the first job is due; the failed one is no longer open, the third not yet due
    assert [j.id for j in first.items + second.items] == [made[0].id]


def test_of_two_reapers_only_one_requeues(jobs: JobRepository) -> None:
    job = new_job()
    jobs.create(job)
    stored = jobs.get(job.id)
    assert stored is not None
    # When two reapers requeue the same queued job they both read
    first = jobs.requeue(stored, now=T0, deadline=T0 + timedelta(hours=1))
    second = jobs.requeue(stored, now=T0, deadline=T0 + timedelta(hours=2))
    # Then one counts a re-send and moves the deadline; the other changes nothing
    assert first is not None and second is None
    assert (first.status, first.resends, first.deadline_at) == ("queued", 1, T0 + timedelta(hours=1))


def test_the_poller_sees_running_replicate_jobs_with_a_prediction_and_no_claimed_output(jobs: JobRepository) -> None:
    # Given running jobs: Replicate with a prediction, Replicate without one yet, Replicate already claimed, local
    made = [new_job(provider=p) for p in ("replicate", "replicate", "replicate", "local")]
    running = []
    for job in made:
        jobs.create(job)
        started = jobs.start(job, now=T0, deadline=T0 + timedelta(hours=1))
        assert started is not None
        running.append(started)
    for started in (running[0], running[2], running[3]):
        assert jobs.set_external(started, external_id=f"p{started.id[:6]}", model="m:v", now=T0)
    assert jobs.claim_output(running[2], now=T0, lease=LEASE)
    # When the poller asks a minute later, and before they started
    due = jobs.running_replicate_jobs(T0 + timedelta(minutes=1), limit=10)
    early = jobs.running_replicate_jobs(T0 - timedelta(seconds=1), limit=10)
    # Then only the first is asked for
    assert [j.id for j in due] == [made[0].id] and early == []


def test_one_open_enhancement_per_original(jobs: JobRepository) -> None:
    # Given an original whose enhancement job is created
    original = _original()
    first = new_job()
    assert jobs.create(first, original_asset_id=original)
    # When a second job is created for it while the first is held, then after naming the first as ended
    second = new_job()
    refused = jobs.create(second, original_asset_id=original)
    # Then the second is refused and not written, until the caller names the first as the one it replaces
    assert refused is False and jobs.get(second.id) is None
    assert get_asset_repository().get(original).enhancement_job_id == first.id  # type: ignore[union-attr]
    assert jobs.create(second, original_asset_id=original, replaces_job_id=first.id)
    assert get_asset_repository().get(original).enhancement_job_id == second.id  # type: ignore[union-attr]


def test_preferences_default_until_set_and_receipts_refuse_replays(aws: Aws) -> None:
    preferences = get_preferences_repository()
    assert preferences.get("alice") == ArtworkPreferences()
    chosen = ArtworkPreferences(auto_enhance_low_res=False, prefer_ai_enhancement=True, allow_ai_enhancement=False)
    preferences.put("alice", chosen)
    assert preferences.get("alice") == chosen and preferences.get("bob") == ArtworkPreferences()
    receipts = WebhookReceiptRepository()
    assert receipts.record_first("msg_1", now=T0, keep_for=timedelta(minutes=10))
    assert not receipts.record_first("msg_1", now=T0, keep_for=timedelta(minutes=10))
    receipts.forget("msg_1")
    assert receipts.record_first("msg_1", now=T0, keep_for=timedelta(minutes=10))


def test_a_transition_of_a_job_that_does_not_exist_is_refused(jobs: JobRepository) -> None:
    ghost = new_job()
    assert jobs.start(ghost, now=T0, deadline=T0) is None
    assert jobs.cancel(ghost, now=T0) is None
    assert jobs.get(ghost.id) is None
