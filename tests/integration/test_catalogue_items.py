"""Tracks, collaborators, splits, ISRC/UPC and If-Match of the release catalogue, through chalice.test.Client."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import auth, body_of, call, create_release

THREE_MINUTES_MS = 3 * 60 * 1000
ELEVEN_MINUTES_MS = 11 * 60 * 1000
ISRC = "USRC17607839"
OTHER_ISRC = "GBAYE0601498"


# -- local helpers ----------------------------------------------------------------------------------------------------


def if_match(tag: str, subject: str = "alice") -> dict[str, str]:
    """Headers of a request by ``subject`` carrying ``If-Match: tag``."""
    return {**auth(subject), "If-Match": tag}


def add_track(client: Any, release_id: str, *, subject: str = "alice", headers: dict[str, str] | None = None, **fields):
    """POST a track (title "Track" unless given); the raw response."""
    body = {"title": "Track", **fields}
    return call(client, "POST", f"/releases/{release_id}/tracks", body, subject=subject, headers=headers)


def new_track(client: Any, release_id: str, *, subject: str = "alice", **fields: Any) -> dict[str, Any]:
    """A track added to the release (201 asserted)."""
    response = add_track(client, release_id, subject=subject, **fields)
    assert response.status_code == 201, response.body
    return body_of(response)


def add_collaborator(client: Any, release_id: str, *, headers: dict[str, str] | None = None, **fields: Any):
    """POST a collaborator (name "Someone" unless given); the raw response."""
    body = {"name": "Someone", **fields}
    return call(client, "POST", f"/releases/{release_id}/collaborators", body, headers=headers)


def new_collaborator(client: Any, release_id: str, **fields: Any) -> dict[str, Any]:
    """A collaborator credited on the release (201 asserted)."""
    response = add_collaborator(client, release_id, **fields)
    assert response.status_code == 201, response.body
    return body_of(response)


def release_of(client: Any, release_id: str, *, subject: str = "alice") -> dict[str, Any]:
    """GET /releases/{id} (200 asserted)."""
    response = call(client, "GET", f"/releases/{release_id}", subject=subject)
    assert response.status_code == 200, response.body
    return body_of(response)


def release_etag(client: Any, release_id: str) -> str:
    return call(client, "GET", f"/releases/{release_id}").headers["ETag"]


def running_order(client: Any, release_id: str) -> list[tuple[int, int, str]]:
    """(disc, number, title) of each track as GET /releases/{id}/tracks lists them."""
    response = call(client, "GET", f"/releases/{release_id}/tracks")
    assert response.status_code == 200, response.body
    return [(t["disc_number"], t["track_number"], t["title"]) for t in body_of(response)["items"]]


def error_of(response: Any) -> tuple[int, str]:
    """(status, error code) of an error response."""
    return response.status_code, body_of(response)["error"]["code"]


def collaborators_of(client: Any, release_id: str) -> dict[str, Any]:
    response = call(client, "GET", f"/releases/{release_id}/collaborators")
    assert response.status_code == 200, response.body
    return body_of(response)


# -- tracks -----------------------------------------------------------------------------------------------------------


def test_adding_a_track_answers_201_with_location_and_etag(client):
    release = create_release(client)

    response = add_track(client, release["id"], title="Hunter", duration_ms=THREE_MINUTES_MS, explicit=True)

    assert response.status_code == 201
    track = body_of(response)
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/releases/{release['id']}/tracks/{track['id']}"
    assert (track["title"], track["disc_number"], track["track_number"]) == ("Hunter", 1, 1)
    assert (track["duration_ms"], track["explicit"], track["release_id"]) == (THREE_MINUTES_MS, True, release["id"])
    # The Location answers the same track, with the same ETag.
    fetched = call(client, "GET", response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"1"'
    assert body_of(fetched) == track


def test_tracks_go_last_on_their_disc_and_list_in_running_order(client):
    release = create_release(client)
    # Given a disc-2 track added first, then three tracks without numbers on disc 1
    first_on_disc_two = new_track(client, release["id"], title="B1", disc_number=2)
    numbers = [new_track(client, release["id"], title=f"A{i}")["track_number"] for i in (1, 2, 3)]

    # Then disc 1 counts 1, 2, 3, disc 2 started at 1, and the listing is by (disc, number), not insertion order
    assert numbers == [1, 2, 3]
    assert (first_on_disc_two["disc_number"], first_on_disc_two["track_number"]) == (2, 1)
    assert running_order(client, release["id"]) == [(1, 1, "A1"), (1, 2, "A2"), (1, 3, "A3"), (2, 1, "B1")]


def test_a_track_number_already_taken_on_its_disc_answers_409(client):
    release = create_release(client)
    holder = new_track(client, release["id"], title="Five", track_number=5)

    clash = add_track(client, release["id"], title="Also five", track_number=5)

    assert error_of(clash) == (409, "track_number_taken")
    assert body_of(clash)["error"]["details"] == {"disc_number": 1, "track_number": 5, "track_id": holder["id"]}
    # The same number on another disc is free, and a default number follows the highest on its disc.
    assert new_track(client, release["id"], title="Disc two five", disc_number=2, track_number=5)["track_number"] == 5
    after = new_track(client, release["id"], title="Next")
    assert after["track_number"] == 6
    # A PATCH onto a taken number is refused the same way.
    moved = call(client, "PATCH", f"/releases/{release['id']}/tracks/{after['id']}", {"track_number": 5})
    assert error_of(moved) == (409, "track_number_taken")
    assert running_order(client, release["id"]) == [(1, 5, "Five"), (1, 6, "Next"), (2, 5, "Disc two five")]


def test_patching_a_track_changes_its_fields_and_bpm_stays_a_number(client):
    release = create_release(client)
    track = new_track(client, release["id"], title="Joga")
    path = f"/releases/{release['id']}/tracks/{track['id']}"

    response = call(
        client,
        "PATCH",
        path,
        {"title": "Jóga", "duration_ms": 305_000, "bpm": 120.5, "musical_key": "F# minor"},
    )

    assert response.status_code == 200, response.body
    assert response.headers["ETag"] == '"2"'
    patched = body_of(response)
    assert (patched["title"], patched["duration_ms"], patched["musical_key"]) == ("Jóga", 305_000, "F# minor")
    assert patched["track_number"] == 1  # untouched fields stay
    # bpm is a JSON number both in the PATCH answer and once read back (stored as a decimal string).
    stored = call(client, "GET", path)
    for bpm in (patched["bpm"], body_of(stored)["bpm"]):
        assert type(bpm) is float and bpm == 120.5
    assert body_of(stored)["title"] == "Jóga"
    assert stored.headers["ETag"] == '"2"'


def test_deleting_a_track_renumbers_its_disc_from_one(client):
    release = create_release(client)
    tracks = [new_track(client, release["id"], title=title) for title in ("A", "B", "C", "D")]

    response = call(client, "DELETE", f"/releases/{release['id']}/tracks/{tracks[1]['id']}")

    assert response.status_code == 204
    assert running_order(client, release["id"]) == [(1, 1, "A"), (1, 2, "C"), (1, 3, "D")]
    gone = call(client, "GET", f"/releases/{release['id']}/tracks/{tracks[1]['id']}")
    assert error_of(gone) == (404, "track_not_found")


def test_deleting_a_track_leaves_the_numbers_of_other_discs_alone(client):
    release = create_release(client)
    doomed = new_track(client, release["id"], title="A1")
    new_track(client, release["id"], title="A2")
    new_track(client, release["id"], title="B3", disc_number=2, track_number=3)

    call(client, "DELETE", f"/releases/{release['id']}/tracks/{doomed['id']}")

    assert running_order(client, release["id"]) == [(1, 1, "A2"), (2, 3, "B3")]


def test_reordering_needs_every_track_once_and_a_permutation_renumbers_them(client):
    release = create_release(client)
    a, b, c = (new_track(client, release["id"], title=title) for title in ("A", "B", "C"))
    path = f"/releases/{release['id']}/tracks/order"
    etag_before = release_etag(client, release["id"])

    # An incomplete, a duplicated and an unknown id: 422, nothing renumbered
    incomplete = call(client, "PUT", path, {"track_ids": [c["id"], a["id"]]})
    duplicated = call(client, "PUT", path, {"track_ids": [c["id"], a["id"], a["id"], b["id"]]})
    stranger = call(client, "PUT", path, {"track_ids": [c["id"], a["id"], "no-such-track"]})
    assert [error_of(r) for r in (incomplete, duplicated, stranger)] == [(422, "track_order_mismatch")] * 3
    assert body_of(incomplete)["error"]["details"] == {"missing": [b["id"]], "unknown": []}
    assert body_of(stranger)["error"]["details"] == {"missing": [b["id"]], "unknown": ["no-such-track"]}
    assert running_order(client, release["id"]) == [(1, 1, "A"), (1, 2, "B"), (1, 3, "C")]
    assert release_etag(client, release["id"]) == etag_before

    # A permutation: renumbered in that order, and the listing follows
    response = call(client, "PUT", path, {"track_ids": [c["id"], a["id"], b["id"]]})
    assert response.status_code == 200, response.body
    assert [(t["title"], t["track_number"]) for t in body_of(response)["items"]] == [("C", 1), ("A", 2), ("B", 3)]
    assert running_order(client, release["id"]) == [(1, 1, "C"), (1, 2, "A"), (1, 3, "B")]


def test_an_unknown_track_or_another_owners_release_answers_404(client):
    release = create_release(client, subject="alice")
    track = new_track(client, release["id"], title="Mine")
    base = f"/releases/{release['id']}/tracks"

    unknown = [
        call(client, "GET", f"{base}/no-such-track"),
        call(client, "PATCH", f"{base}/no-such-track", {"title": "x"}),
        call(client, "DELETE", f"{base}/no-such-track"),
    ]
    not_bobs = [
        call(client, "GET", base, subject="bob"),
        call(client, "POST", base, {"title": "Theirs"}, subject="bob"),
        call(client, "GET", f"{base}/{track['id']}", subject="bob"),
        call(client, "PATCH", f"{base}/{track['id']}", {"title": "Stolen"}, subject="bob"),
        call(client, "DELETE", f"{base}/{track['id']}", subject="bob"),
        call(client, "PUT", f"{base}/order", {"track_ids": [track["id"]]}, subject="bob"),
    ]

    assert [error_of(r) for r in unknown] == [(404, "track_not_found")] * 3
    assert body_of(unknown[0])["error"]["details"] == {"track_id": "no-such-track"}
    assert [error_of(r) for r in not_bobs] == [(404, "release_not_found")] * 6
    assert running_order(client, release["id"]) == [(1, 1, "Mine")]


# -- the track summary on the release ---------------------------------------------------------------------------------


def test_track_count_and_duration_follow_adds_patches_and_deletes(client):
    release = create_release(client)
    assert (release["track_count"], release["duration_ms"]) == (0, 0)
    first = new_track(client, release["id"], duration_ms=200_000)
    new_track(client, release["id"], duration_ms=100_000)
    new_track(client, release["id"])  # an unknown duration counts as 0
    summary = release_of(client, release["id"])
    assert (summary["track_count"], summary["duration_ms"]) == (3, 300_000)

    call(client, "PATCH", f"/releases/{release['id']}/tracks/{first['id']}", {"duration_ms": 250_000})
    assert release_of(client, release["id"])["duration_ms"] == 350_000

    call(client, "DELETE", f"/releases/{release['id']}/tracks/{first['id']}")
    summary = release_of(client, release["id"])
    assert (summary["track_count"], summary["duration_ms"]) == (2, 100_000)


def test_the_release_type_is_inferred_from_the_tracks(client):
    release = create_release(client)
    rid = release["id"]
    assert (release["release_type"], release["release_type_source"]) == (None, "inferred")

    # One track of ten minutes or more: an EP; the same track at three minutes: a single
    only = new_track(client, rid, duration_ms=ELEVEN_MINUTES_MS)
    long_one = release_of(client, rid)
    call(client, "PATCH", f"/releases/{rid}/tracks/{only['id']}", {"duration_ms": THREE_MINUTES_MS})
    single = release_of(client, rid)
    # Four short tracks: an EP; seven: an album
    for _ in range(3):
        new_track(client, rid, duration_ms=THREE_MINUTES_MS)
    ep = release_of(client, rid)
    for _ in range(3):
        new_track(client, rid, duration_ms=THREE_MINUTES_MS)
    album = release_of(client, rid)

    assert (long_one["release_type"], long_one["release_type_source"]) == ("ep", "inferred")
    assert (single["release_type"], single["release_type_source"]) == ("single", "inferred")
    assert (ep["track_count"], ep["release_type"], ep["release_type_source"]) == (4, "ep", "inferred")
    assert (album["track_count"], album["release_type"], album["release_type_source"]) == (7, "album", "inferred")


def test_a_release_type_set_by_the_owner_sticks_until_patched_to_null(client):
    release = create_release(client)
    new_track(client, release["id"], duration_ms=THREE_MINUTES_MS)

    # When the owner says "album" about a one-track release
    patched = call(client, "PATCH", f"/releases/{release['id']}", {"release_type": "album"})
    assert patched.status_code == 200, patched.body
    assert (body_of(patched)["release_type"], body_of(patched)["release_type_source"]) == ("album", "set")
    # Then it stays "album" whatever the tracks
    second = new_track(client, release["id"], duration_ms=THREE_MINUTES_MS)
    call(client, "DELETE", f"/releases/{release['id']}/tracks/{second['id']}")
    kept = release_of(client, release["id"])
    assert (kept["release_type"], kept["release_type_source"]) == ("album", "set")

    # When the owner clears it, the inferred type is back
    cleared = call(client, "PATCH", f"/releases/{release['id']}", {"release_type": None})
    assert cleared.status_code == 200, cleared.body
    assert (body_of(cleared)["release_type"], body_of(cleared)["release_type_source"]) == ("single", "inferred")
    assert release_of(client, release["id"])["release_type_source"] == "inferred"


# -- ISRC -------------------------------------------------------------------------------------------------------------


def test_an_isrc_is_normalised_on_input_and_an_invalid_one_answers_422(client):
    release = create_release(client)

    track = new_track(client, release["id"], isrc="US-RC1-76-07839")
    patched = call(client, "PATCH", f"/releases/{release['id']}/tracks/{track['id']}", {"isrc": "ISRC gb-aye-06-01498"})
    too_short = add_track(client, release["id"], isrc="US-RC1-76")
    digit_country = call(client, "PATCH", f"/releases/{release['id']}/tracks/{track['id']}", {"isrc": "1SRC17607839"})

    assert track["isrc"] == "USRC17607839"
    assert body_of(patched)["isrc"] == "GBAYE0601498"
    for response in (too_short, digit_country):
        assert error_of(response) == (422, "validation_error")
        assert "isrc" in body_of(response)["error"]["details"]["fields"]
    stored = release_of(client, release["id"])
    assert [t["isrc"] for t in stored["tracks"]] == ["GBAYE0601498"]


def test_an_isrc_is_used_once_across_an_owners_catalogue_but_not_across_owners(client):
    first = create_release(client, title="First")
    second = create_release(client, title="Second")
    holder = new_track(client, first["id"], title="Holder", isrc=ISRC)
    other = new_track(client, second["id"], title="Other")
    holder_details = {"isrc": ISRC, "release_id": first["id"], "track_id": holder["id"]}

    same_release = add_track(client, first["id"], isrc="US-RC1-76-07839")
    other_release = add_track(client, second["id"], isrc=ISRC)
    by_patch = call(client, "PATCH", f"/releases/{second['id']}/tracks/{other['id']}", {"isrc": ISRC})

    for response in (same_release, other_release, by_patch):
        assert error_of(response) == (409, "isrc_in_use")
        assert body_of(response)["error"]["details"] == holder_details
    assert release_of(client, first["id"])["track_count"] == 1
    second_now = release_of(client, second["id"])
    assert second_now["track_count"] == 1
    assert second_now["tracks"][0]["isrc"] is None
    # Another owner's catalogue is another namespace.
    bobs = create_release(client, subject="bob")
    assert new_track(client, bobs["id"], subject="bob", isrc=ISRC)["isrc"] == ISRC


def test_an_isrc_is_freed_when_its_track_is_deleted_or_its_isrc_changes_or_is_cleared(client):
    release = create_release(client)
    rid = release["id"]
    deleted, changed, cleared = (
        new_track(client, rid, title=title, isrc=isrc)
        for title, isrc in (("Deleted", "USRC17600001"), ("Changed", "USRC17600002"), ("Cleared", "USRC17600003"))
    )
    assert error_of(add_track(client, rid, isrc="USRC17600001")) == (409, "isrc_in_use")

    assert call(client, "DELETE", f"/releases/{rid}/tracks/{deleted['id']}").status_code == 204
    assert call(client, "PATCH", f"/releases/{rid}/tracks/{changed['id']}", {"isrc": "USRC17600004"}).status_code == 200
    assert body_of(call(client, "PATCH", f"/releases/{rid}/tracks/{cleared['id']}", {"isrc": None}))["isrc"] is None

    # Then the three old ISRCs are free again, and the new one is held by the changed track
    for isrc in ("USRC17600001", "USRC17600002", "USRC17600003"):
        assert add_track(client, rid, isrc=isrc).status_code == 201, isrc
    taken = add_track(client, rid, isrc="USRC17600004")
    assert error_of(taken) == (409, "isrc_in_use")
    assert body_of(taken)["error"]["details"]["track_id"] == changed["id"]


def test_deleting_the_holding_release_frees_its_isrcs(client):
    doomed = create_release(client, title="Doomed")
    survivor = create_release(client, title="Survivor")
    new_track(client, doomed["id"], isrc=ISRC)
    new_track(client, doomed["id"], isrc=OTHER_ISRC)
    assert error_of(add_track(client, survivor["id"], isrc=ISRC)) == (409, "isrc_in_use")

    assert call(client, "DELETE", f"/releases/{doomed['id']}").status_code == 204

    assert add_track(client, survivor["id"], isrc=ISRC).status_code == 201
    assert add_track(client, survivor["id"], isrc=OTHER_ISRC).status_code == 201


# -- UPC --------------------------------------------------------------------------------------------------------------


def test_a_valid_upc_a_is_stored_and_a_bad_check_digit_answers_422(client):
    release = create_release(client, upc="036000241457")
    assert release["upc"] == "036000241457"

    on_patch = call(client, "PATCH", f"/releases/{release['id']}", {"upc": "036000241458"})
    on_create = call(client, "POST", "/releases", {"title": "T", "display_artist": "A", "upc": "036000241450"})

    for response in (on_patch, on_create):
        assert error_of(response) == (422, "validation_error")
        assert "upc" in body_of(response)["error"]["details"]["fields"]
    assert release_of(client, release["id"])["upc"] == "036000241457"


# -- collaborators and splits -----------------------------------------------------------------------------------------


def test_collaborators_are_credited_with_roles_and_splits_summed_per_pool(client):
    release = create_release(client)

    response = add_collaborator(client, release["id"], role="main_artist", name="Björk", split=60)
    producer = new_collaborator(client, release["id"], role="producer", name="Mark Bell", split=40)
    writer = new_collaborator(client, release["id"], role="writer", name="Sjón", split=33.33)
    partial = collaborators_of(client, release["id"])["splits"]
    # Thirds with two decimals close the publishing pool exactly.
    new_collaborator(client, release["id"], role="composer", name="Björk", split=33.33)
    new_collaborator(client, release["id"], role="lyricist", name="Einar", split=33.34)

    assert response.status_code == 201
    artist = body_of(response)
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/releases/{release['id']}/collaborators/{artist['id']}"
    assert (artist["role"], artist["name"], artist["split"]) == ("main_artist", "Björk", 60.0)
    assert partial == {
        "master": {"total": 100.0, "complete": True},
        "publishing": {"total": 33.33, "complete": False},
    }
    listing = collaborators_of(client, release["id"])
    assert [(c["role"], c["split"]) for c in listing["items"]] == [
        ("main_artist", 60.0),
        ("producer", 40.0),
        ("writer", 33.33),
        ("composer", 33.33),
        ("lyricist", 33.34),
    ]
    assert [c["id"] for c in listing["items"][:3]] == [artist["id"], producer["id"], writer["id"]]
    assert listing["splits"] == {
        "master": {"total": 100.0, "complete": True},
        "publishing": {"total": 100.0, "complete": True},
    }
    assert release_of(client, release["id"])["splits"] == listing["splits"]


def test_a_split_pushing_its_pool_past_100_answers_422_and_stores_nothing(client):
    release = create_release(client)
    new_collaborator(client, release["id"], role="composer", name="A", split=70)
    etag_before = release_etag(client, release["id"])

    response = add_collaborator(client, release["id"], role="lyricist", name="B", split=30.01)

    assert error_of(response) == (422, "split_exceeds_total")
    assert body_of(response)["error"]["details"] == {"group": "publishing", "total": 100.01, "available": 30.0}
    listing = collaborators_of(client, release["id"])
    assert [c["name"] for c in listing["items"]] == ["A"]
    assert listing["splits"]["publishing"] == {"total": 70.0, "complete": False}
    assert release_etag(client, release["id"]) == etag_before


def test_the_master_and_publishing_pools_are_independent(client):
    release = create_release(client)

    master = add_collaborator(client, release["id"], role="main_artist", split=100)
    publishing = add_collaborator(client, release["id"], role="publisher", split=100)
    over = add_collaborator(client, release["id"], role="mixer", split=0.01)

    assert (master.status_code, publishing.status_code) == (201, 201)
    assert error_of(over) == (422, "split_exceeds_total")
    assert body_of(over)["error"]["details"]["group"] == "master"
    assert collaborators_of(client, release["id"])["splits"] == {
        "master": {"total": 100.0, "complete": True},
        "publishing": {"total": 100.0, "complete": True},
    }


def test_patching_a_split_past_100_answers_422_and_deleting_frees_room(client):
    release = create_release(client)
    big = new_collaborator(client, release["id"], role="producer", name="Big", split=60)
    small = new_collaborator(client, release["id"], role="co_producer", name="Small", split=40)

    too_much = call(client, "PATCH", f"/releases/{release['id']}/collaborators/{small['id']}", {"split": 40.5})

    assert error_of(too_much) == (422, "split_exceeds_total")
    assert body_of(too_much)["error"]["details"] == {"group": "master", "total": 100.5, "available": 40.0}
    assert body_of(call(client, "GET", f"/releases/{release['id']}/collaborators/{small['id']}"))["split"] == 40.0

    # When the big split goes, the room is there again
    assert call(client, "DELETE", f"/releases/{release['id']}/collaborators/{big['id']}").status_code == 204
    grown = call(client, "PATCH", f"/releases/{release['id']}/collaborators/{small['id']}", {"split": 100})
    assert grown.status_code == 200, grown.body
    assert body_of(grown)["split"] == 100.0
    assert collaborators_of(client, release["id"])["splits"]["master"] == {"total": 100.0, "complete": True}


def test_a_split_with_three_decimals_or_an_unknown_role_answers_422(client):
    release = create_release(client)

    three_decimals = add_collaborator(client, release["id"], role="writer", split=33.333)
    unknown_role = add_collaborator(client, release["id"], role="tambourine", split=10)
    negative = add_collaborator(client, release["id"], role="writer", split=-1)

    assert error_of(three_decimals) == (422, "validation_error")
    assert "split" in body_of(three_decimals)["error"]["details"]["fields"]
    assert error_of(unknown_role) == (422, "validation_error")
    assert "role" in body_of(unknown_role)["error"]["details"]["fields"]
    assert error_of(negative) == (422, "validation_error")
    assert collaborators_of(client, release["id"])["items"] == []


# -- ETag and If-Match ------------------------------------------------------------------------------------------------


def test_a_stale_if_match_on_the_release_answers_412_and_changes_nothing(client):
    release = create_release(client, title="Post")
    rid = release["id"]
    call(client, "PATCH", f"/releases/{rid}", {"genre": "Pop"})  # now at "2"

    stale_patch = call(client, "PATCH", f"/releases/{rid}", {"title": "Debut"}, headers=if_match('"1"'))
    stale_delete = call(client, "DELETE", f"/releases/{rid}", headers=if_match('"1"'))

    for response in (stale_patch, stale_delete):
        assert error_of(response) == (412, "version_mismatch")
        assert body_of(response)["error"]["details"] == {"target": "release", "current_version": 2}
    unchanged = call(client, "GET", f"/releases/{rid}")
    assert (body_of(unchanged)["title"], unchanged.headers["ETag"]) == ("Post", '"2"')

    fresh_patch = call(client, "PATCH", f"/releases/{rid}", {"title": "Debut"}, headers=if_match('"2"'))
    assert (fresh_patch.status_code, fresh_patch.headers["ETag"]) == (200, '"3"')
    assert body_of(fresh_patch)["title"] == "Debut"
    assert call(client, "DELETE", f"/releases/{rid}", headers=if_match('"3"')).status_code == 204
    assert error_of(call(client, "GET", f"/releases/{rid}")) == (404, "release_not_found")


def test_a_stale_if_match_on_a_track_answers_412_and_changes_nothing(client):
    release = create_release(client)
    track = new_track(client, release["id"], title="Before")
    path = f"/releases/{release['id']}/tracks/{track['id']}"
    call(client, "PATCH", path, {"bpm": 90})  # the track is now at "2"

    stale_patch = call(client, "PATCH", path, {"title": "After"}, headers=if_match('"1"'))
    stale_delete = call(client, "DELETE", path, headers=if_match('"1"'))

    for response in (stale_patch, stale_delete):
        assert error_of(response) == (412, "version_mismatch")
        assert body_of(response)["error"]["details"]["target"] == "track"
    assert body_of(call(client, "GET", path))["title"] == "Before"

    fresh = call(client, "PATCH", path, {"title": "After"}, headers=if_match('"2"'))
    assert (fresh.status_code, fresh.headers["ETag"], body_of(fresh)["title"]) == (200, '"3"', "After")
    assert call(client, "DELETE", path, headers=if_match('"3"')).status_code == 204
    assert running_order(client, release["id"]) == []


def test_a_stale_if_match_on_a_collaborator_answers_412_and_changes_nothing(client):
    release = create_release(client)
    collaborator = new_collaborator(client, release["id"], role="writer", name="Before", split=10)
    path = f"/releases/{release['id']}/collaborators/{collaborator['id']}"
    call(client, "PATCH", path, {"split": 20})  # the collaborator is now at "2"

    stale_patch = call(client, "PATCH", path, {"name": "After"}, headers=if_match('"1"'))
    stale_delete = call(client, "DELETE", path, headers=if_match('"1"'))

    for response in (stale_patch, stale_delete):
        assert error_of(response) == (412, "version_mismatch")
        assert body_of(response)["error"]["details"]["target"] == "collaborator"
    assert (body_of(call(client, "GET", path))["name"], body_of(call(client, "GET", path))["split"]) == ("Before", 20.0)

    fresh = call(client, "PATCH", path, {"name": "After"}, headers=if_match('"2"'))
    assert (fresh.status_code, fresh.headers["ETag"], body_of(fresh)["name"]) == (200, '"3"', "After")
    assert call(client, "DELETE", path, headers=if_match('"3"')).status_code == 204
    assert collaborators_of(client, release["id"])["items"] == []


def test_adding_a_track_or_collaborator_checks_if_match_against_the_release(client):
    release = create_release(client)
    call(client, "PATCH", f"/releases/{release['id']}", {"genre": "Pop"})  # the release is now at "2"

    stale_track = add_track(client, release["id"], headers=if_match('"1"'))
    stale_collaborator = add_collaborator(client, release["id"], role="writer", headers=if_match('"1"'))
    fresh_track = add_track(client, release["id"], headers=if_match('"2"'))

    assert error_of(stale_track) == (412, "version_mismatch")
    assert error_of(stale_collaborator) == (412, "version_mismatch")
    assert fresh_track.status_code == 201
    assert (release_of(client, release["id"])["track_count"], collaborators_of(client, release["id"])["items"]) == (
        1,
        [],
    )


def test_if_match_star_behaves_as_if_absent_and_a_weak_tag_matches_nothing(client):
    release = create_release(client)
    rid = release["id"]
    track = new_track(client, rid)
    collaborator = new_collaborator(client, rid, role="writer")
    track_path = f"/releases/{rid}/tracks/{track['id']}"
    collaborator_path = f"/releases/{rid}/collaborators/{collaborator['id']}"

    # A weak tag never matches (If-Match compares strongly), even at the current version
    weak = call(client, "PATCH", f"/releases/{rid}", {"title": "Weak"}, headers=if_match('W/"3"'))
    assert error_of(weak) == (412, "version_mismatch")

    star = [
        call(client, "PATCH", f"/releases/{rid}", {"title": "Star"}, headers=if_match("*")),
        call(client, "PATCH", track_path, {"title": "Star"}, headers=if_match("*")),
        call(client, "PATCH", collaborator_path, {"name": "Star"}, headers=if_match("*")),
    ]
    assert [r.status_code for r in star] == [200, 200, 200]
    stored = release_of(client, rid)
    assert (stored["title"], stored["tracks"][0]["title"], stored["collaborators"][0]["name"]) == ("Star",) * 3
    assert call(client, "DELETE", f"/releases/{rid}", headers=if_match("*")).status_code == 204


def test_every_read_carries_an_etag_and_every_track_or_collaborator_change_bumps_the_releases(client):
    release = create_release(client)
    rid = release["id"]
    tags = [release_etag(client, rid)]

    first = new_track(client, rid)
    tags.append(release_etag(client, rid))
    second = new_track(client, rid)
    tags.append(release_etag(client, rid))
    call(client, "PATCH", f"/releases/{rid}/tracks/{first['id']}", {"title": "Renamed"})
    tags.append(release_etag(client, rid))
    call(client, "PUT", f"/releases/{rid}/tracks/order", {"track_ids": [second["id"], first["id"]]})
    tags.append(release_etag(client, rid))
    collaborator = new_collaborator(client, rid, role="mixer")
    tags.append(release_etag(client, rid))
    call(client, "PATCH", f"/releases/{rid}/collaborators/{collaborator['id']}", {"split": 5})
    tags.append(release_etag(client, rid))
    item_tags = {
        path: call(client, "GET", f"/releases/{rid}{path}").headers.get("ETag")
        for path in (
            f"/tracks/{first['id']}",
            f"/collaborators/{collaborator['id']}",
            "/editable-fields",
            "/tracks",
            "/collaborators",
        )
    }
    call(client, "DELETE", f"/releases/{rid}/tracks/{second['id']}")
    tags.append(release_etag(client, rid))
    call(client, "DELETE", f"/releases/{rid}/collaborators/{collaborator['id']}")
    tags.append(release_etag(client, rid))

    assert tags == [f'"{n}"' for n in range(1, 10)]
    # Items carry their own version (first: added, renamed, renumbered; the collaborator: added, patched);
    # editable-fields and the listings carry the release's.
    assert item_tags == {
        f"/tracks/{first['id']}": '"3"',
        f"/collaborators/{collaborator['id']}": '"2"',
        "/editable-fields": '"7"',
        "/tracks": '"7"',
        "/collaborators": '"7"',
    }


def test_moving_a_track_to_another_disc_puts_it_last_there_and_closes_the_gap(client):
    release = create_release(client)
    ids = [body_of(call(client, "POST", f"/releases/{release['id']}/tracks", {"title": t}))["id"] for t in "ABC"]
    call(client, "POST", f"/releases/{release['id']}/tracks", {"title": "D", "disc_number": 2})
    moved = call(client, "PATCH", f"/releases/{release['id']}/tracks/{ids[1]}", {"disc_number": 2})
    assert moved.status_code == 200, moved.body
    assert (body_of(moved)["disc_number"], body_of(moved)["track_number"]) == (2, 2)
    tracks = body_of(call(client, "GET", f"/releases/{release['id']}/tracks"))["items"]
    assert [(t["title"], t["disc_number"], t["track_number"]) for t in tracks] == [
        ("A", 1, 1),
        ("C", 1, 2),
        ("D", 2, 1),
        ("B", 2, 2),
    ]
