"""Covers: one per owner object under concurrent attaches, ``replace``, and a release's cover, which is also the
pointer the artwork view reads (history entry, lock, ready image, uploads in flight, detach)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import get_attachment_service
from chalicelib.errors import AppError
from chalicelib.models.api import AttachMediaRequest
from chalicelib.models.domain import Identity
from chalicelib.services.attachment_rules import cover_attachment_id
from chalicelib.store import media_attachments
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.media_attachments import MediaAttachmentRepository
from chalicelib.store.records import AssetRecord, ReleaseRecord
from tests.integration.conftest import Aws, body_of, call, create_release, run_ingest, upload
from tests.integration.test_attachments import IMAGE, attach, error_of, listed, listing, pending_asset, ready_asset


def _history(client: Client, release_id: str) -> list[dict[str, Any]]:
    """The release's cover entries (``cover_changed``/``cover_removed``), newest first."""
    items = body_of(call(client, "GET", f"/releases/{release_id}/history?limit=100"))["items"]
    return [i["metadata"] for i in items if (i.get("metadata") or {}).get("action", "").startswith("cover_")]


def _race(monkeypatch: pytest.MonkeyPatch, cls: type, method: str, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads whose first read of ``cls.method`` (the holder) waits until every thread has read
    it: each plans its write on "no holder", so only the conditional write can keep the cover unique. The writes
    are then sent one at a time (moto, unlike DynamoDB, does not serialise concurrent transactions on one item: it
    copies and restores whole tables). Returns each call's result or the AppError it raised."""
    barrier = threading.Barrier(len(calls), timeout=30)
    original = getattr(cls, method)
    local = threading.local()

    def read_then_wait(self: Any, *args: Any) -> Any:
        value = original(self, *args)
        if getattr(local, "racing", False):
            local.racing = False
            barrier.wait()
        return value

    monkeypatch.setattr(cls, method, read_then_wait)
    send, lock = media_attachments.send, threading.Lock()

    def one_at_a_time(steps: Any) -> Any:
        with lock:
            return send(steps)

    monkeypatch.setattr(media_attachments, "send", one_at_a_time)
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        local.racing = True
        try:
            results[index] = calls[index]()
        except AppError as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _attach_call(asset_id: str, **body: Any) -> Callable[[], Any]:
    request = AttachMediaRequest.model_validate({"role": "cover", **body})
    return lambda: get_attachment_service().attach(Identity(subject="alice"), asset_id, request)


def _codes(results: list[Any]) -> list[str]:
    return sorted(r.code if isinstance(r, AppError) else "created" for r in results)


def test_two_concurrent_cover_attaches_one_wins(client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two assets, both attached at once as the cover of a scene, each having read "no cover"
    a, b = pending_asset(), pending_asset()
    calls = [_attach_call(x, owner_type="scene", owner_id="x") for x in (a, b)]
    results = _race(monkeypatch, MediaAttachmentRepository, "cover", calls)
    # Then exactly one is created and the other refused cover_taken naming the winner; one cover is listed
    assert _codes(results) == ["cover_taken", "created"]
    winner = next(r for r in results if not isinstance(r, AppError))
    loser = next(r for r in results if isinstance(r, AppError))
    assert loser.details["asset_id"] == winner.asset_id and loser.status == 409
    assert listed(listing(client, "scene", "x")) == [("cover", winner.asset_id, 0)]


def test_two_concurrent_release_cover_attaches_one_wins(
    client: Client, aws: Aws, shared_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a release and two ready images, both attached at once as its cover, each having read no cover pointer
    release = create_release(client)
    data = (shared_images / IMAGE).read_bytes()
    a, b = ready_asset(client, aws, data), ready_asset(client, aws, data)
    calls = [_attach_call(x, owner_type="release", owner_id=release["id"]) for x in (a, b)]
    results = _race(monkeypatch, AttachmentRepository, "get", calls)
    # Then one wins; the artwork, the listing and the history all name that one, once
    assert _codes(results) == ["cover_taken", "created"]
    winner = next(r for r in results if not isinstance(r, AppError)).asset_id
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["asset_id"] == winner
    assert listed(listing(client, "release", release["id"])) == [("cover", winner, 0)]
    assert [h["asset_id"] for h in _history(client, release["id"])] == [winner]


def test_a_stale_holder_read_is_caught_by_the_conditional_write(
    client: Client, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a scene whose cover is set, and a second attach whose first read of the holder is stale ("none")
    a, b = pending_asset(), pending_asset()
    assert attach(client, a, owner_type="scene", owner_id="x", role="cover").status_code == 201
    original, reads = MediaAttachmentRepository.cover, []

    def stale_once(self: MediaAttachmentRepository, *args: str) -> Any:
        reads.append(args)
        return None if len(reads) == 1 else original(self, *args)

    monkeypatch.setattr(MediaAttachmentRepository, "cover", stale_once)
    # When the second asset is attached as the cover over HTTP
    response = attach(client, b, owner_type="scene", owner_id="x", role="cover")
    # Then the write's condition refused it (the holder was read again): 409 cover_taken naming the holder
    assert len(reads) == 2 and error_of(response) == (409, "cover_taken")
    assert body_of(response)["error"]["details"]["asset_id"] == a
    assert listed(listing(client, "scene", "x")) == [("cover", a, 0)]


def test_replace_true_replaces_the_cover(client: Client, aws: Aws) -> None:
    # Given a scene's cover
    a, b = pending_asset(), pending_asset()
    first = body_of(attach(client, a, owner_type="scene", owner_id="x", role="cover"))
    # When another asset is attached as its cover without, then with, replace
    refused = attach(client, b, owner_type="scene", owner_id="x", role="cover")
    replaced = attach(client, b, owner_type="scene", owner_id="x", role="cover", replace=True)
    # Then only replace took it; the old attachment is gone
    assert error_of(refused) == (409, "cover_taken")
    assert body_of(refused)["error"]["details"] == {"asset_id": a, "attachment_id": first["id"]}
    assert replaced.status_code == 201
    assert listed(listing(client, "scene", "x")) == [("cover", b, 0)]
    assert error_of(call(client, "DELETE", f"/media/{a}/attachments/{first['id']}")) == (404, "attachment_not_found")


def test_a_release_cover_moves_the_artwork_with_a_history_entry(client: Client, aws: Aws, shared_images: Path) -> None:
    # Given a release whose cover was set by an artwork upload, and a ready library image
    release = create_release(client)
    data = (shared_images / IMAGE).read_bytes()
    uploaded = upload(client, aws, release["id"], data)
    run_ingest(client, aws)
    asset = ready_asset(client, aws, data)
    # Then the listing already shows the uploaded cover, under the id a detach takes
    [item] = listing(client, "release", release["id"])
    assert (item["asset"]["id"], item["attachment"]["id"]) == (uploaded, cover_attachment_id(release["id"], uploaded))
    # When the library image is attached as its cover (replace: the upload holds it)
    refused = attach(client, asset, owner_type="release", owner_id=release["id"], role="cover")
    response = attach(client, asset, owner_type="release", owner_id=release["id"], role="cover", replace=True)
    # Then the artwork view shows it, the listing too, and the history names the change
    assert error_of(refused) == (409, "cover_taken") and body_of(refused)["error"]["details"]["asset_id"] == uploaded
    assert response.status_code == 201
    artwork = body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))
    assert (artwork["status"], artwork["asset_id"]) == ("ready", asset)
    assert listed(listing(client, "release", release["id"])) == [("cover", asset, 0)]
    latest = _history(client, release["id"])[0]
    assert (latest["action"], latest["asset_id"], latest["previous_asset_id"]) == ("cover_changed", asset, uploaded)


def test_an_older_upload_in_flight_does_not_take_the_cover_back(client: Client, aws: Aws, shared_images: Path) -> None:
    # Given an artwork upload started (not yet ingested), then a library image attached as the cover
    release = create_release(client)
    data = (shared_images / IMAGE).read_bytes()
    asset = ready_asset(client, aws, data)
    uploaded = upload(client, aws, release["id"], data)
    attached = attach(client, asset, owner_type="release", owner_id=release["id"], role="cover")
    assert attached.status_code == 201
    # When the older upload's ingest finishes
    run_ingest(client, aws)
    # Then it is ready but the attached image stays the cover
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{uploaded}"))["status"] == "ready"
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["asset_id"] == asset


def test_a_locked_release_refuses_a_cover(client: Client, aws: Aws, shared_images: Path) -> None:
    # Given a locked release and a ready image
    release = create_release(client)
    asset = ready_asset(client, aws, (shared_images / IMAGE).read_bytes())
    ReleaseRecord.get(f"RELEASE#{release['id']}", "RELEASE").update(actions=[ReleaseRecord.lock_status.set("locked")])
    # When the image is attached as its cover; then 409 release_locked and no cover
    assert error_of(attach(client, asset, owner_type="release", owner_id=release["id"], role="cover")) == (
        409,
        "release_locked",
    )
    assert listing(client, "release", release["id"]) == []
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["asset_id"] is None


def test_a_release_cover_must_be_a_ready_image(client: Client, aws: Aws) -> None:
    # Given a release, a pending image and a video
    release = create_release(client)
    pending, video = pending_asset(), pending_asset()
    AssetRecord(f"ASSET#{video}", "ASSET").update(actions=[AssetRecord.kind.set("video")])
    target = {"owner_type": "release", "owner_id": release["id"], "role": "cover"}
    # When each is attached as its cover; then 409 asset_not_ready, 415 unsupported_media_type
    assert error_of(attach(client, pending, **target)) == (409, "asset_not_ready")
    assert error_of(attach(client, video, **target)) == (415, "unsupported_media_type")
    # And a pending image may still go in its gallery
    assert attach(client, pending, owner_type="release", owner_id=release["id"], role="gallery").status_code == 201


def test_detaching_a_release_cover_clears_the_artwork(client: Client, aws: Aws, shared_images: Path) -> None:
    # Given a release whose cover was set by an artwork upload
    release = create_release(client)
    uploaded = upload(client, aws, release["id"], (shared_images / IMAGE).read_bytes())
    run_ingest(client, aws)
    [item] = listing(client, "release", release["id"])
    # When that listed attachment is detached
    response = call(client, "DELETE", f"/media/{uploaded}/attachments/{item['attachment']['id']}")
    # Then the release has no cover, the history says so, and the asset stays in the library
    assert response.status_code == 204
    assert listing(client, "release", release["id"]) == []
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["status"] == "none"
    assert (_history(client, release["id"])[0]["action"], _history(client, release["id"])[0]["asset_id"]) == (
        "cover_removed",
        None,
    )
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{uploaded}"))["status"] == "ready"
