"""The release lifecycle through the HTTP API (chalice.test.Client on moto): every (from, to) transition pair, the
named endpoints and their guards, their side effects (locks, dates, the DSP-sync message), the history, the admin
unlock, the lock rules per status and field, editable-fields and the listing by status.

Speed: this module has some 200 cases, so it provisions moto once per module (per xdist worker) instead of once per
test (``client`` below overrides the conftest one), and ``small_table`` empties the table after each test (moto's
TransactWriteItems deep-copies the whole table for every item it writes, so a growing table slows every write down).
Tests stay independent: each makes its own releases, listings use an owner of their own and DSP-sync messages are
matched by release id. Two kinds of release are shared, built once per status: ``untouched`` ones, only for requests
that must change nothing (each test checks the release is as built before, and unchanged after, its request), and
``release_to_edit`` ones, on which each editable-field case changes its own field only.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.container import reset_container
from tests.conftest import REPO_ROOT
from tests.integration.conftest import (
    TABLE,
    TEST_ENV,
    auth,
    body_of,
    call,
    create_release,
    provision_local,
)
from tests.integration.sync_helpers import drain_sync_queue

STATUSES = ("draft", "recording", "mixed", "mastered", "scheduled", "released", "locked")

#: The lifecycle, written out: the statuses each status may move to, in lifecycle order.
ALLOWED = {
    "draft": ["recording", "mixed"],
    "recording": ["mixed"],
    "mixed": ["mastered"],
    "mastered": ["scheduled", "released"],
    "scheduled": ["released"],
    "released": ["locked"],
    "locked": [],
}
ALLOWED_PAIRS = [(source, target) for source in STATUSES for target in ALLOWED[source]]
REFUSED_PAIRS = [pair for pair in itertools.product(STATUSES, STATUSES) if pair not in ALLOWED_PAIRS]

ALL_FIELDS = [
    "artwork_url",
    "c_line",
    "description",
    "display_artist",
    "distribution_status",
    "distributor_id",
    "explicit",
    "genre",
    "label",
    "p_line",
    "release_type",
    "scheduled_release_date",
    "title",
    "upc",
]
METADATA_FIELDS = [
    "artwork_url",
    "c_line",
    "description",
    "distribution_status",
    "distributor_id",
    "genre",
    "label",
    "p_line",
]
DELIVERY_FIELDS = ["display_artist", "explicit", "release_type", "scheduled_release_date", "title", "upc"]

#: The lock status a release reaches in each production status along the main path (admin unlocks aside).
LOCK_AT = {"draft": "unlocked", "scheduled": "partial_lock", "released": "partial_lock", "locked": "locked"}
EDITABLE = {"unlocked": set(ALL_FIELDS), "partial_lock": set(METADATA_FIELDS), "locked": set()}

TODAY = datetime.now(UTC).date()
FUTURE = TODAY + timedelta(days=30)

#: A valid value for each release field, different from what ``release_at`` leaves on a release.
NEW_VALUES: dict[str, Any] = {
    "title": "Vespertine",
    "display_artist": "Björk Guðmundsdóttir",
    "release_type": "ep",
    "label": "One Little Independent",
    "genre": "Electronic",
    "upc": "036000241457",
    "p_line": "℗ 1997 One Little Indian",
    "c_line": "© 1997 One Little Indian",
    "explicit": True,
    "description": "Strings and beats.",
    "scheduled_release_date": (TODAY + timedelta(days=60)).isoformat(),
    "distributor_id": "dist-42",
    "distribution_status": "delivered",
    "artwork_url": "https://example.org/a.jpg",
}


# -- fixtures and helpers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """chalice.test.Client on moto provisioned from infra/template.json, shared by this module's tests."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("SLEEVE_"):
                env.delenv(name)
        for name, value in TEST_ENV.items():
            env.setenv(name, value)
        with mock_aws():
            provision_local(boto3.Session(region_name="us-east-1"))
            reset_container()
            from app import app

            with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as test_client:
                yield test_client
    reset_container()


def admin() -> dict[str, str]:
    """Headers of carol, a member of the ``admin`` group."""
    return auth("carol", ("admin",))


def a_new_owner() -> str:
    """An owner id no other test uses (listings and counts must not see other tests' releases)."""
    return f"owner-{uuid.uuid4().hex[:12]}"


#: The transitions ``release_at`` makes from draft to reach each status: the shortest way (each one is a write, and
#: writes are what costs time here), so released comes straight from mastered and only recording passes by recording.
PATHS: dict[str, list[str]] = {
    "draft": [],
    "recording": ["recording"],
    "mixed": ["mixed"],
    "mastered": ["mixed", "mastered"],
    "scheduled": ["mixed", "mastered", "scheduled"],
    "released": ["mixed", "mastered", "released"],
    "locked": ["mixed", "mastered", "released", "locked"],
}


def transition_body(target: str, **extra: Any) -> dict[str, Any]:
    """The body of POST /transition to ``target`` (scheduling on ``FUTURE``)."""
    body: dict[str, Any] = {"to": target, **extra}
    if target == "scheduled":
        body["date"] = FUTURE.isoformat()
    return body


