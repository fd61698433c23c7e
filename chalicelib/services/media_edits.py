"""Pure rules of media edits: tag normalisation, generated-name parts, and the update plans of bulk actions.

No I/O: the service (``services/media.py``) reads an asset, asks these for the update, and writes it conditionally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.errors import NotFoundError, UnprocessableError
from chalicelib.models.api import CreateMediaRequest, CreateMediaUploadRequest, UpdateMediaRequest
from chalicelib.models.domain import Asset

NAME_FIELDS = ("layer", "category", "subcategory")


def not_found(asset_id: str) -> NotFoundError:
    """The one answer for an unknown asset, another owner's, and one being deleted."""
    return NotFoundError("No such media asset.", code="media_not_found", details={"asset_id": asset_id})


def normalise_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, blanks dropped, duplicates (case-insensitive) dropped keeping the first spelling, order kept."""
    seen: dict[str, str] = {}
    for tag in tags:
        cleaned = tag.strip()
        if cleaned and cleaned.casefold() not in seen:
            seen[cleaned.casefold()] = cleaned
    return list(seen.values())


def name_parts(request: CreateMediaUploadRequest | CreateMediaRequest | UpdateMediaRequest) -> tuple[str, ...] | None:
    """``(layer, category, subcategory)`` when the request asks for a generated name, None when it names none of
    them. Raises ``UnprocessableError`` ``name_parts_incomplete`` (422) when only some are given."""
    given = [getattr(request, field) for field in NAME_FIELDS]
    if all(part is None for part in given):
        return None
    if any(part is None for part in given):
        missing = [field for field, part in zip(NAME_FIELDS, given, strict=True) if part is None]
        raise UnprocessableError(
            "A name needs layer, category and subcategory together.",
            code="name_parts_incomplete",
            details={"missing": missing},
        )
    return tuple(str(part) for part in given)


#: An update plan: the fields to write (None removes one); empty when nothing changes.
type Changes = dict[str, Any]


def bulk_plan(action: str, value: str) -> Callable[[Asset], Changes]:
    """The changes of one asset for a bulk ``tag``/``untag``/``set_visibility`` (``{}`` when nothing changes).

    ``tag`` adds ``value`` unless the asset has it (compared case-insensitively); ``untag`` removes every spelling of
    it; ``set_visibility`` sets it.
    """

    def plan(before: Asset) -> Changes:
        if action == "set_visibility":
            return {} if before.visibility == value else {"visibility": value}
        if action == "tag":
            tags = normalise_tags([*before.tags, value])
        else:
            tags = [tag for tag in before.tags if tag.casefold() != value.strip().casefold()]
        return {} if tags == before.tags else {"tags": tags or None}

    return plan
