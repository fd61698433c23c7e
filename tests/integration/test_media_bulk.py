"""``POST /media/bulk``: one action on up to 100 ids; each id succeeds or fails on its own, with the code its single
request would answer; a missing or bad value is refused before any id is touched."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import container
from tests.integration.conftest import Aws, body_of, call
from tests.integration.media_support import leftovers, seed_asset


def _bulk(client: Client, body: dict[str, Any], subject: str = "alice") -> Any:
    return call(client, "POST", "/media/bulk", body, subject=subject)


def _mixed(aws: Aws) -> tuple[list[str], str, str]:
    """Two of alice's assets, one of bob's and an unknown id."""
    mine = [seed_asset("alice", tags=["Press"]), seed_asset("alice")]
    return mine, seed_asset("bob", tags=["Press"]), uuid.uuid4().hex


def test_tag_and_untag_act_on_own_ids_and_report_foreign_and_unknown_ones(aws: Aws, client: Client):
    # Given alice's two assets (one already tagged "Press"), bob's asset and an unknown id
    mine, bobs, unknown = _mixed(aws)
    # When alice tags all four "press"
    result = body_of(_bulk(client, {"ids": [*mine, bobs, unknown], "action": "tag", "value": "press"}))
    # Then her two succeed, bob's and the unknown fail with the 404 code of a single request
    assert result["succeeded"] == mine
    assert [(f["id"], f["code"]) for f in result["failed"]] == [(bobs, "media_not_found"), (unknown, "media_not_found")]
    # And the tag is on each once (case-insensitively: the existing spelling is kept), bob's asset untouched
    repository = container.get_asset_repository()
    assert [repository.get(asset_id).tags for asset_id in mine] == [["Press"], ["press"]]  # type: ignore[union-attr]
    assert repository.get(bobs).tags == ["Press"]  # type: ignore[union-attr]
    # When alice untags "PRESS"
    result = body_of(_bulk(client, {"ids": mine, "action": "untag", "value": "PRESS"}))
    # Then both lose it
    assert result["succeeded"] == mine and result["failed"] == []
    assert [repository.get(asset_id).tags for asset_id in mine] == [[], []]  # type: ignore[union-attr]


def test_set_visibility(aws: Aws, client: Client):
    # Given alice's assets and bob's
    mine, bobs, _unknown = _mixed(aws)
    # When alice makes them all public
    result = body_of(_bulk(client, {"ids": [bobs, *mine], "action": "set_visibility", "value": "public"}))
    # Then hers are public, bob's is untouched
    assert result["succeeded"] == mine and [f["id"] for f in result["failed"]] == [bobs]
    public = body_of(call(client, "GET", "/media?visibility=public"))["items"]
    assert sorted(item["id"] for item in public) == sorted(mine)
    assert container.get_asset_repository().get(bobs).visibility == "private"  # type: ignore[union-attr]


def test_bulk_delete_removes_own_ids_only(aws: Aws, client: Client):
    # Given alice's assets, bob's and an unknown id (alice's first listed twice)
    mine, bobs, unknown = _mixed(aws)
    # When alice deletes them all
    result = body_of(_bulk(client, {"ids": [mine[0], bobs, mine[0], unknown, mine[1]], "action": "delete"}))
    # Then hers are deleted (the repeated id once), the others reported
    assert result["succeeded"] == mine
    assert [(f["id"], f["code"]) for f in result["failed"]] == [(bobs, "media_not_found"), (unknown, "media_not_found")]
    assert all(leftovers(asset_id)["items"] == [] for asset_id in mine)
    assert container.get_asset_repository().get(bobs) is not None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "tag"}, "bulk_value_required"),
        ({"action": "untag"}, "bulk_value_required"),
        ({"action": "set_visibility"}, "bulk_value_required"),
        ({"action": "set_visibility", "value": "everyone"}, "invalid_visibility"),
    ],
)
def test_a_missing_or_bad_value_is_refused_before_any_id_is_touched(aws: Aws, client: Client, body, code):
    # Given one of alice's assets
    asset_id = seed_asset("alice", title="Kept")
    # When a bulk action arrives without its value, or with a bad one
    response = _bulk(client, {"ids": [asset_id], **body})
    # Then it is refused with 422 and the asset is untouched
    assert response.status_code == 422 and body_of(response)["error"]["code"] == code
    asset = container.get_asset_repository().get(asset_id)
    assert asset is not None and asset.tags == [] and asset.visibility == "private"


def test_at_most_100_ids(aws: Aws, client: Client):
    # When 101 ids are sent
    response = _bulk(client, {"ids": [uuid.uuid4().hex for _ in range(101)], "action": "delete"})
    # Then the request model refuses them
    assert response.status_code == 422 and body_of(response)["error"]["code"] == "validation_error"
    # And 100 are accepted (every one unknown here)
    result = body_of(_bulk(client, {"ids": [uuid.uuid4().hex for _ in range(100)], "action": "delete"}))
    assert result["succeeded"] == [] and len(result["failed"]) == 100
