"""The legacy backfill (issue 11, "Migration of existing data"): fills what the media library expects on records
written before it, once, by idempotent conditional writes.

``BackfillService.run`` (the operator's ``python -m chalicelib.cli backfill``) Scans the table page by page (the one
Scan of Sleeve, allowed because it is an operator's job and never a request path), sends one message per legacy item
to the backfill queue, and saves the Scan's position after each page. The worker (``workers/backfill.py``) hands each
message to ``handle_message``:

- ``backfill.release``: a release with an ``artwork_url`` and no cover (no attached asset, no upload started) gets
  it imported as its cover through the import service, its mark claimed first so a redelivered message starts no
  second import;
- ``backfill.asset``: an asset made before the library (no gsi3/gsi4 key) gets ``creator_description`` from its
  title, else its name, else its filename; ``ai_metadata`` ``LEGACY_AI_METADATA``; its gsi3 (by source) and gsi4 (by
  type) keys; each only when absent, in one conditional update; then its search items (``MediaIndex.reindex``).
  Assets the library made (they have both keys) are never touched: a new upload without ``ai_metadata`` is not
  "pre-AI", and its ``creator_description`` is for its creator to type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from chalicelib.errors import AppError
from chalicelib.models.domain import Asset
from chalicelib.models.media import CREATOR_DESCRIPTION_MAX, LEGACY_AI_METADATA, MediaSource
from chalicelib.services.artwork import COVER_ROLE, release_target
from chalicelib.store.assets import library_keys
from chalicelib.store.backfill import AssetFill, BackfillStore, LegacyAsset, ScannedItem
from chalicelib.store.dynamo import utcnow

if TYPE_CHECKING:
    from chalicelib.store.assets import AssetRepository
    from chalicelib.store.attachments import AttachmentRepository
    from chalicelib.store.catalogue import CatalogueRepository
    from chalicelib.store.queues import MessageQueue

log = logging.getLogger(__name__)

#: A claim older than this is a worker that died between its claim and its import's start (the backfill Lambda's
#: timeout is 60 s, the queue's visibility timeout 360 s): the next message for the release takes it over.
CLAIM_LEASE = timedelta(minutes=5)
#: Conditional writes an asset's fill retries when a concurrent change moved the asset between its read and write.
FILL_ATTEMPTS = 3
#: Items read per Scan page by default (DynamoDB's ``Limit``; a page is also capped at 1 MB).
DEFAULT_PAGE_SIZE = 200

type ReleaseOutcome = Literal["gone", "no_artwork_url", "done", "locked", "covered", "busy", "started", "refused"]
type AssetOutcome = Literal["gone", "filled", "unchanged"]


class ReleaseWork(BaseModel):
    """``{"type": "backfill.release", "release_id"}``: import the release's ``artwork_url`` as its cover."""

    type: Literal["backfill.release"]
    release_id: str = Field(min_length=1, max_length=64)


class AssetWork(BaseModel):
    """``{"type": "backfill.asset", "asset_id"}``: fill the asset's missing library fields."""

    type: Literal["backfill.asset"]
    asset_id: str = Field(min_length=1, max_length=64)


_WORK: TypeAdapter[ReleaseWork | AssetWork] = TypeAdapter(
    Annotated[ReleaseWork | AssetWork, Field(discriminator="type")]
)


def parse_work(body: str) -> ReleaseWork | AssetWork | None:
    """The backfill message in ``body`` (JSON), or None when it is not one."""
    try:
        return _WORK.validate_json(body)
    except ValidationError:
        return None


def work_message(item: ScannedItem) -> dict[str, str]:
    """The queue message for a scanned release or asset."""
    if item.kind == "release":
        return {"type": "backfill.release", "release_id": item.id}
    return {"type": "backfill.asset", "asset_id": item.id}


def description_of(asset: Asset) -> str | None:
    """What the backfill copies into an absent ``creator_description``: the title, else the name, else the filename
    (the first that is not blank, verbatim), cut to ``CREATOR_DESCRIPTION_MAX`` characters; None when none exists."""
    for value in (asset.title, asset.name, asset.filename):
        if value and value.strip():
            return value[:CREATOR_DESCRIPTION_MAX]
    return None


