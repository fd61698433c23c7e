"""``GET|PUT /me/preferences/artwork`` through ``chalice.test.Client`` (every answer checked against the OpenAPI
document): the defaults, a PUT that replaces the preferences whole, owner scoping, refused bodies, and what
``allow_ai_enhancement`` does to an enhancement request."""

from __future__ import annotations

import pytest
from chalice.test import Client

from tests.integration.conftest import Aws, body_of, call
from tests.integration.enhancement_support import lanczos_upscaler, ready_cover  # noqa: F401

PATH = "/me/preferences/artwork"
DEFAULTS = {"auto_enhance_low_res": True, "prefer_ai_enhancement": True, "allow_ai_enhancement": True}


def test_an_owner_who_never_set_them_has_the_defaults(client: Client, aws: Aws) -> None:
    # Given an owner who never wrote preferences, When they read them
    response = call(client, "GET", PATH)
    # Then every preference is on
    assert response.status_code == 200, response.body
    assert body_of(response) == DEFAULTS


def test_a_put_replaces_them_whole_and_a_field_left_out_is_its_default(client: Client, aws: Aws) -> None:
    # Given an owner who turned two preferences off
    first = call(client, "PUT", PATH, {"auto_enhance_low_res": False, "prefer_ai_enhancement": False})
    assert first.status_code == 200, first.body
    assert body_of(first) == {**DEFAULTS, "auto_enhance_low_res": False, "prefer_ai_enhancement": False}
    assert body_of(call(client, "GET", PATH)) == body_of(first)
    # When they PUT only one field
    second = call(client, "PUT", PATH, {"allow_ai_enhancement": False})
    # Then the two left out are back to their defaults: the body is the whole of the preferences
    assert body_of(second) == {**DEFAULTS, "allow_ai_enhancement": False}
    assert body_of(call(client, "GET", PATH)) == body_of(second)
    # And an empty body restores every default
    assert body_of(call(client, "PUT", PATH, {})) == DEFAULTS


def test_preferences_belong_to_their_owner(client: Client, aws: Aws) -> None:
    # Given alice's preferences, all off
    off = dict.fromkeys(DEFAULTS, False)
    assert call(client, "PUT", PATH, off).status_code == 200
    # When bob reads his
    response = call(client, "GET", PATH, subject="bob")
    # Then he has the defaults, and alice still has hers
    assert body_of(response) == DEFAULTS
    assert body_of(call(client, "GET", PATH)) == off


@pytest.mark.parametrize(
    "body",
    [
        {"allow_ai_enhancement": "false"},
        {"allow_ai_enhancement": 0},
        {"prefer_ai_enhancement": None},
        {"auto_enhance": False},
    ],
    ids=["a string", "a number", "null", "an unknown field"],
)
def test_a_body_that_is_not_three_booleans_is_refused_and_changes_nothing(client: Client, aws: Aws, body) -> None:
    # Given alice's preferences with AI enhancement allowed
    # When a PUT sends something other than true/false for a preference, or a field there is not
    response = call(client, "PUT", PATH, body)
    # Then 422 validation_error names the field, and the preferences are as they were
    assert response.status_code == 422, response.body
    error = body_of(response)["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["fields"]) == set(body)
    assert body_of(call(client, "GET", PATH)) == DEFAULTS


def test_without_a_token_they_answer_401(client: Client, aws: Aws) -> None:
    # Given no bearer token, When the preferences are read or written, Then 401 missing_token
    for method in ("GET", "PUT"):
        response = call(client, method, PATH, {}, headers={"Content-Type": "application/json"})
        assert response.status_code == 401
        assert body_of(response)["error"]["code"] == "missing_token"


def test_refusing_ai_enhancement_refuses_the_request_and_the_offer(client: Client, aws: Aws, shared_images) -> None:
    # Given a release whose 450×600 cover is offered for enhancement
    release_id = ready_cover(client, aws, shared_images)
    artwork = body_of(call(client, "GET", f"/releases/{release_id}/artwork"))
    assert artwork["enhancement_offered"] is True
    # When the owner turns AI enhancement off
    assert call(client, "PUT", PATH, {"allow_ai_enhancement": False}).status_code == 200
    # Then the artwork no longer offers it, and a request answers 409 ai_not_allowed
    artwork = body_of(call(client, "GET", f"/releases/{release_id}/artwork"))
    assert artwork["enhancement_offered"] is False
    response = call(client, "POST", f"/releases/{release_id}/artwork/enhance")
    assert response.status_code == 409, response.body
    assert body_of(response)["error"]["code"] == "ai_not_allowed"
    # And no job was made
    assert body_of(call(client, "GET", "/jobs"))["items"] == []
