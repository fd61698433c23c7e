"""Queue names the workers consume, for the stage named by ``SLEEVE_STAGE`` (default ``local``), and the rates of the
DSP-sync and jobs schedules.

Chalice needs them at decoration time, so they are computed when this module is imported: ``chalice package --stage X``
puts stage X's ``environment_variables`` from .chalice/config.json into ``os.environ`` before it imports app.py, and
Lambda sets the same variables at run time. A test ties them to infra/template.json, .chalice/config.json and Settings.
"""

import os

from pydantic import TypeAdapter

from chalicelib.config import (
    DEFAULT_DSP_SYNC_SCHEDULE_MINUTES,
    DEFAULT_JOBS_SCHEDULE_MINUTES,
    ScheduleMinutes,
    stage_resource_name,
)

STAGE = os.environ.get("SLEEVE_STAGE") or "local"

INGEST_QUEUE = stage_resource_name(STAGE, "ingest")
INGEST_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "ingest-dlq")
SYNC_QUEUE = stage_resource_name(STAGE, "dsp-sync")
SYNC_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "dsp-sync-dlq")
CLEANUP_QUEUE = stage_resource_name(STAGE, "cleanup")
CLEANUP_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "cleanup-dlq")
JOBS_QUEUE = stage_resource_name(STAGE, "jobs")
JOBS_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "jobs-dlq")
IMPORTS_QUEUE = stage_resource_name(STAGE, "imports")
IMPORTS_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "imports-dlq")
GENERATE_QUEUE = stage_resource_name(STAGE, "generate")
GENERATE_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "generate-dlq")
BACKFILL_QUEUE = stage_resource_name(STAGE, "backfill")
BACKFILL_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "backfill-dlq")

#: Minutes between runs of the DSP-sync schedule: ``SLEEVE_DSP_SYNC_SCHEDULE_MINUTES`` (default 60), validated like
#: ``Settings.dsp_sync_schedule_minutes`` (1..1440; a bad value stops the import, so ``chalice package`` fails).
DSP_SYNC_SCHEDULE_MINUTES: int = TypeAdapter(ScheduleMinutes).validate_python(
    os.environ.get("SLEEVE_DSP_SYNC_SCHEDULE_MINUTES") or DEFAULT_DSP_SYNC_SCHEDULE_MINUTES, strict=False
)

#: Minutes between runs of the job reaper and the prediction poller: ``SLEEVE_JOBS_SCHEDULE_MINUTES`` (default 5),
#: validated like ``Settings.jobs_schedule_minutes``.
JOBS_SCHEDULE_MINUTES: int = TypeAdapter(ScheduleMinutes).validate_python(
    os.environ.get("SLEEVE_JOBS_SCHEDULE_MINUTES") or DEFAULT_JOBS_SCHEDULE_MINUTES, strict=False
)