def plan_fill(legacy: LegacyAsset) -> AssetFill:
    """What the backfill writes on ``legacy`` (pure): every absent field it can fill, nothing else.

    The gsi3 (by source) and gsi4 (by type) keys are ``store.assets.library_keys``, what ``create_pending`` writes
    for new assets (SPEC, "Indexes of an asset"). Nothing for an asset the library made (both keys present) or a
    tombstoned one (``deleted_at``).
    """
    asset = legacy.asset
    if asset.deleted_at is not None or (legacy.has_source_key and legacy.has_type_key):
        return AssetFill()
    keys = library_keys(
        owner_id=asset.owner_id, source=asset.source, kind=asset.kind, created_at=asset.created_at, asset_id=asset.id
    )
    return AssetFill(
        creator_description=description_of(asset) if asset.creator_description is None else None,
        ai_metadata=dict(LEGACY_AI_METADATA) if asset.ai_metadata is None else None,
        source_keys=None if legacy.has_source_key else (keys["gsi3pk"], keys["gsi3sk"]),
        type_keys=None if legacy.has_type_key else (keys["gsi4pk"], keys["gsi4sk"]),
    )


class CoverImporter(Protocol):
    """The import service's start (``services/imports.py``, SPEC P4)."""

    def start(
        self, owner_id: str, source_url: str, *, source: MediaSource = "import", attach_to: str | None = None
    ) -> Asset:
        """Check ``source_url``, create the pending import asset and queue its fetch; raises a 4xx ``AppError``
        (``url_not_allowed``…) when the URL is refused."""
        ...


class Reindexer(Protocol):
    """The search index's upkeep (``store/media_index.py`` ``MediaIndex``, SPEC P3)."""

    def reindex(self, before: Asset | None, after: Asset | None) -> None:
        """Make the asset's term and tag items match ``after``."""
        ...


@dataclass
class RunReport:
    """What one run of the backfill did: items ``scanned`` (DynamoDB's ScannedCount), messages ``sent`` (or that a
    dry run would send; ``releases`` + ``assets``), releases ``skipped_done`` (their final mark came first),
    ``pages``, whether it ``resumed`` a checkpoint and ``finished`` the pass (the end of the table), and the
    ``dead_lettered`` count saved by the DLQ consumer. The pass's totals are in the checkpoint."""

    dry_run: bool
    resumed: bool = False
    scanned: int = 0
    sent: int = 0
    releases: int = 0
    assets: int = 0
    skipped_done: int = 0
    pages: int = 0
    finished: bool = False
    dead_lettered: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The report as JSON (without the messages)."""
        return {k: v for k, v in self.__dict__.items() if k != "messages"}


@dataclass(frozen=True)
class PageProgress:
    """One page's contribution, for a progress bar: items ``scanned`` and messages ``sent``."""

    scanned: int
    sent: int


