"""Transactions of the release catalogue on moto: their size limit, the order of cancellation reasons, which reasons
are retried (with backoff) and which are errors, and writes that answer what they wrote without reading it back.

Reasons moto cannot produce (TransactionConflict, throttling, ValidationError…) come from botocore's own
``before-call`` hook on the transaction client, the mechanism botocore's Stubber uses: it answers one call with the
exact error response DynamoDB sends (HTTP 400, ``TransactionCanceledException`` with ``CancellationReasons``), and
botocore and PynamoDB turn that into their real exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.container import get_catalogue_repository, get_release_service
from chalicelib.errors import ConflictError
from chalicelib.models.domain import Identity
from chalicelib.services.catalogue import MAX_ATTEMPTS, Backoff
from chalicelib.services.releases import ReleaseService
from chalicelib.store.catalogue import CatalogueRepository, CatalogueWrite, VersionConflictError
from chalicelib.store.transactions import (
    OPERATION_ORDER,
    TransactionFailedError,
    TransientTransactionError,
    transaction_client,
)
from tests.integration.conftest import body_of, call, create_release, seed_tracks

ALICE = Identity(subject="alice")
#: Emitted with the operation's parameters before they are serialised (Stubber checks expected params here)…
BUILD = "before-parameter-build.dynamodb.TransactWriteItems"
#: …and with the serialised request just before sending: a handler that returns a response answers the call.
TRANSACT = "before-call.dynamodb.TransactWriteItems"


# -- helpers ----------------------------------------------------------------------------------------------------------


class CountingRepository(CatalogueRepository):
    """The real repository, counting the partition reads (``load``) a service makes."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, release_id: str) -> Any:
        self.loads += 1
        return super().load(release_id)


@pytest.fixture
def sent(aws) -> Iterator[list[list[dict[str, Any]]]]:
    """The ``TransactItems`` of every TransactWriteItems request, as botocore is about to send them."""
    requests: list[list[dict[str, Any]]] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        requests.append(params["TransactItems"])

    events = transaction_client().meta.events
    events.register(BUILD, watch, unique_id="test-watch")
    yield requests
    events.unregister(BUILD, unique_id="test-watch")


@pytest.fixture
def cancel(aws) -> Iterator[Callable[..., list[int]]]:
    """``cancel(code, times=n, at=i)``: answer the next ``n`` TransactWriteItems calls (all when None) as DynamoDB
    does when it cancels a transaction, with reason ``code`` on item ``i`` (every item when None) and ``None`` on the
    others; returns the list of item counts of the calls answered, which grows as they come."""
    events = transaction_client().meta.events
    answered: list[int] = []

    def arm(code: str, *, times: int | None = 1, at: int | None = None) -> list[int]:
        def answer(params: dict[str, Any], **_: Any) -> Any:
            if times is not None and len(answered) >= times:
                return None
            items = json.loads(params["body"])["TransactItems"]
            answered.append(len(items))
            reasons = [
                {"Code": code, "Message": f"{code} (injected)"} if at is None or i == at else {"Code": "None"}
                for i in range(len(items))
            ]
            parsed = {
                "Error": {"Code": "TransactionCanceledException", "Message": f"Transaction cancelled [{code}]"},
                "CancellationReasons": reasons,
                "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
            }
            return AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None), parsed

        events.register_first(TRANSACT, answer, unique_id="test-cancel")
        return answered

    yield arm
    events.unregister(TRANSACT, unique_id="test-cancel")


def error_of(response: Any) -> tuple[int, str, dict[str, Any]]:
    error = body_of(response)["error"]
    return response.status_code, error["code"], error["details"]


# -- size -------------------------------------------------------------------------------------------------------------


def test_moving_a_track_of_a_full_release_to_another_disc_with_an_isrc_answers_409_transaction_too_large(client, sent):
    # Given a release with 99 tracks on disc 1
    rid = create_release(client)["id"]
    tracks = seed_tracks(rid, [None] * 99)
    before = call(client, "GET", f"/releases/{rid}")
    sent.clear()

    # When its first track moves to disc 2 with an ISRC: the release, the track, 98 renumbered tracks and a claim
    path = f"/releases/{rid}/tracks/{tracks[0].id}"
    response = call(client, "PATCH", path, {"disc_number": 2, "isrc": "GBAYE0601498"})

    # Then 409 with the count, nothing was sent, and nothing changed
    assert error_of(response) == (409, "transaction_too_large", {"items": 101, "max": 100})
    assert sent == []
    after = call(client, "GET", f"/releases/{rid}")
    assert (after.headers["ETag"], body_of(after)) == (before.headers["ETag"], body_of(before))
    assert get_catalogue_repository().isrc_holder("alice", "GBAYE0601498") is None


