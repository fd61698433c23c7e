"""The DSP sync routes through ``chalice.test.Client`` (every answer checked against the OpenAPI document): requesting
a sync, its status, the conflicts and their resolution, and the whole way from release-now through the sync worker to
a release locked by the sync.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.local.fake_dsp import FakeDsp
from tests.integration.conftest import Aws, auth, body_of, call, create_release
from tests.integration.dsp_sync_support import ISRCS, album
from tests.integration.sync_helpers import (
    drain_sync_queue,
    receive_messages,
    released,
    sqs_event,
    use_fake_dsp,
)

A, B = "alice", "bob"
UNKNOWN_CONFLICT = "0" * 24


def _status(client: Client, release_id: str, subject: str = A) -> dict[str, Any]:
    response = call(client, "GET", f"/releases/{release_id}/sync/status", subject=subject)
    assert response.status_code == 200, response.body
    return dict(body_of(response))


# -- POST /releases/{id}/sync ------------------------------------------------------------------------------------------


def test_a_sync_of_a_released_release_is_queued(client: Client, aws: Aws) -> None:
    # Given a released release (release-now's own message already taken off the queue)
    release_id = released(client)
    drain_sync_queue()
    # When its owner asks for a sync
    response = call(client, "POST", f"/releases/{release_id}/sync")
    # Then 202 queued, one dsp_sync message on the queue, and the status says queued
    assert response.status_code == 202, response.body
    assert body_of(response) == {"status": "queued"}
    (message,) = drain_sync_queue()
    assert {k: message[k] for k in ("type", "release_id", "owner_id", "reason")} == {
        "type": "dsp_sync",
        "release_id": release_id,
        "owner_id": A,
        "reason": "requested",
    }
    status = _status(client, release_id)
    assert status["state"] == "queued"
    assert status["requested_at"] is not None


def test_a_locked_release_may_be_synced_again(client: Client, aws: Aws) -> None:
    # Given a released release its owner locked by hand
    release_id = released(client)
    assert call(client, "POST", f"/releases/{release_id}/lock", {}).status_code == 200
    drain_sync_queue()
    # When a sync is asked for, Then it is queued
    assert call(client, "POST", f"/releases/{release_id}/sync").status_code == 202
    assert [m["release_id"] for m in drain_sync_queue()] == [release_id]


@pytest.mark.parametrize("path", [[], ["mixed", "mastered"]], ids=["draft", "mastered"])
def test_a_release_not_out_yet_cannot_be_synced(client: Client, aws: Aws, path: list[str]) -> None:
    # Given a release that is not released
    release_id = create_release(client)["id"]
    call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"})
    for target in path:
        assert call(client, "POST", f"/releases/{release_id}/transition", {"to": target}).status_code == 200
    # When a sync is asked for
    response = call(client, "POST", f"/releases/{release_id}/sync")
    # Then 409 not_released, nothing queued, and the state is still never
    assert response.status_code == 409
    assert body_of(response)["error"]["code"] == "not_released"
    assert drain_sync_queue() == []
    assert _status(client, release_id)["state"] == "never"


ROUTES = [
    ("POST", "/releases/{id}/sync", None),
    ("GET", "/releases/{id}/sync/status", None),
    ("GET", "/releases/{id}/conflicts", None),
    ("POST", "/releases/{id}/conflicts/" + UNKNOWN_CONFLICT + "/resolve", {"resolution": "keep_local"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_owners_release_and_an_unknown_one_are_not_found(
    client: Client, aws: Aws, method: str, path: str, body: Any
) -> None:
    # Given alice's released release and an id nobody has
    release_id = released(client)
    drain_sync_queue()
    for owner, target in ((B, release_id), (A, "f" * 32)):
        # When bob sends alice's id, or alice an unknown one
        response = call(client, method, path.format(id=target), body, subject=owner)
        # Then both get the same 404, and nothing is queued
        assert response.status_code == 404, response.body
        assert body_of(response)["error"]["code"] == "release_not_found"
    assert drain_sync_queue() == []


# -- GET /releases/{id}/sync/status and /conflicts ---------------------------------------------------------------------


def test_a_release_never_synced_says_never(client: Client, aws: Aws) -> None:
    # Given a new draft release, When its sync status is read
    status = _status(client, create_release(client)["id"])
    # Then nothing was ever synced, requested or found
    assert status == {
        "state": "never",
        "requested_at": None,
        "last_synced_at": None,
        "next_sync_at": None,
        "error": None,
        "services": [],
        "matches": [],
        "unmatched": {"local": [], "dsp": []},
        "open_conflicts": 0,
    }


def test_a_release_never_synced_has_no_conflicts(client: Client, aws: Aws) -> None:
    release_id = create_release(client)["id"]
    response = call(client, "GET", f"/releases/{release_id}/conflicts")
    assert response.status_code == 200
    assert body_of(response) == {"items": [], "open": 0}


# -- POST /releases/{id}/conflicts/{conflict_id}/resolve: what the request model refuses -------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"resolution": "ignore"}, 422, "validation_error"),
        ({"resolution": "keep_local", "value": "Hunter"}, 422, "validation_error"),
        ({"resolution": "merge", "value": 1.5}, 422, "validation_error"),
        ({"resolution": "merge", "value": [1]}, 422, "validation_error"),
        ({"resolution": "merge", "value": {"title": "x"}}, 422, "validation_error"),
        ({"resolution": "merge", "value": "x" * 201}, 422, "validation_error"),
        ({"resolution": "merge", "value": "   "}, 422, "validation_error"),
        ({"resolution": "merge", "value": -1}, 422, "validation_error"),
        ({"resolution": "merge", "value": "Hun\u202eter"}, 422, "invalid_characters"),
        ({"resolution": "accept_dsp", "note": "x"}, 422, "validation_error"),
        (b"{", 400, "invalid_json"),
        (b"[]", 400, "invalid_json"),
    ],
)
def test_a_malformed_resolution_is_refused(client: Client, aws: Aws, body: Any, status: int, code: str) -> None:
    # Given a release of the caller
    release_id = create_release(client)["id"]
    # When a resolution breaks the request model
    response = call(client, "POST", f"/releases/{release_id}/conflicts/{UNKNOWN_CONFLICT}/resolve", body)
    # Then it is refused with its code before anything is looked up
    assert response.status_code == status, response.body
    assert body_of(response)["error"]["code"] == code


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"resolution": "keep_local"}, True),
        ({"resolution": "accept_dsp", "value": None}, True),
        ({"resolution": "merge", "value": "Hunter"}, True),
        ({"resolution": "merge", "value": 203_000}, True),
        ({"resolution": "merge", "value": False}, True),
        ({"resolution": "keep_local", "value": "Hunter"}, False),
        ({"resolution": "accept_dsp", "value": 0}, False),
        ({"resolution": "merge"}, False),
        ({"resolution": "merge", "value": None}, False),
    ],
)
def test_the_document_states_when_a_value_goes_with_a_resolution(body: dict[str, Any], valid: bool) -> None:
    from jsonschema import Draft202012Validator
    from pydantic import ValidationError

    from chalicelib.models.api import ResolveConflictRequest

    # Given the request's JSON Schema as the document publishes it (a value with merge, and with merge only)
    schema = ResolveConflictRequest.model_json_schema()
    # When a body is checked against it, and parsed as the API parses it (a merge without a value passes the model
    # and is refused by the service, 422 merge_value_required)
    documented = Draft202012Validator(schema).is_valid(body)
    try:
        parsed = ResolveConflictRequest.model_validate(body)
        accepted = not (parsed.resolution == "merge" and parsed.value is None)
    except ValidationError:
        accepted = False
    # Then the document and the API agree
    assert documented == accepted == valid


def test_an_unknown_conflict_is_not_found(client: Client, aws: Aws) -> None:
    release_id = released(client)
    response = call(
        client, "POST", f"/releases/{release_id}/conflicts/{UNKNOWN_CONFLICT}/resolve", {"resolution": "keep_local"}
    )
    assert response.status_code == 404
    assert body_of(response)["error"]["code"] == "conflict_not_found"


def test_the_conflict_id_parameter_is_what_the_sync_makes() -> None:
    # Given the document's pattern for conflict_id, Then the ids the sync gives conflicts match it
    from chalicelib.openapi import PATH_PARAMETERS
    from chalicelib.services.dsp_conflicts import conflict_id

    pattern = PATH_PARAMETERS["conflict_id"][0]["pattern"]
    for anchor in ("release", "dsp:1:12", "9f1c4e2ab7d34c0f8e6a5b3c2d1e0f9a"):
        assert re.fullmatch(pattern, conflict_id("local_vs_dsp", "duration_ms", anchor))
    assert re.fullmatch(pattern, UNKNOWN_CONFLICT)


# -- release-now → queue → worker → conflicts → resolve → locked -------------------------------------------------------

TITLES = ("Hunter", "Jóga", "Unravel", "Bachelorette")
#: The album on every DSP: the four titles (ISRCS[0..3], 201..204 s) and a bonus track 5 the release does not have.
DSP_TITLES = (*TITLES, "Alarm Call")
#: The release: Hunter as on the DSPs; Jóga without an ISRC (filled); Unravel 10 s longer (a duration conflict);
#: Bachelorette under another title (a title conflict).
LOCAL_TRACKS: tuple[tuple[str, int | None, str | None], ...] = (
    ("Hunter", 201_000, ISRCS[0]),
    ("Jóga", 202_000, None),
    ("Unravel", 213_000, ISRCS[2]),
    ("Bachelorette (Howie B Mix)", 204_000, ISRCS[3]),
)


@pytest.fixture
def fake(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> FakeDsp:
    """The fake DSPs (Spotify, Apple Music, MusicBrainz) listing ``DSP_TITLES``; the container's sync service syncs
    against them through the real provider clients."""
    dsp = FakeDsp()
    dsp.add_album(album(DSP_TITLES))
    use_fake_dsp(monkeypatch, dsp)
    return dsp


def _synced_with_conflicts(client: Client) -> tuple[str, dict[str, dict[str, Any]]]:
    """Release now, run the sync worker on the message that queued (Lambda's SQS event); the release id and its
    conflicts by field."""
    release_id = released(client, tracks=LOCAL_TRACKS)
    messages = receive_messages()
    assert [json.loads(m["Body"])["release_id"] for m in messages] == [release_id]
    client.lambda_.invoke("handle_dsp_sync", sqs_event(messages))
    listed = body_of(call(client, "GET", f"/releases/{release_id}/conflicts"))
    return release_id, {c["field"]: c for c in listed["items"]}


def _etag(client: Client, release_id: str) -> str:
    response = call(client, "GET", f"/releases/{release_id}")
    assert response.status_code == 200
    return str(response.headers["ETag"])


def _resolve(
    client: Client, release_id: str, conflict_id: str, body: dict[str, Any], if_match: str | None = None
) -> Any:
    headers = auth(A) | ({"If-Match": if_match} if if_match else {})
    path = f"/releases/{release_id}/conflicts/{conflict_id}/resolve"
    return call(client, "POST", path, body, headers=headers)


def test_release_now_to_locked_through_the_worker_and_the_artists_decisions(client: Client, fake: FakeDsp) -> None:
    # Given a release put out with release-now, synced by the worker from the message it queued
    release_id, conflicts = _synced_with_conflicts(client)

    # Then the status and the conflicts say what differs: a duration, a title and the DSPs' bonus track
    status = _status(client, release_id)
    assert (status["state"], status["open_conflicts"], status["error"]) == ("conflicts", 3, None)
    assert {s["service"]: s["status"] for s in status["services"]} == {
        "spotify": "synced",
        "apple_music": "synced",
        "musicbrainz": "synced",
    }
    assert {m["method"] for m in status["matches"]} == {"isrc", "score"}
    assert [t["title"] for t in status["unmatched"]["dsp"]] == ["Alarm Call"]
    assert {f: (c["local_value"], c["dsp_value"]) for f, c in conflicts.items() if f != "track"} == {
        "duration_ms": (213_000, 203_000),
        "title": ("Bachelorette (Howie B Mix)", "Bachelorette"),
    }
    assert conflicts["track"]["kind"] == "unmatched_dsp"
    assert {c["status"] for c in conflicts.values()} == {"open"}
    released_view = body_of(call(client, "GET", f"/releases/{release_id}"))
    assert (released_view["production_status"], released_view["lock_status"]) == ("released", "partial_lock")

    # When the artist takes the DSP's duration (naming the version they saw)
    response = _resolve(
        client, release_id, conflicts["duration_ms"]["id"], {"resolution": "accept_dsp"}, _etag(client, release_id)
    )
    # Then the decision is recorded, two remain, nothing is applied yet, and the ETag is the release's new version
    assert response.status_code == 200, response.body
    outcome = body_of(response)
    assert (outcome["open"], outcome["applied"], outcome["locked_by_sync"]) == (2, False, False)
    assert outcome["conflict"]["status"] == "resolved" and outcome["conflict"]["resolution"] == "accept_dsp"
    assert response.headers["ETag"] == _etag(client, release_id)

    # When they leave the bonus track out, then merge the title
    response = _resolve(client, release_id, conflicts["track"]["id"], {"resolution": "keep_local"})
    assert (response.status_code, body_of(response)["open"]) == (200, 1)
    response = _resolve(client, release_id, conflicts["title"]["id"], {"resolution": "merge", "value": "Bachelorette"})

    # Then the last decision applies them all and locks the release by sync
    assert response.status_code == 200, response.body
    outcome = body_of(response)
    assert (outcome["open"], outcome["applied"]) == (0, True)
    assert (outcome["production_status"], outcome["lock_status"], outcome["locked_by_sync"]) == (
        "locked",
        "locked",
        True,
    )
    assert response.headers["ETag"] == _etag(client, release_id)
    tracks = body_of(call(client, "GET", f"/releases/{release_id}"))["tracks"]
    assert [(t["title"], t["duration_ms"], t["isrc"]) for t in tracks] == [
        ("Hunter", 201_000, ISRCS[0]),
        ("Jóga", 202_000, ISRCS[1]),
        ("Unravel", 203_000, ISRCS[2]),
        ("Bachelorette", 204_000, ISRCS[3]),
    ]
    assert (_status(client, release_id)["state"], _status(client, release_id)["open_conflicts"]) == ("synced", 0)
    listed = body_of(call(client, "GET", f"/releases/{release_id}/conflicts"))
    assert listed["open"] == 0 and {c["status"] for c in listed["items"]} == {"resolved"}
    entries = body_of(call(client, "GET", f"/releases/{release_id}/history"))["items"]
    locks = [(e["changed_by"], e["from_status"]) for e in entries if e["to_status"] == "locked"]
    assert locks == [("system", "released")]
    decisions = [
        e["metadata"]["decision"]
        for e in entries
        if e["changed_by"] == A and e["metadata"].get("action") == "resolve_conflict"
    ]
    assert sorted(decisions) == ["accept_dsp", "keep_local", "merge"]


def test_a_resolution_that_does_not_fit_its_conflict_is_refused_and_changes_nothing(
    client: Client, fake: FakeDsp
) -> None:
    # Given a synced release with open conflicts, at its current version
    release_id, conflicts = _synced_with_conflicts(client)
    etag = _etag(client, release_id)
    duration, track = conflicts["duration_ms"]["id"], conflicts["track"]["id"]
    refusals = [
        # When a merge comes without a value, with one that is no duration, on a whole track, with a stale
        # If-Match, or on a conflict the release does not have
        (duration, {"resolution": "merge"}, None, 422, "merge_value_required"),
        (duration, {"resolution": "merge", "value": "three minutes"}, None, 422, "invalid_conflict_value"),
        (duration, {"resolution": "merge", "value": True}, None, 422, "invalid_conflict_value"),
        (track, {"resolution": "merge", "value": "Alarm Call"}, None, 422, "resolution_not_allowed"),
        (duration, {"resolution": "accept_dsp"}, '"1"', 412, "version_mismatch"),
        (UNKNOWN_CONFLICT, {"resolution": "accept_dsp"}, None, 404, "conflict_not_found"),
    ]
    for conflict_id, body, if_match, status, code in refusals:
        response = _resolve(client, release_id, conflict_id, body, if_match)
        # Then each is refused with its code
        assert (response.status_code, body_of(response)["error"]["code"]) == (status, code), body
    # And nothing changed
    assert _etag(client, release_id) == etag
    assert body_of(call(client, "GET", f"/releases/{release_id}/conflicts"))["open"] == 3

    # When a decided conflict is decided again
    assert _resolve(client, release_id, duration, {"resolution": "keep_local"}).status_code == 200
    response = _resolve(client, release_id, duration, {"resolution": "accept_dsp"})
    # Then it is refused: the first decision stands
    assert (response.status_code, body_of(response)["error"]["code"]) == (409, "conflict_already_resolved")
    decided = {c["id"]: c for c in body_of(call(client, "GET", f"/releases/{release_id}/conflicts"))["items"]}
    assert decided[duration]["resolution"] == "keep_local"
