"""Request bodies of the HTTP API (validated with pydantic; unknown fields are refused)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from chalicelib.models.catalogue import (
    CollaboratorRole,
    DistributionStatus,
    ProductionStatus,
    ReleaseType,
)
from chalicelib.models.identifiers import Isrc, Upc
from chalicelib.models.media import (
    BULK_MAX_IDS,
    CREATOR_DESCRIPTION_MAX,
    VIDEO_CONTENT_TYPES,
    AlbumArtQuality,
    AlbumArtSource,
    AttachmentRole,
    BulkAction,
    Layer,
    MediaType,
    Visibility,
)
from chalicelib.models.sync import ConflictResolution
from chalicelib.models.text import (
    MULTILINE_PATTERN,
    MultilineText,
    NonBlankText,
    PlainText,
    check_multiline,
    check_single_line,
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: An http(s) URL, validated, kept as a string.
HttpUrlString = Annotated[AnyHttpUrl, BeforeValidator(check_single_line), PlainSerializer(str, return_type=str)]
# Text fields refuse control characters and bidi overrides (models/text.py); only LongText keeps tabs and newlines.
Title = Annotated[NonBlankText, Field(min_length=1, max_length=200)]
ShortText = Annotated[NonBlankText, Field(min_length=1, max_length=200)]
LongText = Annotated[MultilineText, Field(max_length=5000)]
Reason = Annotated[NonBlankText, Field(min_length=1, max_length=500)]
# The identifiers strip white space before validating; refuse control characters in them first, as everywhere.
# Their document patterns name the plain forms; the description adds what a pattern cannot say.
CheckedUpc = Annotated[
    Upc,
    BeforeValidator(check_single_line),
    Field(
        json_schema_extra={
            "pattern": "^[0-9]{12,13}$",
            "description": "A UPC-A (12 digits) or EAN-13 (13 digits) with a valid GS1 check digit; spaces and "
            "hyphens between digits are also accepted and removed.",
        }
    ),
]
CheckedIsrc = Annotated[
    Isrc,
    BeforeValidator(check_single_line),
    Field(
        json_schema_extra={
            "pattern": "^[A-Za-z]{2}-?[A-Za-z0-9]{3}-?[0-9]{2}-?[0-9]{5}$",
            "description": "An ISRC, CC-XXX-YY-NNNNN (IFPI ISRC Handbook §4); hyphens, spaces and an `ISRC` prefix are "
            "accepted, and it is stored and answered compact and upper-case (USRC17607839).",
        }
    ),
]
#: A decimal sent as a JSON number or as text (at most two decimal places either way).
_DECIMAL_TEXT = {"type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,2})?$"}
Bpm = Annotated[
    Decimal,
    Field(gt=0, le=999, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 999}, _DECIMAL_TEXT],
            "description": "Beats per minute, above 0 and at most 999, at most two decimal places.",
        }
    ),
]
SplitPercent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "minimum": 0, "maximum": 100}, _DECIMAL_TEXT],
            "description": "The royalty split in percent, 0 to 100, at most two decimal places.",
        }
    ),
]
#: The declared types an artwork upload may have (the worker sniffs the real format from the bytes anyway).
UPLOAD_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")


def _iso_date_text(value: object) -> object:
    """Only ``YYYY-MM-DD`` text is a date here: pydantic's lax mode would also take a Unix timestamp (``0`` →
    1970-01-01) or ``"86400"``, which the document (``format: date``, RFC 3339 full-date) does not admit."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("a date is a YYYY-MM-DD string")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A calendar date sent as ``YYYY-MM-DD`` (also named so for models with a field called ``date``).
CalendarDate = Annotated[date, BeforeValidator(_iso_date_text)]


def _iso_datetime_text(value: object) -> object:
    """Only RFC 3339 date-time text with its offset (the document's ``format: date-time``) is a time here: pydantic's
    lax mode would also take a Unix timestamp (``0`` → 1970-01-01T00:00:00Z) or a time without an offset."""
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        return value
    raise ValueError("a time is an RFC 3339 date-time string with an offset (2026-11-26T12:00:00Z)")


