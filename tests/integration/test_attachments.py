"""Attachments of the media library over HTTP (moto in-process): ordered roles, client owner types namespaced by
caller, owner isolation on every route, detach, an asset's ``detach_all`` and the release cleanup.

The release-cover path and cover uniqueness are in ``test_attachments_cover.py``; both use the helpers here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from chalice.test import Client

from chalicelib.container import get_asset_repository, get_attachment_service
from chalicelib.services.storage_keys import upload_key
from chalicelib.store.records import AssetRecord, AttachmentRecord, MediaAttachmentRecord
from tests.integration.conftest import (
    BUCKET,
    CLEANUP_QUEUE,
    Aws,
    body_of,
    call,
    create_release,
    run_ingest,
)

IMAGE = "portrait-450x600.jpg"


def pending_asset(owner: str = "alice") -> str:
    """A new pending image asset of ``owner`` in the library (no bytes yet); its id."""
    asset_id = uuid.uuid4().hex
    get_asset_repository().create_pending(
        asset_id=asset_id,
        owner_id=owner,
        upload_key=upload_key(owner, asset_id),
        declared_content_type="image/jpeg",
        declared_bytes=1000,
        max_bytes=10_000_000,
        filename=None,
        attach_to=None,
    )
    return asset_id


def ready_asset(client: Client, aws: Aws, data: bytes, owner: str = "alice") -> str:
    """A library image of ``owner`` made ready by the one ingest path (attached to nothing); its id."""
    asset_id = pending_asset(owner)
    aws.s3.put_object(Bucket=BUCKET, Key=upload_key(owner, asset_id), Body=data, ContentType="image/jpeg")
    run_ingest(client, aws)
    asset = get_asset_repository().get(asset_id)
    assert asset is not None and asset.status == "ready", asset
    return asset_id


def attach(client: Client, asset_id: str, subject: str = "alice", **body: Any) -> Any:
    """``POST /media/{asset_id}/attach`` with ``body``."""
    return call(client, "POST", f"/media/{asset_id}/attach", body, subject=subject)


def listing(client: Client, owner_type: str, owner_id: str, subject: str = "alice") -> list[dict[str, Any]]:
    """The attachments ``GET /owners/{owner_type}/{owner_id}/media`` lists (200 asserted)."""
    response = call(client, "GET", f"/owners/{owner_type}/{owner_id}/media", subject=subject)
    assert response.status_code == 200, response.body
    return list(body_of(response)["items"])


def listed(items: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(role, asset id, sort_order)`` of each listed attachment, in order."""
    return [(i["attachment"]["role"], i["asset"]["id"], i["attachment"]["sort_order"]) for i in items]


def error_of(response: Any) -> tuple[int, str]:
    """``(status, error code)`` of an error response."""
    return response.status_code, body_of(response)["error"]["code"]


def test_ordered_roles_go_after_the_last_by_default_and_list_in_order(client: Client, aws: Aws) -> None:
    # Given four assets of alice
    a, b, c, d = (pending_asset() for _ in range(4))
    # When three go to a scene's gallery without a sort_order, one at an explicit place, and a cover is set
    orders = [body_of(attach(client, x, owner_type="scene", owner_id="act1", role="gallery")) for x in (a, b, c)]
    placed = attach(client, d, owner_type="scene", owner_id="act1", role="gallery", sort_order=1, meta={"caption": "x"})
    cover = attach(client, c, owner_type="scene", owner_id="act1", role="cover")
    # Then each default went after the last, and the listing is the cover, then the gallery by sort_order
    assert [o["sort_order"] for o in orders] == [0, 1, 2]
    assert placed.status_code == 201 and body_of(placed)["meta"] == {"caption": "x"}
    assert cover.status_code == 201
    assert listed(listing(client, "scene", "act1")) == [
        ("cover", c, 0),
        ("gallery", a, 0),
        ("gallery", b, 1),
        ("gallery", d, 1),  # ties keep the attach order
        ("gallery", c, 2),
    ]


def test_an_asset_fills_a_role_of_an_object_once(client: Client, aws: Aws) -> None:
    # Given an asset in a scene's gallery
    asset = pending_asset()
    first = body_of(attach(client, asset, owner_type="scene", owner_id="act1", role="gallery"))
    # When it is attached to the same role again
    again = attach(client, asset, owner_type="scene", owner_id="act1", role="gallery")
    # Then 409 already_attached names the attachment it has
    assert error_of(again) == (409, "already_attached")
    assert body_of(again)["error"]["details"]["attachment_id"] == first["id"]