def test_a_change_of_exactly_100_items_is_sent(client, sent):
    # Given a release with 99 tracks on disc 1
    rid = create_release(client)["id"]
    tracks = seed_tracks(rid, [None] * 99)
    sent.clear()

    # When its first track moves to disc 2 without an ISRC: 1 release + 1 track + 98 renumbered = 100 items
    response = call(client, "PATCH", f"/releases/{rid}/tracks/{tracks[0].id}", {"disc_number": 2})

    # Then it is written in one transaction of 100 items
    assert response.status_code == 200, response.body
    assert [len(items) for items in sent] == [100]
    assert (body_of(response)["disc_number"], body_of(response)["track_number"]) == (2, 1)


# -- cancellation reasons: order ------------------------------------------------------------------------------------


def test_cancellation_reasons_are_paired_with_the_items_in_the_order_they_were_sent(aws, sent):
    service = get_release_service()
    repository = get_catalogue_repository()
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id
    kept = service.tracks.add(ALICE, rid, {"title": "Kept"})
    dropped = service.tracks.add(ALICE, rid, {"title": "Dropped"})
    collaborator = service.collaborators.add(ALICE, rid, {"name": "Nellee Hooper", "role": "producer"})
    stale = repository.load(rid)
    service.tracks.update(ALICE, rid, kept.id, {"title": "Kept, renamed"})  # kept moves on to version 2
    fresh = repository.load(rid)
    stale_kept = next(t for t in stale.tracks if t.id == kept.id)
    sent.clear()

    # When a write adds items in an order unlike the one PynamoDB sends (puts before deletes), one of them stale
    change = CatalogueWrite(
        release=fresh.release,
        inferred_type="single",
        put_tracks=[stale_kept.model_copy(update={"title": "Lost update"})],
        put_collaborators=[fresh.collaborators[0].model_copy(update={"name": "Nellee"})],
        delete_tracks=[next(t for t in fresh.tracks if t.id == dropped.id)],
    )
    with pytest.raises(VersionConflictError) as raised:
        repository.write(change)

    # Then the request laid the items out as condition checks, deletes, puts, updates…
    (items,) = sent
    layout = [
        (next(iter(item)), item[next(iter(item))].get("Key", item[next(iter(item))].get("Item"))) for item in items
    ]
    assert [operation for operation, _ in layout] == ["Delete", "Put", "Put", "Put"]
    assert sorted(OPERATION_ORDER.index(op) for op, _ in layout) == [OPERATION_ORDER.index(op) for op, _ in layout]
    keys = [key["sk"]["S"] for _, key in layout]
    assert keys == [
        f"RELEASE#TRACK#{dropped.id}",
        "RELEASE",
        f"RELEASE#TRACK#{kept.id}",
        f"RELEASE#COLLABORATOR#{collaborator.id}",
    ]
    # …moto's one failing reason sits at the stale track's position, and the error names that track
    reasons = raised.value.__cause__.cancellation_reasons
    assert [r.code if r else None for r in reasons] == [None, None, "ConditionalCheckFailed", None]
    assert (raised.value.target, raised.value.details["id"]) == ("track", kept.id)
    after = repository.load(rid)
    assert {t.id for t in after.tracks} == {kept.id, dropped.id}  # the delete was rolled back too


def test_an_injected_reason_names_the_item_at_its_position(client, cancel):
    # Given a release with a track, whose change will carry a claim at the last position (deletes, then puts)
    rid = create_release(client)["id"]
    track = body_of(call(client, "POST", f"/releases/{rid}/tracks", {"title": "Jóga", "isrc": "USRC17607839"}))

    # When DynamoDB reports the condition of item 3 failed: [Delete claim, Put release, Put track, Put claim]
    cancel("ConditionalCheckFailed", at=3)
    response = call(client, "PATCH", f"/releases/{rid}/tracks/{track['id']}", {"isrc": "GBAYE0601498"})

    # Then the error is the ISRC claim's own (409 isrc_in_use), not a version conflict of the release
    status, code, details = error_of(response)
    assert (status, code, details["isrc"]) == (409, "isrc_in_use", "GBAYE0601498")


# -- cancellation reasons: kinds ------------------------------------------------------------------------------------


@pytest.fixture
def recorded(aws) -> tuple[ReleaseService, list[float]]:
    """A release service whose retries sleep into a list instead of waiting."""
    sleeps: list[float] = []
    return ReleaseService(get_catalogue_repository(), sleep=sleeps.append), sleeps


def test_a_transaction_conflict_is_retried_after_a_jittered_backoff_and_lands(recorded, cancel):
    service, sleeps = recorded
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id

    # When DynamoDB cancels the first attempt for a conflicting transaction
    answered = cancel("TransactionConflict", at=0)
    written = service.update(ALICE, rid, {"genre": "Trip hop"})

    # Then one backoff (full jitter: somewhere in [0, base)) and the second attempt writes
    assert answered == [1]
    assert len(sleeps) == 1 and 0 <= sleeps[0] < Backoff().base_s
    assert (written.release.genre, written.release.version) == ("Trip hop", 2)
    assert get_catalogue_repository().get(rid).genre == "Trip hop"


