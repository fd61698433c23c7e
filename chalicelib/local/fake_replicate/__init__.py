"""A local fake of Replicate's predictions API (https://replicate.com/docs/reference/http), with signed webhooks.

``FakeReplicate`` (``fake``) answers ``httpx.Request``s: ``httpx.MockTransport(fake.handle)`` in tests;
``FakeReplicateServer`` (``server``) serves it on loopback and sends its webhooks, for the e2e tests, the benchmark
and ``make run`` demos (``python -m chalicelib.local.fake_replicate``). Nothing here is imported by the Lambda code.
"""

from __future__ import annotations

from typing import Any

from chalicelib.local.fake_replicate.fake import (
    FakeReplicate,
    FakeReplicateFaults,
    RecordedRequest,
    WebhookDelivery,
)

__all__ = ["FakeReplicate", "FakeReplicateFaults", "FakeReplicateServer", "RecordedRequest", "WebhookDelivery"]


def __getattr__(name: str) -> Any:
    # The server (http.server, threads) is imported only by those who serve the fake.
    if name == "FakeReplicateServer":
        from chalicelib.local.fake_replicate.server import FakeReplicateServer

        return FakeReplicateServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