def release_at(client: Client, status: str, *, subject: str = "alice", track: bool = True) -> dict[str, Any]:
    """A fresh release of ``subject`` brought to ``status`` through the API along ``PATHS``; its body.

    One track is added while in draft (mixing needs one, and a draft may then go straight to mixed); ``track=False``
    leaves a draft or recording release without tracks.
    """
    release_id = create_release(client, subject=subject)["id"]
    if track or "mixed" in PATHS[status]:
        response = call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Jóga"}, subject=subject)
        assert response.status_code == 201, response.body
    for target in PATHS[status]:
        response = call(client, "POST", f"/releases/{release_id}/transition", transition_body(target), subject=subject)
        assert response.status_code == 200, response.body
    release = fetch(client, release_id, subject=subject)[0]
    assert release["production_status"] == status
    return release


def fetch(client: Client, release_id: str, *, subject: str = "alice") -> tuple[dict[str, Any], str]:
    """The release body and its ETag."""
    response = call(client, "GET", f"/releases/{release_id}", subject=subject)
    assert response.status_code == 200, response.body
    return body_of(response), response.headers["ETag"]


def history_of(client: Client, release_id: str, *, subject: str = "alice") -> list[dict[str, Any]]:
    """Every history entry of the release, newest first (one page of up to 100)."""
    response = call(client, "GET", f"/releases/{release_id}/history?limit=100", subject=subject)
    assert response.status_code == 200, response.body
    page = body_of(response)
    assert page["next_cursor"] is None
    return list(page["items"])


def version_of(etag: str) -> int:
    """The version an ETag (``"3"``) stands for."""
    assert etag.startswith('"') and etag.endswith('"'), etag
    return int(etag[1:-1])


def error_of(response: Any) -> tuple[int, str, dict[str, Any]]:
    """``(status, code, details)`` of an error response."""
    error = body_of(response)["error"]
    return response.status_code, error["code"], error["details"]


def sync_messages(release_id: str) -> list[dict[str, Any]]:
    """The bodies of the messages on the DSP-sync queue about ``release_id`` (the queue is drained)."""
    return [body for body in drain_sync_queue() if body.get("release_id") == release_id]


@pytest.fixture(scope="module")
def shared_ids() -> set[str]:
    """The ids of the releases shared between tests (``small_table`` keeps them)."""
    return set()


@pytest.fixture(autouse=True)
def small_table(client: Client, shared_ids: set[str]) -> Iterator[None]:
    """After each test, delete every item but the shared releases' partitions and empty the DSP-sync queue."""
    yield
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE)
    keep = {f"RELEASE#{release_id}" for release_id in shared_ids}
    scan: dict[str, Any] = {"ProjectionExpression": "pk, sk"}
    keys: list[dict[str, Any]] = []
    while True:
        page = table.scan(**scan)
        keys += [item for item in page["Items"] if item["pk"] not in keep]
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    with table.batch_writer() as batch:
        for key in keys:
            batch.delete_item(Key=key)
    drain_sync_queue()


@pytest.fixture(scope="module")
def untouched(client: Client, shared_ids: set[str]) -> Callable[..., dict[str, Any]]:
    """A release of ``subject`` (alice unless told) in a status, with one track, built once per module: only for
    requests that must change nothing. Checks the release is still as built before handing it out."""
    built: dict[tuple[str, str], dict[str, Any]] = {}

    def get(status: str, subject: str = "alice") -> dict[str, Any]:
        if (status, subject) not in built:
            built[status, subject] = release_at(client, status, subject=subject)
            shared_ids.add(built[status, subject]["id"])
        current, _ = fetch(client, built[status, subject]["id"], subject=subject)
        assert current == built[status, subject], f"the shared {status} release was changed by an earlier test"
        return current

    return get


@pytest.fixture(scope="module")
def release_to_edit(client: Client, shared_ids: set[str]) -> Callable[[str], dict[str, Any]]:
    """An alice release in a status, built once per module and shared by the editable-field cases, each of which
    changes one field of its own (so none sees another's change), and by the artwork uploads (which add an upload,
    not a change of the release)."""
    built: dict[str, str] = {}

    def get(status: str) -> dict[str, Any]:
        if status not in built:
            built[status] = release_at(client, status)["id"]
            shared_ids.add(built[status])
        return fetch(client, built[status])[0]

    return get


def assert_unchanged(client: Client, before: dict[str, Any], etag: str, history_length: int) -> None:
    """The release is as ``before``: same body, same ETag, no new history entry."""
    after, etag_after = fetch(client, before["id"])
    assert after == before
    assert etag_after == etag
    assert len(history_of(client, before["id"])) == history_length


def snapshot(client: Client, release_id: str) -> tuple[dict[str, Any], str, int]:
    """The release, its ETag and its number of history entries."""
    release, etag = fetch(client, release_id)
    return release, etag, len(history_of(client, release_id))


# -- the helper itself ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_release_at_brings_a_release_to_each_status_through_the_api(client, untouched, status):
    release = untouched(status)
    assert release["production_status"] == status
    assert release["track_count"] == 1
    entries = history_of(client, release["id"])
    assert [e["to_status"] for e in entries] == [*reversed(PATHS[status]), "draft"]


# -- every (from, to) pair through POST /releases/{id}/transition ---------------------------------------------------


