"""The library's store: index keys of new assets, filtered lists that never come back short while more exist, the
read cap, cursors, and the atomic name counter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import container
from chalicelib.store import media as media_store
from tests.integration.conftest import TABLE, Aws, body_of, call
from tests.integration.media_support import list_all, seed_asset


def _item(asset_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=TABLE, Key={"pk": {"S": f"ASSET#{asset_id}"}, "sk": {"S": "ASSET"}}
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_a_new_asset_is_listed_by_owner_source_and_type(aws: Aws):
    # When an asset is created with library fields
    asset_id = seed_asset("alice", source="playground", kind="video", title="Loop", tags=["a"])
    # Then its item carries the gsi1, gsi3 (source) and gsi4 (type) keys, all with the same sort key
    item = _item(asset_id)
    assert item["gsi1pk"] == "OWNER#alice#ASSETS"
    assert item["gsi3pk"] == "OWNER#alice#ASSETS#SOURCE#playground"
    assert item["gsi4pk"] == "OWNER#alice#ASSETS#TYPE#video"
    assert item["gsi1sk"] == item["gsi3sk"] == item["gsi4sk"] and item["gsi1sk"].endswith(f"#{asset_id}")
    assert item["title"] == "Loop" and item["kind"] == "video"


def test_lists_by_type_and_source_are_newest_first_and_exact(client: Client):
    # Given assets of mixed types and sources, and another owner's
    made = [
        seed_asset("alice", source="upload", kind="image"),
        seed_asset("alice", source="generated", kind="image"),
        seed_asset("alice", source="upload", kind="video"),
        seed_asset("alice", source="generated", kind="image"),
        seed_asset("bob", source="generated", kind="image"),
    ]
    # Then each filter lists exactly its assets, newest first, and never bob's
    assert list_all(client) == [made[3::-1]]
    assert list_all(client, "type=image") == [[made[3], made[1], made[0]]]
    assert list_all(client, "type=video") == [[made[2]]]
    assert list_all(client, "source=generated") == [[made[3], made[1]]]
    assert list_all(client, "source=upload&type=video") == [[made[2]]]
    assert list_all(client, "type=image&source=generated&visibility=public") == [[]]


def test_a_filtered_page_is_full_while_more_exist(client: Client, monkeypatch: pytest.MonkeyPatch):
    # Given 20 assets of which every fourth is public, and reads of 2 items per Query page
    monkeypatch.setattr(media_store, "FILTERED_READ", 2)
    ids = [seed_asset("alice", visibility="public" if n % 4 == 0 else "private") for n in range(20)]
    public = [asset_id for n, asset_id in enumerate(ids) if n % 4 == 0][::-1]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for asset_id in ids[1:4]:  # written before the library: no visibility attribute at all
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": f"ASSET#{asset_id}"}, "sk": {"S": "ASSET"}},
            UpdateExpression="REMOVE visibility",
        )
    # When the public ones are listed 2 per page
    pages = list_all(client, "visibility=public", limit=2)
    # Then every page but the last is full, and together they are every public asset once, newest first
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)
    assert [asset_id for page in pages for asset_id in page] == public
    # And the private ones (assets without a visibility attribute count as private) are the rest
    private = [asset_id for page in list_all(client, "visibility=private", limit=7) for asset_id in page]
    assert sorted(private) == sorted(set(ids) - set(public))


def test_the_read_cap_ends_a_page_early_but_the_cursor_goes_on(client: Client, monkeypatch: pytest.MonkeyPatch):
    # Given a filter that matches only the oldest of 12 assets, reads of 2 items, and at most 3 reads per request
    monkeypatch.setattr(media_store, "FILTERED_READ", 2)
    monkeypatch.setattr(media_store, "MAX_READ_PAGES", 3)
    oldest = seed_asset("alice", visibility="shared")
    for _ in range(11):
        seed_asset("alice")
    # When the shared assets are listed
    first = body_of(call(client, "GET", "/media?visibility=shared&limit=1"))
    # Then the first page stops after 3 reads (6 items) with a cursor, and following the cursors finds the asset
    assert first["items"] == [] and first["next_cursor"]
    pages = list_all(client, "visibility=shared", limit=1)
    assert [asset_id for page in pages for asset_id in page] == [oldest]


def test_a_cursor_is_bound_to_its_list_and_owner(client: Client):
    # Given a cursor of alice's library
    for _ in range(3):
        seed_asset("alice", source="upload")
    cursor = body_of(call(client, "GET", "/media?limit=1"))["next_cursor"]
    # Then bob cannot page with it, nor can another list
    for path, subject in ((f"/media?cursor={cursor}", "bob"), (f"/media?source=upload&cursor={cursor}", "alice")):
        response = call(client, "GET", path, subject=subject)
        assert response.status_code == 400 and body_of(response)["error"]["code"] == "invalid_cursor"


def test_concurrent_names_get_distinct_numbers(aws: Aws):
    # Given one repository shared by 8 threads
    repository = container.get_media_repository()
    # When they all ask for the next number of the same prefix at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda _: repository.next_name_seq("alice", "L.CAS.ATL"), range(16)))
    # Then every number from 1 to 16 was given exactly once
    assert sorted(numbers) == list(range(1, 17))
    # And another owner's counter is untouched
    assert repository.next_name_seq("bob", "L.CAS.ATL") == 1
