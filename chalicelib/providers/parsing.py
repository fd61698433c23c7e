"""Reading a provider's answer: its JSON body, validated as a pydantic model of the provider's documented shape.

Both raise ``ProviderBadResponseError`` whose message names only the fields that failed, never their values (a
token response must not reach a message or a log).
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from chalicelib.providers.base import DspService, ProviderBadResponseError


def parse_payload[ModelT: BaseModel](
    service: DspService, label: str, model: type[ModelT], payload: Any, what: str
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


def json_body(service: DspService, label: str, response: httpx.Response, what: str) -> Any:
    """``response``'s body as JSON; raises ``ProviderBadResponseError`` of ``service`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        raise ProviderBadResponseError(service, f"{label} answered {what} with a body that is not JSON") from None
