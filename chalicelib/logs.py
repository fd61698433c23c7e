"""Structured JSON logs (aws-lambda-powertools) for the API and the workers, built on first use (cold starts)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.logging import Logger

#: Powertools names its logger after the service; plain "sleeve" is taken by Chalice's own app logger.
SERVICE = "sleeve-worker"
API_SERVICE = "sleeve-api"
#: The key of a request's id on every API log line (powertools' own name for it).
CORRELATION_ID = "correlation_id"


@lru_cache(maxsize=1)
def get_worker_logger() -> Logger:
    """The powertools Logger of the workers: one JSON object per line with ``service``, ``level``, ``location`` and
    the keys passed in ``extra``; level from ``POWERTOOLS_LOG_LEVEL`` (INFO by default).

    The services keep standard-library loggers (``chalicelib.*``), which Lambda's runtime handler prints as text.
    """
    from aws_lambda_powertools.logging import Logger

    return Logger(service=SERVICE)


@lru_cache(maxsize=1)
def get_api_logger() -> Logger:
    """The powertools Logger of the HTTP API: JSON lines with ``service`` ``sleeve-api`` and, while a request is
    handled, its ``correlation_id`` (API Gateway's ``requestContext.requestId``, or one generated locally).

    The id is kept per thread (``thread_safe_append_keys``), so concurrent requests of the local dev server, each in
    its own thread, never swap ids.
    """
    from aws_lambda_powertools.logging import Logger

    return Logger(service=API_SERVICE)
