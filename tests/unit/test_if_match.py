"""``If-Match`` parsing and ``ETag`` headers (RFC 9110 §8.8.3, §13.1.1): strong tags of integer versions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from chalice.app import Request

from chalicelib.api.responses import etag, if_match


def _request(headers: dict[str, str] | None) -> Request:
    """A real chalice Request as API Gateway hands it over (its headers are a case-insensitive mapping)."""
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": headers,
            "pathParameters": {"release_id": "rel-1"},
            "requestContext": {"httpMethod": "PATCH", "resourcePath": "/releases/{release_id}"},
            "body": None,
            "stageVariables": None,
        }
    )


def _with_if_match(value: str) -> SimpleNamespace:
    """A minimal request: the lower-case header name, as the gateway passes it on."""
    return SimpleNamespace(headers={"if-match": value})


def test_no_if_match_header_means_no_precondition():
    assert if_match(SimpleNamespace(headers={})) is None
    assert if_match(SimpleNamespace(headers={"content-type": "application/json"})) is None
    assert if_match(_request({"Content-Type": "application/json"})) is None


def test_missing_headers_mean_no_precondition():
    assert if_match(SimpleNamespace(headers=None)) is None
    assert if_match(_request(None)) is None


@pytest.mark.parametrize("value", ["*", " * ", "*\t"])
def test_a_star_matches_any_version(value):
    assert if_match(_with_if_match(value)) is None


@pytest.mark.parametrize(
    ("value", "versions"),
    [
        ('"3"', {3}),
        ('"0"', {0}),
        ('"3", "4"', {3, 4}),
        ('"3","4"', {3, 4}),
        (' "3" ,  "4" , "12" ', {3, 4, 12}),
        ('"3", "3"', {3}),
        ('"007"', {7}),
        ('"123456789012"', {123_456_789_012}),
    ],
)
def test_strong_tags_give_their_versions(value, versions):
    assert if_match(_with_if_match(value)) == frozenset(versions)


@pytest.mark.parametrize(
    "value",
    [
        'W/"3"',  # weak tags never match under If-Match's strong comparison (RFC 9110 §13.1.1)
        'w/"3"',
        "3",  # not quoted
        '"three"',
        '"3.0"',
        '"-1"',
        '"+3"',
        '" 3"',
        '""',
        '"',
        '"3',
        '3"',
        "garbage",
        "",
        ",",
    ],
)
def test_weak_or_malformed_tags_match_nothing(value):
    # An empty set, not None: the write is conditional and fails with 412, it is not unconditional.
    result = if_match(_with_if_match(value))
    assert result is not None
    assert result == frozenset()


def test_a_weak_tag_beside_a_strong_one_contributes_nothing():
    assert if_match(_with_if_match('W/"3", "4", garbage')) == frozenset({4})


@pytest.mark.parametrize("name", ["If-Match", "IF-MATCH", "if-match"])
def test_the_header_name_is_case_insensitive_on_a_chalice_request(name):
    assert if_match(_request({name: '"5"'})) == frozenset({5})


def test_a_superscript_digit_in_a_tag_matches_nothing_rather_than_crashing():
    assert if_match(_with_if_match('"\u00b2"')) == frozenset()


def test_a_tag_in_non_ascii_digits_matches_nothing():
    assert if_match(_with_if_match('"\u0663"')) == frozenset()


@pytest.mark.parametrize("version", [0, 1, 3, 42, 10**12])
def test_etag_is_a_strong_quoted_version(version):
    header = etag(version)
    assert header == {"ETag": f'"{version}"'}
    assert not header["ETag"].startswith("W/")


@pytest.mark.parametrize("version", [0, 1, 3, 42, 10**12])
def test_an_etag_we_issued_round_trips_through_if_match(version):
    assert if_match(_request({"If-Match": etag(version)["ETag"]})) == frozenset({version})