_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
#: A point in time sent as RFC 3339 text with an offset (``2026-11-26T12:00:00Z``), never a timestamp number.
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime_text)]


class _ReleaseFields(_Request):
    """The owner-editable fields of a release (``lifecycle.RELEASE_FIELDS``). ``description`` may hold tabs and
    newlines; every other text field is one line (no control characters, no bidi overrides: ``models/text.py``)."""

    release_type: ReleaseType | None = None
    label: ShortText | None = None
    genre: ShortText | None = None
    upc: CheckedUpc | None = None
    p_line: ShortText | None = None
    c_line: ShortText | None = None
    explicit: StrictBool = False
    description: LongText | None = None
    scheduled_release_date: CalendarDate | None = None
    distributor_id: ShortText | None = None
    distribution_status: DistributionStatus | None = None
    artwork_url: HttpUrlString | None = None


class CreateReleaseRequest(_ReleaseFields):
    """``POST /releases``: ``title`` and ``display_artist`` (1..200 characters; ``artist`` is accepted as an alias)
    plus any optional release field. ``upc`` must be a valid UPC-A / EAN-13; ``release_type`` unset means inferred."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Vespertine",
                    "display_artist": "Björk",
                    "release_type": "album",
                    "genre": "Electronic",
                    "upc": "036000241457",
                    "scheduled_release_date": "2027-03-01",
                }
            ]
        }
    )

    title: Title
    display_artist: Title = Field(validation_alias=AliasChoices("display_artist", "artist"))


class UpdateReleaseRequest(_ReleaseFields):
    """``PATCH /releases/{id}``: any subset of the release fields; ``null`` clears an optional one. Fields set by the
    lifecycle (``production_status``, ``lock_status``, dates, locks, sync state) are read-only."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"label": "One Little Independent", "p_line": "℗ 2001 One Little Independent"}]}
    )

    # Optional in a PATCH but never null: an absent field keeps its unvalidated default, an explicit null fails.
    title: Title = None  # type: ignore[assignment]
    display_artist: Title = None  # type: ignore[assignment]
    explicit: StrictBool = None  # type: ignore[assignment]


class TransitionRequest(_Request):
    """``POST /releases/{id}/transition``: the target ``to`` status, an optional ``reason`` for the history, and
    the ``date`` to schedule on when ``to`` is ``scheduled``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"to": "recording", "reason": "Sessions booked"}]})

    to: ProductionStatus
    reason: Reason | None = None
    date: CalendarDate | None = None

    @field_validator("date")
    @classmethod
    def _only_to_schedule(cls, value: CalendarDate | None, info: ValidationInfo) -> CalendarDate | None:
        if value is not None and info.data.get("to") != "scheduled":
            raise ValueError('a date is only taken with "to": "scheduled"')
        return value


class ScheduleRequest(_Request):
    """``POST /releases/{id}/schedule``: the release ``date`` (a future calendar date; defaults to the stored
    ``scheduled_release_date``) and an optional ``reason``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"date": "2027-03-01", "reason": "Release date agreed with the distributor"}]}
    )

    date: CalendarDate | None = None
    reason: Reason | None = None


class ReasonRequest(_Request):
    """``POST /releases/{id}/release-now`` and ``/lock``: an optional ``reason`` for the history."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Masters approved"}]})

    reason: Reason | None = None


class UnlockRequest(_Request):
    """``POST /releases/{id}/unlock``: why an administrator unlocks the release (required, 1..500 characters) and the
    lock status ``to`` lower it to: ``unlocked`` (default) or ``partial_lock``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Correcting the ISRC of track 3", "to": "partial_lock"}]}
    )

    reason: Reason
    to: Literal["partial_lock", "unlocked"] = "unlocked"


class _TrackFields(_Request):
    duration_ms: int | None = Field(default=None, ge=1, le=24 * 3600 * 1000, strict=True)
    isrc: CheckedIsrc | None = None
    explicit: StrictBool = False
    bpm: Bpm | None = None
    musical_key: Annotated[NonBlankText, Field(min_length=1, max_length=32)] | None = None
    production_notes: LongText | None = None


