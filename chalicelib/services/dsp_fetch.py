"""Asking each configured streaming service for a release: one outcome per service, never one failure stopping the
others (issue 9: a provider without credentials is ``skipped``, never raised)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from chalicelib.models.catalogue import Release
from chalicelib.models.sync import ErrorInfo, ServiceSync
from chalicelib.providers.base import DspProvider, DspRelease, DspService, ProviderFailure, ProviderNotFoundError

log = logging.getLogger(__name__)

_SKIPPED = "The service's credentials are not set."


def fetch_releases(
    providers: Sequence[DspProvider], release: Release, isrcs: list[str], now: datetime
) -> tuple[list[DspRelease], dict[DspService, ServiceSync], list[ProviderFailure]]:
    """Ask each provider, in ``providers`` order (the merge priority), for the release with ``release.upc`` (or
    ``isrcs`` without one). Returns the releases found in that order; each service's outcome (``synced`` at ``now``
    with its release id, ``skipped`` with the not-configured reason, ``not_found``, or ``failed`` with the failure's
    code: ``rate_limited``, ``unavailable``, ``unauthorised``, ``bad_response``); and the transient failures
    (``ProviderFailure.transient``). Only ``ProviderFailure`` is caught: anything else is a bug and propagates."""
    found: list[DspRelease] = []
    outcomes: dict[DspService, ServiceSync] = {}
    transient: list[ProviderFailure] = []
    for provider in providers:
        service = provider.service
        reason = provider.not_configured_reason()
        if reason is not None:
            outcomes[service] = _outcome(service, "skipped", error=ErrorInfo(code=reason, message=_SKIPPED))
            continue
        try:
            dsp_release = provider.find_release(upc=release.upc, isrcs=isrcs)
        except ProviderNotFoundError as exc:
            outcomes[service] = _outcome(service, "not_found", error=ErrorInfo(code=exc.code, message=exc.message))
            continue
        except ProviderFailure as exc:
            log.warning("DSP %s failed for release %s: %s", service, release.id, exc.code)
            outcomes[service] = _outcome(service, "failed", error=ErrorInfo(code=exc.code, message=exc.message))
            if exc.transient:
                transient.append(exc)
            continue
        found.append(dsp_release)
        outcomes[service] = _outcome(service, "synced", external_id=dsp_release.external_id, at=now)
    return found, outcomes, transient


def _outcome(
    service: DspService,
    status: Literal["synced", "not_found", "skipped", "failed"],
    *,
    external_id: str | None = None,
    at: datetime | None = None,
    error: ErrorInfo | None = None,
) -> ServiceSync:
    return ServiceSync(service=service, status=status, external_id=external_id, last_synced_at=at, error=error)