def test_the_pair_lists_cover_all_49_pairs_once():
    assert len(ALLOWED_PAIRS) == 8
    assert len(REFUSED_PAIRS) == 41
    assert sorted(ALLOWED_PAIRS + REFUSED_PAIRS) == sorted(itertools.product(STATUSES, STATUSES))


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS, ids=[f"{s}->{t}" for s, t in ALLOWED_PAIRS])
def test_an_allowed_transition_moves_the_release_and_bumps_its_etag(client, source, target):
    release = release_at(client, source)
    _, etag = fetch(client, release["id"])
    body = transition_body(target, reason=f"{source} to {target}")

    response = call(client, "POST", f"/releases/{release['id']}/transition", body)

    assert response.status_code == 200, response.body
    assert body_of(response)["production_status"] == target
    assert version_of(response.headers["ETag"]) == version_of(etag) + 1
    stored, stored_etag = fetch(client, release["id"])
    assert stored["production_status"] == target
    assert stored_etag == response.headers["ETag"]


@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS, ids=[f"{s}->{t}" for s, t in REFUSED_PAIRS])
def test_a_refused_transition_answers_409_invalid_transition_and_changes_nothing(client, untouched, source, target):
    before, etag, entries = snapshot(client, untouched(source)["id"])

    response = call(client, "POST", f"/releases/{before['id']}/transition", transition_body(target))

    status, code, details = error_of(response)
    assert (status, code) == (409, "invalid_transition")
    assert details == {"current_status": source, "requested": target, "allowed": ALLOWED[source]}
    assert_unchanged(client, before, etag, entries)


# -- the named endpoints --------------------------------------------------------------------------------------------

NAMED = {"schedule": "scheduled", "release-now": "released", "lock": "locked"}
NAMED_ALLOWED = [
    (endpoint, source) for endpoint, target in NAMED.items() for source in STATUSES if target in ALLOWED[source]
]
NAMED_REFUSED = [(e, s) for e in NAMED for s in STATUSES if (e, s) not in NAMED_ALLOWED]


def named_body(endpoint: str) -> dict[str, Any]:
    """The body of a named lifecycle endpoint (scheduling on ``FUTURE``)."""
    return {"date": FUTURE.isoformat()} if endpoint == "schedule" else {}


def test_the_named_endpoint_cases_cover_every_status():
    assert NAMED_ALLOWED == [
        ("schedule", "mastered"),
        ("release-now", "mastered"),
        ("release-now", "scheduled"),
        ("lock", "released"),
    ]
    assert len(NAMED_REFUSED) == 3 * 7 - 4


@pytest.mark.parametrize(("endpoint", "source"), NAMED_ALLOWED, ids=[f"{e}@{s}" for e, s in NAMED_ALLOWED])
def test_a_named_endpoint_moves_the_release_like_the_generic_transition(client, endpoint, source):
    release = release_at(client, source)
    _, etag = fetch(client, release["id"])

    response = call(client, "POST", f"/releases/{release['id']}/{endpoint}", named_body(endpoint))

    assert response.status_code == 200, response.body
    assert body_of(response)["production_status"] == NAMED[endpoint]
    assert version_of(response.headers["ETag"]) == version_of(etag) + 1
    entry = history_of(client, release["id"])[0]
    assert (entry["from_status"], entry["to_status"]) == (source, NAMED[endpoint])


@pytest.mark.parametrize(("endpoint", "source"), NAMED_REFUSED, ids=[f"{e}@{s}" for e, s in NAMED_REFUSED])
def test_a_named_endpoint_refuses_like_the_generic_transition(client, untouched, endpoint, source):
    before, etag, entries = snapshot(client, untouched(source)["id"])

    response = call(client, "POST", f"/releases/{before['id']}/{endpoint}", named_body(endpoint))

    status, code, details = error_of(response)
    assert (status, code) == (409, "invalid_transition")
    assert details == {"current_status": source, "requested": NAMED[endpoint], "allowed": ALLOWED[source]}
    assert_unchanged(client, before, etag, entries)


# -- guards -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["draft", "recording"])
def test_mixing_a_release_without_tracks_answers_409_no_tracks(client, source):
    release = release_at(client, source, track=False)
    before, etag, entries = snapshot(client, release["id"])

    response = call(client, "POST", f"/releases/{release['id']}/transition", {"to": "mixed"})

    assert error_of(response)[:2] == (409, "no_tracks")
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("endpoint", ["schedule", "transition"])
def test_scheduling_without_a_date_answers_409_scheduled_date_required(client, untouched, endpoint):
    before, etag, entries = snapshot(client, untouched("mastered")["id"])
    assert before["scheduled_release_date"] is None
    body = {"to": "scheduled"} if endpoint == "transition" else {}

    response = call(client, "POST", f"/releases/{before['id']}/{endpoint}", body)

    assert error_of(response)[:2] == (409, "scheduled_date_required")
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("days", [0, -1, -400], ids=["today", "yesterday", "last-year"])
def test_scheduling_on_today_or_a_past_date_answers_409_scheduled_date_not_in_future(client, untouched, days):
    before, etag, entries = snapshot(client, untouched("mastered")["id"])
    when = TODAY + timedelta(days=days)

    response = call(client, "POST", f"/releases/{before['id']}/schedule", {"date": when.isoformat()})

    status, code, details = error_of(response)
    assert (status, code) == (409, "scheduled_date_not_in_future")
    assert details["scheduled_release_date"] == when.isoformat()
    assert_unchanged(client, before, etag, entries)


