"""Structured JSON logs for the workers (aws-lambda-powertools), built on first use to keep cold starts small."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.logging import Logger

#: Powertools names its logger after the service; plain "sleeve" is taken by Chalice's own app logger.
SERVICE = "sleeve-worker"


@lru_cache(maxsize=1)
def get_worker_logger() -> Logger:
    """The powertools Logger of the workers: one JSON object per line with ``service``, ``level``, ``location`` and
    the keys passed in ``extra``; level from ``POWERTOOLS_LOG_LEVEL`` (INFO by default).

    The services keep standard-library loggers (``chalicelib.*``), which Lambda's runtime handler prints as text.
    """
    from aws_lambda_powertools.logging import Logger

    return Logger(service=SERVICE)
