"""Catalogue behaviours a client relies on: no-op writes, the transitions offered, and dates only for scheduling."""

from __future__ import annotations

from tests.integration.conftest import body_of, call, create_release


def test_a_patch_that_changes_nothing_keeps_the_version(client):
    release = create_release(client, genre="Trip hop")
    same = call(client, "PATCH", f"/releases/{release['id']}", {"genre": "Trip hop", "title": release["title"]})
    assert same.status_code == 200
    assert (same.headers["ETag"], body_of(same)["updated_at"]) == ('"1"', release["updated_at"])
    changed = call(client, "PATCH", f"/releases/{release['id']}", {"genre": "Electronic"})
    assert changed.headers["ETag"] == '"2"'


def test_editable_fields_offers_only_transitions_whose_guards_pass(client):
    release_id = create_release(client)["id"]
    offered = body_of(call(client, "GET", f"/releases/{release_id}/editable-fields"))["transitions"]
    assert offered == ["recording"]  # mixing needs a track
    call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"})
    offered = body_of(call(client, "GET", f"/releases/{release_id}/editable-fields"))["transitions"]
    assert offered == ["recording", "mixed"]


def test_a_date_is_only_taken_when_scheduling(client):
    release_id = create_release(client)["id"]
    response = call(client, "POST", f"/releases/{release_id}/transition", {"to": "recording", "date": "2030-01-01"})
    assert response.status_code == 422
    assert "date" in body_of(response)["error"]["details"]["fields"]
    assert body_of(call(client, "GET", f"/releases/{release_id}"))["production_status"] == "draft"
