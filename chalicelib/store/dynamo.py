"""Helpers every repository shares: the clock, condition-failure detection and consistent single-item reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def is_condition_failure(exc: Exception) -> bool:
    """Whether a PynamoDB write failed on its condition (``ConditionalCheckFailedException``)."""
    cause = getattr(exc, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


def get_item(model: type[Model], pk: str, sk: str) -> Any:
    """The item at (``pk``, ``sk``) read strongly consistently, or None."""
    try:
        return model.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


def update_if(record: Model, actions: list[Any], condition: Any) -> bool:
    """Apply the update ``actions`` to ``record``'s item if ``condition`` holds.

    Returns False when the condition fails (nothing changes); any other failure raises PynamoDB's ``UpdateError``.
    """
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
