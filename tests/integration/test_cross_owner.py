"""Owner isolation over the whole route table: every operation that takes ids, called by owner B with owner A's ids
(a release with a track, a collaborator, an upload, a share link, a DSP conflict and an enhancement job of its ready
cover), answers 404 as for an unknown id
(403 ``admin_only`` on the administrator-only unlock) and changes nothing of A's.

The operations come from the contract (``OPERATIONS``), so a route added later is covered without editing this file;
a new path parameter fails here until the fixture creates one. The fuzz run checks the same on what it reaches
(``tests/e2e/cross_owner.py``); this test reaches every operation, every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

import app  # noqa: F401  (registers every operation)
from chalicelib.api.contract import OPERATIONS, Operation
from chalicelib.container import reset_container
from chalicelib.store.records import AssetRecord
from tests.integration.conftest import Aws, body_of, call, create_release, run_ingest, upload
from tests.integration.sync_helpers import seed_conflict

A, B = "owner-a", "owner-b"
#: Operations that take ids and a token (the public ``/s/{token}`` routes are public by design).
ID_OPERATIONS = sorted(
    (op for op in OPERATIONS.values() if op.path_parameters and op.auth != "none"),
    key=lambda op: (op.path, op.method),
)


@pytest.fixture
def owned(client: Client, aws: Aws, shared_images: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Owner A's release with one of everything; the ids by path parameter name. Its cover (450×600) is ready and has
    a queued enhancement job (Lanczos), made before the pending upload so that upload stays the newest."""
    monkeypatch.setenv("SLEEVE_UPSCALER", "lanczos")
    reset_container()
    release = create_release(client, subject=A)
    release_id = release["id"]
    cover_id = upload(client, aws, release_id, (shared_images / "portrait-450x600.jpg").read_bytes(), subject=A)
    run_ingest(client, aws)
    job = body_of(call(client, "POST", f"/releases/{release_id}/artwork/enhance", subject=A))
    track = body_of(call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Joga"}, subject=A))
    collaborator = body_of(
        call(
            client,
            "POST",
            f"/releases/{release_id}/collaborators",
            {"role": "producer", "name": "Mark Bell", "split": 50},
            subject=A,
        )
    )
    upload_id = upload(client, aws, release_id, b"not yet ingested", content_type="image/png", subject=A)
    link = body_of(call(client, "POST", f"/releases/{release_id}/share-links", {}, subject=A))
    # The cover, shared, with a media share link; the release's media (a collection) with one too.
    AssetRecord(pk=f"ASSET#{cover_id}", sk="ASSET").update(actions=[AssetRecord.visibility.set("shared")])
    assert call(client, "POST", f"/media/{cover_id}/share-links", {}, subject=A).status_code == 201
    assert call(client, "POST", f"/owners/release/{release_id}/share-links", {}, subject=A).status_code == 201
    # The cover also in the release's gallery (an attachment made by the attach route).
    gallery = {"owner_type": "release", "owner_id": release_id, "role": "gallery"}
    attachment = body_of(call(client, "POST", f"/media/{cover_id}/attach", gallery, subject=A))
    conflict = seed_conflict(release_id, track["id"])
    return {
        "release_id": release_id,
        "track_id": track["id"],
        "collaborator_id": collaborator["id"],
        "upload_id": upload_id,
        "token_id": link["token_id"],
        "token": link["token"],
        "conflict_id": conflict.id,
        "job_id": job["id"],
        "asset_id": cover_id,
        "owner_type": "release",
        "owner_id": release_id,
        "attachment_id": attachment["id"],
    }


def _snapshot(client: Client, ids: dict[str, str]) -> dict[str, Any]:
    """What owner A sees of everything the fixture made (presigned URL signatures left out)."""
    base = f"/releases/{ids['release_id']}"
    paths = [
        base,
        f"{base}/history",
        f"{base}/share-links",
        f"{base}/artwork/uploads/{ids['upload_id']}",
        f"{base}/sync/status",
        f"{base}/conflicts",
        f"{base}/artwork",
        f"/jobs/{ids['job_id']}",
        f"/media/{ids['asset_id']}/share-links",
        f"/media/{ids['asset_id']}",
        "/media",
        f"/owners/release/{ids['release_id']}/share-links",
        f"/owners/release/{ids['release_id']}/media",
        "/jobs",
        "/me/preferences/artwork",
    ]
    seen = {}
    for path in paths:
        response = call(client, "GET", path, subject=A)
        assert response.status_code == 200, (path, response.body)
        seen[path] = _without_signatures(json.loads(response.body))
    return seen


def _without_signatures(value: Any) -> Any:
    """``value`` with each presigned URL cut to its path (the artwork view signs its URLs afresh on every read)."""
    if isinstance(value, dict):
        # A media view's expiry of its presigned URLs moves with every read as well.
        return {key: _without_signatures(item) for key, item in value.items() if key != "url_expires_at"}
    if isinstance(value, list):
        return [_without_signatures(item) for item in value]
    if isinstance(value, str) and value.startswith("http") and "X-Amz-Signature" in value:
        return value.split("?", 1)[0]
    return value


def _body(op: Operation, ids: dict[str, str]) -> Any:
    """A body A could send: the model's first documented example (the track order with A's own track)."""
    if op.body is None:
        return None
    if op.operation_id == "reorder_tracks":
        return {"track_ids": [ids["track_id"]]}
    examples = op.body.model_json_schema().get("examples") or [{}]
    return examples[0]


@pytest.mark.parametrize("op", ID_OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_another_owner_gets_404_and_changes_nothing(client: Client, owned: dict[str, str], op: Operation) -> None:
    # Given owner A's release and everything on it, and what A sees of it
    before = _snapshot(client, owned)
    path = op.path.format(**owned)
    # When owner B sends A's ids to the operation (with a body A could send)
    response = call(client, op.method, path, _body(op, owned), subject=B)
    # Then B learns nothing: the 404 of an unknown id (403 admin_only where only administrators get in)
    expected = (403, "admin_only") if op.auth == "admin" else (404, None)
    assert response.status_code == expected[0], response.body
    if expected[1]:
        assert body_of(response)["error"]["code"] == expected[1]
    # And nothing of A's changed
    assert _snapshot(client, owned) == before


def test_every_operation_with_ids_is_covered() -> None:
    # Guard: the parametrisation is the contract's; it covers every id-taking, token-taking operation there is.
    assert len(ID_OPERATIONS) >= 31
    assert {name for op in ID_OPERATIONS for name in op.path_parameters} == {
        "release_id",
        "track_id",
        "collaborator_id",
        "upload_id",
        "token_id",
        "conflict_id",
        "job_id",
        "asset_id",
        "owner_type",
        "owner_id",
        "attachment_id",
    }
