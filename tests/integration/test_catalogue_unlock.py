"""The administrator's unlock down to ``partial_lock``: metadata fixes, then the owner locks again."""

from __future__ import annotations

from tests.integration.conftest import auth, body_of, call, create_release

ADMIN = auth("carol", ("admin",))


def _locked_release(client) -> str:
    release_id = create_release(client)["id"]
    call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"})
    for target in ("mixed", "mastered", "released", "locked"):
        assert call(client, "POST", f"/releases/{release_id}/transition", {"to": target}).status_code == 200
    return release_id


def test_unlocking_to_partial_lock_lets_the_owner_fix_metadata_and_lock_again(client):
    release_id = _locked_release(client)
    # When an administrator lowers the lock only to partial_lock
    unlocked = call(
        client, "POST", f"/releases/{release_id}/unlock", {"reason": "P-line typo", "to": "partial_lock"}, headers=ADMIN
    )
    assert unlocked.status_code == 200, unlocked.body
    assert (body_of(unlocked)["production_status"], body_of(unlocked)["lock_status"]) == ("released", "partial_lock")
    # Then metadata is editable, tracks are not, and the owner can lock again
    assert call(client, "PATCH", f"/releases/{release_id}", {"p_line": "℗ 1997 One Little Indian"}).status_code == 200
    assert call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Jóga"}).status_code == 409
    relocked = call(client, "POST", f"/releases/{release_id}/lock", {})
    assert (relocked.status_code, body_of(relocked)["lock_status"]) == (200, "locked")
    entry = body_of(call(client, "GET", f"/releases/{release_id}/history"))["items"][1]
    assert entry["changed_by"] == "carol"
    assert entry["metadata"]["lock_status"] == {"from": "locked", "to": "partial_lock"}


def test_unlock_never_raises_the_lock(client):
    release_id = _locked_release(client)
    call(client, "POST", f"/releases/{release_id}/unlock", {"reason": "fix", "to": "partial_lock"}, headers=ADMIN)
    again = call(
        client, "POST", f"/releases/{release_id}/unlock", {"reason": "again", "to": "partial_lock"}, headers=ADMIN
    )
    assert (again.status_code, body_of(again)["error"]["code"]) == (409, "not_locked")
    bad = call(client, "POST", f"/releases/{release_id}/unlock", {"reason": "x", "to": "locked"}, headers=ADMIN)
    assert bad.status_code == 422
