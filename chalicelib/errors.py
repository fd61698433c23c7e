"""The one error tree of Sleeve: services raise these, ``chalicelib.api.responses`` maps them to HTTP.

Every error carries a machine-readable ``code`` (snake_case, stable, documented in the README), a human ``message``
and optional ``details`` (JSON-serialisable). The HTTP body is always
``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every expected error. ``status`` is the HTTP status the API answers with."""

    status: int = 500
    default_code: str = "internal_error"
    #: Seconds a client should wait before retrying a 503 (its ``Retry-After``).
    retry_after_s: int = 1

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidError(AppError):
    """Malformed or semantically wrong input (400)."""

    status = 400
    default_code = "invalid_request"


class UnprocessableError(AppError):
    """Well-formed input that breaks a domain rule (422)."""

    status = 422
    default_code = "unprocessable"


class UnauthorizedError(AppError):
    """Missing, malformed, expired or badly signed bearer token (401)."""

    status = 401
    default_code = "unauthorized"


class ForbiddenError(AppError):
    """Authenticated but not allowed (403)."""

    status = 403
    default_code = "forbidden"


class NotFoundError(AppError):
    """Unknown resource, or a resource of another owner: both answer the same 404."""

    status = 404
    default_code = "not_found"


class ConflictError(AppError):
    """The resource's current state forbids the change (409)."""

    status = 409
    default_code = "conflict"


class PreconditionFailedError(AppError):
    """An ``If-Match`` version no longer matches (412)."""

    status = 412
    default_code = "precondition_failed"


class PayloadTooLargeError(AppError):
    """A declared or real size above the configured limit (413)."""

    status = 413
    default_code = "too_large"


class UnsupportedMediaTypeError(AppError):
    """A content type Sleeve does not accept (415)."""

    status = 415
    default_code = "unsupported_media_type"


class ProviderError(AppError):
    """An external provider (DSP, AI service) failed or answered something unusable (502)."""

    status = 502
    default_code = "provider_error"


class ImageRejectedError(AppError):
    """The imaging pipeline refused the bytes. ``code`` is one of:

    ``unsupported_format`` (not JPEG/PNG/WebP by its magic bytes, e.g. SVG), ``decompression_bomb`` (declared pixel
    count above the limit, refused before decoding), ``corrupt_image`` (truncated or undecodable), ``empty_file``,
    ``too_large`` (byte size above the upload limit), ``too_small`` (short side below ``min_source_px``, too small
    for the smallest variant).
    """

    status = 422
    default_code = "corrupt_image"