class BackfillService:
    """The legacy backfill: the operator's fan-out (``run``), the worker's items (``handle_message``) and the
    dead-letter count (``note_dead_letter``)."""

    def __init__(
        self,
        *,
        store: BackfillStore,
        releases: CatalogueRepository,
        assets: AssetRepository,
        covers: AttachmentRepository,
        queue: MessageQueue,
        importer: Callable[[], CoverImporter],
        media_index: Callable[[], Reindexer],
    ) -> None:
        """``importer`` and ``media_index`` are factories called on first use (the worker builds them lazily)."""
        self._store = store
        self._releases = releases
        self._assets = assets
        self._covers = covers
        self._queue = queue
        self._importer = importer
        self._media_index = media_index

    # -- the fan-out ----------------------------------------------------------------------------------------------

    def run(
        self,
        *,
        dry_run: bool = False,
        limit: int | None = None,
        restart: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        on_page: Callable[[PageProgress], None] | None = None,
    ) -> RunReport:
        """Scan for legacy work from the checkpoint (or the start: ``restart``, no checkpoint, or the last pass
        finished) and send one message per release or asset, SendMessageBatch ten at a time, saving the position
        after each page. ``limit``: stop once that many messages are sent (the checkpoint then holds the last sent
        item's key, so a rerun resumes right after it). ``dry_run``: read only, send and write nothing (the would-be
        messages are in ``RunReport.messages``). A release whose final artwork mark the Scan returned before it
        (same partition, earlier sort key) is not sent.

        Raises ``QueueSendError`` (the page is not checkpointed: a rerun sends it again, which the workers absorb)
        and PynamoDB errors of the Scan.
        """
        checkpoint = self._store.checkpoint()
        report = RunReport(dry_run=dry_run, dead_lettered=checkpoint.dead_lettered if checkpoint else 0)
        start_key: dict[str, Any] | None = None
        started_at: datetime = utcnow()
        if checkpoint is not None and not restart and checkpoint.finished_at is None and checkpoint.last_key:
            start_key, report.resumed = checkpoint.last_key, True
            pass_scanned, pass_sent = checkpoint.scanned, checkpoint.sent
            started_at = checkpoint.started_at or started_at
        else:
            pass_scanned = pass_sent = 0
        final_marks: set[str] = set()  # releases whose final mark this page (or the last one's end) showed
        while True:
            page = self._store.scan_page(start_key, page_size=page_size)
            messages: list[dict[str, str]] = []
            stop_key: dict[str, Any] | None = None
            for item in page.items:
                if item.kind == "mark":
                    if item.final:
                        final_marks.add(item.id)
                    continue
                if item.kind == "release" and item.id in final_marks:
                    report.skipped_done += 1
                    continue
                messages.append(work_message(item))
                if limit is not None and report.sent + len(messages) >= limit:
                    stop_key = item.key
                    break
            if not dry_run and messages:
                self._queue.send_batch(messages)
            report.sent += len(messages)
            pass_sent += len(messages)
            report.releases += sum(1 for m in messages if m["type"] == "backfill.release")
            report.assets += len(messages) - sum(1 for m in messages if m["type"] == "backfill.release")
            report.pages += 1
            scanned = page.scanned if stop_key is None else 0  # a cut page is read again from stop_key
            report.scanned += scanned
            pass_scanned += scanned
            if dry_run:
                report.messages += messages
            position = stop_key or page.last_key
            if not dry_run:
                self._store.save_checkpoint(
                    last_key=position,
                    scanned=pass_scanned,
                    sent=pass_sent,
                    started_at=started_at,
                    reset_dead=restart and report.pages == 1,
                )
            if on_page is not None:
                on_page(PageProgress(scanned=scanned, sent=len(messages)))
            if position is None or stop_key is not None:
                report.finished = position is None
                return report
            # A mark ends its partition's items only when its release follows on the next page.
            last = page.items[-1] if page.items else None
            final_marks = {last.id} if last is not None and last.kind == "mark" and last.final else set()
            start_key = position

    def approximate_item_count(self) -> int | None:
        """The table's approximate item count (for a progress bar's total)."""
        return self._store.approximate_item_count()

    # -- the worker -----------------------------------------------------------------------------------------------

    def handle_message(self, body: str) -> str:
        """One backfill message → its outcome (a word for the log); ``malformed`` for a body that is not one (dropped).
        Raises what the store, the import service or the index raise (SQS retries, then dead-letters)."""
        work = parse_work(body)
        if work is None:
            return "malformed"
        if isinstance(work, ReleaseWork):
            return self.backfill_release(work.release_id)
        return self.backfill_asset(work.asset_id)

    def note_dead_letter(self, body: str) -> bool:
        """A backfill message that failed every retry: counted in the checkpoint (``dead_lettered``). True when it
        was a backfill message, False (not counted) for anything else. Its item is still legacy, so the next pass
        sends it again."""
        if parse_work(body) is None:
            return False
        self._store.count_dead_letter()
        return True

    def backfill_release(self, release_id: str) -> ReleaseOutcome:
        """Import the release's ``artwork_url`` as its cover, once.

        Nothing for a release gone, without ``artwork_url``, already marked (``done``) or ``locked`` (its artwork
        cannot change: a later pass retries it). A release with a cover or an upload started is marked ``covered``.
        Otherwise the mark is claimed (a conditional put), the import started with ``attach_to`` the release's cover
        and the mark ends ``started`` with its asset; a URL the import service refuses (a 4xx ``AppError`` such as
        ``url_not_allowed``) ends it ``refused`` with the code. Any other failure frees the claim and raises, so SQS
        retries. A claim that outlived ``CLAIM_LEASE`` is taken over; an import asset (not failed) an earlier attempt
        created for the release's cover (gsi2) is recorded instead of starting another.
        """
        release = self._releases.get(release_id)
        if release is None:
            return "gone"
        url = release.artwork_url
        if not url:
            return "no_artwork_url"
        mark = self._store.artwork_mark(release_id)
        if mark is not None and mark.state != "claimed":
            return "done"
        if release.lock_status == "locked":
            return "locked"
        target = release_target(release_id)
        now = utcnow()
        if any(self._covers.get(target, COVER_ROLE)):
            claimed = self._store.claim_artwork(
                release_id, owner_id=release.owner_id, source_url=url, state="covered", stale_before=now - CLAIM_LEASE
            )
            return "covered" if claimed else "busy"
        token = self._store.claim_artwork(
            release_id, owner_id=release.owner_id, source_url=url, state="claimed", stale_before=now - CLAIM_LEASE
        )
        if token is None:
            return "busy"
        attach_to = f"{target}#{COVER_ROLE}"
        # An earlier attempt (a worker that died after starting the import) left its asset filed under the release:
        # recorded instead of importing twice. A failed one (its fetch message could not be sent) is not reused.
        earlier = [
            a
            for a in self._assets.list_for_target(target)
            if a.source == "import" and a.attach_to == attach_to and a.status != "failed"
        ]
        if earlier:
            self._store.settle_artwork(release_id, token, asset_id=earlier[-1].id)
            return "started"
        try:
            asset = self._importer().start(release.owner_id, url, source="import", attach_to=attach_to)
        except AppError as exc:
            if 400 <= exc.status < 500:
                log.info("release %s: artwork_url refused by the import (%s)", release_id, exc.code)
                self._store.settle_artwork(release_id, token, refusal=exc.code)
                return "refused"
            self._store.release_claim(release_id, token)
            raise
        except BaseException:
            self._store.release_claim(release_id, token)
            raise
        self._store.settle_artwork(release_id, token, asset_id=asset.id)
        return "started"

    def backfill_asset(self, asset_id: str) -> AssetOutcome:
        """Fill a legacy asset's absent library fields (``plan_fill``) in one conditional update, re-read and planned
        again if a concurrent change moved it (``FILL_ATTEMPTS``), then indexes it for search from nothing
        (``reindex(None, after)``: a legacy asset was never indexed; the puts are idempotent). An asset with nothing
        to fill is indexed the same way, so a redelivery after a crash between the write and the index finishes the
        index. Nothing for an asset gone or being deleted. Raises ``BackfillContentionError`` (503) when the asset
        changed under every attempt."""
        for _ in range(FILL_ATTEMPTS):
            legacy = self._store.legacy_asset(asset_id)
            if legacy is None or legacy.asset.deleted_at is not None:
                return "gone"
            fill = plan_fill(legacy)
            if fill.empty:
                self._media_index().reindex(None, legacy.asset)
                return "unchanged"
            after = self._store.fill_asset(asset_id, fill)
            if after is not None:
                # From nothing: a legacy asset was never indexed, so its title's words are not there either.
                self._media_index().reindex(None, after)
                return "filled"
        raise BackfillContentionError(asset_id)


class BackfillContentionError(AppError):
    """An asset kept changing between the backfill's read and its conditional write (503: SQS retries later)."""

    status = 503
    default_code = "backfill_contention"

    def __init__(self, asset_id: str) -> None:
        super().__init__(
            f"Asset {asset_id} changed during each of {FILL_ATTEMPTS} backfill attempts.",
            details={"asset_id": asset_id},
        )
