"""Request bodies of the HTTP API (validated with pydantic; unknown fields are refused)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
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
from chalicelib.models.sync import ConflictResolution
from chalicelib.models.text import MultilineText, NonBlankText, PlainText, check_single_line


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
