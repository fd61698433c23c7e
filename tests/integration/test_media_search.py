"""Search and tags of the media library: GET /media/search and MediaIndex (store/media_index.py) against moto."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.container import get_media_index
from chalicelib.models.domain import Asset
from chalicelib.store import media_index
from chalicelib.store.assets import asset_of
from chalicelib.store.media_index import BatchWriteError
from chalicelib.store.records import AssetRecord, MediaTagRecord, MediaTermRecord
from tests.integration.conftest import call

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def seed(owner: str = "alice", *, minutes: int = 0, **fields: Any) -> Asset:
    """A ready metadata-only asset of ``owner`` made ``minutes`` after T0 with the library ``fields``, indexed."""
    index = get_media_index()  # binds the records to the table
    asset_id = uuid.uuid4().hex
    created = T0 + timedelta(minutes=minutes)
    record = AssetRecord(
        pk=f"ASSET#{asset_id}",
        sk="ASSET",
        gsi1pk=f"OWNER#{owner}#ASSETS",
        gsi1sk=f"{created.isoformat()}#{asset_id}",
        asset_id=asset_id,
        owner_id=owner,
        status="ready",
        upload_key=f"uploads/{owner}/{asset_id}",
        declared_content_type="",
        declared_bytes=0,
        max_bytes=0,
        created_at=created,
        updated_at=created,
        **fields,
    )
    record.save()
    asset = asset_of(record)
    index.reindex(None, asset)
    return asset


def search(client: Any, q: str, *, subject: str = "alice", limit: int = 20, cursor: str | None = None) -> Any:
    path = f"/media/search?q={quote(q)}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    return call(client, "GET", path, subject=subject)


def found(client: Any, q: str, **kwargs: Any) -> list[str]:
    response = search(client, q, **kwargs)
    assert response.status_code == 200, response.body
    return [hit["asset"]["id"] for hit in response.json_body["items"]]


def index_items(asset_id: str) -> list[tuple[str, str]]:
    """Every term and tag item of ``asset_id`` (a Scan of the whole table: tests only)."""
    keys = {(item.pk, item.sk) for item in MediaTagRecord.scan()}
    return sorted((pk, sk) for pk, sk in keys if pk.startswith(("SEARCH#", "TAG#")) and sk.endswith(f"#{asset_id}"))


def test_title_and_name_hits_rank_above_description_hits_and_exact_above_prefix(client, aws):
    # Given the word in a description (newest), as a title's prefix, as a whole title word and in a generated name
    described = seed(minutes=4, description="a deep ocean trench")
    prefix = seed(minutes=3, title="Oceanic")
    exact = seed(minutes=1, title="Ocean")
    tagged = seed(minutes=2, tags=["ocean"])
    # When the caller searches "ocean"
    response = search(client, "ocean")
    # Then the whole title word first, then the tag, then the title prefix, then the description; each says why
    assert response.status_code == 200, response.body
    items = response.json_body["items"]
    assert [hit["asset"]["id"] for hit in items] == [exact.id, tagged.id, prefix.id, described.id]
    assert [hit["matched"] for hit in items] == [["title"], ["tags"], ["title"], ["description"]]
    assert [hit["score"] for hit in items] == sorted((hit["score"] for hit in items), reverse=True)
    assert response.json_body["next_cursor"] is None


def test_a_generated_name_is_found_by_its_parts(client, aws):
    # Given an asset named L.CAS.ATL.001 and another named L.CAS.NYC.002
    atlanta = seed(name="L.CAS.ATL.001", minutes=1)
    seed(name="L.CAS.NYC.002", minutes=2)
    # When the caller types part of the name / Then the right one
    assert found(client, "L.CAS.ATL") == [atlanta.id]
    assert found(client, "atl 001") == [atlanta.id]
    assert len(found(client, "l.cas")) == 2


@pytest.mark.parametrize("query", ["beyon", "BEYONCE", "Beyoncé", "beyoncé live", "LIVE"])
def test_search_ignores_case_and_accents(client, aws, query):
    # Given an asset titled with accents
    asset = seed(title="Beyoncé — Live at Wembley")
    seed(title="Something else")
    # When searched in any case, with or without the accent / Then found
    assert found(client, query) == [asset.id]


def test_sharp_s_is_found_by_ss_and_accents_in_tags(client, aws):
    # Given an asset on the Straße tagged "Électro"
    asset = seed(creator_description="Night on the Straße", tags=["Électro"])
    # Then "strasse", "STRASS" and "electro" find it
    assert found(client, "strasse") == [asset.id]
    assert found(client, "STRASS") == [asset.id]
    assert found(client, "electro") == [asset.id]


def test_type_ahead_finds_the_asset_at_every_keystroke(client, aws):
    # Given an asset titled "Neon Nights"
    asset = seed(title="Neon Nights")
    seed(title="Daylight")
    # When the caller types n, ne, neo, neon / Then it is found at every step
    for typed in ("n", "ne", "neo", "neon", "neon n", "neon nig"):
        assert found(client, typed) == [asset.id], typed


def test_every_word_of_the_query_must_match(client, aws):
    # Given "Neon Nights", "Neon Days" and "Summer Nights"
    neon_nights = seed(title="Neon Nights", minutes=1)
    neon_days = seed(title="Neon Days", minutes=2)
    seed(title="Summer Nights", minutes=3)
    # Then both words narrow the results (AND), in any order
    assert found(client, "neon nights") == [neon_nights.id]
    assert found(client, "nights neon") == [neon_nights.id]
    assert found(client, "neon") == [neon_days.id, neon_nights.id]  # equal scores: newest first
    assert found(client, "neon winter") == []


def test_bob_never_sees_alices_assets(client, aws):
    # Given alice's and bob's assets with the same words
    seed("alice", title="Ocean tapes", tags=["press"])
    bobs = seed("bob", title="Ocean demo")
    # When bob searches and lists a tag / Then only his own
    assert found(client, "ocean", subject="bob") == [bobs.id]
    assert found(client, "tapes", subject="bob") == []
    assert get_media_index().by_tag("bob", "press", limit=10, cursor=None) == ([], None)


def test_tombstoned_and_deleted_assets_are_never_returned_and_the_page_stays_full(client, aws):
    # Given three matching assets, the two newest in the middle of deletes: one tombstoned, one whose record is gone,
    # both with their index items still there (the delete has not reached them yet)
    live = seed(title="Ocean", minutes=1)
    tombstoned = seed(title="Ocean", minutes=2)
    gone = seed(title="Ocean", minutes=3)
    record = AssetRecord.get(f"ASSET#{tombstoned.id}", "ASSET")
    record.update(actions=[AssetRecord.deleted_at.set(T0)])
    AssetRecord.get(f"ASSET#{gone.id}", "ASSET").delete()
    # When the first page of one hit is asked for
    response = search(client, "ocean", limit=1)
    # Then the live asset fills it (the search read on past the two) and no cursor is left
    assert response.status_code == 200, response.body
    assert [hit["asset"]["id"] for hit in response.json_body["items"]] == [live.id]
    assert response.json_body["next_cursor"] is None


def test_a_stale_index_item_does_not_answer_a_word_the_asset_lost(client, aws):
    # Given an asset retitled behind the index's back (its items still say "sunrise")
    asset = seed(title="Sunrise")
    AssetRecord.get(f"ASSET#{asset.id}", "ASSET").update(actions=[AssetRecord.title.set("Sunset")])
    # When "sunrise" is searched / Then the asset read back no longer matches and is not answered
    assert found(client, "sunrise") == []


def test_reindex_after_an_edit_removes_the_old_terms_and_tags(client, aws):
    # Given an asset titled "Sunrise" tagged "morning"
    before = seed(title="Sunrise", tags=["morning", "Gold"])
    # When it is edited to "Sunset" tagged "evening" and reindexed
    after = before.model_copy(update={"title": "Sunset", "tags": ["evening", "gold"]})
    record = AssetRecord.get(f"ASSET#{after.id}", "ASSET")
    record.update(actions=[AssetRecord.title.set("Sunset"), AssetRecord.tags.set(["evening", "gold"])])
    get_media_index().reindex(before, after)
    # Then the old words and tag are gone from the index, the new ones answer, the unchanged tag stays
    assert found(client, "sunrise") == []
    assert found(client, "sunset") == [after.id]
    index = get_media_index()
    assert index.by_tag("alice", "morning", limit=10, cursor=None) == ([], None)
    assert index.by_tag("alice", "Evening", limit=10, cursor=None)[0] == [after.id]
    assert index.by_tag("alice", "GOLD", limit=10, cursor=None)[0] == [after.id]
    assert [pk for pk, _ in index_items(after.id)] == [
        "SEARCH#alice#e",
        "SEARCH#alice#g",
        "SEARCH#alice#s",
        "TAG#alice#evening",
        "TAG#alice#gold",
    ]


def test_reindex_to_none_and_a_tombstone_remove_every_item(client, aws):
    # Given two indexed assets with many words (more than one batch of 25)
    words = " ".join(f"word{n}" for n in range(60))
    first = seed(title="First", description=words, tags=["a", "b"])
    second = seed(title="Second", description=words)
    assert len(index_items(first.id)) == 63 + 2  # words (60, "first", "a", "b") and the two tags
    # When one is reindexed to None and the other to its tombstone
    get_media_index().reindex(first, None)
    get_media_index().reindex(second, second.model_copy(update={"deleted_at": T0}))
    # Then neither leaves an item behind
    assert index_items(first.id) == []
    assert index_items(second.id) == []


def test_unprocessed_batch_items_are_sent_again(client, aws, monkeypatch):
    # Given DynamoDB leaving the first request's items unprocessed once (throttling)
    get_media_index()  # binds the records (a new binding drops the connection patched below)
    connection = MediaTermRecord._get_connection()
    real = connection.batch_write_item
    calls: list[int] = []

    def flaky(put_items: Any = None, delete_items: Any = None, **kwargs: Any) -> Any:
        calls.append(len(put_items or []) + len(delete_items or []))
        if len(calls) == 1:
            unprocessed = [{"PutRequest": {"Item": item}} for item in put_items]
            return {"UnprocessedItems": {connection.table_name: unprocessed}}
        return real(put_items=put_items, delete_items=delete_items, **kwargs)

    monkeypatch.setattr(connection, "batch_write_item", flaky)
    monkeypatch.setattr(media_index.time, "sleep", lambda seconds: None)
    # When an asset with 30 words is indexed
    asset = seed(description=" ".join(f"w{n}" for n in range(30)))
    # Then 25 + 5 requests, the first 25 sent again, and every item is there
    assert calls == [25, 25, 5]
    assert len(index_items(asset.id)) == 30


def test_items_that_stay_unprocessed_raise(client, aws, monkeypatch):
    # Given DynamoDB never processing anything
    get_media_index()
    connection = MediaTermRecord._get_connection()

    def never(put_items: Any = None, delete_items: Any = None, **kwargs: Any) -> Any:
        return {"UnprocessedItems": {connection.table_name: [{"PutRequest": {"Item": i}} for i in put_items]}}

    monkeypatch.setattr(connection, "batch_write_item", never)
    monkeypatch.setattr(media_index.time, "sleep", lambda seconds: None)
    # When an asset is indexed / Then the failure is raised, not swallowed
    with pytest.raises(BatchWriteError):
        seed(title="Anything")


def test_tag_listing_is_newest_first_across_pages(client, aws):
    # Given five assets tagged "Press Kit" (in any case and spacing) and one tagged otherwise
    ids = [seed(minutes=n, tags=["Press  kit" if n % 2 else "press kit"]).id for n in range(5)]
    seed(minutes=9, tags=["press"])
    index = get_media_index()
    # When the tag is listed two at a time
    pages, cursor = [], None
    while True:
        page, cursor = index.by_tag("alice", "PRESS KIT", limit=2, cursor=cursor)
        pages.append(page)
        if cursor is None:
            break
    # Then every asset once, newest first
    assert [asset_id for page in pages for asset_id in page] == ids[::-1]
    assert [len(page) for page in pages][:2] == [2, 2]


def test_a_tag_cursor_pages_only_its_own_tag_and_owner(client, aws):
    # Given a cursor of alice's "press" listing
    for n in range(3):
        seed(minutes=n, tags=["press"])
    _, cursor = get_media_index().by_tag("alice", "press", limit=1, cursor=None)
    assert cursor is not None
    # When it is used for another tag or by bob / Then 400 invalid_cursor
    from chalicelib.errors import InvalidError

    for owner, tag in (("alice", "other"), ("bob", "press")):
        with pytest.raises(InvalidError) as caught:
            get_media_index().by_tag(owner, tag, limit=1, cursor=cursor)
        assert caught.value.code == "invalid_cursor"


def test_search_pages_follow_the_cursor_without_repeats(client, aws):
    # Given 25 matching assets
    ids = {seed(title=f"Ocean {n}", minutes=n).id for n in range(25)}
    # When they are read ten at a time
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        response = search(client, "ocean", limit=10, cursor=cursor)
        assert response.status_code == 200, response.body
        seen += [hit["asset"]["id"] for hit in response.json_body["items"]]
        cursor = response.json_body["next_cursor"]
        if cursor is None:
            break
    # Then 10 + 10 + 5, each once
    assert len(seen) == 25
    assert set(seen) == ids


def test_a_search_cursor_is_bound_to_its_query_and_caller(client, aws):
    # Given a cursor of alice's "ocean" search
    for n in range(3):
        seed(title="Ocean blue", minutes=n)
        seed("bob", title="Ocean blue", minutes=n)
    cursor = search(client, "ocean", limit=1).json_body["next_cursor"]
    assert cursor
    # When it is sent with another query, or by bob / Then 400 invalid_cursor
    for subject, q in (("alice", "blue"), ("bob", "ocean")):
        response = search(client, q, subject=subject, limit=1, cursor=cursor)
        assert response.status_code == 400, response.body
        assert response.json_body["error"]["code"] == "invalid_cursor"
    # And the same query spelled differently pages on (the cursor binds the normalised words)
    assert search(client, "OCÉAN", limit=1, cursor=cursor).status_code == 200


@pytest.mark.parametrize("q", ["", "!!!", " -- ", "—"])
def test_a_query_without_a_word_answers_query_too_short(client, aws, q):
    # When the query has no letter or digit / Then 422 query_too_short
    response = search(client, q)
    assert response.status_code == 422, response.body
    assert response.json_body["error"]["code"] == "query_too_short"


def test_a_query_of_too_many_words_answers_query_too_long(client, aws):
    # When the query has nine distinct words / Then 422 query_too_long with the limit
    response = search(client, "a b c d e f g h i")
    assert response.status_code == 422, response.body
    assert response.json_body["error"]["code"] == "query_too_long"
    assert response.json_body["error"]["details"]["max_words"] == 8


def test_search_answers_the_asset_view(client, aws):
    # Given a titled, tagged asset
    asset = seed(title="Ocean", tags=["sea"], creator_description="Waves at dusk", visibility="public")
    # When found / Then the hit carries the asset as GET /media/{id} renders it
    hit = search(client, "dusk").json_body["items"][0]
    assert hit["asset"]["id"] == asset.id
    assert hit["asset"]["title"] == "Ocean"
    assert hit["asset"]["tags"] == ["sea"]
    assert hit["matched"] == ["creator_description"]
