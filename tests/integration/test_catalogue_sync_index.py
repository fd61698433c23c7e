"""The sparse gsi3 index of releases due for DSP sync, filled by the release transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.container import get_catalogue_repository
from tests.integration.conftest import body_of, call, create_release


def _release_now(client, subject: str = "alice") -> str:
    release_id = create_release(client, subject=subject)["id"]
    call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"}, subject=subject)
    for target in ("mixed", "mastered", "released"):
        response = call(client, "POST", f"/releases/{release_id}/transition", {"to": target}, subject=subject)
        assert response.status_code == 200, response.body
    return release_id


def test_released_releases_are_due_for_sync_oldest_first_and_others_are_not(client):
    # Given two released releases of two owners and one draft
    first = _release_now(client)
    second = _release_now(client, subject="bob")
    create_release(client)
    # When the sync schedule asks what is due now
    due = get_catalogue_repository().list_due_for_sync(datetime.now(UTC), limit=10)
    # Then exactly the released ones come back, in the order they became due
    assert [r.id for r in due] == [first, second]
    assert all(r.production_status == "released" and r.dsp_sync_due_at is not None for r in due)


def test_nothing_is_due_before_the_release(client):
    released_id = _release_now(client)
    due_at = body_of(call(client, "GET", f"/releases/{released_id}"))["dsp_sync_due_at"]
    before = datetime.fromisoformat(due_at) - timedelta(seconds=1)
    assert get_catalogue_repository().list_due_for_sync(before, limit=10) == []
