"""Imports from URLs (issue 11): ``POST /media/imports`` (and ``POST /media``'s album art, and the backfill's release
covers) check the URL at once and create a pending asset (source ``import`` or ``stock``, ``source_url`` kept) with an
``import.run`` message on the imports queue; the worker fetches the URL through the SSRF guard
(``providers/url_fetch.py``, which checks every address again when it connects), checks that the bytes are an image by
their magic bytes, and PUTs them at the asset's upload key, so the ONE ingest path makes the asset ready (or failed).

A refusal ends the asset ``failed`` with the guard's code (``url_not_allowed``, ``too_large``, ``too_many_redirects``,
``fetch_failed``) or ``not_an_image``; the dead-letter consumer fails it ``dead_lettered``. ``after_ingest`` fills the
``album_art`` of the asset an import was made for (``album_art_of``, same owner) once the image is ready.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, cast

from pydantic import BaseModel, ValidationError

from chalicelib.config import Settings
from chalicelib.models.api import CreateImportRequest, CreateMediaRequest
from chalicelib.models.domain import Asset, AssetError, Identity
from chalicelib.models.media import AiMetadata, AlbumArt, LibraryFields, MediaSource, MusicMetadata, generated_name
from chalicelib.services.storage_keys import upload_key
from chalicelib.store.assets import AssetRepository
from chalicelib.store.imports import ImportLinkRepository
from chalicelib.store.objects import ObjectStore
from chalicelib.store.queues import MessageQueue

if TYPE_CHECKING:
    from chalicelib.providers.url_fetch import UrlFetcher

log = logging.getLogger(__name__)

#: The ``type`` of an imports-queue message.
IMPORT_RUN = "import.run"
#: Error code of an import whose bytes are not a JPEG, PNG, WebP or GIF image.
NOT_AN_IMAGE = "not_an_image"


class ImportMessage(BaseModel):
    """``{"type": "import.run", "asset_id"}``: fetch the pending import ``asset_id``."""

    type: Literal["import.run"]
    asset_id: str


def filename_of(url: str) -> str | None:
    """The last path segment of ``url`` (``cover.jpg``), or None when it has none; at most 255 characters."""
    from urllib.parse import unquote, urlsplit

    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]).strip()
    return name[:255] or None


class ImportService:
    """URL imports (see the module docstring). ``fetcher`` builds the SSRF guard (httpx; called on first use, so the
    API's import path never loads it); ``name_seq(owner, prefix)`` the next number of a generated name (the library's
    atomic counter); ``reindex`` keeps the search index in step with a new asset's fields."""

    def __init__(
        self,
        *,
        settings: Settings,
        assets: AssetRepository,
        links: ImportLinkRepository,
        objects: ObjectStore,
        queue: MessageQueue,
        fetcher: Callable[[], UrlFetcher],
        name_seq: Callable[[str, str], int],
        reindex: Callable[[Asset | None, Asset | None], None] | None = None,
    ) -> None:
        self._settings = settings
        self._assets = assets
        self._links = links
        self._objects = objects
        self._queue = queue
        self._fetcher = fetcher
        self._name_seq = name_seq
        self._reindex = reindex

    # -- the request --------------------------------------------------------------------------------------------------

    def request(self, identity: Identity, request: CreateImportRequest) -> Asset:
        """``POST /media/imports``: ``start`` with the request's library fields (tags normalised; a generated
        ``name`` when ``layer``/``category``/``subcategory`` are given, numbered only once the URL passed the check).

        Raises ``UrlNotAllowedError`` (422 ``url_not_allowed``), ``UnprocessableError`` ``name_parts_incomplete``
        (422), ``QueueSendError`` (503 ``queue_unavailable``)."""
        from chalicelib.services.media_edits import name_parts, normalise_tags

        parts = name_parts(cast(CreateMediaRequest, request))  # it reads the three name fields every request has
        source_url = str(request.source_url)
        self._fetcher().check_url(source_url)
        library = LibraryFields(
            title=request.title,
            description=request.description,
            tags=normalise_tags(request.tags or []),
            visibility=request.visibility or "private",
            creator_description=request.creator_description,
            name=self._name(identity.subject, parts) if parts else None,
            ai_metadata=AiMetadata.model_validate(request.ai_metadata.model_dump()) if request.ai_metadata else None,
            music_metadata=(
                MusicMetadata.model_validate(request.music_metadata.model_dump()) if request.music_metadata else None
            ),
        )
        return self._create(identity.subject, source_url, source=request.source, library=library)

    def _name(self, owner_id: str, parts: tuple[str, ...]) -> str:
        layer, category, subcategory = parts
        prefix = f"{layer}.{category.upper()}.{subcategory.upper()}"
        return generated_name(layer, category, subcategory, self._name_seq(owner_id, prefix))

    def start(
        self,
        owner_id: str,
        source_url: str,
        *,
        source: MediaSource = "import",
        library: LibraryFields | None = None,
        album_art_of: str | None = None,
        attach_to: str | None = None,
    ) -> Asset:
        """Check ``source_url`` now (scheme, credentials, a literal address, every DNS answer), create the pending
        image asset (``source``, ``source_url``, ``library``'s fields, ``attach_to`` ``"RELEASE#{id}#cover"`` for the
        backfill's covers, ``album_art_of`` the asset whose album art it is) and queue its fetch.

        Returns the pending asset. Raises ``UrlNotAllowedError`` (422 ``url_not_allowed`` with ``details.reason``)
        before anything is written; ``QueueSendError`` when the message cannot be sent (the asset is then failed
        ``queue_unavailable``: nothing stays pending for ever)."""
        self._fetcher().check_url(source_url)
        return self._create(
            owner_id, source_url, source=source, library=library, album_art_of=album_art_of, attach_to=attach_to
        )

    def _create(
        self,
        owner_id: str,
        source_url: str,
        *,
        source: MediaSource,
        library: LibraryFields | None,
        album_art_of: str | None = None,
        attach_to: str | None = None,
    ) -> Asset:
        asset_id = uuid.uuid4().hex
        fields = (library or LibraryFields()).model_copy(update={"kind": "image", "source_url": source_url})
        asset = self._assets.create_pending(
            asset_id=asset_id,
            owner_id=owner_id,
            upload_key=upload_key(owner_id, asset_id),
            declared_content_type="",
            declared_bytes=0,
            max_bytes=self._settings.import_max_bytes,
            filename=filename_of(source_url),
            attach_to=attach_to,
            source=source,
            library=fields,
        )
        try:
            if album_art_of is not None:
                self._links.link_album_art(asset_id, owner_id=owner_id, album_art_of=album_art_of)
                asset = asset.model_copy(update={"album_art_of": album_art_of})
            self._queue.send({"type": IMPORT_RUN, "asset_id": asset_id})
        except BaseException:
            self._assets.fail(
                asset_id, run=None, error=AssetError(code="queue_unavailable", message="The import was not queued.")
            )
            raise
        if self._reindex is not None:
            self._reindex(None, asset)
        log.info("import %s queued for %s (%s)", asset_id, owner_id, source)
        return asset

    # -- the worker ---------------------------------------------------------------------------------------------------

    def handle_message(self, body: str) -> str:
        """One imports-queue message → ``run``'s outcome, or ``malformed`` (logged, dropped)."""
        try:
            message = ImportMessage.model_validate_json(body)
        except ValidationError as exc:
            log.warning("malformed import message dropped: %s", exc.errors(include_input=False, include_url=False))
            return "malformed"
        return self.run(message.asset_id)

    def run(self, asset_id: str) -> str:
        """Fetch a pending import and hand its bytes to ingest (PUT at its upload key): ``ingesting``; ``failed``
        (the guard's refusal, or ``not_an_image``); ``gone`` (no such asset); ``duplicate`` (not pending any more, or
        its bytes are already at the upload key: a redelivered message). Raises AWS errors, so SQS retries."""
        from chalicelib.imaging.sniff import sniff_format
        from chalicelib.providers.url_fetch import UrlFetchError

        asset = self._assets.get(asset_id)
        if asset is None or asset.deleted_at is not None:
            return "gone"
        if asset.status != "pending" or asset.source_url is None:
            return "duplicate"
        if self._objects.head(asset.upload_key) is not None:
            return "duplicate"  # fetched by an earlier delivery; its S3 event brings it to ingest
        try:
            fetched = self._fetcher().fetch(asset.source_url)
        except UrlFetchError as exc:
            return self._fail(asset, exc.code, exc.message)
        image_format = sniff_format(fetched.data)
        if image_format is None:
            return self._fail(asset, NOT_AN_IMAGE, "The URL's content is not a JPEG, PNG, WebP or GIF image.")
        self._objects.put_bytes(asset.upload_key, fetched.data, content_type=f"image/{image_format}")
        log.info("import %s: %d bytes handed to ingest", asset.id, len(fetched.data))
        return "ingesting"

    def _fail(self, asset: Asset, code: str, message: str) -> str:
        log.info("import %s failed: %s (%s)", asset.id, code, message)
        failed = self._assets.fail(asset.id, run=None, error=AssetError(code=code, message=message))
        return "failed" if failed else "duplicate"

    def fail_dead_letter(self, body: str) -> bool:
        """A message that failed every retry: its asset ends ``failed`` (``dead_lettered``) unless it was ready or
        failed already. False for a malformed message or a settled asset; never raises on a malformed body."""
        try:
            message = ImportMessage.model_validate_json(body)
        except ValidationError:
            log.warning("malformed dead-lettered import message dropped")
            return False
        error = AssetError(code="dead_lettered", message="The import failed every retry and was given up.")
        return self._assets.fail(message.asset_id, run=None, error=error)

    # -- after ingest -------------------------------------------------------------------------------------------------

    def after_ingest(self, asset_id: str) -> str:
        """Called after every ingest (``container.get_ingest_hooks``); idempotent. A ready import made for another
        asset's album art (``album_art_of``) fills that asset's ``album_art`` with its ``asset_id``, ``content_type``,
        ``bytes`` and ``width``/``height`` px: ``linked``; ``superseded`` when that asset is gone, another owner's,
        being deleted, or its album art names another import. Otherwise ``ignored`` (not an album-art import) or
        ``not_ready``."""
        asset = self._assets.get(asset_id)
        if asset is None or asset.album_art_of is None:
            return "ignored"
        if asset.status != "ready" or asset.media is None:
            return "not_ready"
        target = self._assets.get(asset.album_art_of)
        if target is None or target.owner_id != asset.owner_id:
            log.warning("import %s: album_art_of %s is not its owner's asset", asset.id, asset.album_art_of)
            return "superseded"
        original = asset.media.original
        art = (target.album_art or AlbumArt()).model_copy(
            update={
                "asset_id": asset.id,
                "content_type": f"image/{original.format}",
                "bytes": original.bytes,
                "width": original.width,
                "height": original.height,
            }
        )
        if not self._links.fill_album_art(target.id, owner_id=asset.owner_id, art=art):
            return "superseded"
        return "linked"
