"""Regression tests for what the contract fuzz run (tests/e2e/test_contract_fuzz.py) found, one per finding.

Each test replays the failing case Schemathesis printed as an ordinary request through chalice.test.Client on moto
(F1, F2: /work/notes/fuzz-findings.md and the README's "Fuzzing").
"""

from __future__ import annotations

import pytest

from chalicelib.openapi import openapi_document
from tests.integration.conftest import body_of, call, create_release


@pytest.mark.parametrize("path", ["/releases", "/releases/{release_id}/history"])
def test_an_empty_query_value_is_documented_as_absent(client, path):
    # Given a release (the fuzz case: GET /releases?cursor= answered 200 where the document said minLength 1)
    release_id = create_release(client)["id"]
    # When a list is asked for with empty optional query values
    response = call(client, "GET", path.format(release_id=release_id) + "?cursor=&limit=")
    # Then it answers the first page, as without them, and the document says that an empty value means absent
    assert response.status_code == 200, response.body
    assert body_of(response)["items"]
    parameters = openapi_document()["paths"][path]["get"]["parameters"]
    optional_query = [p for p in parameters if p["in"] == "query" and not p["required"]]
    assert {p["name"] for p in optional_query} >= {"cursor", "limit"}
    assert all(p.get("allowEmptyValue") is True for p in optional_query)


@pytest.mark.parametrize("value", [0, 86400, "86400"], ids=["int-0", "int-86400", "str-86400"])
def test_a_release_date_is_an_iso_date_not_a_timestamp(client, value):
    # Given the document's scheduled_release_date: a string in the "date" format (YYYY-MM-DD)
    # When a client sends a midnight Unix timestamp instead (the fuzz case: 0 was stored as 1970-01-01)
    response = call(client, "POST", "/releases", {"title": "0", "display_artist": "0", "scheduled_release_date": value})
    # Then it is refused, and no release was written
    assert response.status_code == 422, response.body
    assert "scheduled_release_date" in body_of(response)["error"]["details"]["fields"]
    assert body_of(call(client, "GET", "/releases"))["items"] == []


def test_an_update_date_is_an_iso_date_not_a_timestamp(client):
    # Given a release
    release_id = create_release(client)["id"]
    # When its update sends a timestamp for the date
    response = call(client, "PATCH", f"/releases/{release_id}", {"scheduled_release_date": 0})
    # Then it is refused and the release keeps no date
    assert response.status_code == 422, response.body
    assert body_of(call(client, "GET", f"/releases/{release_id}"))["scheduled_release_date"] is None


def test_a_schedule_date_is_an_iso_date_not_a_timestamp(client):
    # Given a release on its way to mastered (the fuzz case: POST /schedule {"date": 0} was accepted)
    release_id = create_release(client)["id"]
    # When it is scheduled with a timestamp for the date
    response = call(client, "POST", f"/releases/{release_id}/schedule", {"date": 0})
    # Then the date is refused before any lifecycle rule, and the release stays a draft
    assert response.status_code == 422, response.body
    assert "date" in body_of(response)["error"]["details"]["fields"]
    assert body_of(call(client, "GET", f"/releases/{release_id}"))["production_status"] == "draft"