def test_scheduling_without_a_date_in_the_body_uses_the_stored_one(client):
    release = release_at(client, "mastered")
    patched = call(client, "PATCH", f"/releases/{release['id']}", {"scheduled_release_date": FUTURE.isoformat()})
    assert patched.status_code == 200, patched.body

    response = call(client, "POST", f"/releases/{release['id']}/schedule", {})

    assert response.status_code == 200, response.body
    assert body_of(response)["production_status"] == "scheduled"
    assert body_of(response)["scheduled_release_date"] == FUTURE.isoformat()


def test_a_stored_date_in_the_past_does_not_schedule(client):
    release = release_at(client, "mastered")
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert call(client, "PATCH", f"/releases/{release['id']}", {"scheduled_release_date": yesterday}).status_code == 200

    response = call(client, "POST", f"/releases/{release['id']}/schedule", {})

    assert error_of(response)[:2] == (409, "scheduled_date_not_in_future")
    assert fetch(client, release["id"])[0]["production_status"] == "mastered"


def test_locking_a_released_release_that_is_not_partially_locked_answers_409(client):
    # Given a locked release that an admin unlocked: released again, but unlocked
    release = release_at(client, "locked")
    unlocked = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "typo"}, headers=admin())
    assert unlocked.status_code == 200, unlocked.body
    before, etag, entries = snapshot(client, release["id"])
    assert (before["production_status"], before["lock_status"]) == ("released", "unlocked")

    for endpoint, body in (("lock", {}), ("transition", {"to": "locked"})):
        response = call(client, "POST", f"/releases/{release['id']}/{endpoint}", body)

        status, code, details = error_of(response)
        assert (status, code) == (409, "not_partially_locked")
        assert details == {"lock_status": "unlocked"}
        assert_unchanged(client, before, etag, entries)


# -- side effects -----------------------------------------------------------------------------------------------------


def test_scheduling_sets_partial_lock_and_the_scheduled_date(client):
    release = release_at(client, "mastered")
    assert release["lock_status"] == "unlocked"

    response = call(client, "POST", f"/releases/{release['id']}/schedule", {"date": FUTURE.isoformat()})

    assert response.status_code == 200, response.body
    scheduled = body_of(response)
    assert scheduled["production_status"] == "scheduled"
    assert scheduled["lock_status"] == "partial_lock"
    assert scheduled["scheduled_release_date"] == FUTURE.isoformat()
    assert scheduled["actual_release_date"] is None
    assert sync_messages(release["id"]) == []


def test_release_now_sets_today_partial_lock_and_sends_one_dsp_sync_message(client):
    owner = a_new_owner()
    release = release_at(client, "scheduled", subject=owner)
    before = datetime.now(UTC).date()

    response = call(client, "POST", f"/releases/{release['id']}/release-now", {"reason": "go"}, subject=owner)

    after = datetime.now(UTC).date()
    assert response.status_code == 200, response.body
    released = body_of(response)
    assert released["production_status"] == "released"
    assert released["lock_status"] == "partial_lock"
    assert date.fromisoformat(released["actual_release_date"]) in {before, after}
    assert released["scheduled_release_date"] == FUTURE.isoformat()
    assert released["dsp_sync_due_at"] is not None
    messages = sync_messages(release["id"])
    assert len(messages) == 1
    assert messages[0]["type"] == "dsp_sync"
    assert messages[0]["release_id"] == release["id"]
    assert messages[0]["owner_id"] == owner
    assert messages[0]["reason"] == "released"
    entry = history_of(client, release["id"], subject=owner)[0]
    assert (entry["from_status"], entry["to_status"], entry["reason"]) == ("scheduled", "released", "go")
    assert entry["metadata"]["actual_release_date"] == released["actual_release_date"]


def test_releasing_a_mastered_release_through_the_generic_transition_also_sends_the_message(client):
    release = release_at(client, "mastered")

    response = call(client, "POST", f"/releases/{release['id']}/transition", {"to": "released"})

    assert response.status_code == 200, response.body
    assert body_of(response)["lock_status"] == "partial_lock"
    assert body_of(response)["actual_release_date"] is not None
    messages = sync_messages(release["id"])
    assert [(m["release_id"], m["owner_id"]) for m in messages] == [(release["id"], "alice")]


def test_no_other_transition_sends_a_dsp_sync_message(client):
    release = release_at(client, "locked")
    # release_at went through every transition once; only release-now sent a message
    assert len(sync_messages(release["id"])) == 1
    unlocked = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "fix"}, headers=admin())
    assert unlocked.status_code == 200
    assert sync_messages(release["id"]) == []


def test_locking_sets_locked_locked_at_and_not_by_sync(client):
    release = release_at(client, "released")
    started = datetime.now(UTC)

    response = call(client, "POST", f"/releases/{release['id']}/lock", {"reason": "delivered"})

    assert response.status_code == 200, response.body
    locked = body_of(response)
    assert locked["production_status"] == "locked"
    assert locked["lock_status"] == "locked"
    assert locked["locked_by_sync"] is False
    locked_at = datetime.fromisoformat(locked["locked_at"].replace("Z", "+00:00"))
    assert started - timedelta(seconds=1) <= locked_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert locked["actual_release_date"] == release["actual_release_date"]


# -- history ----------------------------------------------------------------------------------------------------------


