"""Reading a provider's answer into ``base``'s shapes, the steps the Spotify and Apple Music clients share: the JSON
body, validated as a pydantic model of the provider's documented shape; ISRCs in compact form; tracks grouped into
media; an unset or blank secret setting.

``json_body`` and ``parse_payload`` raise ``ProviderBadResponseError`` whose message names only the fields that
failed, never their values (a token response must not reach a message or a log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from chalicelib.models.identifiers import normalise_isrc
from chalicelib.providers.base import DspMedium, DspService, DspTrack, ProviderBadResponseError


def parse_payload[ModelT: BaseModel](
    service: DspService | str, label: str, model: type[ModelT], payload: Any, what: str
) -> ModelT:
    """``payload`` validated as ``model``. ``label`` is the service as a message names it (``Spotify``) and
    ``what`` the request (``the album search``). Raises ``ProviderBadResponseError`` of ``service`` naming at most
    five failed fields (``tracks.items.0.id``; ``(body)`` for the body itself)."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) or "(body)" for error in exc.errors()})
        raise ProviderBadResponseError(
            service, f"{label} answered {what} in an unexpected shape (fields: {', '.join(fields[:5])})"
        ) from None


def json_body(service: DspService | str, label: str, response: httpx.Response, what: str) -> Any:
    """``response``'s body as JSON; raises ``ProviderBadResponseError`` of ``service`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ProviderBadResponseError(service, f"{label} answered {what} with a body that is not JSON") from None


def secret_or_none(secret: SecretStr | None, *, strip: bool = False) -> SecretStr | None:
    """A secret setting, or None when it is unset or empty (with ``strip``: only whitespace), so that a client
    without it counts as not configured."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    return secret if (value.strip() if strip else value) else None


def valid_isrcs(values: Iterable[str]) -> list[str]:
    """``values`` in compact ISRC form (``models.identifiers.normalise_isrc``), in order; malformed ones (the
    caller's: nothing to search for) are left out."""
    wanted: list[str] = []
    for value in values:
        try:
            wanted.append(normalise_isrc(value))
        except ValueError:
            continue
    return wanted


def compact_isrc(value: str | None, *, logger: logging.Logger, item: str = "") -> str | None:
    """The compact ISRC a service states, or None when it states none or one that is not a valid ISRC; with
    ``item`` (``spotify: track 1abc``) the invalid one is logged to ``logger`` as a warning, never raised."""
    if not value:
        return None
    try:
        return normalise_isrc(value)
    except ValueError:
        if item:
            logger.warning("%s states an invalid ISRC; ignored", item)
        return None


def media_of(by_disc: Mapping[int, list[DspTrack]]) -> list[DspMedium]:
    """Tracks grouped by disc number as ``DspMedium`` list: discs in order, each disc's tracks by track number."""
    return [
        DspMedium(position=disc, tracks=sorted(tracks, key=lambda track: track.track_number))
        for disc, tracks in sorted(by_disc.items())
    ]
