"""The DSP provider interface: what a streaming-service client returns, the one error tree, and the Protocol.

A client turns its service's own response shapes into ``DspRelease`` (one album/release with its media and tracks);
merging several services and matching them to the local tracks are separate, pure steps
(``chalicelib.services.dsp_matching``). Every failure reaches the sync service as a ``ProviderError`` subclass:
services never see httpx exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.errors import ProviderError

#: The streaming services Sleeve syncs with, in the default merge priority (settings ``dsp_providers``).
type DspService = Literal["spotify", "apple_music", "musicbrainz"]
DSP_SERVICES: tuple[DspService, ...] = ("spotify", "apple_music", "musicbrainz")

#: Why a provider is not used at all (reported as the service's ``skipped`` status, never raised).
NOT_CONFIGURED = "not_configured"


class DspTrack(BaseModel):
    """One track as a DSP lists it.

    ``external_id``: the service's track id (Spotify track id, Apple Music song id, MusicBrainz *recording* MBID).
    ``disc_number`` and ``track_number`` are 1-based positions; ``duration_ms`` milliseconds (None when the service
    has no length); ``isrc`` compact upper-case (``chalicelib.models.identifiers.normalise_isrc``) or None;
    ``explicit`` None when the service does not rate the track (MusicBrainz, an Apple song without ``contentRating``).
    """

    model_config = ConfigDict(frozen=True)

    external_id: str
    title: str
    disc_number: int = Field(ge=1)
    track_number: int = Field(ge=1)
    duration_ms: int | None = Field(default=None, ge=0)
    isrc: str | None = None
    explicit: bool | None = None


class DspMedium(BaseModel):
    """One medium (disc) of a release: its 1-based ``position`` and its tracks in order."""

    model_config = ConfigDict(frozen=True)

    position: int = Field(ge=1)
    tracks: list[DspTrack]


class DspRelease(BaseModel):
    """One release (album) as a DSP lists it.

    ``external_id``: Spotify album id, Apple Music album id, MusicBrainz *release* MBID. ``gtin``: the UPC/EAN the
    service states (digits, as given; compare with ``same_gtin``), None when it states none. ``release_date`` may be
    None (MusicBrainz releases without a date) and is the calendar date the service gives, completed to a day only
    when the service gives one (a year-only date is None). ``media`` in position order; ``url`` the public page.
    """

    model_config = ConfigDict(frozen=True)

    service: DspService
    external_id: str
    title: str
    artist: str | None = None
    gtin: str | None = None
    release_date: date | None = None
    url: str | None = None
    media: list[DspMedium]

    @property
    def tracks(self) -> list[DspTrack]:
        """Every track, medium by medium, in order."""
        return [track for medium in self.media for track in medium.tracks]

    def track_counts(self) -> list[int]:
        """The number of tracks of each medium, in medium order (Harmony's per-medium track-count check)."""
        return [len(medium.tracks) for medium in self.media]


def same_gtin(a: str, b: str) -> bool:
    """Whether two GTINs name the same product: compared as digits ignoring leading zeros (a UPC-A ``036000241457``
    is the EAN-13 ``0036000241457``), as Harmony's GTIN comparison does."""
    return a.lstrip("0") == b.lstrip("0")


# -- errors -----------------------------------------------------------------------------------------------------------


class ProviderFailure(ProviderError):
    """Base of every failure of a DSP client. ``service`` names the provider; ``code`` is the short reason the sync
    status reports (``rate_limited``, ``unavailable``, ``not_found``, ``unauthorised``, ``bad_response``).

    Messages never hold credentials, tokens or the request's query string.
    """

    default_code = "provider_error"

    def __init__(
        self, service: DspService | str, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, details={"service": service, **(details or {})})
        self.service = service

    #: Whether trying again later may succeed (the sync worker lets SQS retry when every provider failed this way).
    transient: bool = False


class ProviderRateLimitedError(ProviderFailure):
    """429 (or 503 with ``Retry-After``) still answered after the retries; ``wait_s`` the seconds the service asked
    to wait (None when it did not say)."""

    default_code = "rate_limited"
    transient = True

    def __init__(self, service: DspService | str, message: str, *, wait_s: float | None = None) -> None:
        super().__init__(service, message, details={"wait_s": wait_s})
        self.wait_s = wait_s


class ProviderUnavailableError(ProviderFailure):
    """5xx, timeouts or connection errors still failing after the retries."""

    default_code = "unavailable"
    transient = True


class ProviderNotFoundError(ProviderFailure):
    """The service has no release for the UPC (or the ISRCs) asked, or answered 404."""

    default_code = "not_found"


class ProviderUnauthorisedError(ProviderFailure):
    """401/403, a refused token request, or Spotify's Premium-required refusal (its message is kept)."""

    default_code = "unauthorised"


class ProviderBadResponseError(ProviderFailure):
    """A response that does not parse into the documented shape (or an unexpected 4xx)."""

    default_code = "bad_response"


# -- the interface ----------------------------------------------------------------------------------------------------


class DspProvider(Protocol):
    """A streaming-service client (``spotify.SpotifyClient``, ``apple_music.AppleMusicClient``,
    ``musicbrainz.MusicBrainzClient``)."""

    @property
    def service(self) -> DspService:
        """Which service this client talks to."""
        ...

    def not_configured_reason(self) -> str | None:
        """None when the client can be used; else why not (``not_configured`` when credentials are missing), so the
        sync reports the service ``skipped`` instead of raising."""
        ...

    def find_release(self, *, upc: str | None, isrcs: Sequence[str]) -> DspRelease:
        """The service's release with this UPC/EAN (``upc``, digits), or, without a UPC, the release the tracks with
        these ISRCs belong to where the service can look ISRCs up.

        Raises ``ProviderNotFoundError`` when there is none (or without a UPC on a service that cannot look ISRCs up),
        and the other ``ProviderFailure`` subclasses for everything else.
        """
        ...

    def close(self) -> None:
        """Close the underlying HTTP client."""
        ...
