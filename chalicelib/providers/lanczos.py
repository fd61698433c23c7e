"""Plain Lanczos resampling as an upscaler: the last fallback, always available, recorded honestly as not AI."""

from __future__ import annotations

from chalicelib.config import Settings
from chalicelib.errors import ImageRejectedError
from chalicelib.models.jobs import MODEL_LANCZOS
from chalicelib.providers.upscaling import UpscaledImage, UpscaleFailedError, UpscaleRequest


class LanczosUpscaler:
    """Implements ``Upscaler``: ``start`` enlarges the image ``request.scale`` times with Pillow's Lanczos filter in
    the call (``chalicelib.imaging.upscale.resample``) and returns an ``UpscaledImage`` with ``model`` ``lanczos``
    and ``ai`` False. No subprocess, no extra dependency: it can always run."""

    name = "lanczos"
    model = MODEL_LANCZOS

    def __init__(self, settings: Settings) -> None:
        self._max_pixels = settings.max_pixels

    def unavailable_reason(self) -> str | None:
        """Always None: Pillow is a runtime dependency."""
        return None

    def start(self, request: UpscaleRequest) -> UpscaledImage:
        """The image ``request.scale`` times larger (PNG, upright sRGB).

        Raises ``UpscaleFailedError`` with the imaging code (``corrupt_image``, ``unsupported_format``,
        ``decompression_bomb`` when the input or the enlarged result is above ``settings.max_pixels``…) and its
        details; never transient.
        """
        # Imported here: Pillow stays out of the API's cold start (the container builds every upscaler).
        from chalicelib.imaging.upscale import resample

        try:
            data, width, height = resample(request.image, scale=request.scale, max_pixels=self._max_pixels)
        except ImageRejectedError as exc:
            raise UpscaleFailedError(self.name, exc.message, code=exc.code, details=exc.details) from exc
        return UpscaledImage(data=data, width=width, height=height, model=MODEL_LANCZOS, ai=False)

    def close(self) -> None:
        """Nothing to release."""
