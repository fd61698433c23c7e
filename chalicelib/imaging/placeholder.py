"""BlurHash placeholders (https://github.com/woltapp/blurhash) for showing a blurred square while variants load."""

from __future__ import annotations

import warnings

import blurhash
from PIL import Image

from chalicelib.imaging.specs import PLACEHOLDER_COMPONENTS, PLACEHOLDER_SIDE


def make_placeholder(image: Image.Image) -> str:
    """BlurHash of a square RGB or RGBA ``image``, from a ``PLACEHOLDER_SIDE`` px copy, ``PLACEHOLDER_COMPONENTS``.

    Transparent areas are flattened on white, as JPEG downloads are. Returns the hash string (~28 ASCII characters
    for 4x4 components); decode it with ``blurhash.decode(hash, width, height)``.
    """
    small = image.resize((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), Image.Resampling.BOX)
    if small.mode != "RGB":
        flat = Image.new("RGB", small.size, (255, 255, 255))
        flat.paste(small, mask=small.getchannel("A") if small.mode == "RGBA" else None)
        small = flat
    x_components, y_components = PLACEHOLDER_COMPONENTS
    with warnings.catch_warnings():
        # blurhash-python 1.2.2 reads pixels with Image.getdata, deprecated in Pillow 12 (removal planned for 14).
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(blurhash.encode(small, x_components, y_components))