def test_client_owner_types_are_namespaced_by_caller(client: Client, aws: Aws) -> None:
    # Given alice's scene/x with her asset
    mine = pending_asset("alice")
    assert attach(client, mine, owner_type="scene", owner_id="x", role="cover").status_code == 201
    # When bob lists his scene/x, then attaches his own asset as its cover
    before = listing(client, "scene", "x", subject="bob")
    theirs = pending_asset("bob")
    bobs = attach(client, theirs, subject="bob", owner_type="scene", owner_id="x", role="cover")
    # Then bob's scene/x was empty and his cover is not taken by alice's; each sees only their own
    assert before == [] and bobs.status_code == 201
    assert listed(listing(client, "scene", "x")) == [("cover", mine, 0)]
    assert listed(listing(client, "scene", "x", subject="bob")) == [("cover", theirs, 0)]


def test_another_owners_ids_answer_the_404_of_unknown_ones_on_every_route(client: Client, aws: Aws) -> None:
    # Given alice's asset attached to her release and to a track of it, and bob's own asset
    release = create_release(client)
    track = body_of(call(client, "POST", f"/releases/{release['id']}/tracks", {"title": "Joga"}))
    track_ref = f"{release['id']}.{track['id']}"
    hers = pending_asset("alice")
    gallery = body_of(attach(client, hers, owner_type="release", owner_id=release["id"], role="gallery"))
    assert attach(client, hers, owner_type="track", owner_id=track_ref, role="inline").status_code == 201
    his = pending_asset("bob")
    unknown = uuid.uuid4().hex
    target = {"owner_type": "scene", "owner_id": "x", "role": "gallery"}

    def same(theirs: Any, unknown_one: Any, code: str) -> None:
        assert error_of(theirs) == error_of(unknown_one) == (404, code)

    # When bob uses alice's ids, and unknown ones, on each route; then each answers the same 404
    same(attach(client, hers, "bob", **target), attach(client, unknown, "bob", **target), "media_not_found")
    on_release = {"owner_type": "release", "role": "gallery"}
    same(
        attach(client, his, "bob", owner_id=release["id"], **on_release),
        attach(client, his, "bob", owner_id=unknown, **on_release),
        "release_not_found",
    )
    same(
        attach(client, his, "bob", owner_type="track", owner_id=track_ref, role="inline"),
        attach(client, his, "bob", owner_type="track", owner_id=f"{release['id']}.{unknown}", role="inline"),
        "track_not_found",
    )
    same(
        call(client, "GET", f"/owners/release/{release['id']}/media", subject="bob"),
        call(client, "GET", f"/owners/release/{unknown}/media", subject="bob"),
        "release_not_found",
    )
    same(
        call(client, "GET", f"/owners/track/{track_ref}/media", subject="bob"),
        call(client, "GET", f"/owners/track/{unknown}.{unknown}/media", subject="bob"),
        "track_not_found",
    )
    same(
        call(client, "DELETE", f"/media/{hers}/attachments/{gallery['id']}", subject="bob"),
        call(client, "DELETE", f"/media/{unknown}/attachments/{gallery['id']}", subject="bob"),
        "media_not_found",
    )
    same(
        call(client, "DELETE", f"/media/{his}/attachments/{gallery['id']}", subject="bob"),
        call(client, "DELETE", f"/media/{his}/attachments/{unknown}", subject="bob"),
        "attachment_not_found",
    )
    # And alice's attachments are as they were
    assert listed(listing(client, "release", release["id"])) == [("gallery", hers, 0)]
    assert listed(listing(client, "track", track_ref)) == [("inline", hers, 0)]


def test_a_malformed_owner_in_the_path_is_400_and_a_large_or_non_json_meta_422(client: Client, aws: Aws) -> None:
    # When the path's owner type is not a type, and a meta object is above 2 KB or holds NaN
    response = call(client, "GET", "/owners/Scene!/x/media")
    big = attach(client, pending_asset(), owner_type="scene", owner_id="x", role="gallery", meta={"x": "y" * 3000})
    nan = call(
        client,
        "POST",
        f"/media/{pending_asset()}/attach",
        b'{"owner_type": "scene", "owner_id": "x", "role": "gallery", "meta": {"x": NaN}}',
    )
    # Then 400 invalid_owner names the field, and 422 validation_error names meta
    assert error_of(response) == (400, "invalid_owner")
    assert body_of(response)["error"]["details"] == {"field": "owner_type"}
    assert error_of(big) == (422, "validation_error") and "meta" in body_of(big)["error"]["details"]["fields"]
    assert error_of(nan) == (422, "validation_error")  # NaN is not JSON: never stored, never answered


