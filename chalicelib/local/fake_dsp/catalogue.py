"""The fake DSP's catalogue (albums and tracks as the three services list them), its faults and request log, and
``FakeDsp``: one in-process fake that answers Spotify, Apple Music and MusicBrainz requests in their documented
formats, used as ``httpx.MockTransport(fake.handle)`` in tests and served on loopback by ``server.FakeDspServer``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, Literal, NamedTuple, cast

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.providers.base import DSP_SERVICES, DspService, same_gtin

#: A routed service: the three DSPs, and Spotify's accounts service (the client-credentials token).
type FakeService = DspService | Literal["spotify_accounts"]

#: Path prefix → (service, handler module in this package, handler function).
ROUTES: tuple[tuple[str, FakeService, str, str], ...] = (
    ("/spotify-accounts", "spotify_accounts", "spotify", "handle_accounts"),
    ("/spotify/v1", "spotify", "spotify", "handle"),
    ("/apple/v1", "apple_music", "apple_music", "handle"),
    ("/musicbrainz/ws/2", "musicbrainz", "musicbrainz", "handle"),
)

#: The track fields a per-service override may change.
OVERRIDABLE = frozenset({"title", "duration_ms", "isrc", "explicit", "track_number", "disc_number"})

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MBID_NAMESPACE = uuid.UUID("6f1e2a3c-9d1b-4c55-8a0e-5eeee0000000")


def derive_id(service: DspService, kind: Literal["album", "track"], key: str) -> str:
    """A stable id in the service's own format for an album or track without an explicit one: a 22-character
    base62 Spotify id, a numeric Apple Music id, a UUID MusicBrainz MBID (same key → same id in every run)."""
    digest = hashlib.sha256(f"{service}:{kind}:{key}".encode()).digest()
    if service == "spotify":
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(22):
            number, rest = divmod(number, 62)
            chars.append(_BASE62[rest])
        return "".join(chars)
    if service == "apple_music":
        return str(1_000_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000_000)
    return str(uuid.uuid5(_MBID_NAMESPACE, f"{kind}:{key}"))


class FakeTrack(BaseModel):
    """One track of a fake album. ``track_number`` is the 1-based position on disc ``disc_number``; ``duration_ms``
    milliseconds; ``isrc`` compact (``GBAYE0601498``). ``ids`` per service (derived when missing); ``only`` the
    services that list it (a bonus track; None = all); ``overrides`` per-service differences of the fields in
    ``OVERRIDABLE``."""

    model_config = ConfigDict(extra="forbid")

    title: str
    track_number: int = Field(ge=1)
    disc_number: int = Field(default=1, ge=1)
    duration_ms: int = Field(ge=0)
    isrc: str | None = None
    explicit: bool = False
    ids: dict[DspService, str] = Field(default_factory=dict)
    only: list[DspService] | None = None
    overrides: dict[DspService, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _known_fields(cls, value: dict[DspService, dict[str, Any]]) -> dict[DspService, dict[str, Any]]:
        for fields in value.values():
            unknown = set(fields) - OVERRIDABLE
            if unknown:
                raise ValueError(f"overrides may change only {sorted(OVERRIDABLE)}, not {sorted(unknown)}")
        return value

    def id_for(self, service: DspService, album_key: str = "") -> str:
        """This track's id on ``service``: the explicit one, else derived from ``album_key`` (the album's UPC for
        Spotify and Apple Music, whose track ids are per album), the ISRC or the title and position. MusicBrainz
        recording MBIDs ignore the album: one recording appears on many releases."""
        if service in self.ids:
            return self.ids[service]
        own = self.isrc or f"{self.title}|{self.disc_number}|{self.track_number}|{self.duration_ms}"
        key = own if service == "musicbrainz" else f"{album_key}|{own}"
        return derive_id(service, "track", key)

    def listed_on(self, service: DspService) -> bool:
        """Whether ``service`` lists this track."""
        return self.only is None or service in self.only


class FakeAlbum(BaseModel):
    """One album (release) of the fake catalogue: its ``upc``, ``title``, ``artist``, ``release_date`` and tracks.
    ``services``: which services list it at all; ``ids`` its album id / release MBID per service (derived from the UPC
    when missing); ``gtin_overrides``: a service that states another GTIN for it (Harmony's GTIN mismatch)."""

    model_config = ConfigDict(extra="forbid")

    upc: str
    title: str
    artist: str
    release_date: date
    tracks: list[FakeTrack]
    ids: dict[DspService, str] = Field(default_factory=dict)
    services: list[DspService] = Field(default_factory=lambda: list(DSP_SERVICES))
    gtin_overrides: dict[DspService, str] = Field(default_factory=dict)

    def id_for(self, service: DspService) -> str:
        """The album's id on ``service`` (explicit or derived from the UPC)."""
        return self.ids.get(service) or derive_id(service, "album", self.upc)

    def gtin_for(self, service: DspService) -> str:
        """The GTIN ``service`` states for this album."""
        return self.gtin_overrides.get(service, self.upc)

    def tracks_for(self, service: DspService) -> list[FakeTrack]:
        """The tracks ``service`` lists, its overrides applied and its id filled in (``ids[service]``), in the
        service's order (disc, then track number, after overrides)."""
        listed = []
        for track in self.tracks:
            if not track.listed_on(service):
                continue
            changed = track.model_copy(update=track.overrides.get(service, {}))
            changed = changed.model_copy(update={"ids": {**track.ids, service: track.id_for(service, self.upc)}})
            listed.append(changed)
        return sorted(listed, key=lambda t: (t.disc_number, t.track_number))

    def media_for(self, service: DspService) -> list[tuple[int, list[FakeTrack]]]:
        """``tracks_for(service)`` grouped by disc: ``[(disc_number, tracks)]`` in disc order."""
        media: dict[int, list[FakeTrack]] = {}
        for track in self.tracks_for(service):
            media.setdefault(track.disc_number, []).append(track)
        return sorted(media.items())


class Fault(BaseModel):
    """An injected failure: the next ``times`` requests to ``service`` (whose URL path contains ``path_contains``,
    when set) are answered ``status`` with ``Retry-After: retry_after_s`` (when set) and ``body`` (default: the
    service's own error shape), then normal service resumes."""

    model_config = ConfigDict(extra="forbid")

    service: FakeService
    status: int = Field(ge=400, le=599)
    retry_after_s: int | None = Field(default=None, ge=0)
    body: dict[str, Any] | None = None
    times: int = Field(default=1, ge=1)
    path_contains: str | None = None


class RecordedRequest(NamedTuple):
    """One request the fake handled: the routed ``service``, the HTTP ``method``, the URL ``path`` (with the
    service's prefix) and the raw ``query`` string."""

    service: str
    method: str
    path: str
    query: str


class FakeCatalogue(BaseModel):
    """What the fake serves: a list of albums."""

    model_config = ConfigDict(extra="forbid")

    albums: list[FakeAlbum] = Field(default_factory=list)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response (``application/json; charset=utf-8``)."""
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def error_body(service: FakeService, status: int, message: str) -> dict[str, Any]:
    """An error body in the service's documented shape: Spotify's ``{"error": {"status", "message"}}``, the
    accounts service's OAuth ``{"error", "error_description"}``, Apple's ``{"errors": [{"id", "title", "detail",
    "status", "code"}]}``, MusicBrainz's ``{"error", "help"}``."""
    if service == "spotify":
        return {"error": {"status": status, "message": message}}
    if service == "spotify_accounts":
        return {"error": "invalid_client" if status in (400, 401) else "server_error", "error_description": message}
    if service == "apple_music":
        title = httpx.codes.get_reason_phrase(status) or "Error"
        code = f"{status}00"  # Apple's codes extend the status: 40400 not found, 40100 unauthorised…
        return {
            "errors": [
                {
                    "id": str(uuid.uuid4()).upper(),
                    "title": title,
                    "detail": message,
                    "status": str(status),
                    "code": code,
                }
            ]
        }
    return {"error": message, "help": "For usage, please see: https://musicbrainz.org/development/mmd"}


def error_response(
    service: FakeService, status: int, message: str, *, headers: dict[str, str] | None = None
) -> httpx.Response:
    """``json_response`` of ``error_body``."""
    return json_response(status, error_body(service, status, message), headers)


type Handler = Callable[["FakeDsp", httpx.Request, str], httpx.Response]


class FakeDsp:
    """The fake: a catalogue, the credentials it accepts, injected faults and the log of requests handled.

    ``handle(request)`` routes by path prefix (``/spotify-accounts``, ``/spotify/v1``, ``/apple/v1``,
    ``/musicbrainz/ws/2``) to the service module's ``handle(fake, request, path)``, ``path`` being the rest after
    the prefix. Thread-safe (``FakeDspServer`` handles requests on several threads).
    """

    spotify_client_id = "fake-spotify-client-id"
    spotify_client_secret = "fake-spotify-client-secret"
    apple_team_id = "FAKETEAM01"
    apple_key_id = "FAKEKEY001"

    def __init__(self, catalogue: FakeCatalogue | None = None) -> None:
        self.catalogue = catalogue or FakeCatalogue()
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        # An EC P-256 key (Apple's MusicKit keys are P-256 PKCS#8 PEM files); the fake verifies ES256 developer
        # tokens with its public half.
        self._apple_key = ec.generate_private_key(ec.SECP256R1())
        self.apple_private_key_pem = self._apple_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.apple_public_key_pem = (
            self._apple_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    # -- the catalogue --------------------------------------------------------------------------------------------

    def add_album(self, album: FakeAlbum) -> None:
        """Add one album to the catalogue."""
        with self._lock:
            self.catalogue = FakeCatalogue(albums=[*self.catalogue.albums, album])

    def set_catalogue(self, catalogue: FakeCatalogue) -> None:
        """Replace the whole catalogue."""
        with self._lock:
            self.catalogue = catalogue

    def albums_on(self, service: DspService) -> list[FakeAlbum]:
        """The albums ``service`` lists."""
        with self._lock:
            return [album for album in self.catalogue.albums if service in album.services]

    def albums_by_upc(self, service: DspService, upc: str) -> list[FakeAlbum]:
        """The albums ``service`` lists under ``upc``: its real UPC, or the GTIN the service states for it (compared
        with ``same_gtin``)."""
        return [
            album
            for album in self.albums_on(service)
            if same_gtin(album.upc, upc) or same_gtin(album.gtin_for(service), upc)
        ]

    def album_by_id(self, service: DspService, album_id: str) -> FakeAlbum | None:
        """The album with this id on ``service``, or None."""
        return next((album for album in self.albums_on(service) if album.id_for(service) == album_id), None)

    def track_by_id(self, service: DspService, track_id: str) -> tuple[FakeAlbum, FakeTrack] | None:
        """The first ``(album, track)`` whose track (as ``tracks_for(service)`` lists it) has this id, or None."""
        for album in self.albums_on(service):
            for track in album.tracks_for(service):
                if track.ids[service] == track_id:
                    return album, track
        return None

    def tracks_by_isrc(self, service: DspService, isrc: str) -> list[tuple[FakeAlbum, FakeTrack]]:
        """Every ``(album, track)`` ``service`` lists with this ISRC (after overrides), in catalogue order."""
        wanted = isrc.replace("-", "").upper()
        return [
            (album, track)
            for album in self.albums_on(service)
            for track in album.tracks_for(service)
            if track.isrc is not None and track.isrc.upper() == wanted
        ]

    # -- faults and the request log -------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Answer the next ``fault.times`` matching requests with ``fault``."""
        with self._lock:
            self.faults.append(fault)

    def recorded(self) -> list[RecordedRequest]:
        """A copy of the requests handled so far, in order."""
        with self._lock:
            return list(self.requests)

    def clear_requests(self) -> None:
        """Forget the requests handled so far."""
        with self._lock:
            self.requests.clear()

    def requests_for(self, service: str) -> list[RecordedRequest]:
        """The requests handled for ``service``, in order."""
        with self._lock:
            return [request for request in self.requests if request.service == service]

    def _take_fault(self, service: FakeService, path: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.service == service and (fault.path_contains is None or fault.path_contains in path):
                    if fault.times <= 1:
                        del self.faults[index]
                    else:
                        self.faults[index] = fault.model_copy(update={"times": fault.times - 1})
                    return fault
            return None

    # -- routing ----------------------------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request: route by path prefix, record it, apply the first matching fault (consuming one of its
        ``times``), else call the service module's handler. Unknown paths answer 404 in the service's error format;
        a service whose handler module is not there answers 501."""
        full_path = request.url.path
        route = next((r for r in ROUTES if full_path == r[0] or full_path.startswith(r[0] + "/")), None)
        if route is None:
            return json_response(404, {"error": f"no fake service at {full_path}"})
        prefix, service, module_name, function = route
        with self._lock:
            self.requests.append(
                RecordedRequest(service, request.method, full_path, request.url.query.decode("ascii", "replace"))
            )
        fault = self._take_fault(service, full_path)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after_s)} if fault.retry_after_s is not None else None
            body = fault.body if fault.body is not None else error_body(service, fault.status, "injected fault")
            return json_response(fault.status, body, headers)
        handler = _load_handler(module_name, function)
        if handler is None:
            return error_response(service, 501, f"the fake {service} is not implemented")
        return handler(self, request, full_path[len(prefix) :] or "/")

    def settings_env(self, base_url: str) -> dict[str, str]:
        """Every ``SLEEVE_*`` setting that points Sleeve at this fake served at ``base_url``
        (e.g. ``http://127.0.0.1:8099``), with the credentials it accepts and no MusicBrainz rate limit."""
        base = base_url.rstrip("/")
        return {
            "SLEEVE_SPOTIFY_API_URL": f"{base}/spotify/v1",
            "SLEEVE_SPOTIFY_ACCOUNTS_URL": f"{base}/spotify-accounts",
            "SLEEVE_SPOTIFY_CLIENT_ID": self.spotify_client_id,
            "SLEEVE_SPOTIFY_CLIENT_SECRET": self.spotify_client_secret,
            "SLEEVE_APPLE_MUSIC_API_URL": f"{base}/apple/v1",
            "SLEEVE_APPLE_MUSIC_TEAM_ID": self.apple_team_id,
            "SLEEVE_APPLE_MUSIC_KEY_ID": self.apple_key_id,
            "SLEEVE_APPLE_MUSIC_PRIVATE_KEY": self.apple_private_key_pem,
            "SLEEVE_MUSICBRAINZ_API_URL": f"{base}/musicbrainz/ws/2",
            "SLEEVE_MUSICBRAINZ_MIN_INTERVAL_S": "0",
        }


def _load_handler(module_name: str, function: str) -> Handler | None:
    """The service module's handler, imported on first use (the per-service modules import nothing from here at
    import time, and one missing module does not break the others). None when the module is not there."""
    qualified = f"{__package__}.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:
            raise
        return None
    return cast(Handler, getattr(module, function))
