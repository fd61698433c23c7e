"""The DSP sync of a release: ask each streaming service, merge, match, find conflicts, write, lock.

State machine of a release's sync (``store/sync_state.py``): ``never`` → ``queued`` (``POST /releases/{id}/sync``) →
``running`` (the worker took a message) → ``synced`` (no open conflict) | ``conflicts`` (open ones wait for the
artist; the last resolve makes it ``synced``) | ``failed`` (no service synced, or the message dead-lettered). A
message from release-now or the schedule goes straight to ``running``.

At-least-once safety: ``last_dsp_sync_at`` is the moment the last completed sync started asking the services; a
message requested at or before it was served (``duplicate``). The check runs on the first read, again on the
conditional ``running`` mark, and again inside the write's plan, so two copies of one message racing each other
write once (the loser's version conflict re-reads the release and finds it served).

What one sync writes, in one transaction (``Catalogue.mutate``: a concurrent edit re-plans it on the DSP data already
fetched, the services are not asked again): the release (conflicts, DSP ids, ``last_dsp_sync_at``, the next due time,
and with no open conflict the decisions and the ``released → locked`` move), the tracks it changes, their ISRC
claims, a ``system`` history entry and the sync-state item. When that exceeds DynamoDB's 100 items (a large release
whose ISRCs are all new), the idempotent track fills (empty ISRC/duration, DSP ids) go first in chunks, each chunk its
own transaction guarded by the release version, and the release + state + lock last: a crash between them leaves
the fills applied but the state ``running`` and the message due for a retry, never a half-applied sync shown as
synced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from chalicelib.config import Settings
from chalicelib.errors import AppError, ConflictError
from chalicelib.models.catalogue import Release, ReleaseDetail
from chalicelib.models.domain import Identity
from chalicelib.models.sync import (
    ConflictList,
    ConflictResolution,
    ConflictValue,
    ErrorInfo,
    ServiceSync,
    SyncState,
    SyncStatus,
)
from chalicelib.models.views import ResolveOutcome
from chalicelib.providers.base import DspProvider, ProviderFailure
from chalicelib.services.catalogue import Catalogue, IfMatch, not_found
from chalicelib.services.dsp_apply import open_count, served
from chalicelib.services.dsp_fetch import fetch_releases
from chalicelib.services.dsp_resolve import resolve_conflict
from chalicelib.store.catalogue import CatalogueWrite
from chalicelib.store.sync_state import StoredSyncState, SyncReport, SyncStateRepository

log = logging.getLogger(__name__)

type SyncOutcome = Literal["synced", "conflicts", "duplicate", "gone", "not_released", "malformed", "no_providers"]
#: Releases that may be synced.
SYNCABLE = ("released", "locked")
_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class SyncRetryError(AppError):
    """Every configured service failed for a passing reason (rate limited, unavailable), or none synced while one
    did: the worker raises it so SQS delivers the message again, and after the queue's receive limit the DLQ consumer
    ends the sync ``failed`` (503 ``dsp_unavailable``; ``details.services`` the failures)."""

    status = 503
    default_code = "dsp_unavailable"


class SyncMessage(BaseModel):
    """The sync queue's message (``transitions.TransitionService._request_sync``, ``request_sync``,
    ``enqueue_due``): ``{"type": "dsp_sync", "release_id", "owner_id", "reason", "requested_at"}``; other keys are
    ignored, ``requested_at`` needs a time zone."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["dsp_sync"]
    release_id: str = Field(pattern=_ID_PATTERN)
    owner_id: str = Field(min_length=1, max_length=256)
    reason: Literal["released", "requested", "scheduled"]
    requested_at: AwareDatetime


