"""S3 notification parsing, upload keys, sequencer ordering, cursors and settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import pytest
from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.errors import InvalidError
from chalicelib.services.ingest import parse_upload_key
from chalicelib.store.assets import normalise_sequencer
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.workers.s3_events import object_created_records


def _record(key: str, event: str = "ObjectCreated:Post") -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {
            "bucket": {"name": "b"},
            "object": {"key": key, "size": 12, "eTag": "abc", "sequencer": "0055AED6DCD90281E5"},
        },
    }


def test_keys_are_form_decoded():
    records = object_created_records(json.dumps({"Records": [_record("uploads/ana+mar%C3%ADa%2Bco/u1")]}))
    assert [r.key for r in records] == ["uploads/ana maría+co/u1"]
    assert records[0].size == 12 and records[0].etag == "abc"


def test_without_a_sequencer_the_event_time_orders_events():
    record = _record("uploads%2Fa%2Fb")
    del record["s3"]["object"]["sequencer"]
    record["eventTime"] = "2026-11-21T00:14:17.610Z"
    later = {**record, "eventTime": "2026-11-21T00:14:17.611Z"}
    first, second = (object_created_records(json.dumps({"Records": [r]}))[0] for r in (record, later))
    assert first.key == "uploads/a/b"
    assert normalise_sequencer(first.sequencer) < normalise_sequencer(second.sequencer)


def test_other_events_and_test_events_give_nothing():
    assert object_created_records(json.dumps({"Records": [_record("uploads/a/b", "ObjectRemoved:Delete")]})) == []
    assert object_created_records(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert object_created_records("[]") == []
    assert object_created_records("{") == []
    assert object_created_records(json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})) == []
    assert object_created_records(json.dumps({"Records": [{**_record("uploads/a/b"), "eventName": 1}]})) == []


MALFORMED_BODIES = {
    "not JSON": "{",
    "deeply nested JSON": "[" * 50_000,
    "a JSON string": json.dumps("Records"),
    "a JSON list": json.dumps([_record("uploads/a/b")]),
    "null": "null",
    "no Records": json.dumps({"Service": "Amazon S3"}),
    "Records a string": json.dumps({"Records": "uploads/a/b"}),
    "Records a number": json.dumps({"Records": 5}),
    "Records an object": json.dumps({"Records": {"eventName": "ObjectCreated:Put"}}),
    "Records null": json.dumps({"Records": None}),
    "a record a string": json.dumps({"Records": ["ObjectCreated:Put"]}),
    "a record a list": json.dumps({"Records": [["ObjectCreated:Put"]]}),
    "a record null": json.dumps({"Records": [None]}),
    "no s3": json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
    "s3 a string": json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": "x"}]}),
    "object a list": json.dumps({"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": []}}]}),
    "key a number": json.dumps({"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}),
    "key a map": json.dumps({"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": {"key": {}}}}]}),
    "key empty": json.dumps({"Records": [_record("")]}),
    "key too long": json.dumps({"Records": [_record("uploads/a/" + "%C3%A9" * 600)]}),
    "bucket a list": json.dumps({"Records": [{**_record("k"), "s3": {"bucket": [], "object": {"key": "k"}}}]}),
    "size a string": json.dumps(
        {"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}}}]}
    ),
    "size negative": json.dumps(
        {"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": -1}}}]}
    ),
    "no sequencer, no eventTime": json.dumps(
        {"Records": [{**_record("k"), "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}
    ),
    "eventTime not a time": json.dumps(
        {"Records": [{**_record("k"), "eventTime": "soon", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}
    ),
}


@pytest.mark.parametrize("body", list(MALFORMED_BODIES.values()), ids=list(MALFORMED_BODIES))
def test_malformed_messages_are_logged_and_dropped(body, caplog):
    # Given an SQS message body of the wrong shape
    # When it is parsed
    with caplog.at_level(logging.INFO, logger="chalicelib.workers.s3_events"):
        records = object_created_records(body)
    # Then nothing is returned, nothing raises, and a line says why
    assert records == []
    assert any(r.levelno == logging.ERROR and "dropping" in r.getMessage() for r in caplog.records)


def test_a_malformed_record_does_not_drop_its_well_formed_neighbours():
    body = json.dumps({"Records": ["junk", _record("uploads/a/b"), {"eventName": "ObjectCreated:Put"}]})
    assert [r.key for r in object_created_records(body)] == ["uploads/a/b"]


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("uploads/alice/u1", ("alice", "u1")),
        ("uploads/alice/", None),
        ("media/alice/u1", None),
        ("uploads/a/b/c", None),
    ],
)
def test_upload_keys(key, parsed):
    assert parse_upload_key(key) == parsed


def test_sequencers_of_different_lengths_order_numerically():
    assert normalise_sequencer("FF") < normalise_sequencer("100")
    assert normalise_sequencer("0055aed6dcd90281e5") == normalise_sequencer("0055AED6DCD90281E5")


SECRET = b"k" * 32
RELEASES_KEY = {
    "gsi1pk": {"S": "OWNER#alice#RELEASES"},
    "gsi1sk": {"S": "2026#x"},
    "pk": {"S": "RELEASE#x"},
    "sk": {"S": "RELEASE"},
}
STATUS_KEY = {
    "gsi2pk": {"S": "OWNER#alice#STATUS#draft"},
    "gsi2sk": {"S": "2026#x"},
    "pk": {"S": "RELEASE#x"},
    "sk": {"S": "RELEASE"},
}
HISTORY_KEY = {"pk": {"S": "RELEASE#x"}, "sk": {"S": "HISTORY#2026#1"}}
RELEASES = {"partition_attr": "gsi1pk", "partition_value": "OWNER#alice#RELEASES", "secret": SECRET}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signed(payload: object, secret: bytes = SECRET) -> str:
    raw = json.dumps(payload).encode()
    return f"{_b64(raw)}.{_b64(hmac.new(secret, raw, hashlib.sha256).digest())}"


def test_cursors_round_trip_and_are_bound_to_their_partition():
    cursor = encode_cursor(RELEASES_KEY, secret=SECRET)
    assert cursor and "=" not in cursor
    assert decode_cursor(cursor, **RELEASES) == RELEASES_KEY
    with pytest.raises(InvalidError):
        decode_cursor(cursor, partition_attr="gsi1pk", partition_value="OWNER#bob#RELEASES", secret=SECRET)
    with pytest.raises(InvalidError):
        decode_cursor("%%%", partition_attr="gsi1pk", partition_value="x", secret=SECRET)
    assert encode_cursor(None) is None


def _unsigned(key: dict) -> str:
    # The format cursors had before they were signed: base64url JSON of the key.
    return _b64(json.dumps(key).encode())


@pytest.mark.parametrize(
    ("name", "cursor"),
    [
        ("unsigned, the old format", _unsigned(RELEASES_KEY)),
        ("signed with another key", _signed({"v": 1, "list_name": "gsi1", "key": RELEASES_KEY}, b"x" * 32)),
        ("truncated", (encode_cursor(RELEASES_KEY, secret=SECRET) or "")[:-5]),
        ("payload truncated", (encode_cursor(RELEASES_KEY, secret=SECRET) or "")[5:]),
        ("MAC removed", (encode_cursor(RELEASES_KEY, secret=SECRET) or "").split(".")[0]),
        ("not ASCII", "é.é"),
        ("huge", "a" * 5000 + ".b"),
        ("dots", "..."),
        ("signed but not JSON", f"{_b64(b'{')}.{_b64(hmac.new(SECRET, b'{', hashlib.sha256).digest())}"),
        ("signed list", _signed([RELEASES_KEY])),
        ("signed, key a list", _signed({"v": 1, "list_name": "gsi1", "key": [1, 2]})),
        ("signed, value a map", _signed({"v": 1, "list_name": "gsi1", "key": {**RELEASES_KEY, "sk": {"M": {}}}})),
        ("signed, value a number", _signed({"v": 1, "list_name": "gsi1", "key": {**RELEASES_KEY, "sk": 5}})),
        ("signed, extra attribute", _signed({"v": 1, "list_name": "gsi1", "key": {**RELEASES_KEY, "x": {"S": "y"}}})),
        ("signed, missing attribute", _signed({"v": 1, "list_name": "gsi1", "key": {"gsi1pk": {"S": "x"}}})),
        ("signed, another version", _signed({"v": 2, "list_name": "gsi1", "key": RELEASES_KEY})),
        ("signed, extra field", _signed({"v": 1, "list_name": "gsi1", "key": RELEASES_KEY, "admin": True})),
        ("another list", encode_cursor(RELEASES_KEY, list_name="tracks", secret=SECRET)),
        ("the status list's", encode_cursor(STATUS_KEY, secret=SECRET)),
        ("the history list's", encode_cursor(HISTORY_KEY, secret=SECRET)),
    ],
)
def test_forged_truncated_reshaped_or_foreign_cursors_are_refused(name, cursor):
    # Given a cursor this listing did not issue
    # When the releases listing decodes it
    with pytest.raises(InvalidError) as caught:
        decode_cursor(cursor, **RELEASES)
    # Then it is refused with invalid_cursor, never a KeyError, a TypeError or a key DynamoDB would refuse
    assert caught.value.code == "invalid_cursor" and caught.value.status == 400


def test_a_cursor_is_bound_to_its_list_and_partition():
    history = encode_cursor(HISTORY_KEY, secret=SECRET)
    draft = encode_cursor(STATUS_KEY, secret=SECRET)
    assert decode_cursor(history, partition_attr="pk", partition_value="RELEASE#x", secret=SECRET) == HISTORY_KEY
    # A releases cursor names pk RELEASE#x too: the list it came from still tells them apart.
    with pytest.raises(InvalidError):
        decode_cursor(
            encode_cursor(RELEASES_KEY, secret=SECRET), partition_attr="pk", partition_value="RELEASE#x", secret=SECRET
        )
    released = {"partition_attr": "gsi2pk", "partition_value": "OWNER#alice#STATUS#released", "secret": SECRET}
    with pytest.raises(InvalidError):
        decode_cursor(draft, **released)
    named = encode_cursor(HISTORY_KEY, list_name="history", secret=SECRET)
    assert decode_cursor(named, partition_attr="pk", partition_value="RELEASE#x", list_name="history", secret=SECRET)
    with pytest.raises(InvalidError):
        decode_cursor(named, partition_attr="pk", partition_value="RELEASE#x", list_name="tracks", secret=SECRET)


def test_the_cursor_key_comes_from_settings():
    local = Settings(bucket_name="b", jwt_secret="s")
    assert local.cursor_key() != b"s" and len(local.cursor_key()) == 32
    assert Settings(bucket_name="b", jwt_secret="s", cursor_secret="c" * 32).cursor_key() == b"c" * 32
    outside = {"bucket_name": "b", "stage": "prod", "cognito_user_pool_id": "p", "cognito_app_client_id": "c"}
    with pytest.raises(ValidationError, match="SLEEVE_CURSOR_SECRET"):
        Settings(**outside)
    with pytest.raises(ValidationError, match="SLEEVE_CURSOR_SECRET"):
        Settings(**outside, cursor_secret="short")
    assert Settings(**outside, cursor_secret="c" * 32).cursor_key() == b"c" * 32


def test_settings_refuse_unsafe_values(monkeypatch):
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", jwt_secret="s", upload_url_ttl_s=3600)
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", stage="prod")
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", stage="local")
    monkeypatch.setenv("SLEEVE_MAX_PIXELS", "1000")
    assert Settings(bucket_name="b", jwt_secret="s").max_pixels == 1000