def test_each_transition_adds_one_history_entry_newest_first(client):
    release = create_release(client)
    release_id = release["id"]
    assert call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"}).status_code == 201
    path = STATUSES[1:]
    for number, status in enumerate(path, start=2):
        body = transition_body(status, reason=f"to {status}")
        response = call(client, "POST", f"/releases/{release_id}/transition", body)
        assert response.status_code == 200, response.body
        assert len(history_of(client, release_id)) == number

    entries = history_of(client, release_id)

    assert [(e["from_status"], e["to_status"]) for e in entries] == [
        ("released", "locked"),
        ("scheduled", "released"),
        ("mastered", "scheduled"),
        ("mixed", "mastered"),
        ("recording", "mixed"),
        ("draft", "recording"),
        (None, "draft"),
    ]
    assert [e["reason"] for e in entries[:-1]] == [f"to {status}" for status in reversed(path)]
    assert {e["changed_by"] for e in entries} == {"alice"}
    assert all(e["release_id"] == release_id for e in entries)
    moments = [datetime.fromisoformat(e["changed_at"].replace("Z", "+00:00")) for e in entries]
    assert moments == sorted(moments, reverse=True)
    assert entries[-1]["reason"] is None
    assert entries[-1]["metadata"] == {"action": "create"}
    assert entries[0]["metadata"]["transition"] == "lock"
    assert entries[2]["metadata"]["scheduled_release_date"] == FUTURE.isoformat()


def test_a_refused_transition_adds_no_history_entry(client):
    release = release_at(client, "draft")
    assert call(client, "POST", f"/releases/{release['id']}/transition", {"to": "locked"}).status_code == 409
    assert call(client, "POST", f"/releases/{release['id']}/schedule", {}).status_code == 409
    assert [e["to_status"] for e in history_of(client, release["id"])] == ["draft"]


def test_history_pages_of_two_walk_every_entry(client):
    release = release_at(client, "locked")
    everything = history_of(client, release["id"])
    assert len(everything) == 5  # created, mixed, mastered, released, locked: pages of 2, 2 and 1

    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = call(client, "GET", f"/releases/{release['id']}/history{query}")
        assert response.status_code == 200, response.body
        page = body_of(response)
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert seen == everything


def test_a_history_cursor_only_pages_the_release_it_came_from(client, untouched):
    first = body_of(call(client, "GET", f"/releases/{untouched('mastered')['id']}/history?limit=1"))
    assert first["next_cursor"]

    response = call(client, "GET", f"/releases/{untouched('draft')['id']}/history?cursor={first['next_cursor']}")

    assert error_of(response)[:2] == (400, "invalid_cursor")


def test_another_owners_history_answers_404_but_an_admin_may_read_it(client):
    release = release_at(client, "recording")

    response = call(client, "GET", f"/releases/{release['id']}/history", subject="bob")
    assert error_of(response)[:2] == (404, "release_not_found")

    response = call(client, "GET", f"/releases/{release['id']}/history", headers=admin())
    assert response.status_code == 200, response.body
    assert [e["to_status"] for e in body_of(response)["items"]] == ["recording", "draft"]


# -- admin unlock -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["alice", "bob"], ids=["owner", "stranger"])
def test_unlocking_without_the_admin_group_answers_403_admin_only(client, untouched, subject):
    before, etag, entries = snapshot(client, untouched("locked")["id"])

    response = call(client, "POST", f"/releases/{before['id']}/unlock", {"reason": "please"}, subject=subject)

    assert error_of(response)[:2] == (403, "admin_only")
    assert_unchanged(client, before, etag, entries)


def test_an_admin_unlocks_another_owners_locked_release(client):
    release = release_at(client, "locked")
    _, etag = fetch(client, release["id"])

    response = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "wrong UPC"}, headers=admin())

    assert response.status_code == 200, response.body
    assert version_of(response.headers["ETag"]) == version_of(etag) + 1
    unlocked = body_of(response)
    assert unlocked["owner_id"] == "alice"
    assert unlocked["lock_status"] == "unlocked"
    assert unlocked["production_status"] == "released"
    assert unlocked["locked_at"] is None
    assert unlocked["locked_by_sync"] is False
    assert fetch(client, release["id"])[0] == unlocked
    entry = history_of(client, release["id"])[0]
    assert (entry["from_status"], entry["to_status"]) == ("locked", "released")
    assert entry["changed_by"] == "carol"
    assert entry["reason"] == "wrong UPC"
    assert entry["metadata"]["action"] == "unlock"
    assert entry["metadata"]["lock_status"] == {"from": "locked", "to": "unlocked"}


def test_an_admin_unlocks_a_partially_locked_release_which_keeps_its_status(client):
    release = release_at(client, "scheduled")

    response = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "move"}, headers=admin())

    assert response.status_code == 200, response.body
    assert (body_of(response)["production_status"], body_of(response)["lock_status"]) == ("scheduled", "unlocked")
    entry = history_of(client, release["id"])[0]
    assert (entry["from_status"], entry["to_status"], entry["changed_by"]) == ("scheduled", "scheduled", "carol")


def test_unlocking_an_unlocked_release_answers_409_not_locked(client, untouched):
    before, etag, entries = snapshot(client, untouched("draft")["id"])

    response = call(client, "POST", f"/releases/{before['id']}/unlock", {"reason": "again"}, headers=admin())

    assert error_of(response)[:2] == (409, "not_locked")
    assert_unchanged(client, before, etag, entries)


