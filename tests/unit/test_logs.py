"""The workers' structured logs."""

from __future__ import annotations

import json
import logging

from chalicelib.logs import get_worker_logger


def test_worker_logs_are_json_with_the_extra_keys(capsys):
    logger = get_worker_logger()
    logger.info("ingest finished", extra={"key": "uploads/a/b", "outcome": "ready"})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["message"] == "ingest finished"
    assert (line["key"], line["outcome"], line["service"]) == ("uploads/a/b", "ready", "sleeve-worker")


def test_the_worker_logger_leaves_chalices_app_logger_alone():
    get_worker_logger()
    # Chalice logs through logging.getLogger(app_name); the powertools logger must not take it over.
    assert not any(type(h).__module__.startswith("aws_lambda_powertools") for h in logging.getLogger("sleeve").handlers)