@pytest.mark.parametrize("code", ["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"])
def test_throttling_is_retried_with_growing_backoff_then_answers_503(recorded, cancel, code):
    service, sleeps = recorded
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id

    answered = cancel(code, times=None, at=0)
    with pytest.raises(TransientTransactionError) as raised:
        service.update(ALICE, rid, {"genre": "Trip hop"})

    assert (raised.value.status, raised.value.code, raised.value.details) == (503, "throttled", {"reasons": [code]})
    assert len(answered) == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1
    caps = [min(Backoff().cap_s, Backoff().base_s * 2**n) for n in range(MAX_ATTEMPTS - 1)]
    assert all(0 <= s < cap for s, cap in zip(sleeps, caps, strict=True)), (sleeps, caps)
    assert get_catalogue_repository().get(rid).version == 1


def test_a_conflict_that_never_clears_answers_409_concurrent_modification(recorded, cancel):
    service, sleeps = recorded
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id

    answered = cancel("TransactionConflict", times=None, at=0)
    with pytest.raises(ConflictError) as raised:
        service.update(ALICE, rid, {"genre": "Trip hop"})

    assert raised.value.code == "concurrent_modification"
    assert (len(answered), len(sleeps)) == (MAX_ATTEMPTS, MAX_ATTEMPTS - 1)


@pytest.mark.parametrize("code", ["ValidationError", "ItemCollectionSizeLimitExceeded"])
def test_any_other_reason_is_a_500_at_once_not_a_retry_nor_a_409(client, cancel, code):
    rid = create_release(client)["id"]

    answered = cancel(code, times=None, at=0)
    response = call(client, "PATCH", f"/releases/{rid}", {"genre": "Trip hop"})

    status, error, details = error_of(response)
    assert (status, error, details["reasons"]) == (500, "internal_error", [code])
    assert answered == [1]  # sent once: no retry
    assert body_of(call(client, "GET", f"/releases/{rid}"))["genre"] is None


def test_a_version_conflict_reads_again_at_once_without_sleeping(recorded, cancel):
    service, sleeps = recorded
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id

    answered = cancel("ConditionalCheckFailed", at=0)
    written = service.update(ALICE, rid, {"genre": "Trip hop"})

    assert (answered, sleeps, written.release.version) == ([1], [], 2)


def test_a_mismatched_number_of_reasons_is_an_error():
    # A response whose reasons cannot be paired with the items is never guessed at
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    from chalicelib.store.records import IsrcClaimRecord
    from chalicelib.store.transactions import Step, _raise_mapped

    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=[CancellationReason(code="ConditionalCheckFailed")],
    )
    steps = [Step("Put", "isrc", isrc, IsrcClaimRecord(f"ISRC#a#{isrc}", "ISRC")) for isrc in ("A", "B")]
    with pytest.raises(TransactionFailedError):
        _raise_mapped(TransactWriteError("failed", cause), steps, lambda step, exc: None)  # type: ignore[arg-type,return-value]


def test_backoff_is_full_jitter_doubling_up_to_its_cap():
    backoff = Backoff(base_s=0.025, cap_s=1.0)
    assert [backoff.delay(n, draw=lambda: 0.5) for n in range(8)] == [
        0.0125,
        0.025,
        0.05,
        0.1,
        0.2,
        0.4,
        0.5,
        0.5,
    ]
    assert backoff.delay(3, draw=lambda: 0.0) == 0.0


# -- what a write answers ---------------------------------------------------------------------------------------------


def test_every_write_answers_what_a_read_would_find_after_one_partition_read(aws):
    repository = CountingRepository()
    service = ReleaseService(repository)
    rid = service.create(ALICE, {"title": "Post", "display_artist": "Björk"}).release.id

    def once(write: Callable[[], Any]) -> Any:
        repository.loads = 0
        written = write()
        assert repository.loads == 1, "a write read the partition more than once"
        return written

    first = once(lambda: service.tracks.add(ALICE, rid, {"title": "Army of Me", "bpm": "120.50"}))
    second = once(lambda: service.tracks.add(ALICE, rid, {"title": "Hyperballad", "disc_number": 2}))
    moved = once(lambda: service.tracks.update(ALICE, rid, second.id, {"disc_number": 1}))
    producer = once(lambda: service.collaborators.add(ALICE, rid, {"name": "Nellee", "role": "producer", "split": 25}))
    renamed = once(lambda: service.collaborators.update(ALICE, rid, producer.id, {"split": "33.33"}))
    reordered = once(lambda: service.tracks.reorder(ALICE, rid, [second.id, first.id]))
    updated = once(lambda: service.update(ALICE, rid, {"genre": "Electronic", "release_type": "ep"}))
    mixed = once(lambda: service.lifecycle.transition(ALICE, rid, "mixed", reason="done"))

    stored = repository.load(rid)
    assert json.loads(mixed.model_dump_json()) == json.loads(stored.model_dump_json())
    assert updated.release.version == mixed.release.version - 1
    assert reordered.tracks[0].id == second.id
    assert [t.model_dump(mode="json") for t in stored.tracks] == [t.model_dump(mode="json") for t in reordered.tracks]
    assert renamed.model_dump(mode="json") == stored.collaborators[0].model_dump(mode="json")
    assert moved.version == 2
