"""Pure rules of media edits: name parts (all or none), tag normalisation, and the bulk plans."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.errors import UnprocessableError
from chalicelib.models.api import CreateMediaRequest, UpdateMediaRequest
from chalicelib.models.domain import Asset
from chalicelib.models.media import generated_name
from chalicelib.services.media_edits import bulk_plan, name_parts, normalise_tags

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _asset(**fields: object) -> Asset:
    values: dict[str, object] = {
        "id": "0" * 32,
        "owner_id": "alice",
        "status": "ready",
        "upload_key": "uploads/alice/" + "0" * 32,
        "declared_content_type": "",
        "declared_bytes": 0,
        "max_bytes": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Asset.model_validate(values | fields)


def test_name_parts_are_all_or_none():
    # Given requests with all three parts, none, and some
    full = CreateMediaRequest.model_validate({"layer": "L", "category": "cas", "subcategory": "atl"})
    none = UpdateMediaRequest.model_validate({"title": "x"})
    some = UpdateMediaRequest.model_validate({"layer": "L", "subcategory": "atl"})
    # Then all three are returned as given, none is None, some is refused naming what is missing
    assert name_parts(full) == ("L", "cas", "atl")
    assert name_parts(none) is None
    with pytest.raises(UnprocessableError) as refused:
        name_parts(some)
    assert refused.value.code == "name_parts_incomplete" and refused.value.details == {"missing": ["category"]}


@pytest.mark.parametrize(
    ("parts", "seq", "name"),
    [
        (("L", "cas", "atl"), 1, "L.CAS.ATL.001"),
        (("G", "Ab", "cdEF"), 42, "G.AB.CDEF.042"),
        (("W", "ab", "cd"), 1000, "W.AB.CD.1000"),
    ],
)
def test_generated_names(parts: tuple[str, str, str], seq: int, name: str):
    assert generated_name(*parts, seq) == name


@pytest.mark.parametrize("layer", ["X", "l", ""])
def test_a_name_part_out_of_the_rules_is_refused_by_the_request_model(layer: str):
    with pytest.raises(ValueError):
        CreateMediaRequest.model_validate({"layer": layer, "category": "ab", "subcategory": "cd"})


def test_tags_are_trimmed_and_deduplicated_case_insensitively_keeping_the_first_spelling():
    assert normalise_tags([" Press ", "press", "Teal", "", "PRESS", "teal ", "Noir"]) == ["Press", "Teal", "Noir"]


def test_bulk_plans_change_only_what_needs_changing():
    # Given an asset tagged "Press", public
    asset = _asset(tags=["Press", "teal"], visibility="public")
    # Then tagging an existing tag in another case, or setting the same visibility, changes nothing
    assert bulk_plan("tag", "press")(asset) == {}
    assert bulk_plan("set_visibility", "public")(asset) == {}
    # And a new tag is appended, an untag removes every spelling, the last tag removed clears the attribute
    assert bulk_plan("tag", "noir")(asset) == {"tags": ["Press", "teal", "noir"]}
    assert bulk_plan("untag", "PRESS")(asset) == {"tags": ["teal"]}
    assert bulk_plan("untag", "teal")(_asset(tags=["teal"])) == {"tags": None}
    assert bulk_plan("set_visibility", "shared")(asset) == {"visibility": "shared"}