class CreateTrackRequest(_TrackFields):
    """``POST /releases/{id}/tracks``: ``title``; ``track_number`` (default: last on its disc), ``disc_number``
    (default 1), ``duration_ms`` (ms), ``isrc`` (normalised, e.g. ``"US-RC1-76-07839"`` → ``"USRC17607839"``),
    ``explicit``, ``bpm``, ``musical_key``, ``production_notes`` (the one track field that may hold tabs and
    newlines)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"title": "Hidden Place", "duration_ms": 328000, "isrc": "US-RC1-76-07839", "bpm": 92}]
        }
    )

    title: Title
    track_number: int | None = Field(default=None, ge=1, le=999, strict=True)
    disc_number: int = Field(default=1, ge=1, le=99, strict=True)


class UpdateTrackRequest(_TrackFields):
    """``PATCH /releases/{id}/tracks/{track_id}``: any subset of the track fields; ``null`` clears an optional one."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"duration_ms": 329000, "musical_key": "F# minor"}]})

    title: Title = None  # type: ignore[assignment]
    track_number: int = Field(default=None, ge=1, le=999, strict=True)  # type: ignore[assignment]
    disc_number: int = Field(default=None, ge=1, le=99, strict=True)  # type: ignore[assignment]
    explicit: StrictBool = None  # type: ignore[assignment]


class TrackOrderRequest(_Request):
    """``PUT /releases/{id}/tracks/order``: every track id of the release once, in the new running order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"track_ids": ["9f1c4e2ab7d34c0f8e6a5b3c2d1e0f9a", "0a1b2c3d4e5f40718293a4b5c6d7e8f9"]}]
        }
    )

    track_ids: list[PlainText] = Field(min_length=1, max_length=99)


class _CollaboratorFields(_Request):
    isrc_party_id: ShortText | None = None
    split: SplitPercent | None = None
    creator_id: ShortText | None = None


class CreateCollaboratorRequest(_CollaboratorFields):
    """``POST /releases/{id}/collaborators``: ``role``, ``name``; optional ``isrc_party_id``, royalty ``split`` in
    percent (0..100, at most two decimals) and ``creator_id`` (another creator's profile)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "producer", "name": "Matmos", "split": 25}]})

    role: CollaboratorRole
    name: ShortText


class UpdateCollaboratorRequest(_CollaboratorFields):
    """``PATCH /releases/{id}/collaborators/{collaborator_id}``: any subset of the collaborator fields."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"split": 30}]})

    role: CollaboratorRole = None  # type: ignore[assignment]
    name: ShortText = None  # type: ignore[assignment]


class CreateUploadRequest(_Request):
    """``POST /releases/{id}/artwork/uploads``: declared ``content_type``, ``content_length`` bytes, ``filename``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"content_type": "image/png", "content_length": 2400000, "filename": "cover.png"}]
        }
    )

    content_type: PlainText = Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"enum": list(UPLOAD_CONTENT_TYPES)},
        description="The file's type; media-type parameters (`; charset=…`) and case are ignored.",
    )
    content_length: int = Field(strict=True)
    filename: PlainText | None = Field(default=None, max_length=255)

    @field_validator("filename")
    @classmethod
    def _no_path(cls, value: str | None) -> str | None:
        return value.replace("\\", "/").rsplit("/", 1)[-1] if value else value


