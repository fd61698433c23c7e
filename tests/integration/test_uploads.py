"""Presigned POST uploads: the policy we generate (moto does not enforce it), and refusals."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from tests.integration.conftest import body_of, call, create_release


def _policy(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def test_presigned_post_pins_key_type_size_and_expiry(client):
    release = create_release(client)
    response = call(
        client,
        "POST",
        f"/releases/{release['id']}/artwork/uploads",
        {"content_type": "image/png", "content_length": 1234, "filename": "c:\\covers\\front.png"},
    )
    assert response.status_code == 201
    ticket = body_of(response)
    assert set(ticket) == {"upload_id", "url", "fields", "expires_at", "max_bytes"}
    key = f"uploads/alice/{ticket['upload_id']}"
    assert ticket["fields"]["key"] == key
    assert ticket["fields"]["Content-Type"] == "image/png"
    policy = _policy(ticket["fields"])
    conditions = policy["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, ticket["max_bytes"]] in conditions
    assert ticket["max_bytes"] == 25_000_000
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    expires_at = datetime.fromisoformat(ticket["expires_at"].replace("Z", "+00:00"))
    assert abs((expiration - expires_at).total_seconds()) < 5
    assert (expires_at - datetime.now(expires_at.tzinfo)).total_seconds() <= 900


def test_upload_state_is_pending_until_the_bytes_arrive(client):
    release = create_release(client)
    ticket = body_of(
        call(
            client,
            "POST",
            f"/releases/{release['id']}/artwork/uploads",
            {"content_type": "image/jpeg", "content_length": 10},
        )
    )
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{ticket['upload_id']}"))
    assert state["status"] == "pending"
    artwork = body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))
    assert artwork["status"] == "pending" and artwork["variants"] == {}


def test_refused_types_and_sizes(client, monkeypatch):
    release = create_release(client)
    path = f"/releases/{release['id']}/artwork/uploads"
    gif = call(client, "POST", path, {"content_type": "image/gif", "content_length": 10})
    assert (gif.status_code, body_of(gif)["error"]["code"]) == (415, "unsupported_media_type")
    svg = call(client, "POST", path, {"content_type": "image/svg+xml", "content_length": 10})
    assert svg.status_code == 415
    big = call(client, "POST", path, {"content_type": "image/jpeg", "content_length": 25_000_001})
    assert (big.status_code, body_of(big)["error"]["code"]) == (413, "too_large")
    empty = call(client, "POST", path, {"content_type": "image/jpeg", "content_length": 0})
    assert (empty.status_code, body_of(empty)["error"]["code"]) == (400, "invalid_content_length")
    not_int = call(client, "POST", path, {"content_type": "image/jpeg", "content_length": "12"})
    assert not_int.status_code == 422


def test_max_bytes_is_configurable(client, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("SLEEVE_UPLOAD_MAX_BYTES", "1000")
    reset_container()
    release = create_release(client)
    response = call(
        client,
        "POST",
        f"/releases/{release['id']}/artwork/uploads",
        {"content_type": "image/jpeg", "content_length": 1001},
    )
    assert response.status_code == 413
    assert body_of(response)["error"]["details"]["max_bytes"] == 1000


def test_uploads_to_another_owners_release_answer_404(client):
    release = create_release(client, subject="alice")
    response = call(
        client,
        "POST",
        f"/releases/{release['id']}/artwork/uploads",
        {"content_type": "image/jpeg", "content_length": 10},
        subject="mallory",
    )
    assert response.status_code == 404