class SyncQueue(Protocol):
    """The DSP-sync queue (``chalicelib.store.queues.MessageQueue``)."""

    def send(self, message: Mapping[str, Any]) -> str:
        """Send one message; its id. Raises ``QueueSendError``."""
        ...

    def send_batch(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Send messages in SQS batches of 10; how many were sent. Raises ``QueueSendError``."""
        ...


def sync_message(release: Release, reason: str, requested_at: datetime) -> dict[str, Any]:
    """The message asking for a sync of ``release``."""
    return {
        "type": "dsp_sync",
        "release_id": release.id,
        "owner_id": release.owner_id,
        "reason": reason,
        "requested_at": requested_at.isoformat(),
    }


class DspSyncService:
    """The DSP sync of releases: the sync routes (``request_sync``, ``status``, ``conflicts``, ``resolve``), the
    sync worker (``handle_message``), its DLQ consumer (``fail_dead_letter``) and the schedule (``enqueue_due``).

    ``providers`` builds the configured clients in ``settings.dsp_providers`` order (called by the worker only, so
    the API never imports httpx).
    """

    def __init__(
        self,
        catalogue: Catalogue,
        states: SyncStateRepository,
        queue: SyncQueue,
        providers: Callable[[], Sequence[DspProvider]],
        settings: Settings,
    ) -> None:
        self._catalogue = catalogue
        self._states = states
        self._queue = queue
        self._providers = providers
        self._settings = settings

    # -- the routes ---------------------------------------------------------------------------------------------------

    def request_sync(self, identity: Identity, release_id: str) -> None:
        """Queue a sync of the caller's release (``POST /releases/{id}/sync``): the state becomes ``queued``.

        Raises ``NotFoundError`` (``release_not_found``), ``ConflictError`` (``not_released``, 409) unless the release
        is released or locked, ``QueueSendError`` (503) when the message could not be sent (the state then says so).
        """
        release = self._owned(identity, release_id, admin_may_read=False)
        if release.production_status not in SYNCABLE:
            raise ConflictError(
                "Only a released or locked release can be synced with the DSPs.",
                code="not_released",
                details={"production_status": release.production_status},
            )
        now = self._catalogue.now()
        self._states.mark_queued(release.id, release.owner_id, now)
        try:
            self._queue.send(sync_message(release, "requested", now))
        except AppError as exc:
            state = self._states.get(release.id) or self._blank_state(release, now)
            error = ErrorInfo(code=exc.code, message="The sync request could not be queued; try again.")
            self._states.put(state.model_copy(update={"state": "failed", "error": error, "updated_at": now}))
            raise

    def status(self, identity: Identity, release_id: str) -> SyncStatus:
        """Where the release's sync stands (one GetItem for the release, one for the state). ``synced`` and
        ``conflicts`` follow the release's open conflicts, so a resolve needs no state write.

        The state item is read before the release: a sync's final state is written in the same transaction as the
        release and its only earlier writes (``queued``, ``running``) come before that transaction, so a final state
        read first is always paired with the release that transaction wrote. Read the other way round, a write landing
        between the two reads showed ``synced`` (the old release's conflicts) for a sync that had found conflicts.
        """
        stored = self._states.get(release_id)
        release = self._owned(identity, release_id, admin_may_read=True)
        open_conflicts = open_count(release.dsp_conflicts)
        if stored is None:
            pending = release.production_status in SYNCABLE and release.dsp_sync_due_at is not None
            state: SyncState = "queued" if pending and release.last_dsp_sync_at is None else "never"
            return SyncStatus(
                state=state,
                requested_at=None,
                last_synced_at=None,
                next_sync_at=release.dsp_sync_due_at,
                error=None,
                services=[],
                matches=[],
                unmatched=SyncReport().unmatched,
                open_conflicts=open_conflicts,
            )
        current = stored.state
        if current in ("synced", "conflicts"):
            current = "conflicts" if open_conflicts else "synced"
        return SyncStatus(
            state=current,
            requested_at=stored.requested_at,
            last_synced_at=stored.last_synced_at,
            next_sync_at=release.dsp_sync_due_at,
            error=stored.error,
            services=stored.report.services,
            matches=stored.report.matches,
            unmatched=stored.report.unmatched,
            open_conflicts=open_conflicts,
        )

    def conflicts(self, identity: Identity, release_id: str) -> ConflictList:
        """Every conflict of the release, open ones first (each group in the order the sync found them)."""
        release = self._owned(identity, release_id, admin_may_read=True)
        items = sorted(release.dsp_conflicts, key=lambda c: c.status != "open")
        return ConflictList(items=items, open=open_count(items))

    def resolve(
        self,
        identity: Identity,
        release_id: str,
        conflict_id: str,
        resolution: ConflictResolution,
        value: ConflictValue = None,
        *,
        if_match: IfMatch = None,
    ) -> tuple[ResolveOutcome, int]:
        """Record the decision on one conflict; the last one applies them all with the lock. See
        ``dsp_resolve.resolve_conflict`` for the rules and errors. Returns the outcome and the release's new version."""
        return resolve_conflict(self._catalogue, identity, release_id, conflict_id, resolution, value, if_match)

    # -- the worker ---------------------------------------------------------------------------------------------------

    def handle_message(self, body: str) -> SyncOutcome:
        """Sync the release one queue message names; the outcome (see the module docstring for the steps).

        ``malformed`` (logged), ``gone`` (no such release of that owner), ``not_released``, ``duplicate`` (served
        already), ``no_providers`` (no service synced: the state is ``failed`` and says why; due again after
        ``dsp_retry_interval_s``), ``synced`` or ``conflicts``. Raises ``SyncRetryError`` when every configured
        service failed for a passing reason (or none synced and one failed so), so SQS retries.
        """
        try:
            message = SyncMessage.model_validate_json(body)
        except ValidationError as exc:
            log.warning("malformed DSP sync message dropped: %s", exc.errors(include_input=False, include_url=False))
            return "malformed"
        # Merging and matching (rapidfuzz, munkres) load here, in the worker only: the API's routes never need them.
        from chalicelib.services.dsp_merge import merge_releases
        from chalicelib.services.dsp_write import SyncPlanner

        repository = self._catalogue.repository
        detail = repository.load(message.release_id)
        if detail is None or detail.release.owner_id != message.owner_id:
            return "gone"
        release = detail.release
        if release.production_status not in SYNCABLE:
            return "not_released"
        if served(release, message.requested_at):
            return "duplicate"
        started = self._catalogue.now()
        running = self._states.mark_running(release.id, release.owner_id, message.requested_at, started)
        if running is None:
            return "duplicate"
        isrcs = [t.isrc for t in detail.tracks if t.isrc]
        found, services, transient = fetch_releases(self._providers(), release, isrcs, started)
        merged = merge_releases(found)
        for rejection in merged.rejected:
            services[rejection.service] = services[rejection.service].model_copy(
                update={"status": "rejected", "error": ErrorInfo(code=rejection.code, message=rejection.message)}
            )
        previous = {s.service: s.last_synced_at for s in running.report.services}
        for service, outcome in services.items():
            if outcome.status != "synced" and outcome.last_synced_at is None:
                services[service] = outcome.model_copy(update={"last_synced_at": previous.get(service)})
        report = list(services.values())
        if merged.release is None:
            if transient:
                self._put_retrying(running, report, transient)
                raise SyncRetryError(
                    "No DSP could be reached; the sync will be retried.",
                    details={"services": {f.service: f.code for f in transient}},
                )
            return self._finish_without_data(running, message, report, started)
        planner = SyncPlanner(
            self._catalogue, merged.release, merged.disagreements, report, running, message.requested_at, started
        )
        return planner.write(
            Identity(subject=release.owner_id), timedelta(seconds=self._settings.dsp_resync_interval_s)
        )

    def _put_retrying(
        self, running: StoredSyncState, report: list[ServiceSync], transient: list[ProviderFailure]
    ) -> None:
        """While SQS holds the message for a retry: the state ``queued`` with the failures in ``error``, and the
        release due only after ``dsp_retry_interval_s``, so the schedule does not queue more copies meanwhile (the
        retry, or the dead-letter consumer, sets the next due time)."""
        codes = ", ".join(sorted({f"{f.service}: {f.code}" for f in transient}))
        error = ErrorInfo(code="dsp_unavailable", message=f"No DSP could be reached ({codes}); retrying.")
        retry = timedelta(seconds=self._settings.dsp_retry_interval_s)
        self._end(running, "queued", error, report, retry, served_at=None)

    def _finish_without_data(
        self, running: StoredSyncState, message: SyncMessage, report: list[ServiceSync], started: datetime
    ) -> SyncOutcome:
        """No service synced: the state ends ``failed`` (``no_providers`` when none is configured, ``not_found``
        when none lists the release, else ``dsp_failed`` naming each failure), the request counts as served and the
        release is due again after ``dsp_retry_interval_s``."""
        configured = [s for s in report if s.status != "skipped"]
        failures = [f"{s.service}: {s.error.code}" for s in configured if s.status == "failed" and s.error]
        if not configured:
            error = ErrorInfo(code="no_providers", message="No DSP is configured.")
        elif failures:
            error = ErrorInfo(code="dsp_failed", message=f"No DSP answered usably ({', '.join(failures)}).")
        else:
            error = ErrorInfo(code="not_found", message="No configured DSP lists this release (yet).")
        retry = timedelta(seconds=self._settings.dsp_retry_interval_s)
        self._end(running, "failed", error, report, retry, served_at=started)
        return "no_providers"

    # -- dead letters and the schedule ------------------------------------------------------------------------------

    def fail_dead_letter(self, body: str) -> bool:
        """End the sync of a dead-lettered message ``failed`` (``dead_lettered``) and make the release due again after
        ``dsp_retry_interval_s``, in one transaction. False (nothing written) for a malformed body, a release gone,
        or a request a later copy already served. Never raises on a malformed body."""
        try:
            message = SyncMessage.model_validate_json(body)
        except ValidationError:
            log.warning("malformed dead-lettered DSP sync message dropped")
            return False
        release = self._catalogue.repository.get(message.release_id)
        if release is None or release.owner_id != message.owner_id or served(release, message.requested_at):
            return False
        state = self._states.get(release.id) or self._blank_state(release, message.requested_at)
        error = ErrorInfo(
            code="dead_lettered",
            message="The sync kept failing and was given up; it is tried again later.",
        )
        retry = timedelta(seconds=self._settings.dsp_retry_interval_s)
        self._end(state, "failed", error, state.report.services, retry, served_at=None)
        return True

    def enqueue_due(self, now: datetime) -> int:
        """Send one ``scheduled`` message per release due at ``now``: Query pages of ``dsp_schedule_page_size`` on the
        sparse gsi3 (never a Scan), each page sent in SQS batches of 10, at most ``dsp_schedule_max_per_run`` in all.
        Returns how many were sent. A release stays due until its sync writes, so one that could not be sent is
        picked up by the next run; copies sent while it waits are deduplicated by the worker."""
        settings = self._settings
        sent, cursor = 0, None
        while sent < settings.dsp_schedule_max_per_run:
            limit = min(settings.dsp_schedule_page_size, settings.dsp_schedule_max_per_run - sent)
            page = self._catalogue.repository.due_for_sync_page(now, limit=limit, cursor=cursor)
            messages = [sync_message(release, "scheduled", now) for release in page.items]
            if messages:
                sent += self._queue.send_batch(messages)
            cursor = page.next_cursor
            if cursor is None:
                break
        return sent

    # -- helpers ------------------------------------------------------------------------------------------------------

    def _owned(self, identity: Identity, release_id: str, *, admin_may_read: bool) -> Release:
        """The caller's release item (one GetItem); ``NotFoundError`` (``release_not_found``) otherwise."""
        release = self._catalogue.repository.get(release_id)
        if release is None or (release.owner_id != identity.subject and not (admin_may_read and identity.is_admin)):
            raise not_found(release_id)
        return release

    @staticmethod
    def _blank_state(release: Release, now: datetime) -> StoredSyncState:
        return StoredSyncState(release_id=release.id, owner_id=release.owner_id, state="never", updated_at=now)

    def _end(
        self,
        state: StoredSyncState,
        outcome: Literal["failed", "queued"],
        error: ErrorInfo,
        report: list[ServiceSync],
        retry: timedelta,
        *,
        served_at: datetime | None,
    ) -> None:
        """Write the state ``outcome`` with ``error`` and the release due again after ``retry``, in one transaction
        (the state alone once the release may no longer be synced); ``served_at`` marks the request served."""
        now = self._catalogue.now()
        update: dict[str, Any] = {"state": outcome, "error": error, "updated_at": now}
        update["report"] = state.report.model_copy(update={"services": report})
        if served_at is not None:
            update["served_at"] = served_at
        ended = state.model_copy(update=update)

        def plan(detail: ReleaseDetail) -> CatalogueWrite | None:
            if detail.release.production_status not in SYNCABLE:
                return None
            changes: dict[str, Any] = {"dsp_sync_due_at": now + retry}
            if served_at is not None:
                changes["last_dsp_sync_at"] = served_at
            return self._catalogue.write(detail, changes, sync_state=ended, now=now)

        written = self._catalogue.mutate(Identity(subject=state.owner_id), state.release_id, plan)
        if written.release.production_status not in SYNCABLE:
            self._states.put(ended)
