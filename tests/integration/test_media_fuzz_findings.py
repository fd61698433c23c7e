"""Regression tests for what the contract fuzz run (tests/e2e/test_contract_fuzz.py) found on the media library's
routes, one per finding, each replaying the failing case as an ordinary request through chalice.test.Client on moto
(the pattern of tests/integration/test_fuzz_findings.py; README "Fuzzing")."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from tests.integration.conftest import body_of, call

#: Numbers DynamoDB cannot store (magnitude 0 or 1E-130 to 1E+126): the fuzz run's 5e-324 answered 500.
_UNDERFLOWING = [
    ({"music_metadata": {"duration_s": 5e-324}}, ("music_metadata", "duration_s"), 0.0),
    ({"ai_metadata": {"generated_by": "x", "confidence": 5e-324}}, ("ai_metadata", "confidence"), 0.0),
]


@pytest.mark.parametrize(("fields", "path", "stored"), _UNDERFLOWING, ids=["duration_s", "confidence"])
@pytest.mark.parametrize("route", ["/media", "/media/uploads"])
def test_a_float_too_small_for_dynamodb_is_stored_as_zero(
    client: Client, route: str, fields: dict[str, Any], path: tuple[str, str], stored: float
):
    # Given a body with a denormal float (valid JSON and within the document's 0..max), as the fuzz run sent
    body = {**fields, **({"content_type": "image/png", "content_length": 10} if route == "/media/uploads" else {})}
    # When the asset is created (the fuzz case: DynamoDB refused the put, "Number underflow", and the API answered 500)
    response = call(client, "POST", route, body)
    # Then it is created, and the value (0 for any duration or confidence) is stored as 0
    assert response.status_code == 201, response.body
    asset_id = body_of(response).get("asset_id") or body_of(response)["id"]
    view = body_of(call(client, "GET", f"/media/{asset_id}"))
    assert view[path[0]][path[1]] == stored


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"music_metadata": {"bpm": 5e-324}}, "bpm"),
        ({"music_metadata": {"bpm": 0.001}}, "bpm"),
        ({"ai_metadata": {"generated_by": "x", "processing_time_ms": 10**130}}, "processing_time_ms"),
        ({"ai_metadata": {"generated_by": "x", "processing_time_ms": 2**53}}, "processing_time_ms"),
    ],
    ids=["bpm-denormal", "bpm-below-0.01", "processing-time-overflow", "processing-time-past-2^53"],
)
def test_numbers_outside_the_documented_range_are_refused_before_anything_is_written(
    client: Client, fields: dict[str, Any], field: str
):
    # Given a bpm below the documented 0.01, or a processing time past the documented 2^53 - 1 (10^130 answered 500:
    # DynamoDB's "Number overflow"; more than 38 digits is refused by DynamoDB too, though moto stores it)
    # When a metadata asset is created with it
    response = call(client, "POST", "/media", fields)
    # Then it is refused as invalid input, and the library stays empty
    assert response.status_code == 422, response.body
    assert any(field in name for name in body_of(response)["error"]["details"]["fields"])
    assert body_of(call(client, "GET", "/media"))["items"] == []


@pytest.mark.parametrize("route", ["/media", "/media/uploads", "PATCH"])
@pytest.mark.parametrize(
    "value", [0, 1795697505, "1795697505", "2026-11-26T12:00:00"], ids=["0", "int", "str", "naive"]
)
def test_generated_at_is_an_rfc3339_time_not_a_timestamp(client: Client, route: str, value: Any):
    # Given the document's ai_metadata.generated_at: a string in the "date-time" format (RFC 3339, with its offset)
    ai_metadata = {"generated_by": "0", "generated_at": value}
    upload = {"content_type": "image/png", "content_length": 10} if route == "/media/uploads" else {}
    # When a client sends a Unix timestamp, or a time without an offset (the fuzz case: {"generated_at": 0} was
    # stored as 1970-01-01 on POST /media, POST /media/uploads and PATCH /media/{id})
    if route == "PATCH":
        asset_id = body_of(call(client, "POST", "/media", {}))["id"]
        response = call(client, "PATCH", f"/media/{asset_id}", {"ai_metadata": ai_metadata})
    else:
        response = call(client, "POST", route, {**upload, "ai_metadata": ai_metadata})
    # Then it is refused, and no asset holds it
    assert response.status_code == 422, response.body
    assert any("generated_at" in name for name in body_of(response)["error"]["details"]["fields"])
    assert all(item["ai_metadata"] is None for item in body_of(call(client, "GET", "/media"))["items"])


def test_generated_at_takes_an_rfc3339_time(client: Client):
    # Given an RFC 3339 time with an offset
    # When a metadata asset is created with it
    response = call(
        client, "POST", "/media", {"ai_metadata": {"generated_by": "x", "generated_at": "2026-11-26T13:00:00+01:00"}}
    )
    # Then it is kept, as the same instant
    assert response.status_code == 201, response.body
    assert body_of(response)["ai_metadata"]["generated_at"] in ("2026-11-26T12:00:00Z", "2026-11-26T13:00:00+01:00")


@pytest.mark.parametrize(
    "fields",
    [
        {"ai_metadata": {"generated_by": "0", "confidence": False}},
        {"ai_metadata": {"generated_by": "0", "confidence": "0.5"}},
        {"music_metadata": {"bpm": True}},
        {"music_metadata": {"duration_s": False}},
    ],
    ids=["confidence-false", "confidence-text", "bpm-true", "duration-false"],
)
@pytest.mark.parametrize("route", ["/media", "/media/uploads", "PATCH"])
def test_a_number_field_takes_a_json_number_not_a_boolean_or_text(client: Client, route: str, fields: dict[str, Any]):
    # Given the document's number fields (the fuzz case: {"confidence": false} was stored as 0.0 on POST /media,
    # POST /media/uploads and PATCH /media/{id}: pydantic's lax floats took booleans and numeric text)
    upload = {"content_type": "image/png", "content_length": 10} if route == "/media/uploads" else {}
    # When one of them is sent as a boolean or as text
    if route == "PATCH":
        asset_id = body_of(call(client, "POST", "/media", {}))["id"]
        response = call(client, "PATCH", f"/media/{asset_id}", fields)
    else:
        response = call(client, "POST", route, {**upload, **fields})
    # Then it is refused, and no asset holds it
    assert response.status_code == 422, response.body
    items = body_of(call(client, "GET", "/media"))["items"]
    assert all(item["ai_metadata"] is None and item["music_metadata"] is None for item in items)