class CreateShareLinkRequest(_Request):
    """``POST /releases/{id}/share-links``: optional ``expires_in`` seconds."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"expires_in": 604800}]})

    expires_in: int | None = Field(default=None, strict=True)


#: A merged value of a conflict: text (a title, an ISRC, a UPC, a ``YYYY-MM-DD`` date), a whole number (a duration in
#: ms, a track or disc number) or a flag (``explicit``). Which one a field takes is the service's check.
MergedValue = StrictBool | Annotated[int, Field(strict=True, ge=0, le=24 * 3600 * 1000)] | Title


class ResolveConflictRequest(_Request):
    """``POST /releases/{id}/conflicts/{conflict_id}/resolve``: the ``resolution`` (``keep_local``: the local value
    stays; ``accept_dsp``: the DSP's value is taken; ``merge``: ``value`` is taken) and, with ``merge`` only, the
    ``value``. Whether the value suits the conflict's field (an ISRC, a duration, a position, a flag, a title) is
    checked by the service: 422 ``invalid_conflict_value``; ``merge`` without a value is 422
    ``merge_value_required``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"resolution": "accept_dsp"},
                {"resolution": "merge", "value": "Hidden Place (Remastered 2011)"},
            ],
            # What the two rules below say, for the document: a value with merge, and with merge only.
            "if": {"properties": {"resolution": {"const": "merge"}}},
            "then": {"required": ["value"], "properties": {"value": {"not": {"type": "null"}}}},
            "else": {"properties": {"value": {"type": "null"}}},
        }
    )

    resolution: ConflictResolution
    value: MergedValue | None = None

    @field_validator("value")
    @classmethod
    def _only_to_merge(cls, value: MergedValue | None, info: ValidationInfo) -> MergedValue | None:
        if value is not None and info.data.get("resolution") != "merge":
            raise ValueError('a value is only taken with "resolution": "merge"')
        return value