def test_unlocking_twice_answers_409_not_locked_the_second_time(client):
    release = release_at(client, "locked")
    first = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "one"}, headers=admin())
    assert first.status_code == 200

    second = call(client, "POST", f"/releases/{release['id']}/unlock", {"reason": "two"}, headers=admin())

    assert error_of(second)[:2] == (409, "not_locked")


def test_unlocking_needs_a_reason(client, untouched):
    release = untouched("locked")
    for body in ({}, {"reason": ""}):
        response = call(client, "POST", f"/releases/{release['id']}/unlock", body, headers=admin())
        assert error_of(response)[:2] == (422, "validation_error")
    assert fetch(client, release["id"])[0]["lock_status"] == "locked"


def test_an_admin_may_read_another_owners_release_but_not_change_it(client, untouched):
    before, etag, entries = snapshot(client, untouched("draft")["id"])

    read = call(client, "GET", f"/releases/{before['id']}", headers=admin())
    assert read.status_code == 200
    assert body_of(read) == before

    patched = call(client, "PATCH", f"/releases/{before['id']}", {"title": "Mine now"}, headers=admin())
    assert error_of(patched)[:2] == (404, "release_not_found")
    moved = call(client, "POST", f"/releases/{before['id']}/transition", {"to": "recording"}, headers=admin())
    assert error_of(moved)[:2] == (404, "release_not_found")
    deleted = call(client, "DELETE", f"/releases/{before['id']}", headers=admin())
    assert error_of(deleted)[:2] == (404, "release_not_found")
    assert_unchanged(client, before, etag, entries)


# -- lock rules per status and field (PATCH) --------------------------------------------------------------------------

FIELD_CASES = [(status, field) for status in LOCK_AT for field in ALL_FIELDS]
EDITABLE_CASES = [(s, f) for s, f in FIELD_CASES if f in EDITABLE[LOCK_AT[s]]]
FROZEN_CASES = [(s, f) for s, f in FIELD_CASES if f not in EDITABLE[LOCK_AT[s]]]


def test_the_field_cases_cover_every_field_of_every_lock_status():
    assert sorted(NEW_VALUES) == ALL_FIELDS
    assert len(EDITABLE_CASES) == 14 + 8 + 8 + 0
    assert len(FROZEN_CASES) == 0 + 6 + 6 + 14
    assert {f for s, f in FROZEN_CASES if s == "scheduled"} == set(DELIVERY_FIELDS)


@pytest.mark.parametrize(("status", "field"), EDITABLE_CASES, ids=[f"{s}-{f}" for s, f in EDITABLE_CASES])
def test_an_editable_field_changes(client, release_to_edit, status, field):
    release = release_to_edit(status)
    assert release[field] != NEW_VALUES[field]
    _, etag = fetch(client, release["id"])

    response = call(client, "PATCH", f"/releases/{release['id']}", {field: NEW_VALUES[field]})

    assert response.status_code == 200, response.body
    assert body_of(response)[field] == NEW_VALUES[field]
    assert version_of(response.headers["ETag"]) == version_of(etag) + 1
    stored = fetch(client, release["id"])[0]
    assert stored[field] == NEW_VALUES[field]
    assert (stored["production_status"], stored["lock_status"]) == (status, LOCK_AT[status])


@pytest.mark.parametrize(("status", "field"), FROZEN_CASES, ids=[f"{s}-{f}" for s, f in FROZEN_CASES])
def test_a_frozen_field_answers_409_fields_locked_and_changes_nothing(client, untouched, status, field):
    before, etag, entries = snapshot(client, untouched(status)["id"])
    assert before[field] != NEW_VALUES[field]

    response = call(client, "PATCH", f"/releases/{before['id']}", {field: NEW_VALUES[field]})

    status_code, code, details = error_of(response)
    assert (status_code, code) == (409, "fields_locked")
    assert details["fields"] == [field]
    assert details["lock_status"] == LOCK_AT[status]
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("status", ["scheduled", "released", "locked"])
def test_a_patch_mixing_editable_and_frozen_fields_is_refused_whole(client, untouched, status):
    before, etag, entries = snapshot(client, untouched(status)["id"])
    assert (before["label"], before["upc"]) == (None, None)
    body = {"label": "Should not land", "title": "Nor this", "upc": NEW_VALUES["upc"]}

    response = call(client, "PATCH", f"/releases/{before['id']}", body)

    status_code, code, details = error_of(response)
    assert (status_code, code) == (409, "fields_locked")
    expected = ["title", "upc"] if LOCK_AT[status] == "partial_lock" else ["label", "title", "upc"]
    assert details["fields"] == expected
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("status", ["scheduled", "locked"])
def test_a_frozen_field_sent_with_its_current_value_is_not_refused(client, status):
    release = release_at(client, status)

    response = call(client, "PATCH", f"/releases/{release['id']}", {"title": release["title"], "explicit": False})

    assert response.status_code == 200, response.body
    assert body_of(response)["title"] == release["title"]
    assert body_of(response)["lock_status"] == LOCK_AT[status]


def test_patching_read_only_fields_answers_422_read_only_fields_naming_them(client, untouched):
    before, etag, entries = snapshot(client, untouched("draft")["id"])
    body = {"production_status": "released", "lock_status": "locked", "version": 99, "title": "Sneaky"}

    response = call(client, "PATCH", f"/releases/{before['id']}", body)

    status, code, details = error_of(response)
    assert (status, code) == (422, "read_only_fields")
    assert sorted(details["fields"]) == ["lock_status", "production_status", "version"]
    assert_unchanged(client, before, etag, entries)


