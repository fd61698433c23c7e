"""The job routes and the enhancement request through ``chalice.test.Client`` (every answer checked against the
OpenAPI document): ``POST /releases/{id}/artwork/enhance`` (202 with the queued job and its ``job.run`` message, and
each refusal), ``GET /jobs`` (filters and pages), ``GET /jobs/{id}`` and ``POST /jobs/{id}/cancel``."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from tests.integration.conftest import Aws, body_of, call, create_release
from tests.integration.enhancement_support import (  # noqa: F401
    enhance,
    jobs_messages,
    lanczos_upscaler,
    ready_cover,
)

UNKNOWN_JOB = "0" * 32


def _jobs(client: Client, query: str = "", subject: str = "alice") -> dict[str, Any]:
    response = call(client, "GET", f"/jobs{query}", subject=subject)
    assert response.status_code == 200, response.body
    return dict(body_of(response))


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    error = body_of(response)["error"]
    assert error["code"] == code, error
    return dict(error)


# -- POST /releases/{id}/artwork/enhance -------------------------------------------------------------------------------


def test_enhancing_a_cover_in_the_offered_range_queues_a_job(client: Client, aws: Aws, shared_images) -> None:
    # Given a release whose ready cover is 450×600 (short side in 300..1399)
    release_id = ready_cover(client, aws, shared_images)
    cover = body_of(call(client, "GET", f"/releases/{release_id}/artwork"))
    # When its owner asks for an enhancement
    job = enhance(client, release_id)
    # Then 202 with a queued upscale job of that cover, for alice, with its result asset chosen already
    assert (job["kind"], job["status"], job["owner_id"], job["provider"]) == ("upscale", "queued", "alice", "lanczos")
    assert job["input"]["release_id"] == release_id and job["input"]["asset_id"] == cover["asset_id"]
    assert (job["input"]["width"], job["input"]["height"], job["input"]["auto"]) == (450, 600, False)
    assert job["result_asset_id"] and job["error"] is None and job["finished_at"] is None
    # And one job.run message for it is on the jobs queue
    assert jobs_messages() == [{"type": "job.run", "job_id": job["id"]}]
    # And the job reads back the same, and the artwork shows it and no longer offers an enhancement
    assert body_of(call(client, "GET", f"/jobs/{job['id']}")) == job
    artwork = body_of(call(client, "GET", f"/releases/{release_id}/artwork"))
    assert artwork["enhancement_job"] == job and artwork["enhancement_offered"] is False
    assert artwork["version"] == "original" and artwork["versions"] == ["original"]


def test_a_second_request_while_one_is_open_answers_409_with_the_job(client: Client, aws: Aws, shared_images) -> None:
    # Given a release whose cover has a queued enhancement job
    release_id = ready_cover(client, aws, shared_images)
    job = enhance(client, release_id)
    jobs_messages()
    # When its owner asks again
    response = call(client, "POST", f"/releases/{release_id}/artwork/enhance")
    # Then 409 enhancement_in_progress names the open job, and nothing more is queued
    assert _error(response, 409, "enhancement_in_progress")["details"]["job_id"] == job["id"]
    assert jobs_messages() == []
    assert [j["id"] for j in _jobs(client)["items"]] == [job["id"]]


def test_a_cover_large_enough_is_not_enhanced(client: Client, aws: Aws, shared_images) -> None:
    # Given a release whose cover's short side is 2225 px (at least 1400)
    release_id = ready_cover(client, aws, shared_images, name="photo-2725x2225.jpg")
    assert body_of(call(client, "GET", f"/releases/{release_id}/artwork"))["enhancement_offered"] is False
    # When an enhancement is asked for, Then 409 not_needed, and no job exists
    _error(call(client, "POST", f"/releases/{release_id}/artwork/enhance"), 409, "not_needed")
    assert _jobs(client)["items"] == [] and jobs_messages() == []


def test_a_release_without_a_ready_cover_has_nothing_to_enhance(client: Client, aws: Aws) -> None:
    # Given a release with no uploaded cover
    release_id = create_release(client)["id"]
    # When an enhancement is asked for, Then 409 cover_not_ready (the release exists: a 404 would say it does not),
    # and no job exists
    _error(call(client, "POST", f"/releases/{release_id}/artwork/enhance"), 409, "cover_not_ready")
    assert _jobs(client)["items"] == []


@pytest.mark.parametrize("subject", ["bob", "alice"])
def test_an_unknown_or_another_owners_release_answers_404(client: Client, aws: Aws, shared_images, subject) -> None:
    # Given bob's release with a ready cover, and an id that names nothing
    release_id = ready_cover(client, aws, shared_images, subject="bob")
    target = release_id if subject == "alice" else "f" * 32
    # When alice (for bob's release) or bob (for the unknown id) asks for an enhancement
    response = call(client, "POST", f"/releases/{target}/artwork/enhance", subject=subject)
    # Then release_not_found either way, and no job was queued
    _error(response, 404, "release_not_found")
    assert jobs_messages() == []


# -- GET /jobs, GET /jobs/{id} -----------------------------------------------------------------------------------------


def test_the_list_is_newest_first_filtered_and_paged(client: Client, aws: Aws, shared_images) -> None:
    # Given three enhancement jobs of alice's, the oldest canceled, and one of bob's
    jobs = [enhance(client, ready_cover(client, aws, shared_images)) for _ in range(3)]
    enhance(client, ready_cover(client, aws, shared_images, subject="bob"), subject="bob")
    assert call(client, "POST", f"/jobs/{jobs[0]['id']}/cancel").status_code == 200
    newest_first = [job["id"] for job in reversed(jobs)]
    # When alice lists her jobs
    listed = _jobs(client)
    # Then hers come newest first, bob's not among them
    assert [job["id"] for job in listed["items"]] == newest_first and listed["next_cursor"] is None
    # And status and kind filter the list
    assert [job["id"] for job in _jobs(client, "?status=queued")["items"]] == newest_first[:2]
    assert [job["id"] for job in _jobs(client, "?status=canceled&kind=upscale")["items"]] == [jobs[0]["id"]]
    assert _jobs(client, "?kind=generate")["items"] == []
    assert _jobs(client, "?status=failed")["items"] == []
    # And limit pages it; following next_cursor reaches every job once
    seen, cursor = [], ""
    for _ in range(3):
        page = _jobs(client, f"?limit=1{'&cursor=' + cursor if cursor else ''}")
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first


def test_a_cursor_of_another_list_or_owner_is_refused(client: Client, aws: Aws, shared_images) -> None:
    # Given a cursor of alice's job list (two jobs, one per page)
    for _ in range(2):
        enhance(client, ready_cover(client, aws, shared_images))
    cursor = _jobs(client, "?limit=1")["next_cursor"]
    assert cursor
    # When bob sends it, or alice sends it to the list of one status, or sends one that was tampered with
    for query, subject in [(f"?cursor={cursor}", "bob"), (f"?cursor={cursor}&status=failed", "alice")]:
        response = call(client, "GET", f"/jobs{query}", subject=subject)
        # Then 400 invalid_cursor
        _error(response, 400, "invalid_cursor")
    _error(call(client, "GET", "/jobs?cursor=not-a-cursor"), 400, "invalid_cursor")


@pytest.mark.parametrize("query", ["?status=done", "?kind=upscaling", "?limit=0", "?limit=101", "?limit=ten"])
def test_a_bad_query_parameter_answers_400(client: Client, aws: Aws, query: str) -> None:
    # Given a status, kind or limit the list does not take, When it is sent, Then 400 invalid_query names it
    error = _error(call(client, "GET", f"/jobs{query}"), 400, "invalid_query")
    assert query[1:].split("=")[0] in error["details"]["fields"]


def test_a_job_is_seen_by_its_owner_only(client: Client, aws: Aws, shared_images) -> None:
    # Given alice's job
    job = enhance(client, ready_cover(client, aws, shared_images))
    # When bob reads it, or anyone reads an unknown id, Then the same 404 job_not_found
    _error(call(client, "GET", f"/jobs/{job['id']}", subject="bob"), 404, "job_not_found")
    _error(call(client, "GET", f"/jobs/{UNKNOWN_JOB}"), 404, "job_not_found")
    # And bob's list is empty
    assert _jobs(client, subject="bob")["items"] == []


# -- POST /jobs/{id}/cancel --------------------------------------------------------------------------------------------


def test_canceling_a_queued_job_ends_it_and_a_new_request_may_follow(client: Client, aws: Aws, shared_images) -> None:
    # Given a queued enhancement job
    release_id = ready_cover(client, aws, shared_images)
    job = enhance(client, release_id)
    # When its owner cancels it
    response = call(client, "POST", f"/jobs/{job['id']}/cancel")
    # Then 200 with the job canceled and finished
    assert response.status_code == 200, response.body
    canceled = body_of(response)
    assert canceled["status"] == "canceled" and canceled["finished_at"] is not None
    assert body_of(call(client, "GET", f"/jobs/{job['id']}")) == canceled
    # And a second cancel answers 409 job_finished with the status it ended in
    again = call(client, "POST", f"/jobs/{job['id']}/cancel")
    assert _error(again, 409, "job_finished")["details"]["status"] == "canceled"
    # And the cover is offered again: a new request starts a new job
    assert body_of(call(client, "GET", f"/releases/{release_id}/artwork"))["enhancement_offered"] is True
    assert enhance(client, release_id)["id"] != job["id"]


def test_another_owner_cannot_cancel_a_job(client: Client, aws: Aws, shared_images) -> None:
    # Given alice's queued job
    job = enhance(client, ready_cover(client, aws, shared_images))
    # When bob cancels it, or anyone cancels an unknown id, Then 404 job_not_found
    _error(call(client, "POST", f"/jobs/{job['id']}/cancel", subject="bob"), 404, "job_not_found")
    _error(call(client, "POST", f"/jobs/{UNKNOWN_JOB}/cancel"), 404, "job_not_found")
    # And alice's job is still queued
    assert body_of(call(client, "GET", f"/jobs/{job['id']}"))["status"] == "queued"
