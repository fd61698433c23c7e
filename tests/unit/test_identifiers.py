"""ISRC (IFPI ISRC Handbook §4) and UPC-A / EAN-13 (GS1 General Specifications §7.9) normalisation and validation."""

from __future__ import annotations

import json

import pytest
from chalice.app import Request
from pydantic import ValidationError

from chalicelib.api.responses import parse_body
from chalicelib.errors import UnprocessableError
from chalicelib.models.api import CreateReleaseRequest, CreateTrackRequest, UpdateReleaseRequest, UpdateTrackRequest
from chalicelib.models.identifiers import gtin_check_digit, normalise_isrc, normalise_upc

# The ISRC Handbook's own example: country US, registrant RC1, year of reference 76, designation code 07839.
HANDBOOK_ISRC = "USRC17607839"


# --- ISRC ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "USRC17607839",
        "US-RC1-76-07839",
        "usrc17607839",
        "isrc usrc17607839",
        "ISRC US-RC1-76-07839",
        "ISRC-US-RC1-76-07839",
        "ISRCUSRC17607839",
        " US RC1 76 07839 ",
        "US\tRC1\n76 07839",
        "US--RC1--76--07839",
        "US\u00a0RC1\u00a076\u00a007839",  # no-break spaces, as pasted from a PDF
    ],
)
def test_isrc_forms_normalise_to_the_compact_handbook_form(raw):
    assert normalise_isrc(raw) == HANDBOOK_ISRC


def test_an_icelandic_isrc_starting_with_isrc_keeps_its_country_code():
    # Country IS (Iceland), registrant RC1: the first four characters spell "ISRC" but are part of the code itself.
    assert normalise_isrc("IS-RC1-76-07839") == "ISRC17607839"
    assert normalise_isrc("ISRC IS-RC1-76-07839") == "ISRC17607839"


def test_a_registrant_code_may_mix_letters_and_digits():
    assert normalise_isrc("gb-a1b-23-00001") == "GBA1B2300001"
    assert normalise_isrc("FR-123-99-12345") == "FR1239912345"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "only white space"),
        ("ISRC", "only the label"),
        ("USRC1760783", "11 characters"),
        ("USRC176078391", "13 characters"),
        ("ISRC USRC1760783", "label plus 11 characters"),
        ("U1RC17607839", "a digit in the country code"),
        ("12RC17607839", "a numeric country code"),
        ("USRC1A607839", "a letter in the year of reference"),
        ("USRC176O7839", "the letter O in the designation code"),
        ("USRC17607B39", "a letter in the designation code"),
        ("US_RC1_76_07839", "underscores are not separators"),
        ("US.RC1.76.07839", "dots are not separators"),
        ("USRÇ17607839", "a non-ASCII letter in the registrant code"),
        ("ÜSRC17607839", "a non-ASCII letter in the country code"),
        ("US-RC1-76-07839X", "a trailing character"),
    ],
)
def test_malformed_isrcs_are_refused(raw, why):
    with pytest.raises(ValueError, match="not a valid ISRC"):
        normalise_isrc(raw)


@pytest.mark.parametrize("raw", ["USRC17607839".replace("9", "\u0669"), "USRC176\uff10\uff17\uff18\uff13\uff19"])
def test_non_ascii_digits_in_an_isrc_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_isrc(raw)


# --- GS1 check digit ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        # From the right, weights 3, 1, 3, 1…: 5·3 + 4 + 1·3 + 4 + 2·3 + 0 + 0 + 0 + 6·3 + 3 + 0 = 53 → 7.
        ("03600024145", 7),
        # 3·3 + 9 + 3·3 + 3 + 3·3 + 1 + 8·3 + 3 + 6·3 + 0 + 0 + 4 = 89 → 1.
        ("400638133393", 1),
        # ISBN 978-0-306-40615-7: 5·3 + 1 + 6·3 + 0 + 4·3 + 6 + 0 + 3 + 0 + 8 + 7·3 + 9 = 93 → 7.
        ("978030640615", 7),
        # 5·3 + 5 = 20, already a multiple of 10: the check digit is 0, never 10.
        ("00000000055", 0),
        ("00000000000", 0),
        # 1·3 = 3 → 7.
        ("00000000001", 7),
    ],
)
def test_gtin_check_digit_of_known_bodies(body, check):
    assert gtin_check_digit(body) == check


def test_leading_zeros_do_not_change_the_check_digit():
    # A UPC-A is an EAN-13 with a leading zero: both carry the same check digit.
    assert gtin_check_digit("0" + "03600024145") == gtin_check_digit("03600024145")