def test_creating_a_release_with_read_only_fields_answers_422(client):
    body = {"title": "T", "display_artist": "A", "production_status": "released", "lock_status": "locked"}

    response = call(client, "POST", "/releases", body)

    status, code, details = error_of(response)
    assert (status, code) == (422, "read_only_fields")
    assert sorted(details["fields"]) == ["lock_status", "production_status"]


# -- tracks, collaborators, artwork and delete under locks ------------------------------------------------------------

CHILD_POSTS = {
    "tracks": {"title": "Bachelorette"},
    "collaborators": {"role": "producer", "name": "Mark Bell"},
}
CHILD_CASES = [(status, kind) for status in ("scheduled", "released", "locked") for kind in CHILD_POSTS]


@pytest.mark.parametrize(("status", "kind"), CHILD_CASES, ids=[f"{s}-{k}" for s, k in CHILD_CASES])
def test_adding_tracks_or_collaborators_to_a_locked_release_answers_409_release_locked(client, untouched, status, kind):
    before, etag, entries = snapshot(client, untouched(status)["id"])

    response = call(client, "POST", f"/releases/{before['id']}/{kind}", CHILD_POSTS[kind])

    status_code, code, details = error_of(response)
    assert (status_code, code) == (409, "release_locked")
    assert details == {"lock_status": LOCK_AT[status], "production_status": status}
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("kind", CHILD_POSTS)
def test_adding_tracks_or_collaborators_to_a_draft_is_allowed(client, kind):
    release = release_at(client, "draft")

    response = call(client, "POST", f"/releases/{release['id']}/{kind}", CHILD_POSTS[kind])

    assert response.status_code == 201, response.body
    assert len(fetch(client, release["id"])[0][kind]) == (2 if kind == "tracks" else 1)


@pytest.mark.parametrize("status", ["scheduled", "locked"])
def test_changing_removing_or_reordering_a_track_of_a_locked_release_answers_409(client, untouched, status):
    before, etag, entries = snapshot(client, untouched(status)["id"])
    track_id = before["tracks"][0]["id"]

    changed = call(client, "PATCH", f"/releases/{before['id']}/tracks/{track_id}", {"title": "Renamed"})
    removed = call(client, "DELETE", f"/releases/{before['id']}/tracks/{track_id}")
    reordered = call(client, "PUT", f"/releases/{before['id']}/tracks/order", {"track_ids": [track_id]})

    for response in (changed, removed, reordered):
        assert error_of(response)[:2] == (409, "release_locked")
    assert_unchanged(client, before, etag, entries)


ARTWORK_UPLOAD = {"content_type": "image/jpeg", "content_length": 1000}


@pytest.mark.parametrize("status", ["draft", "scheduled", "released"])
def test_artwork_uploads_are_allowed_unless_locked(client, release_to_edit, status):
    release = release_to_edit(status)

    response = call(client, "POST", f"/releases/{release['id']}/artwork/uploads", ARTWORK_UPLOAD)

    assert response.status_code == 201, response.body
    assert body_of(response)["upload_id"]


def test_an_artwork_upload_to_a_locked_release_answers_409_release_locked(client, untouched):
    before, etag, entries = snapshot(client, untouched("locked")["id"])

    response = call(client, "POST", f"/releases/{before['id']}/artwork/uploads", ARTWORK_UPLOAD)

    assert error_of(response) == (409, "release_locked", {"lock_status": "locked"})
    assert_unchanged(client, before, etag, entries)


@pytest.mark.parametrize("status", ["scheduled", "released", "locked"])
def test_deleting_a_release_that_is_not_unlocked_answers_409_release_locked(client, untouched, status):
    before, etag, entries = snapshot(client, untouched(status)["id"])

    response = call(client, "DELETE", f"/releases/{before['id']}")

    assert error_of(response) == (409, "release_locked", {"lock_status": LOCK_AT[status]})
    assert_unchanged(client, before, etag, entries)


def test_deleting_a_draft_answers_204_and_it_is_gone(client):
    release = release_at(client, "draft")

    response = call(client, "DELETE", f"/releases/{release['id']}")

    assert response.status_code == 204
    assert error_of(call(client, "GET", f"/releases/{release['id']}"))[:2] == (404, "release_not_found")
    assert error_of(call(client, "GET", f"/releases/{release['id']}/history"))[:2] == (404, "release_not_found")


# -- editable-fields --------------------------------------------------------------------------------------------------

OWNER_VIEW = {
    "draft": {
        "fields": ALL_FIELDS,
        "frozen_fields": [],
        "tracks": True,
        "collaborators": True,
        "artwork": True,
        "delete": True,
        "transitions": ["recording", "mixed"],
    },
    "scheduled": {
        "fields": METADATA_FIELDS,
        "frozen_fields": DELIVERY_FIELDS,
        "tracks": False,
        "collaborators": False,
        "artwork": True,
        "delete": False,
        "transitions": ["released"],
    },
    "released": {
        "fields": METADATA_FIELDS,
        "frozen_fields": DELIVERY_FIELDS,
        "tracks": False,
        "collaborators": False,
        "artwork": True,
        "delete": False,
        "transitions": ["locked"],
    },
    "locked": {
        "fields": [],
        "frozen_fields": ALL_FIELDS,
        "tracks": False,
        "collaborators": False,
        "artwork": False,
        "delete": False,
        "transitions": [],
    },
}


