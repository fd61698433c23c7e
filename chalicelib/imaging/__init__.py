"""Sleeve's imaging: untrusted image bytes in, stored original + square WebP variants + colours out (Pillow).

Public API: ``VARIANT_SPECS``, ``EncodedImage``, ``PipelineResult``, ``sniff_format``, ``process_image``,
``convert_image``, ``derive_formats``. Importing this package does not import Pillow: the last three load their
modules on first attribute access (PEP 562), so API cold starts that only need the value types stay small.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chalicelib.imaging.results import EncodedImage, PipelineResult
from chalicelib.imaging.sniff import sniff_format
from chalicelib.imaging.specs import ACCEPTED_FORMATS, CONVERT_FORMATS, VARIANT_SPECS

if TYPE_CHECKING:
    from chalicelib.imaging.convert import convert_image, derive_formats
    from chalicelib.imaging.pipeline import process_image

__all__ = [
    "ACCEPTED_FORMATS",
    "CONVERT_FORMATS",
    "VARIANT_SPECS",
    "EncodedImage",
    "PipelineResult",
    "convert_image",
    "derive_formats",
    "process_image",
    "sniff_format",
]

_LAZY = {
    "process_image": "chalicelib.imaging.pipeline",
    "convert_image": "chalicelib.imaging.convert",
    "derive_formats": "chalicelib.imaging.convert",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
