"""Text fields of every request model refuse control characters and bidirectional overrides (models/text.py)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from chalicelib.models import api
from chalicelib.models.text import (
    INVALID_CHARACTERS,
    MULTILINE_PATTERN,
    NON_BLANK_SINGLE_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    refused_characters,
)

REQUEST_MODELS = [
    model
    for _, model in inspect.getmembers(api, inspect.isclass)
    if issubclass(model, BaseModel) and model.__module__ == api.__name__ and not model.__name__.startswith("_")
]
MULTILINE_FIELDS = {
    "description",
    "production_notes",
    "creator_description",
    "prompt",
    "negative_prompt",
    "additional_context",
    "original_input",
}


def _is_text(schema: dict[str, Any]) -> bool:
    """Free text: a string, or a list of strings, that is not an enum, a date, or a number's string form."""
    options = schema.get("anyOf", [schema])
    if any(option.get("type") in ("number", "integer") for option in options):
        return False
    return any(
        option.get("type") == "string"
        and not {"enum", "const"} & set(option)
        and option.get("pattern") in (None, *TEXT_PATTERNS)
        and option.get("format") in (None, "uri")
        for option in options
    ) or any(_is_text(option["items"]) for option in options if option.get("type") == "array")


#: The document patterns of the text types: a string with one of them (or none) is free text.
TEXT_PATTERNS = (SINGLE_LINE_PATTERN, NON_BLANK_SINGLE_LINE_PATTERN, MULTILINE_PATTERN)


def _text_fields() -> list[tuple[type[BaseModel], str, bool]]:
    cases = []
    for model in REQUEST_MODELS:
        properties = model.model_json_schema()["properties"]
        for name, field in model.model_fields.items():
            schema = properties[field.alias or name] if (field.alias or name) in properties else properties[name]
            if _is_text(schema):
                is_list = any(o.get("type") == "array" for o in schema.get("anyOf", [schema]))
                cases.append((model, name, is_list))
    return cases


TEXT_FIELDS = _text_fields()


def test_the_request_models_have_text_fields_to_check():
    names = {(m.__name__, f) for m, f, _ in TEXT_FIELDS}
    # A sample that must be found; the parametrised test below covers every one found.
    assert {
        ("CreateReleaseRequest", "title"),
        ("CreateReleaseRequest", "description"),
        ("CreateReleaseRequest", "artwork_url"),
        ("CreateTrackRequest", "production_notes"),
        ("CreateCollaboratorRequest", "name"),
        ("CreateUploadRequest", "filename"),
        ("UnlockRequest", "reason"),
        ("TrackOrderRequest", "track_ids"),
    } <= names


@pytest.mark.parametrize("hidden", ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u202a", "\u2066", "\u2069"])
@pytest.mark.parametrize(("model", "field", "is_list"), TEXT_FIELDS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_text_field_refuses_controls_and_bidi_overrides(model, field, is_list, hidden):
    # Given a value with a control character or a bidi override inside (or at the end, where stripping would hide it)
    value = f"https://example.com/a{hidden}b" if field.endswith("_url") else f"ok{hidden}ok"
    # When the model validates it
    with pytest.raises(ValidationError) as caught:
        model.model_validate({field: [value] if is_list else value})
    # Then the field fails with the invalid_characters type, naming the code point
    errors = [e for e in caught.value.errors() if e["loc"][0] == field]
    assert errors and errors[0]["type"] == INVALID_CHARACTERS, errors
    assert f"U+{ord(hidden):04X}" in errors[0]["msg"]


@pytest.mark.parametrize(("model", "field", "is_list"), TEXT_FIELDS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_trailing_control_character_is_refused_not_stripped(model, field, is_list):
    value = "https://example.com/\x1f" if field.endswith("_url") else "ok\x1f"
    with pytest.raises(ValidationError) as caught:
        model.model_validate({field: [value] if is_list else value})
    assert any(e["type"] == INVALID_CHARACTERS for e in caught.value.errors() if e["loc"][0] == field)


@pytest.mark.parametrize(("model", "field", "is_list"), TEXT_FIELDS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_newlines_only_where_documented(model, field, is_list):
    value = "first line\nsecond\tline\r\n"
    try:
        model.model_validate({field: [value] if is_list else value})
        errors: list[Any] = []
    except ValidationError as exc:
        errors = [e for e in exc.errors() if e["loc"][0] == field]
    refused = any(e["type"] == INVALID_CHARACTERS for e in errors)
    assert refused is (field not in MULTILINE_FIELDS)


def test_implicit_direction_marks_are_allowed_in_text():
    # LRM/RLM/ALM only affect neighbouring neutral characters; mixed Hebrew/Arabic titles need them.
    body = api.CreateReleaseRequest.model_validate({"title": "\u05e9\u05d9\u05e8 2\u200f", "display_artist": "x"})
    assert body.title.endswith("\u200f")
    assert refused_characters("a\u200e\u200f\u061cb") == []
    assert refused_characters("a\u202eb\x00c\u202e") == ["U+202E", "U+0000"]
