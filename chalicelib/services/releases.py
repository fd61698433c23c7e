"""Releases: create, read and list an owner's releases (the catalogue issue adds the lifecycle)."""

from __future__ import annotations

import uuid

from chalicelib.errors import NotFoundError
from chalicelib.models.domain import Identity, Page, Release
from chalicelib.store.repositories import ReleaseRepository


class ReleaseService:
    """Owner-scoped access to releases: another owner's release answers the same 404 as an unknown one."""

    def __init__(self, repository: ReleaseRepository) -> None:
        self._repository = repository

    def create(self, identity: Identity, *, title: str, artist: str, artwork_url: str | None = None) -> Release:
        """A new release owned by the caller, with a random id."""
        return self._repository.create(
            release_id=uuid.uuid4().hex, owner_id=identity.subject, title=title, artist=artist, artwork_url=artwork_url
        )

    def get(self, identity: Identity, release_id: str) -> Release:
        """The caller's release; ``NotFoundError`` (``release_not_found``) if unknown or another owner's."""
        release = self._repository.get(release_id)
        if release is None or release.owner_id != identity.subject:
            raise NotFoundError("No such release.", code="release_not_found", details={"release_id": release_id})
        return release

    def get_any(self, release_id: str) -> Release | None:
        """A release whatever its owner (share links, workers); None if unknown."""
        return self._repository.get(release_id)

    def list(self, identity: Identity, *, limit: int, cursor: str | None) -> Page:
        """The caller's releases, newest first; ``limit`` 1..100; ``InvalidError`` for a foreign or bad cursor."""
        return self._repository.list_by_owner(identity.subject, limit=limit, cursor=cursor)
