"""Collaborators of a release: credits with roles and royalty splits, each pool adding up to at most 100 %."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.errors import UnprocessableError
from chalicelib.models.catalogue import (
    FULL_SPLIT_BP,
    Collaborator,
    ReleaseDetail,
    bp_to_percent,
    percent_to_bp,
    split_totals_bp,
)
from chalicelib.models.domain import Identity
from chalicelib.services.catalogue import Catalogue, IfMatch, check_version, find
from chalicelib.services.lifecycle import require_children_editable
from chalicelib.store.catalogue import CatalogueWrite


class CollaboratorService:
    """Collaborators of the caller's releases; admins may read any owner's. ``If-Match`` is the release's version
    for adding, the collaborator's for changing and removing."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def get(self, identity: Identity, release_id: str, collaborator_id: str) -> Collaborator:
        """One collaborator of the caller's release; ``NotFoundError`` (``collaborator_not_found``) otherwise."""
        detail = self._catalogue.load(identity, release_id, admin_may_read=True)
        return find(detail.collaborators, collaborator_id, "collaborator")

    def add(
        self, identity: Identity, release_id: str, fields: Mapping[str, Any], *, if_match: IfMatch = None
    ) -> Collaborator:
        """Credit a collaborator.

        Raises ``ConflictError`` (``release_locked``) and ``UnprocessableError`` (``split_exceeds_total``, 422) when
        the split would push its royalty pool past 100 %.
        """
        collaborator_id = uuid.uuid4().hex

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            check_version(if_match, detail.release.version, "release")
            require_children_editable(detail.release, "Collaborators")
            now = self._catalogue.now()
            collaborator = Collaborator(
                id=collaborator_id, release_id=detail.release.id, created_at=now, updated_at=now, **fields
            )
            _require_split_room([*detail.collaborators, collaborator], collaborator)
            return self._catalogue.write(detail, {}, put_collaborators=[collaborator], now=now)

        written = self._catalogue.mutate(identity, release_id, plan)
        return find(written.collaborators, collaborator_id, "collaborator")

    def update(
        self,
        identity: Identity,
        release_id: str,
        collaborator_id: str,
        changes: Mapping[str, Any],
        *,
        if_match: IfMatch = None,
    ) -> Collaborator:
        """Change a collaborator; same errors as ``add``."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            current = find(detail.collaborators, collaborator_id, "collaborator")
            check_version(if_match, current.version, "collaborator")
            require_children_editable(detail.release, "Collaborators")
            now = self._catalogue.now()
            collaborator = Collaborator.model_validate(
                current.model_copy(update={**changes, "updated_at": now}).model_dump()
            )
            others = [c for c in detail.collaborators if c.id != collaborator_id]
            _require_split_room([*others, collaborator], collaborator)
            return self._catalogue.write(detail, {}, put_collaborators=[collaborator], now=now)

        written = self._catalogue.mutate(identity, release_id, plan)
        return find(written.collaborators, collaborator_id, "collaborator")

    def delete(self, identity: Identity, release_id: str, collaborator_id: str, *, if_match: IfMatch = None) -> None:
        """Remove a collaborator and their split."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            collaborator = find(detail.collaborators, collaborator_id, "collaborator")
            check_version(if_match, collaborator.version, "collaborator")
            require_children_editable(detail.release, "Collaborators")
            return self._catalogue.write(detail, {}, delete_collaborators=[collaborator])

        self._catalogue.mutate(identity, release_id, plan)


def _require_split_room(collaborators: list[Collaborator], changed: Collaborator) -> None:
    group = changed.group
    total = split_totals_bp(collaborators)[group]
    if total > FULL_SPLIT_BP:
        raise UnprocessableError(
            f"The {group} splits would add up to {bp_to_percent(total)} %, over 100 %.",
            code="split_exceeds_total",
            details={
                "group": group,
                "total": float(bp_to_percent(total)),
                "available": float(bp_to_percent(FULL_SPLIT_BP - (total - _bp(changed.split)))),
            },
        )


def _bp(split: Decimal | None) -> int:
    return percent_to_bp(split) if split is not None else 0
