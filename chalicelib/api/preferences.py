"""The caller's preferences: ``GET|PUT /me/preferences/artwork`` (AI enhancement of covers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import identity_of
from chalicelib.models.api import ArtworkPreferencesRequest
from chalicelib.models.jobs import ArtworkPreferences

if TYPE_CHECKING:
    from chalicelib.services.enhancement import EnhancementService

bp = Blueprint(__name__)

TAG = "preferences"


def _service() -> EnhancementService:
    """The container's enhancement service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_enhancement_service()


@operation(bp, "GET", "/me/preferences/artwork", tag=TAG, answers=[Answer(200, ArtworkPreferences)])
def get_artwork_preferences() -> Reply:
    """Read the caller's artwork preferences.

    ``auto_enhance_low_res`` (enhance a cover under 300 px by itself after upload), ``prefer_ai_enhancement`` (serve
    and share the enhanced version when there is one) and ``allow_ai_enhancement`` (false refuses every enhancement);
    all true until set.
    """
    return Reply(_service().get_preferences(identity_of(bp.current_request)))


@operation(
    bp,
    "PUT",
    "/me/preferences/artwork",
    tag=TAG,
    body=ArtworkPreferencesRequest,
    answers=[Answer(200, ArtworkPreferences)],
)
def put_artwork_preferences(body: ArtworkPreferencesRequest) -> Reply:
    """Replace the caller's artwork preferences.

    The body replaces them whole: a field left out is set to its default (true). Changing
    ``prefer_ai_enhancement`` changes which version the artwork view and share links serve at once; an enhanced
    version is kept either way.
    """
    preferences = ArtworkPreferences.model_validate(body.model_dump())
    return Reply(_service().put_preferences(identity_of(bp.current_request), preferences))