@pytest.mark.parametrize("status", LOCK_AT)
def test_editable_fields_for_the_owner(client, untouched, status):
    release = untouched(status)

    response = call(client, "GET", f"/releases/{release['id']}/editable-fields")

    assert response.status_code == 200, response.body
    assert body_of(response) == {
        "release_id": release["id"],
        "production_status": status,
        "lock_status": LOCK_AT[status],
        **OWNER_VIEW[status],
        "unlock": False,
    }
    assert response.headers["ETag"] == f'"{release["version"]}"'


def test_editable_fields_for_an_admin_who_owns_the_release_along_the_lifecycle(client):
    # One release of carol (an admin) walked draft → mixed → mastered → scheduled → released → locked
    release_id = release_at(client, "draft", subject="carol")["id"]
    for status in ("draft", "mixed", "mastered", "scheduled", "released", "locked"):
        if status != "draft":
            moved = call(client, "POST", f"/releases/{release_id}/transition", transition_body(status), headers=admin())
            assert moved.status_code == 200, moved.body
        if status not in LOCK_AT:
            continue

        response = call(client, "GET", f"/releases/{release_id}/editable-fields", headers=admin())

        assert response.status_code == 200, response.body
        assert body_of(response) == {
            "release_id": release_id,
            "production_status": status,
            "lock_status": LOCK_AT[status],
            **OWNER_VIEW[status],
            "unlock": LOCK_AT[status] != "unlocked",
        }


@pytest.mark.parametrize("status", LOCK_AT)
def test_editable_fields_for_an_admin_on_another_owners_release(client, untouched, status):
    release = untouched(status)

    response = call(client, "GET", f"/releases/{release['id']}/editable-fields", headers=admin())

    assert response.status_code == 200, response.body
    assert body_of(response) == {
        "release_id": release["id"],
        "production_status": status,
        "lock_status": LOCK_AT[status],
        "fields": [],
        "frozen_fields": ALL_FIELDS,
        "tracks": False,
        "collaborators": False,
        "artwork": False,
        "delete": False,
        "transitions": [],
        "unlock": LOCK_AT[status] != "unlocked",
    }


def test_editable_fields_of_another_owners_release_answers_404_to_a_non_admin(client, untouched):
    response = call(client, "GET", f"/releases/{untouched('draft')['id']}/editable-fields", subject="bob")
    assert error_of(response)[:2] == (404, "release_not_found")


# -- listing by status ------------------------------------------------------------------------------------------------


def listed(client: Client, owner: str, query: str) -> list[str]:
    response = call(client, "GET", f"/releases?{query}", subject=owner)
    assert response.status_code == 200, response.body
    return [item["id"] for item in body_of(response)["items"]]


def test_listing_by_status_shows_the_callers_releases_in_that_status_and_follows_transitions(client):
    owner, stranger = a_new_owner(), a_new_owner()
    first, second, third = (create_release(client, subject=owner, title=f"R{i}")["id"] for i in range(3))
    create_release(client, subject=stranger)
    assert listed(client, owner, "status=draft") == [third, second, first]

    moved = call(client, "POST", f"/releases/{second}/transition", {"to": "recording"}, subject=owner)
    assert moved.status_code == 200, moved.body

    assert listed(client, owner, "status=draft") == [third, first]
    assert listed(client, owner, "status=recording") == [second]
    assert listed(client, owner, "status=mixed") == []

    moved = call(client, "POST", f"/releases/{first}/transition", {"to": "recording"}, subject=owner)
    assert moved.status_code == 200, moved.body

    assert listed(client, owner, "status=draft") == [third]
    assert listed(client, owner, "status=recording") == [second, first]
    assert listed(client, owner, "") == [third, second, first]


def test_listing_by_status_pages_with_a_cursor(client):
    owner = a_new_owner()
    ids = [create_release(client, subject=owner, title=f"R{i}")["id"] for i in range(3)]

    first_page = body_of(call(client, "GET", "/releases?status=draft&limit=2", subject=owner))
    assert [item["id"] for item in first_page["items"]] == [ids[2], ids[1]]
    assert first_page["next_cursor"]
    rest = listed(client, owner, f"status=draft&limit=2&cursor={first_page['next_cursor']}")
    assert rest == [ids[0]]


def test_listing_follows_a_release_through_every_status(client):
    owner = a_new_owner()
    release_id = release_at(client, "draft", subject=owner)["id"]
    for current in STATUSES:
        if current != "draft":
            moved = call(client, "POST", f"/releases/{release_id}/transition", transition_body(current), subject=owner)
            assert moved.status_code == 200, moved.body

        for status in STATUSES:
            assert listed(client, owner, f"status={status}") == ([release_id] if status == current else [])


def test_listing_by_an_unknown_status_answers_400_invalid_query(client):
    response = call(client, "GET", "/releases?status=published")

    status, code, details = error_of(response)
    assert (status, code) == (400, "invalid_query")
    # details.fields names the parameter and every allowed value (pydantic's message for the Literal)
    assert list(details["fields"]) == ["status"]
    assert all(f"'{status}'" in details["fields"]["status"] for status in STATUSES)