class ArtworkPreferencesRequest(_Request):
    """``PUT /me/preferences/artwork``: the three preferences (``ArtworkPreferences``); a field left out takes its
    default (true), so the body replaces the owner's preferences whole."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"auto_enhance_low_res": False, "prefer_ai_enhancement": True, "allow_ai_enhancement": True},
                {"allow_ai_enhancement": False},
            ]
        }
    )

    auto_enhance_low_res: StrictBool = True
    prefer_ai_enhancement: StrictBool = True
    allow_ai_enhancement: StrictBool = True


# -- The media library (issue 11) ------------------------------------------------------------------------------------

#: The declared types a media upload may have: the artwork's images and MP4, WebM, QuickTime videos.
MEDIA_UPLOAD_CONTENT_TYPES = (*UPLOAD_CONTENT_TYPES, *VIDEO_CONTENT_TYPES)
#: A tag: one line, 1–50 characters; stored trimmed, compared case- and accent-insensitively by search.
Tag = Annotated[NonBlankText, Field(min_length=1, max_length=50)]
#: What the creator typed about an asset, kept verbatim (≤ 500 characters; newlines allowed). Verbatim includes
#: surrounding white space: the one text field the requests' ``str_strip_whitespace`` does not trim.
CreatorDescription = Annotated[
    str,
    StringConstraints(strip_whitespace=False, max_length=CREATOR_DESCRIPTION_MAX),
    BeforeValidator(check_multiline),
    Field(json_schema_extra={"pattern": MULTILINE_PATTERN}),
]
#: ``category`` / ``subcategory`` of a generated name: 2–4 letters (upper-cased when the name is made).
NamePart = Annotated[PlainText, Field(min_length=2, max_length=4, pattern="^[A-Za-z]{2,4}$")]
#: An owner type: ``release``, ``track``, or a client's own (``scene``, ``character``…), lower-case.
OwnerType = Annotated[PlainText, Field(min_length=2, max_length=32, pattern="^[a-z][a-z0-9_-]{1,31}$")]
#: An owner object's id: Sleeve's 32-hex ids, or a client's own (letters, digits, ``_``, ``-``, ``.``, ``:``).
OwnerId = Annotated[PlainText, Field(min_length=1, max_length=128, pattern="^[A-Za-z0-9_.:-]{1,128}$")]


#: The largest integer every JSON parser keeps exactly (2**53 - 1, RFC 8259 §6); also well inside what DynamoDB stores.
MAX_SAFE_INTEGER = 2**53 - 1
#: DynamoDB stores a number of magnitude 0 or 1E-130 to 1E+126 (Developer Guide, "Supported data types": Number).
_DYNAMO_SMALLEST = 1e-130


def _flush_to_zero(value: float) -> float:
    """A non-negative float DynamoDB can store: a magnitude below 1E-130 (5e-324 is valid JSON) is 0 for any duration
    or confidence, and DynamoDB refuses to store it (ValidationException "Number underflow")."""
    return 0.0 if abs(value) < _DYNAMO_SMALLEST else value


#: A float from 0 up (a duration, a confidence; bounds inside ``Annotated`` so the document states them): values too
#: small for DynamoDB are stored as 0.
FlushedToZero = AfterValidator(_flush_to_zero)


class _InputContextFields(_Request):
    creator_description: CreatorDescription | None = None
    layer_strategy: ShortText | None = None
    additional_context: LongText | None = None


class AiMetadataRequest(_Request):
    """``ai_metadata`` a client generated elsewhere (``models.media.AiMetadata``): ``generated_by`` is required."""

    generated_by: ShortText
    generation_strategy: ShortText | None = None
    processing_time_ms: int | None = Field(default=None, strict=True, ge=0, le=MAX_SAFE_INTEGER)
    input_context: _InputContextFields | None = None
    confidence: Annotated[float, Field(strict=True, ge=0, le=1), FlushedToZero] | None = None
    generated_at: IsoDateTime | None = None
    version: Annotated[PlainText, Field(max_length=40)] | None = None


class _ExtractedSongFields(_Request):
    song_name: ShortText | None = None
    album_name: ShortText | None = None
    artist_name: ShortText | None = None
    original_input: LongText | None = None


class MusicMetadataRequest(_Request):
    """``music_metadata`` (``models.media.MusicMetadata``): ``bpm``, ``key``, ``duration_s``, ``genres``…"""

    bpm: float | None = Field(default=None, strict=True, ge=0.01, le=999, description="Beats per minute, 0.01 to 999.")
    key: Annotated[PlainText, Field(max_length=20)] | None = None
    duration_s: Annotated[float, Field(strict=True, ge=0, le=24 * 3600), FlushedToZero] | None = None
    genres: list[Tag] = Field(default_factory=list, max_length=20)
    extracted_song_data: _ExtractedSongFields | None = None


class AlbumArtRequest(_Request):
    """``album_art``: where it comes from. With ``source_url`` Sleeve imports the image into the library (as
    ``POST /media/imports`` does) and links the asset it makes."""

    source_url: HttpUrlString | None = None
    source: AlbumArtSource | None = None
    quality: AlbumArtQuality | None = None


class _MediaFields(_Request):
    """The fields a client sets on any asset. ``layer``, ``category`` and ``subcategory`` (all three or none) ask
    for a generated ``name`` (``L.CAS.ATL.001``)."""

    title: Title | None = None
    description: LongText | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    visibility: Visibility | None = None
    creator_description: CreatorDescription | None = None
    layer: Layer | None = None
    category: NamePart | None = None
    subcategory: NamePart | None = None
    music_metadata: MusicMetadataRequest | None = None
    ai_metadata: AiMetadataRequest | None = None


class CreateMediaUploadRequest(_MediaFields):
    """``POST /media/uploads``: declared ``content_type`` (an image or a video), ``content_length`` bytes,
    ``filename``, and the asset's fields. Same rules as artwork uploads; videos may be ``video_max_bytes``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "content_type": "image/png",
                    "content_length": 2400000,
                    "filename": "atlantis.png",
                    "creator_description": "A sunken city in teal light, for the second verse",
                    "layer": "L",
                    "category": "CAS",
                    "subcategory": "ATL",
                    "tags": ["underwater", "teal"],
                }
            ]
        }
    )

    content_type: PlainText = Field(
        min_length=1,
        max_length=100,
        json_schema_extra={"enum": list(MEDIA_UPLOAD_CONTENT_TYPES)},
        description="The file's type; media-type parameters (`; charset=…`) and case are ignored.",
    )
    content_length: int = Field(strict=True)
    filename: PlainText | None = Field(default=None, max_length=255)

    @field_validator("filename")
    @classmethod
    def _no_path(cls, value: str | None) -> str | None:
        return value.replace("\\", "/").rsplit("/", 1)[-1] if value else value


