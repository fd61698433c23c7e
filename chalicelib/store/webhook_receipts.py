"""Webhook ids seen: ``WEBHOOK#{webhook-id}`` / ``WEBHOOK`` items put once, so a replayed webhook is recognised.

Standard Webhooks (https://www.standardwebhooks.com/, "Replay attacks"): a receiver keeps the ids it accepted for at
least the timestamp tolerance; a webhook older than that is refused by its timestamp anyway. The item's ``ttl``
(epoch seconds) is the table's TTL attribute (infra/template.json), so DynamoDB deletes receipts once they are useless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib.store.dynamo import is_condition_failure
from chalicelib.store.records import WebhookReceiptRecord

WEBHOOK_SK = "WEBHOOK"


def _record(webhook_id: str) -> WebhookReceiptRecord:
    return WebhookReceiptRecord(pk=f"WEBHOOK#{webhook_id}", sk=WEBHOOK_SK)


class WebhookReceiptRepository:
    """Conditional puts of webhook ids."""

    def record_first(self, webhook_id: str, *, now: datetime, keep_for: timedelta) -> bool:
        """Put the receipt of ``webhook_id`` (kept ``keep_for``); True the first time, False for a replay."""
        expires = now + keep_for
        record = _record(webhook_id)
        record.webhook_id = webhook_id
        record.received_at = now
        record.expires_at = expires
        record.ttl = int(expires.timestamp())
        try:
            record.save(condition=WebhookReceiptRecord.pk.does_not_exist())
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def forget(self, webhook_id: str) -> None:
        """Delete a receipt (the webhook could not be queued: its retry must not count as a replay)."""
        _record(webhook_id).delete()
