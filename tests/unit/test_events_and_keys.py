"""S3 notification parsing, upload keys, sequencer ordering, cursors and settings."""

from __future__ import annotations

import json

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


def test_cursors_round_trip_and_are_bound_to_their_partition():
    key = {
        "gsi1pk": {"S": "OWNER#alice#RELEASES"},
        "gsi1sk": {"S": "2026#x"},
        "pk": {"S": "RELEASE#x"},
        "sk": {"S": "RELEASE"},
    }
    cursor = encode_cursor(key)
    assert cursor and "=" not in cursor
    assert decode_cursor(cursor, partition_attr="gsi1pk", partition_value="OWNER#alice#RELEASES") == key
    with pytest.raises(InvalidError):
        decode_cursor(cursor, partition_attr="gsi1pk", partition_value="OWNER#bob#RELEASES")
    with pytest.raises(InvalidError):
        decode_cursor("%%%", partition_attr="gsi1pk", partition_value="x")
    assert encode_cursor(None) is None


def test_settings_refuse_unsafe_values(monkeypatch):
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", jwt_secret="s", upload_url_ttl_s=3600)
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", stage="prod")
    with pytest.raises(ValidationError):
        Settings(bucket_name="b", stage="local")
    monkeypatch.setenv("SLEEVE_MAX_PIXELS", "1000")
    assert Settings(bucket_name="b", jwt_secret="s").max_pixels == 1000
