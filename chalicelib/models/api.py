"""Request bodies of the HTTP API (validated with pydantic; unknown fields are refused)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateReleaseRequest(_Request):
    """``POST /releases``: ``title``, ``artist`` (1..200 characters), optional legacy ``artwork_url`` (http/https)."""

    title: str = Field(min_length=1, max_length=200)
    artist: str = Field(min_length=1, max_length=200)
    artwork_url: AnyHttpUrl | None = None


class CreateUploadRequest(_Request):
    """``POST /releases/{id}/artwork/uploads``: declared ``content_type``, ``content_length`` bytes, ``filename``."""

    content_type: str = Field(min_length=1, max_length=100)
    content_length: int = Field(strict=True)
    filename: str | None = Field(default=None, max_length=255)

    @field_validator("filename")
    @classmethod
    def _no_path(cls, value: str | None) -> str | None:
        return value.replace("\\", "/").rsplit("/", 1)[-1] if value else value


class CreateShareLinkRequest(_Request):
    """``POST /releases/{id}/share-links``: optional ``expires_in`` seconds."""

    expires_in: int | None = Field(default=None, strict=True)