# --- UPC-A / EAN-13 -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("036000241457", "036000241457"),  # GS1's UPC-A example
        ("0 36000 24145 7", "036000241457"),
        ("036000-241457", "036000241457"),
        (" 0-36000-24145-7 ", "036000241457"),
        ("4006381333931", "4006381333931"),  # EAN-13
        ("400 6381 33393 1", "4006381333931"),
        ("9780306406157", "9780306406157"),  # ISBN-13 as an EAN
        ("978-0-306-40615-7", "9780306406157"),
        ("0036000241457", "0036000241457"),  # the UPC-A written as EAN-13 keeps its 13 digits
    ],
)
def test_valid_upc_and_ean_codes_are_kept_at_their_length_without_separators(raw, expected):
    assert normalise_upc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("036000241458", "check digit"),
        ("036000241450", "check digit"),
        ("4006381333932", "check digit"),
        ("9780306406158", "check digit"),
        ("03600024145", "12 \\(UPC-A\\) or 13"),  # 11 digits
        ("00036000241457", "12 \\(UPC-A\\) or 13"),  # 14 digits, although its check digit is right (a GTIN-14)
        ("1234567", "12 \\(UPC-A\\) or 13"),
        ("", "12 \\(UPC-A\\) or 13"),
        ("   ", "12 \\(UPC-A\\) or 13"),
        ("03600024145X", "12 \\(UPC-A\\) or 13"),
        ("036000.241457", "12 \\(UPC-A\\) or 13"),
        ("٠٣٦٠٠٠٢٤١٤٥٧", "12 \\(UPC-A\\) or 13"),  # Arabic-Indic digits of 036000241457
        ("０３６０００２４１４５７", "12 \\(UPC-A\\) or 13"),  # full-width digits
        ("03600024145\u00b2", "12 \\(UPC-A\\) or 13"),  # superscript two: str.isdigit() but not a decimal digit
    ],
)
def test_invalid_upc_codes_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        normalise_upc(raw)


# --- through the request models -----------------------------------------------------------------------------------


def _error_locations(exc: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(error["loc"]) for error in exc.errors()]


def test_a_track_request_normalises_its_isrc():
    track = CreateTrackRequest.model_validate({"title": "Intro", "isrc": "isrc US-RC1-76-07839"})
    assert track.isrc == HANDBOOK_ISRC


def test_a_track_request_with_a_bad_isrc_names_the_isrc_field():
    with pytest.raises(ValidationError) as caught:
        CreateTrackRequest.model_validate({"title": "Intro", "isrc": "US-RC1-76-0783"})
    assert _error_locations(caught.value) == [("isrc",)]
    assert "not a valid ISRC" in caught.value.errors()[0]["msg"]


def test_a_track_update_may_clear_the_isrc_but_not_set_a_bad_one():
    assert UpdateTrackRequest.model_validate({"isrc": None}).isrc is None
    with pytest.raises(ValidationError) as caught:
        UpdateTrackRequest.model_validate({"isrc": "XX"})
    assert _error_locations(caught.value) == [("isrc",)]


def test_a_release_request_normalises_its_upc():
    release = CreateReleaseRequest.model_validate({"title": "T", "display_artist": "A", "upc": "0 36000 24145 7"})
    assert release.upc == "036000241457"


@pytest.mark.parametrize("upc", ["036000241458", "03600024145", "٠٣٦٠٠٠٢٤١٤٥٧"])
def test_a_release_request_with_a_bad_upc_names_the_upc_field(upc):
    with pytest.raises(ValidationError) as caught:
        CreateReleaseRequest.model_validate({"title": "T", "display_artist": "A", "upc": upc})
    assert _error_locations(caught.value) == [("upc",)]
    with pytest.raises(ValidationError) as caught:
        UpdateReleaseRequest.model_validate({"upc": upc})
    assert _error_locations(caught.value) == [("upc",)]


def _request(body: dict[str, object]) -> Request:
    """A chalice Request as API Gateway hands it over, with a JSON body."""
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": {"content-type": "application/json"},
            "pathParameters": None,
            "requestContext": {"httpMethod": "POST", "resourcePath": "/releases/{release_id}/tracks"},
            "body": json.dumps(body),
            "stageVariables": None,
        }
    )


def test_parse_body_reports_a_bad_isrc_under_details_fields_isrc():
    with pytest.raises(UnprocessableError) as caught:
        parse_body(_request({"title": "Intro", "isrc": "not-an-isrc"}), CreateTrackRequest)
    assert caught.value.code == "validation_error"
    assert set(caught.value.details["fields"]) == {"isrc"}


def test_parse_body_reports_a_bad_upc_under_details_fields_upc():
    with pytest.raises(UnprocessableError) as caught:
        parse_body(_request({"title": "T", "display_artist": "A", "upc": "036000241458"}), CreateReleaseRequest)
    assert caught.value.code == "validation_error"
    assert set(caught.value.details["fields"]) == {"upc"}
    assert "check digit" in caught.value.details["fields"]["upc"]
