"""Attachments of the media library: the caller's assets attached to owner objects (a release, a track, or any type a
client names: scene, character…), one ``cover`` per object and ordered lists for the other roles.

A release's cover is also the pointer the artwork view reads (``RELEASE#{id}`` / ``ATTACHMENT#cover``, written by
ingest for artwork uploads): attaching an asset as a release's cover moves that pointer to it with a history entry
(``cover_changed``), in the same transaction as the attachment, on condition that the release still exists, is not
``locked`` and is in the production status read, and that the asset is still a ready image. The pointer is the
truth for a release's cover: a listing shows the asset it names even when an artwork upload put it there.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from chalicelib.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    UnprocessableError,
)
from chalicelib.models.api import AttachMediaRequest, OwnerId, OwnerType
from chalicelib.models.catalogue import Release
from chalicelib.models.domain import Asset, Identity
from chalicelib.models.media import KNOWN_OWNER_TYPES, MediaAttachment
from chalicelib.models.views import AttachedMedia, MediaAssetView, MediaAttachmentView, OwnerMediaList
from chalicelib.services.artwork import COVER_ROLE, release_target
from chalicelib.services.attachment_rules import (
    ATTEMPTS,
    already_attached,
    attachment_not_found,
    check_holder,
    cover_attachment_id,
    cover_history,
    cover_release,
    kept_changing,
    made_for_release,
    require_cover_image,
    require_editable,
)
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.catalogue import CatalogueRepository
from chalicelib.store.dynamo import utcnow
from chalicelib.store.media_attachments import (
    TRACK_SEPARATOR,
    CoverPointerClear,
    CoverPointerMove,
    MediaAttachmentRepository,
    new_attachment_id,
    remove_attachment,
    write_attachment,
)
from chalicelib.store.transactions import TransientTransactionError

log = logging.getLogger(__name__)

#: Attachments one ordered role of one object holds at most (the listing has no pages).
MAX_PER_ROLE = 200
#: ``meta`` is the client's small JSON object: at most this many bytes as compact JSON.
META_MAX_BYTES = 2048

type AssetViewer = Callable[[Asset], MediaAssetView]

_OWNER_TYPE: TypeAdapter[str] = TypeAdapter(OwnerType)
_OWNER_ID: TypeAdapter[str] = TypeAdapter(OwnerId)


def attachment_view(attachment: MediaAttachment) -> MediaAttachmentView:
    """The API's view of an attachment."""
    return MediaAttachmentView.model_validate(attachment.model_dump())


