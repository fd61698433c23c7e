"""The DSP sync workers: the schedule's rate from settings, the sync queue's consumer, its dead-letter consumer and the
schedule that queues the releases due for sync.

Handlers run through ``chalice.test.Client``'s Lambda invoke with the events Lambda sends: SQS records built from the
messages really waiting on moto's queues (``chalicelib.local.pump.build_sqs_record``, the shape the embedded stack
delivers) and EventBridge's scheduled event.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.workers import queues

# -- the schedule's rate -----------------------------------------------------------------------------------------------


@pytest.fixture
def reload_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], ModuleType]]:
    """chalicelib.workers.queues as imported with ``SLEEVE_DSP_SYNC_SCHEDULE_MINUTES`` set to a value (None: unset);
    reloaded back afterwards."""

    def load(value: str | None) -> ModuleType:
        if value is None:
            monkeypatch.delenv("SLEEVE_DSP_SYNC_SCHEDULE_MINUTES", raising=False)
        else:
            monkeypatch.setenv("SLEEVE_DSP_SYNC_SCHEDULE_MINUTES", value)
        return importlib.reload(queues)

    yield load
    monkeypatch.undo()
    importlib.reload(queues)


def _settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "a-local-secret")
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "sleeve-local-media")
    monkeypatch.setenv("SLEEVE_STAGE", "local")
    return Settings()  # type: ignore[call-arg]


@pytest.mark.parametrize(("value", "minutes"), [(None, 60), ("1", 1), ("15", 15), ("1440", 1440)])
def test_the_schedule_rate_and_the_setting_read_the_same_variable(
    value: str | None, minutes: int, monkeypatch: pytest.MonkeyPatch, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    # Given SLEEVE_DSP_SYNC_SCHEDULE_MINUTES set to value (or unset)
    # When the workers' module is imported (Chalice reads the rate then) and Settings are built
    workers = reload_queues(value)
    settings = _settings(monkeypatch)
    # Then both say the same number of minutes, 60 by default
    assert workers.DSP_SYNC_SCHEDULE_MINUTES == settings.dsp_sync_schedule_minutes == minutes


@pytest.mark.parametrize("value", ["0", "-5", "1441", "hourly", "1.5"])
def test_a_bad_schedule_rate_stops_the_import_and_the_settings(
    value: str, monkeypatch: pytest.MonkeyPatch, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    # Given a rate EventBridge cannot take (not a whole number of minutes from 1 to a day)
    # When the workers' module is imported, and when Settings are built, Then both refuse it
    with pytest.raises(ValidationError):
        reload_queues(value)
    monkeypatch.setenv("SLEEVE_DSP_SYNC_SCHEDULE_MINUTES", value)
    with pytest.raises(ValidationError):
        _settings(monkeypatch)