class CreateMediaRequest(_MediaFields):
    """``POST /media``: an asset from metadata alone (no bytes); ``album_art.source_url`` is imported and linked.
    ``source`` says where the asset comes from (default ``upload``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "creator_description": "Night drive through the city, neon reflections",
                    "layer": "S",
                    "category": "CITY",
                    "subcategory": "NGT",
                    "album_art": {
                        "source_url": "https://is1-ssl.mzstatic.com/image/thumb/Music/cover/1400x1400bb.jpg",
                        "source": "iTunes",
                        "quality": "High",
                    },
                }
            ]
        }
    )

    type: MediaType = "image"
    source: Literal["upload", "stock", "playground"] = "upload"
    album_art: AlbumArtRequest | None = None


class UpdateMediaRequest(_MediaFields):
    """``PATCH /media/{id}``: any subset of the asset's fields; ``null`` clears a field. ``creator_description`` is
    replaced only by what the creator sends, never by a generated value. ``layer``/``category``/``subcategory`` name
    an asset that has no name yet (409 ``name_already_assigned`` otherwise)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Atlantis, second verse", "visibility": "public"}]}
    )


class BulkMediaRequest(_Request):
    """``POST /media/bulk``: one ``action`` on up to 100 ``ids``. ``value``: the tag for ``tag``/``untag``, the
    visibility for ``set_visibility``, absent for ``delete``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ids": ["a1b2c3d4e5f60718293a4b5c6d7e8f90"], "action": "tag", "value": "press-kit"},
                {"ids": ["a1b2c3d4e5f60718293a4b5c6d7e8f90"], "action": "delete"},
            ]
        }
    )

    ids: list[Annotated[PlainText, Field(pattern="^[0-9a-f]{32}$")]] = Field(min_length=1, max_length=BULK_MAX_IDS)
    action: BulkAction
    value: Tag | None = None


class AttachMediaRequest(_Request):
    """``POST /media/{id}/attach``: attach the asset to ``owner_type``/``owner_id`` in ``role`` at ``sort_order``
    (default: after the role's last). A ``cover`` held by another asset answers 409 ``cover_taken`` unless
    ``replace`` is true. ``meta``: the client's small JSON object (≤ 2 KB serialised)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"owner_type": "release", "owner_id": "0f8e7d6c5b4a39281706f5e4d3c2b1a0", "role": "cover"},
                {"owner_type": "scene", "owner_id": "act1-scene3", "role": "gallery", "sort_order": 2},
            ]
        }
    )

    owner_type: OwnerType
    owner_id: OwnerId
    role: AttachmentRole
    sort_order: int | None = Field(default=None, strict=True, ge=0, le=1_000_000)
    replace: StrictBool = False
    meta: dict[str, Any] | None = None


class CreateImportRequest(_MediaFields):
    """``POST /media/imports``: fetch the image at ``source_url`` into the library (https only; see the README's
    URL-import rules), as source ``import`` (or ``stock``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"source_url": "https://coverartarchive.org/release/1234/front-1200.jpg", "tags": ["press"]}]
        }
    )

    source_url: HttpUrlString
    source: Literal["import", "stock"] = "import"


class GenerateParams(_Request):
    """Generation parameters (Replicate's flux-schnell inputs; the typographic generator uses ``aspect_ratio`` and
    ``seed``)."""

    aspect_ratio: Literal["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4"] = "1:1"
    seed: int | None = Field(default=None, strict=True, ge=0, le=2**31 - 1)
    num_inference_steps: int | None = Field(default=None, strict=True, ge=1, le=4)


class GenerateMediaRequest(_Request):
    """``POST /media/generate``: an image from ``prompt`` (and ``negative_prompt`` where the model takes one) →
    202 a ``generate`` job; the result joins the library with source ``generated``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prompt": "A lighthouse in a storm, album cover, bold type", "params": {"seed": 7}}]
        }
    )

    prompt: Annotated[MultilineText, Field(min_length=1, max_length=1000)]
    negative_prompt: Annotated[MultilineText, Field(max_length=1000)] | None = None
    params: GenerateParams | None = None
    title: Title | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