class AttachmentService:
    """Attach, detach and list; ``detach_all`` for an asset's delete, ``delete_for_release`` for the release cleanup."""

    def __init__(
        self,
        *,
        catalogue: CatalogueRepository,
        attachments: MediaAttachmentRepository,
        pointers: AttachmentRepository,
        views: Callable[[], AssetViewer],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``views``: returns the renderer of assets (P1's ``MediaViews.view``), called when a listing is made."""
        self._catalogue = catalogue
        self._attachments = attachments
        self._pointers = pointers
        self._views = views
        self._clock = clock

    # -- attach ---------------------------------------------------------------------------------------------------

    def attach(self, identity: Identity, asset_id: str, request: AttachMediaRequest) -> MediaAttachment:
        """Attach the caller's asset to ``request.owner_type``/``owner_id`` in ``role``.

        Raises ``NotFoundError``: ``media_not_found`` (unknown, another owner's, or being deleted),
        ``release_not_found`` / ``track_not_found`` (a known owner type whose object is missing or another
        owner's). ``ConflictError``:
        ``cover_taken`` (another asset is the cover and ``replace`` is false; ``details`` name it),
        ``already_attached`` (the asset already fills this role of the object), ``too_many_attachments``
        (``MAX_PER_ROLE``), ``release_locked``, ``asset_not_ready`` (a release cover must be a ready image),
        ``concurrent_modification`` (kept moving for ``ATTEMPTS`` tries). ``UnsupportedMediaTypeError``
        (``unsupported_media_type``): a release cover that is not an image. ``UnprocessableError``
        (``validation_error``): ``meta`` above ``META_MAX_BYTES`` or holding NaN/Infinity.
        """
        owner = identity.subject
        meta = request.meta or {}
        try:
            # NaN and Infinity parse in Python's JSON but are not JSON (RFC 8259 §6): refused, never stored.
            size = len(json.dumps(meta, separators=(",", ":"), allow_nan=False).encode())
        except ValueError:
            size = META_MAX_BYTES + 1
        if size > META_MAX_BYTES:
            raise UnprocessableError(
                "The request is not valid.",
                code="validation_error",
                details={"fields": {"meta": f"a JSON object of at most {META_MAX_BYTES} bytes, finite numbers only"}},
            )
        asset = self._owned_asset(owner, asset_id)
        release = self._check_owner_object(owner, request.owner_type, request.owner_id)
        if request.role != COVER_ROLE:
            return self._attach_ordered(owner, asset, request, meta)
        if release is not None:
            return self._attach_release_cover(owner, asset, release, request, meta)
        return self._attach_cover(owner, asset, request, meta)

    def _attach_ordered(
        self, owner: str, asset: Asset, request: AttachMediaRequest, meta: dict[str, object]
    ) -> MediaAttachment:
        for attempt in range(ATTEMPTS):
            present = self._attachments.in_role(owner, request.owner_type, request.owner_id, request.role)
            for item in present:
                if item.asset_id == asset.id:
                    raise already_attached(item.id)
            if len(present) >= MAX_PER_ROLE:
                raise ConflictError(
                    f"A role of an object holds at most {MAX_PER_ROLE} attachments.",
                    code="too_many_attachments",
                    details={"role": request.role, "max": MAX_PER_ROLE},
                )
            sort_order = request.sort_order
            if sort_order is None:
                sort_order = present[-1].sort_order + 1 if present else 0
            attachment = self._new(owner, asset, request, meta, new_attachment_id(), sort_order)
            if self._sent(attempt, asset, attachment, replaces=None):
                return attachment
        raise kept_changing()

    def _attach_cover(
        self, owner: str, asset: Asset, request: AttachMediaRequest, meta: dict[str, object]
    ) -> MediaAttachment:
        for attempt in range(ATTEMPTS):
            holder = self._attachments.cover(owner, request.owner_type, request.owner_id)
            replaces = check_holder(asset, holder.asset_id if holder else None, holder.id if holder else None, request)
            attachment = self._new(owner, asset, request, meta, new_attachment_id(), 0)
            if self._sent(attempt, asset, attachment, replaces=replaces):
                return attachment
        raise kept_changing()

    def _attach_release_cover(
        self, owner: str, asset: Asset, release: Release, request: AttachMediaRequest, meta: dict[str, object]
    ) -> MediaAttachment:
        require_cover_image(asset)
        for attempt in range(ATTEMPTS):
            require_editable(release)
            previous, _latest = self._pointers.get(release_target(release.id), COVER_ROLE)
            item = self._attachments.cover(owner, "release", release.id)
            check_holder(asset, previous, cover_attachment_id(release.id, previous) if previous else None, request)
            now = self._clock()
            attachment = self._new(owner, asset, request, meta, cover_attachment_id(release.id, asset.id), 0)
            move = CoverPointerMove(
                release_id=release.id,
                owner=owner,
                previous_asset_id=previous,
                asset_id=asset.id,
                at=now,
                production_status=release.production_status,
                refuse_locked=True,
                history=cover_history(release, owner, now, asset.id, previous, attachment.id, "cover_changed"),
            )
            replaces = item.id if item else None
            if self._sent(attempt, asset, attachment, replaces=replaces, pointer=move):
                return attachment
            release = self._release_again(owner, release.id)
        raise kept_changing()

    def _sent(
        self,
        attempt: int,
        asset: Asset,
        attachment: MediaAttachment,
        *,
        replaces: str | None,
        pointer: CoverPointerMove | None = None,
    ) -> bool:
        """Write ``attachment`` (with a release cover's ``pointer`` move, which needs a ready image); True when
        written. A refused asset raises its error; anything else that moved (the holder, the release, a conflicting
        transaction) returns False for the caller to read and plan again."""
        image = pointer is not None
        try:
            failed = write_attachment(attachment, replaces=replaces, require_ready=image, pointer=pointer)
        except TransientTransactionError:
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # full jitter (AWS Architecture Blog, backoff)
            return False
        if not failed:
            return True
        if "asset" in failed:
            current = self._owned_asset(asset.owner_id, asset.id)
            if image:
                require_cover_image(current)
        return False

    def _new(
        self,
        owner: str,
        asset: Asset,
        request: AttachMediaRequest,
        meta: dict[str, object],
        attachment_id: str,
        sort_order: int,
    ) -> MediaAttachment:
        return MediaAttachment(
            id=attachment_id,
            asset_id=asset.id,
            owner=owner,
            owner_type=request.owner_type,
            owner_id=request.owner_id,
            role=request.role,
            sort_order=sort_order,
            meta=meta,
            created_at=self._clock(),
        )

    # -- detach ---------------------------------------------------------------------------------------------------

    def detach(self, identity: Identity, asset_id: str, attachment_id: str) -> None:
        """Remove one attachment of the caller's asset. A release's cover also clears the release's cover pointer,
        with a history entry (``cover_removed``).

        Raises ``NotFoundError``: ``media_not_found``, ``attachment_not_found`` (no such attachment of this asset);
        ``ConflictError``: ``release_locked`` (a locked release's cover), ``concurrent_modification``.
        """
        asset = self._owned_asset(identity.subject, asset_id)
        attachment = self._attachments.find(asset.id, attachment_id)
        release_id = cover_release(attachment, asset, attachment_id)
        if release_id is not None:
            if not self._clear_release_cover(asset, release_id, identity.subject, refuse_locked=True):
                raise attachment_not_found(attachment_id)
            return
        if attachment is None or not self._attachments.delete(attachment):
            raise attachment_not_found(attachment_id)

    def detach_all(self, asset: Asset) -> int:
        """Remove every attachment of ``asset`` (whoever's object it is attached to) and clear a release's cover
        pointer that names it (with a history entry, even on a locked release: the asset is going). For the asset's
        delete (P1); idempotent. Returns how many attachments (and pointers) it removed."""
        removed = 0
        releases: set[str] = set()
        for attachment in self._attachments.list_for_asset(asset.id):
            if attachment.asset_id != asset.id:
                continue
            if attachment.owner_type == "release" and attachment.role == COVER_ROLE:
                releases.add(attachment.owner_id)
            elif self._attachments.delete(attachment):
                removed += 1
        made_for = made_for_release(asset)
        if made_for is not None:
            releases.add(made_for)
        for release_id in sorted(releases):
            removed += self._clear_release_cover(asset, release_id, asset.owner_id, refuse_locked=False)
        return removed

    def _clear_release_cover(self, asset: Asset, release_id: str, actor: str, *, refuse_locked: bool) -> bool:
        """Delete the cover attachment of ``release_id`` naming ``asset`` and take the asset out of the release's
        cover pointer (as its cover, with a history entry, and as its newest upload); True when the cover or its
        attachment went. With ``refuse_locked``, a locked release refuses (``release_locked``)."""
        for attempt in range(ATTEMPTS):
            release = self._catalogue.get(release_id)
            if release is not None and release.owner_id != asset.owner_id:
                return False
            if release is not None and refuse_locked:
                require_editable(release)
            pointed, latest = self._pointers.get(release_target(release_id), COVER_ROLE)
            item = self._attachments.cover(asset.owner_id, "release", release_id)
            item = item if item is not None and item.asset_id == asset.id else None
            is_cover, is_latest = pointed == asset.id, latest == asset.id
            if not (is_cover or is_latest or item):
                return False
            now = self._clock()
            move = None
            if is_cover or is_latest:
                history = None
                if is_cover and release is not None:
                    history = cover_history(
                        release, actor, now, None, asset.id, cover_attachment_id(release_id, asset.id), "cover_removed"
                    )
                move = CoverPointerClear(
                    release_id=release_id,
                    asset_id=asset.id,
                    cover=is_cover,
                    latest=is_latest,
                    at=now,
                    production_status=release.production_status if release and is_cover else None,
                    refuse_locked=refuse_locked,
                    history=history,
                )
            try:
                failed = remove_attachment(item, pointer=move)
            except TransientTransactionError:
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
                continue
            if not failed:
                return is_cover or item is not None
        raise kept_changing()

    # -- list -----------------------------------------------------------------------------------------------------

    def owner_media(self, identity: Identity, owner_type: str, owner_id: str) -> OwnerMediaList:
        """The attachments of the caller's object with their assets: the cover first, then each role in
        ``sort_order``. A release's cover is the one its cover pointer names (also when an artwork upload set it).
        Attachments whose asset is gone or being deleted are left out.

        Raises ``NotFoundError`` (``release_not_found``, ``track_not_found``) for a known owner type whose object is
        missing or another owner's. A client type (scene…) is the caller's own namespace: an object never attached
        to lists nothing.
        """
        view = self._views()
        items = [
            AttachedMedia(attachment=attachment_view(attachment), asset=view(asset))
            for attachment, asset in self._attached(identity.subject, owner_type, owner_id)
        ]
        return OwnerMediaList(owner_type=owner_type, owner_id=owner_id, items=items)

    def check_object(self, identity: Identity, owner_type: str, owner_id: str) -> None:
        """Raise the owner type's 404 (``release_not_found``, ``track_not_found``) when a known object is missing or
        not the caller's; nothing for a client's own types (namespaced by the caller). For P8's collection links."""
        self._check_owner_object(identity.subject, owner_type, owner_id)

    def members(self, identity: Identity, owner_type: str, owner_id: str) -> list[Asset]:
        """The object's attached assets in listing order, each once (``owner_media``'s order and rules; the same
        404s). For P8's collection links."""
        seen: dict[str, Asset] = {}
        for _attachment, asset in self._attached(identity.subject, owner_type, owner_id):
            seen.setdefault(asset.id, asset)
        return list(seen.values())

    def _attached(self, owner: str, owner_type: str, owner_id: str) -> list[tuple[MediaAttachment, Asset]]:
        """The object's attachments with their live assets, in listing order."""
        release = self._check_owner_object(owner, owner_type, owner_id)
        attachments = self._attachments.list_for_owner(owner, owner_type, owner_id)
        if release is not None:
            attachments = self._with_release_cover(release, attachments)
        assets = self._attachments.assets(a.asset_id for a in attachments)
        return [
            (attachment, asset)
            for attachment in attachments
            if (asset := assets.get(attachment.asset_id)) is not None
            and asset.deleted_at is None
            and asset.owner_id == owner
        ]

    def _with_release_cover(self, release: Release, attachments: list[MediaAttachment]) -> list[MediaAttachment]:
        """``attachments`` with the cover the release's pointer names in place of any cover item."""
        others = [a for a in attachments if a.role != COVER_ROLE]
        item = next((a for a in attachments if a.role == COVER_ROLE), None)
        pointed, _latest = self._pointers.get(release_target(release.id), COVER_ROLE)
        if pointed is None:
            return others
        if item is not None and item.asset_id == pointed:
            return [item, *others]
        attached_at = self._pointers.holder(release_target(release.id), COVER_ROLE)
        cover = MediaAttachment(
            id=cover_attachment_id(release.id, pointed),
            asset_id=pointed,
            owner=release.owner_id,
            owner_type="release",
            owner_id=release.id,
            role="cover",
            sort_order=0,
            created_at=attached_at[1] if attached_at else release.updated_at,
        )
        return [cover, *others]

    # -- release cleanup --------------------------------------------------------------------------------------------

    def delete_for_owner(self, owner: str, owner_type: str, owner_id: str) -> int:
        """Delete every attachment of an object (its partition); how many. Idempotent."""
        return self._attachments.delete_for_owner(owner, owner_type, owner_id)

    def delete_for_release(self, owner: str, release_id: str) -> int:
        """Delete the attachments of a deleted release and of each of its tracks still in its partition (call it
        before the partition is purged); how many. Idempotent. The assets stay in the library."""
        removed = self.delete_for_owner(owner, "release", release_id)
        for track in self._attachments.track_owner_ids(release_id):
            removed += self.delete_for_owner(owner, "track", track)
        return removed

    # -- reads ------------------------------------------------------------------------------------------------------

    def _owned_asset(self, owner: str, asset_id: str) -> Asset:
        asset = self._attachments.asset(asset_id)
        if asset is None or asset.owner_id != owner or asset.deleted_at is not None:
            raise NotFoundError("No such media asset.", code="media_not_found", details={"id": asset_id})
        return asset

    def _check_owner_object(self, owner: str, owner_type: str, owner_id: str) -> Release | None:
        """The caller's release for ``release``; checks a ``track``; None for a client's own type. Raises
        ``InvalidError`` (``invalid_owner``, 400) for a malformed type or id (a path's: bodies are checked by their
        model)."""
        for name, adapter, value in (("owner_type", _OWNER_TYPE, owner_type), ("owner_id", _OWNER_ID, owner_id)):
            try:
                adapter.validate_python(value)
            except ValidationError as exc:
                raise InvalidError(f"The {name} is malformed.", code="invalid_owner", details={"field": name}) from exc
        if owner_type not in KNOWN_OWNER_TYPES:
            return None
        if owner_type == "release":
            return self._release_again(owner, owner_id)
        release_id, _, track_id = owner_id.partition(TRACK_SEPARATOR)
        if not track_id or self._attachments.track_owner(release_id, track_id) != owner:
            raise NotFoundError(
                "No such track.", code="track_not_found", details={"owner_id": owner_id, "format": "release.track"}
            )
        return None

    def _release_again(self, owner: str, release_id: str) -> Release:
        release = self._catalogue.get(release_id)
        if release is None or release.owner_id != owner:
            raise NotFoundError("No such release.", code="release_not_found", details={"release_id": release_id})
        return release
