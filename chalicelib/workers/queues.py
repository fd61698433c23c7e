"""Queue names the workers consume. Chalice needs them at decoration time; a test checks they match infra/."""

INGEST_QUEUE = "sleeve-ingest"
INGEST_DEAD_LETTER_QUEUE = "sleeve-ingest-dlq"
SYNC_QUEUE = "sleeve-dsp-sync"
SYNC_DEAD_LETTER_QUEUE = "sleeve-dsp-sync-dlq"
