"""The MusicBrainz client: a release by its barcode (or by its tracks' ISRCs), with its media, recordings and ISRCs.

MusicBrainz needs no credentials, so it is always configured. Its rules (https://musicbrainz.org/doc/MusicBrainz_API
and …/Rate_Limiting): at most one request per second per client (here: per process, ``musicbrainz_min_interval_s``),
and a meaningful ``User-Agent`` (``Application/version ( contact )``) on every request, else it answers 403/503.

Endpoints (JSON with ``fmt=json``):
- search: ``GET /release?query=barcode:{upc}&fmt=json`` (both the UPC-A and EAN-13 forms: ``barcode_query``) →
  ``{"count", "offset", "releases": [{"id", "score",
  "barcode", "track-count", …}]}`` (https://musicbrainz.org/doc/MusicBrainz_API/Search#Release);
- lookup: ``GET /release/{mbid}?inc=recordings+isrcs+artist-credits&fmt=json`` → the release with ``media[].tracks[]``
  (``position``, ``number``, ``length`` ms, ``title``, ``recording: {"id", "isrcs": [...]}``);
- ISRC: ``GET /isrc/{isrc}?inc=releases&fmt=json`` → ``{"isrc", "recordings": [{"id", "releases": [...]}]}``
  (a non-MBID lookup; ``inc=releases`` adds each recording's releases:
  https://musicbrainz.org/doc/MusicBrainz_API#Non-MBID_Lookups).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.models.identifiers import normalise_isrc
from chalicelib.providers.base import (
    DspMedium,
    DspRelease,
    DspService,
    DspTrack,
    ProviderBadResponseError,
    ProviderNotFoundError,
    same_gtin,
)
from chalicelib.providers.http import HttpPolicy, ProviderHttp, RateLimiter

if TYPE_CHECKING:
    from chalicelib.config import Settings

SERVICE: DspService = "musicbrainz"
#: The public page of a release.
RELEASE_PAGE = "https://musicbrainz.org/release/{mbid}"
#: The ISRCs looked up at most to find a release without a UPC (each lookup is a request, one per second).
MAX_ISRC_LOOKUPS = 10
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# -- the documented response shapes (only the fields Sleeve reads; the rest is ignored) --------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class MbArtistCredit(_Model):
    """One name of an ``artist-credit`` list: the credited ``name`` and the ``joinphrase`` that follows it."""

    name: str
    joinphrase: str = ""


class MbRecording(_Model):
    """A recording: its MBID, its ``length`` (ms, may be null) and, with ``inc=isrcs``, its ISRCs."""

    id: str
    title: str = ""
    length: int | None = None
    isrcs: list[str] = Field(default_factory=list)


class MbTrack(_Model):
    """A track of a medium: ``position`` (1-based), ``number`` (as printed: "1", "A1"), ``length`` ms or null."""

    id: str
    position: int
    number: str = ""
    title: str
    length: int | None = None
    recording: MbRecording


class MbMedium(_Model):
    """A medium of a release: its 1-based ``position`` and, with ``inc=recordings``, its ``tracks``."""

    position: int
    format: str | None = None
    track_count: int = Field(default=0, alias="track-count")
    tracks: list[MbTrack] = Field(default_factory=list)


class MbReleaseSummary(_Model):
    """A release as the search and the ISRC lookup (``inc=releases``) list it: no tracks. ``date`` is ``YYYY``,
    ``YYYY-MM`` or ``YYYY-MM-DD`` (or empty); ``barcode`` may be empty or null."""

    id: str
    title: str
    status: str | None = None
    date: str | None = None
    barcode: str | None = None


class MbSearchRelease(MbReleaseSummary):
    """A search result: its ``score`` (0-100) and its ``track-count`` over all media."""

    score: int = 0
    track_count: int | None = Field(default=None, alias="track-count")


class MbRelease(MbReleaseSummary):
    """A looked-up release (``inc=recordings+isrcs+artist-credits``): its artist credit and media with tracks."""

    artist_credit: list[MbArtistCredit] = Field(default_factory=list, alias="artist-credit")
    media: list[MbMedium] = Field(default_factory=list)


class MbReleaseSearch(_Model):
    """``GET /release?query=…``: the matching releases, best ``score`` first."""

    count: int = 0
    offset: int = 0
    releases: list[MbSearchRelease]


class MbIsrcRecording(_Model):
    """A recording of an ISRC lookup, with its releases (``inc=releases``)."""

    id: str
    releases: list[MbReleaseSummary] = Field(default_factory=list)


class MbIsrcLookup(_Model):
    """``GET /isrc/{isrc}``: the recordings with this ISRC."""

    isrc: str
    recordings: list[MbIsrcRecording]


def _parse[M: BaseModel](model: type[M], payload: Any, what: str) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise ProviderBadResponseError(
            SERVICE, f"musicbrainz {what} is not in the documented shape: {where}: {first['msg']}"
        ) from None


# -- the process-wide rate limiter -------------------------------------------------------------------------------------

_limiters: dict[float, RateLimiter] = {}
_limiters_lock = threading.Lock()


def process_limiter(min_interval_s: float) -> RateLimiter:
    """The one ``RateLimiter`` of this process for MusicBrainz at ``min_interval_s`` (shared by every client, as
    MusicBrainz's limit is per client IP, not per connection)."""
    with _limiters_lock:
        limiter = _limiters.get(min_interval_s)
        if limiter is None:
            limiter = _limiters[min_interval_s] = RateLimiter(min_interval_s)
        return limiter


def _mb_error_message(response: httpx.Response) -> str | None:
    """MusicBrainz's error text: ``{"error": "...", "help": "..."}``."""
    body = response.json()
    message = body.get("error") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


# -- the client --------------------------------------------------------------------------------------------------------


class MusicBrainzClient:
    """``DspProvider`` for MusicBrainz (see the module docstring). ``find_release`` returns the release with its
    media; each track's ``external_id`` is its *recording* MBID, the release's its release MBID."""

    def __init__(self, http: ProviderHttp) -> None:
        self._http = http

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> MusicBrainzClient:
        """A client of ``musicbrainz_api_url`` sending ``musicbrainz_user_agent``, limited by the process-wide
        limiter of ``musicbrainz_min_interval_s`` (or ``limiter``), with the ``SLEEVE_PROVIDER_*`` policy;
        ``transport``/``sleep`` for tests."""
        policy = HttpPolicy.from_settings(settings, min_interval_s=settings.musicbrainz_min_interval_s)
        http = ProviderHttp(
            SERVICE,
            settings.musicbrainz_api_url,
            policy,
            headers={"User-Agent": settings.musicbrainz_user_agent, "Accept": "application/json"},
            transport=transport,
            error_message=_mb_error_message,
            sleep=sleep,
            limiter=limiter or process_limiter(settings.musicbrainz_min_interval_s),
        )
        return cls(http)

    @property
    def service(self) -> DspService:
        """``musicbrainz``."""
        return SERVICE

    def not_configured_reason(self) -> str | None:
        """Always None: MusicBrainz needs no credentials."""
        return None

    def find_release(self, *, upc: str | None, isrcs: Sequence[str]) -> DspRelease:
        """The release with barcode ``upc`` or, without one, the release most of ``isrcs`` belong to.

        With a UPC: the search's releases whose barcode is the UPC (``same_gtin``); the best ``score``, ties going to
        the track count nearest ``len(isrcs)`` (the local tracks' ISRCs), then to the search's order. Without: up to
        ``MAX_ISRC_LOOKUPS`` ISRC lookups; the release holding the most of them wins (ties: an ``Official`` one, the
        earliest full date, then the MBID). Then one release lookup.

        Raises ``ProviderNotFoundError`` when nothing matches, ``ProviderBadResponseError`` for a response not in
        the documented shape, and the other ``ProviderFailure`` errors of ``ProviderHttp``.
        """
        mbid = self._release_by_barcode(upc, len(isrcs)) if upc else self._release_by_isrcs(isrcs)
        return self.release(mbid)

    def release(self, mbid: str) -> DspRelease:
        """``GET /release/{mbid}?inc=recordings+isrcs+artist-credits`` as a ``DspRelease``.

        Each track: ``external_id`` its recording MBID, ``disc_number`` its medium's position, ``track_number`` its
        position on the medium, ``duration_ms`` its ``length`` (else the recording's), ``isrc`` the recording's first
        valid ISRC (a recording may carry several, e.g. a re-issue's; the first listed is kept, the others are not
        reported), ``explicit`` None (MusicBrainz does not rate tracks). ``release_date`` only from a full
        ``YYYY-MM-DD`` date; ``gtin`` None for an empty barcode.
        """
        # The "+" separators are written into the URL: httpx would percent-encode them as a parameter value.
        payload = self._http.get_json(f"release/{mbid}?inc=recordings+isrcs+artist-credits&fmt=json")
        release = _parse(MbRelease, payload, "release")
        try:
            return to_dsp_release(release)
        except ValidationError as exc:  # e.g. a medium or track position below 1
            raise ProviderBadResponseError(
                SERVICE, f"musicbrainz release {release.id} does not fit a release: {exc.error_count()} errors"
            ) from None

    def close(self) -> None:
        """Close the HTTP client (the shared rate limiter stays)."""
        self._http.close()

    def _release_by_barcode(self, upc: str, wanted_tracks: int) -> str:
        payload = self._http.get_json("release", params={"query": barcode_query(upc), "fmt": "json"})
        found = _parse(MbReleaseSearch, payload, "release search")
        candidates = [release for release in found.releases if release.barcode and same_gtin(release.barcode, upc)]
        if not candidates:
            raise ProviderNotFoundError(SERVICE, f"musicbrainz has no release with barcode {upc}")

        def rank(indexed: tuple[int, MbSearchRelease]) -> tuple[int, int, int]:
            order, release = indexed
            fit = abs((release.track_count or 0) - wanted_tracks) if wanted_tracks else 0
            return (-release.score, fit, order)

        return min(enumerate(candidates), key=rank)[1].id

    def _release_by_isrcs(self, isrcs: Sequence[str]) -> str:
        wanted = list(dict.fromkeys(isrcs))[:MAX_ISRC_LOOKUPS]
        votes: Counter[str] = Counter()
        releases: dict[str, MbReleaseSummary] = {}
        for isrc in wanted:
            try:
                payload = self._http.get_json(f"isrc/{isrc}", params={"inc": "releases", "fmt": "json"})
            except ProviderNotFoundError:
                continue  # MusicBrainz answers 404 for an ISRC it does not know
            found = _parse(MbIsrcLookup, payload, "ISRC lookup")
            on = {release.id: release for recording in found.recordings for release in recording.releases}
            releases.update(on)
            votes.update(on.keys())
        if not votes:
            raise ProviderNotFoundError(SERVICE, f"musicbrainz knows none of the {len(wanted)} ISRCs looked up")

        def rank(mbid: str) -> tuple[int, int, str, str]:
            release = releases[mbid]
            day = _full_date(release.date)
            return (-votes[mbid], 0 if release.status == "Official" else 1, day.isoformat() if day else "9999", mbid)

        return min(votes, key=rank)


def barcode_query(upc: str) -> str:
    """The search query for a UPC/EAN: ``barcode:{upc}``, or, for a 12-digit UPC-A or a 13-digit EAN-13 with a
    leading zero, both forms in one Lucene query (``barcode:(602435867129 OR 0602435867129)``): MusicBrainz stores the
    barcode as its editors typed it and its search matches it exactly, so a release entered as EAN-13 is not found
    by its UPC-A, nor the other way round."""
    if len(upc) == 12:
        return f"barcode:({upc} OR 0{upc})"
    if len(upc) == 13 and upc.startswith("0"):
        return f"barcode:({upc} OR {upc[1:]})"
    return f"barcode:{upc}"


def to_dsp_release(release: MbRelease) -> DspRelease:
    """A looked-up ``MbRelease`` as a ``DspRelease`` (see ``MusicBrainzClient.release``)."""
    media = [
        DspMedium(
            position=medium.position,
            tracks=[
                DspTrack(
                    external_id=track.recording.id,
                    title=track.title,
                    disc_number=medium.position,
                    track_number=track.position,
                    duration_ms=track.length if track.length is not None else track.recording.length,
                    isrc=_first_isrc(track.recording.isrcs),
                    explicit=None,
                )
                for track in sorted(medium.tracks, key=lambda t: t.position)
            ],
        )
        for medium in sorted(release.media, key=lambda m: m.position)
    ]
    artist = "".join(credit.name + credit.joinphrase for credit in release.artist_credit) or None
    return DspRelease(
        service=SERVICE,
        external_id=release.id,
        title=release.title,
        artist=artist,
        gtin=release.barcode or None,
        release_date=_full_date(release.date),
        url=RELEASE_PAGE.format(mbid=release.id),
        media=media,
    )


def _full_date(value: str | None) -> date | None:
    """A MusicBrainz date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) as a date when it names a day, else None."""
    if not value or not _FULL_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _first_isrc(isrcs: list[str]) -> str | None:
    for value in isrcs:
        try:
            return normalise_isrc(value)
        except ValueError:
            continue
    return None
