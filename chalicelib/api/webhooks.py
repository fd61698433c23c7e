"""Provider webhooks: ``POST /webhooks/replicate``, Replicate's report that a prediction completed.

No bearer token: the request is authenticated by its Standard Webhooks signature (``providers/webhooks.py``), checked
over the exact bytes received before anything is parsed. A verified webhook is only handed to its job's queue (the
jobs queue for an upscale, the generate queue for a generation: ``EnhancementService.accept_webhook``), so the answer
is fast (Replicate retries a slow or failed delivery) and the work is done, once, by that queue's worker.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, RequestHeader, operation
from chalicelib.config import get_settings
from chalicelib.models.views import WebhookAccepted
from chalicelib.models.webhooks import ReplicateWebhookBody

if TYPE_CHECKING:
    from chalicelib.services.enhancement import EnhancementService

bp = Blueprint(__name__)

TAG = "webhooks"

#: The Standard Webhooks headers (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
#: as Replicate documents them: https://replicate.com/docs/topics/webhooks/verify-webhook).
WEBHOOK_HEADERS = (
    RequestHeader("webhook-id", "The delivery's id; a replayed id is answered `duplicate` and not acted on."),
    RequestHeader(
        "webhook-timestamp",
        "Unix seconds when it was sent; further than 5 minutes from now is refused (`stale_timestamp`).",
        {"type": "string", "pattern": "^[0-9]{1,12}$"},
    ),
    RequestHeader(
        "webhook-signature",
        "Space-separated `v1,<base64 HMAC-SHA256>` signatures of `{webhook-id}.{webhook-timestamp}.{body}`, keyed "
        "with the base64-decoded part of the `whsec_…` secret.",
    ),
)


class WebhookQuery(Query):
    """``POST /webhooks/replicate``: the ``job_id`` Sleeve put in the webhook URL it gave Replicate. Any text is taken
    (an id that names no job is ``ignored`` after the signature check), so nothing about the query is answered before
    the signature is verified."""

    job_id: Annotated[str, Field(description="The job the prediction runs.")] | None = None


def _service() -> EnhancementService:
    """The container's enhancement service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_enhancement_service()


@operation(
    bp,
    "POST",
    "/webhooks/replicate",
    tag=TAG,
    auth="none",
    query=WebhookQuery,
    raw_body=ReplicateWebhookBody,
    headers=WEBHOOK_HEADERS,
    answers=[Answer(200, WebhookAccepted)],
    errors=["invalid_webhook_signature", "unsupported_media_type", "queue_unavailable"],
)
def replicate_webhook(query: WebhookQuery) -> Reply:
    """Receive Replicate's completed-prediction webhook.

    No bearer token: the Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
    HMAC-SHA256 with the `SLEEVE_REPLICATE_WEBHOOK_SECRET`) is checked over the raw body, in constant time, with a
    5-minute timestamp tolerance; anything else answers 401 `invalid_webhook_signature` with `details.reason`
    (`missing_headers`, `bad_signature`, `stale_timestamp`, `not_configured`). A verified webhook is queued for the
    jobs worker (`queued`); a replayed `webhook-id` is `duplicate` and one no job waits for is `ignored`, both 200 so
    Replicate stops retrying.
    """
    from chalicelib.providers.webhooks import verify_webhook

    request = bp.current_request
    raw = request.raw_body or b""
    body = raw.encode() if isinstance(raw, str) else raw
    settings = get_settings()
    secret = settings.replicate_webhook_secret
    webhook_id = verify_webhook(
        request.headers,
        body,
        secret=secret.get_secret_value() if secret is not None else None,
        tolerance_s=settings.webhook_tolerance_s,
        now=time.time(),
    )
    status = _service().accept_webhook(query.job_id, webhook_id, body)
    return Reply(WebhookAccepted(status=status))
