"""Identity, the error shape and the release routes, through chalice.test.Client on moto."""

from __future__ import annotations

import time

import jwt

from tests.integration.conftest import SECRET, auth, body_of, call, create_release


def test_health_needs_no_token(client):
    response = call(client, "GET", "/health", headers={})
    assert response.status_code == 200
    assert body_of(response) == {"status": "ok"}


def test_missing_token_answers_401_in_the_error_shape(client):
    response = call(client, "GET", "/releases", headers={})
    assert response.status_code == 401
    assert body_of(response)["error"]["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_forged_tokens_are_refused(client):
    expired = jwt.encode(
        {"sub": "alice", "iss": "sleeve-local", "exp": int(time.time()) - 10}, SECRET, algorithm="HS256"
    )
    forged = jwt.encode(
        {"sub": "alice", "iss": "sleeve-local", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256"
    )
    for token in (expired, forged, "not-a-jwt"):
        response = call(client, "GET", "/releases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert body_of(response)["error"]["code"] == "invalid_token"


def test_create_and_get_a_release(client):
    created = create_release(client, artwork_url="https://example.org/cover.jpg")
    response = call(client, "GET", f"/releases/{created['id']}")
    assert response.status_code == 200
    assert body_of(response)["title"] == "Homogenic"
    assert body_of(response)["artwork_url"] == "https://example.org/cover.jpg"
    assert response.headers["ETag"] == '"1"'


def test_another_owners_release_answers_404(client):
    created = create_release(client, subject="alice")
    response = call(client, "GET", f"/releases/{created['id']}", subject="bob")
    assert response.status_code == 404
    assert body_of(response)["error"]["code"] == "release_not_found"


def test_invalid_bodies_answer_4xx_with_codes(client):
    bad_json = call(client, "POST", "/releases", b"{not json")
    assert (bad_json.status_code, body_of(bad_json)["error"]["code"]) == (400, "invalid_json")
    missing = call(client, "POST", "/releases", {"title": ""})
    assert missing.status_code == 422
    error = body_of(missing)["error"]
    assert error["code"] == "validation_error"
    assert {"title", "display_artist"} <= set(error["details"]["fields"])
    unknown = call(client, "POST", "/releases", {"title": "t", "artist": "a", "colour": "red"})
    assert unknown.status_code == 422


def test_listing_is_newest_first_with_cursor_pagination(client):
    ids = [create_release(client, title=f"Release {i}")["id"] for i in range(5)]
    create_release(client, subject="bob")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        path = "/releases?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = body_of(call(client, "GET", path))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_a_cursor_of_another_owner_is_refused(client):
    for i in range(3):
        create_release(client, subject="bob", title=f"B{i}")
    cursor = body_of(call(client, "GET", "/releases?limit=1", subject="bob"))["next_cursor"]
    assert cursor
    response = call(client, "GET", f"/releases?cursor={cursor}", subject="alice")
    assert response.status_code == 400
    assert body_of(response)["error"]["code"] == "invalid_cursor"


def test_limit_out_of_range_is_refused(client):
    response = call(client, "GET", "/releases?limit=1000")
    assert (response.status_code, body_of(response)["error"]["code"]) == (400, "invalid_query")


def test_admin_group_claim_reaches_the_identity():
    from chalicelib.auth import LocalTokenVerifier

    headers = auth("carol", ("admin",))
    identity = LocalTokenVerifier(SECRET).verify(headers["Authorization"].split()[1])
    assert identity.subject == "carol" and identity.is_admin


def test_browser_apps_may_call_from_any_origin(client):
    response = call(client, "GET", "/releases")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
