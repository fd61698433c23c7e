"""Queue names the workers consume, for the stage named by ``SLEEVE_STAGE`` (default ``local``).

Chalice needs them at decoration time, so they are computed when this module is imported: ``chalice package --stage X``
puts stage X's ``environment_variables`` from .chalice/config.json into ``os.environ`` before it imports app.py, and
Lambda sets the same variables at run time. A test ties them to infra/template.json, .chalice/config.json and Settings.
"""

import os

from chalicelib.config import stage_resource_name

STAGE = os.environ.get("SLEEVE_STAGE") or "local"

INGEST_QUEUE = stage_resource_name(STAGE, "ingest")
INGEST_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "ingest-dlq")
SYNC_QUEUE = stage_resource_name(STAGE, "dsp-sync")
SYNC_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "dsp-sync-dlq")
CLEANUP_QUEUE = stage_resource_name(STAGE, "cleanup")
CLEANUP_DEAD_LETTER_QUEUE = stage_resource_name(STAGE, "cleanup-dlq")
