"""Structured JSON logs for the workers (aws-lambda-powertools), built on first use to keep cold starts small."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.logging import Logger

SERVICE = "sleeve"


@lru_cache(maxsize=1)
def get_worker_logger() -> Logger:
    """The powertools Logger (service ``sleeve``, level from ``POWERTOOLS_LOG_LEVEL``, INFO by default).

    Its JSON formatter is copied to every ``chalicelib.*`` logger, so the services' standard-library log lines come
    out structured as well.
    """
    from aws_lambda_powertools.logging import Logger
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logger = Logger(service=SERVICE)
    copy_config_to_registered_loggers(source_logger=logger, include={"chalicelib"})
    return logger