def test_detach_removes_that_attachment_only(client: Client, aws: Aws) -> None:
    # Given one asset in two places
    asset = pending_asset()
    gallery = body_of(attach(client, asset, owner_type="scene", owner_id="x", role="gallery"))
    cover = body_of(attach(client, asset, owner_type="scene", owner_id="y", role="cover"))
    # When the gallery attachment is detached
    response = call(client, "DELETE", f"/media/{asset}/attachments/{gallery['id']}")
    # Then it is gone (a second detach is 404), the other stays, and the asset is still in the library
    assert response.status_code == 204
    assert error_of(call(client, "DELETE", f"/media/{asset}/attachments/{gallery['id']}")) == (
        404,
        "attachment_not_found",
    )
    assert listing(client, "scene", "x") == []
    assert [i["attachment"]["id"] for i in listing(client, "scene", "y")] == [cover["id"]]
    assert get_asset_repository().get(asset) is not None


def test_detach_all_removes_every_attachment_of_the_asset_and_the_release_cover_pointer(
    client: Client, aws: Aws, shared_images: Path
) -> None:
    # Given a ready asset that is a release's cover (through the route), in a gallery and a scene's cover
    release = create_release(client)
    asset = ready_asset(client, aws, (shared_images / IMAGE).read_bytes())
    assert attach(client, asset, owner_type="release", owner_id=release["id"], role="cover").status_code == 201
    assert attach(client, asset, owner_type="scene", owner_id="x", role="gallery").status_code == 201
    assert attach(client, asset, owner_type="scene", owner_id="y", role="cover").status_code == 201
    # When the asset's delete removes its attachments (P1 calls detach_all)
    removed = get_attachment_service().detach_all(get_asset_repository().get(asset))  # type: ignore[arg-type]
    # Then all three are gone, with the release's cover pointer: the artwork shows no cover
    assert removed == 3
    assert listing(client, "release", release["id"]) == []
    assert listing(client, "scene", "x") == [] and listing(client, "scene", "y") == []
    assert list(MediaAttachmentRecord.by_asset.query(f"ASSET#{asset}#ATTACHMENTS")) == []
    artwork = body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))
    assert (artwork["status"], artwork["asset_id"]) == ("none", None)
    pointer = AttachmentRecord.get(f"RELEASE#{release['id']}", "ATTACHMENT#cover", consistent_read=True)
    assert asset not in (pointer.asset_id, pointer.latest_asset_id)  # no item names the deleted asset
    # And a second run finds nothing
    assert get_attachment_service().detach_all(get_asset_repository().get(asset)) == 0  # type: ignore[arg-type]


def test_deleting_a_release_removes_its_and_its_tracks_attachments(
    client: Client, aws: Aws, shared_images: Path
) -> None:
    # Given a release with a library image as its cover, and a track of it, with library assets attached, and a
    # scene's attachment of one of them
    release = create_release(client)
    cover = ready_asset(client, aws, (shared_images / IMAGE).read_bytes())
    assert attach(client, cover, owner_type="release", owner_id=release["id"], role="cover").status_code == 201
    track = body_of(call(client, "POST", f"/releases/{release['id']}/tracks", {"title": "Joga"}))
    track_ref = f"{release['id']}.{track['id']}"
    a, b = pending_asset(), pending_asset()
    assert attach(client, a, owner_type="release", owner_id=release["id"], role="gallery").status_code == 201
    assert attach(client, b, owner_type="track", owner_id=track_ref, role="reference").status_code == 201
    assert attach(client, a, owner_type="scene", owner_id="x", role="gallery").status_code == 201
    # When the release is deleted and the cleanup worker runs on the message the API queued
    assert call(client, "DELETE", f"/releases/{release['id']}").status_code == 204
    url = aws.sqs.get_queue_url(QueueName=CLEANUP_QUEUE)["QueueUrl"]
    [message] = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    event = client.events.generate_sqs_event(message_bodies=[message["Body"]], queue_name=CLEANUP_QUEUE)
    client.lambda_.invoke("handle_cleanup", event)
    # Then no attachment of the release or its track is left; the assets and the scene's attachment stay
    scan = MediaAttachmentRecord.scan(MediaAttachmentRecord.pk.startswith("ATTACH#"))  # test-only Scan
    assert {(r.owner_type, r.owner_id) for r in scan} == {("scene", "x")}
    assert all(get_asset_repository().get(x) is not None for x in (a, b, cover))
    assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"media/alice/{cover}/")["KeyCount"] > 0
    assert json.loads(message["Body"])["owner_id"] == "alice"  # the owner whose partitions were removed


def test_a_listing_leaves_out_attachments_whose_asset_is_gone(client: Client, aws: Aws) -> None:
    # Given two attachments, one of whose assets is deleted without its attachments (a delete cut short)
    a, b = pending_asset(), pending_asset()
    assert attach(client, a, owner_type="scene", owner_id="x", role="gallery").status_code == 201
    assert attach(client, b, owner_type="scene", owner_id="x", role="gallery").status_code == 201
    AssetRecord(f"ASSET#{b}", "ASSET").delete()
    # When the scene is listed; then only the live asset is
    assert listed(listing(client, "scene", "x")) == [("gallery", a, 0)]
