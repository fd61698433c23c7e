"""The local stand-in for Lambda's event source mappings and EventBridge schedules.

For every ``@app.on_sqs_message`` it long-polls the queue on moto and calls the Chalice handler with the exact Lambda
SQS event; for every ``@app.schedule("rate(...)")`` it calls the handler with the scheduled-event shape at that rate.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import (
    BaseEventSourceConfig,
    Chalice,
    CloudWatchEventConfig,
    ScheduledEventConfig,
    ScheduleExpression,
    SQSEventConfig,
)
from chalice.config import Config
from chalice.local import LambdaContext

log = logging.getLogger(__name__)

# What Lambda copies from SQS's message system attributes into a record's "attributes" (AWS Lambda developer guide,
# "Using Lambda with Amazon SQS", example standard and FIFO queue events).
_LAMBDA_SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
_SQS_MAX_MESSAGES_PER_RECEIVE = 10
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class FunctionSettings:
    """How Lambda would run one handler: its function name, memory (MB) and timeout (s)."""

    function_name: str
    memory_mb: int
    timeout_s: int


def function_settings_from_config(app: Chalice, config: Config | None) -> Callable[[str], FunctionSettings]:
    """Per-handler settings as ``chalice deploy`` computes them: ``{app}-{stage}-{name}``, memory and timeout from
    ``.chalice/config.json`` (stage ``lambda_functions`` overrides first). Without a config: 128 MB, 60 s.
    """

    def settings(name: str) -> FunctionSettings:
        if config is None:
            return FunctionSettings(f"{app.app_name}-local-{name}", 128, 60)
        scoped = config.scope(config.chalice_stage, name)
        return FunctionSettings(
            function_name=f"{app.app_name}-{config.chalice_stage}-{name}",
            memory_mb=int(scoped.lambda_memory_size or 128),
            timeout_s=int(scoped.lambda_timeout or 60),
        )

    return settings


def make_lambda_context(settings: FunctionSettings, *, region: str, account_id: str) -> LambdaContext:
    """A Lambda context for one invocation: ``function_name``, ``aws_request_id`` (fresh uuid4),
    ``memory_limit_in_mb``, ``invoked_function_arn``, ``get_remaining_time_in_millis()`` counting down from the
    function's timeout. Chalice's own ``chalice.local.LambdaContext`` with the ARN filled in.
    """
    context = LambdaContext(settings.function_name, settings.memory_mb, max_runtime_ms=settings.timeout_s * 1000)
    context.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{settings.function_name}"
    context.log_group_name = f"/aws/lambda/{settings.function_name}"
    return context


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # Lambda lower-cases the first letter of each key and base64-encodes binary values.
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = b64(value["BinaryValue"])
    return converted


def build_sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage message (boto3 shape) → one record of Lambda's SQS event.

    Shape: ``{"messageId", "receiptHandle", "body", "attributes": {"ApproximateReceiveCount", "SentTimestamp",
    "SenderId", "ApproximateFirstReceiveTimestamp", ...}, "messageAttributes", "md5OfBody", "eventSource": "aws:sqs",
    "eventSourceARN", "awsRegion"}`` (plus ``md5OfMessageAttributes`` when the message has attributes), all values
    strings as Lambda sends them. Source: AWS Lambda developer guide, "Using Lambda with Amazon SQS".
    """
    system = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: str(system[name]) for name in _LAMBDA_SQS_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def build_scheduled_event(
    *, rule_arn: str, region: str, account_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target: ``{"version": "0", "id", "detail-type": "Scheduled
    Event", "source": "aws.events", "account", "time" (ISO 8601, UTC, seconds), "region", "resources": [rule_arn],
    "detail": {}}``. Source: Amazon EventBridge user guide, "Creating a rule that runs on a schedule".
    """
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def parse_rate(expression: str | ScheduleExpression) -> float | None:
    """The period in seconds of ``rate(N minute[s]|hour[s]|day[s])``; ``None`` for anything else (``cron(...)``)."""
    text = expression if isinstance(expression, str) else expression.to_string()
    match = _RATE.match(text.strip().lower())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def failed_message_ids(result: Any, batch_ids: list[str]) -> set[str]:
    """Which messages of a batch Lambda would retry, given the handler's return value (partial batch response).

    ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}`` retries those ids; no response, ``None`` or ``[]`` means
    all succeeded; an item without a known, non-empty ``itemIdentifier`` fails the whole batch. Source: AWS Lambda
    developer guide, "Handling errors for an SQS event source" (ReportBatchItemFailures). Locally this is honoured
    whatever the mapping's FunctionResponseTypes, since Chalice cannot set them.
    """
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failures = result["batchItemFailures"]
    ids = set()
    for item in failures if isinstance(failures, list) else [None]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)
        ids.add(identifier)
    return ids


class _SQSPoller:
    """One thread per SQS event source: receive a batch, invoke, delete successes, make failures visible again."""

    def __init__(self, pump: EventPump, source: SQSEventConfig, queue_url: str, queue_arn: str) -> None:
        self.pump = pump
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.queue_name = queue_arn.rsplit(":", 1)[-1]
        self.thread = threading.Thread(target=self._run, name=f"sqs-{source.name}", daemon=True)

    def _receive(self, max_messages: int, wait_s: int) -> list[dict[str, Any]]:
        response = self.pump.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _receive_batch(self) -> list[dict[str, Any]]:
        # Lambda fills a batch up to batch_size (10,000 for standard queues) within the batching window; SQS hands
        # out at most 10 per call, so keep receiving while messages keep coming.
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.source.maximum_batching_window_in_seconds
        while len(batch) < self.source.batch_size and not self.pump.stopping:
            wanted = min(_SQS_MAX_MESSAGES_PER_RECEIVE, self.source.batch_size - len(batch))
            wait_s = self.pump.wait_time_s if not batch else max(0, int(deadline - time.monotonic()))
            messages = self._receive(wanted, wait_s)
            batch.extend(messages)
            if not messages or (len(messages) < wanted and time.monotonic() >= deadline):
                break
        return batch

    def _run(self) -> None:
        while not self.pump.stopping:
            try:
                batch = self._receive_batch()
                if batch:
                    self._handle(batch)
            except Exception:  # moto going away at shutdown, or a transient error: keep the poller alive
                if self.pump.stopping:
                    return
                log.exception("sqs %s: receive/delete failed; retrying in 1 s", self.queue_name)
                self.pump.stop_event.wait(1.0)

    def _handle(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [build_sqs_record(m, queue_arn=self.queue_arn, region=self.pump.region) for m in batch]}
        ids = [message["MessageId"] for message in batch]
        ok, result = self.pump.invoke(self.source.name, event, f"sqs {self.queue_name}", len(batch))
        failed = set(ids) if not ok else failed_message_ids(result, ids)
        if ok and failed:
            log.warning(
                "sqs %s: %s reported %d of %d as failed", self.queue_name, self.source.name, len(failed), len(ids)
            )
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m for m in batch if m["MessageId"] in failed]
        self._settle(done, retry)

    def _settle(self, done: list[dict[str, Any]], retry: list[dict[str, Any]]) -> None:
        sqs = self.pump.sqs
        for start in range(0, len(done), _SQS_MAX_MESSAGES_PER_RECEIVE):
            chunk = done[start : start + _SQS_MAX_MESSAGES_PER_RECEIVE]
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        # Lambda leaves a failed message invisible for the queue's VisibilityTimeout (360 s in the template); locally
        # it comes back after retry_delay_s so retries, and moto's redrive to the DLQ after maxReceiveCount, take
        # seconds.
        for start in range(0, len(retry), _SQS_MAX_MESSAGES_PER_RECEIVE):
            chunk = retry[start : start + _SQS_MAX_MESSAGES_PER_RECEIVE]
            sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.pump.retry_delay_s}
                    for i, m in enumerate(chunk)
                ],
            )


class _ScheduleTicker:
    """One thread per ``rate(...)`` schedule: sleep one period, invoke, repeat."""

    def __init__(self, pump: EventPump, source: ScheduledEventConfig, period_s: float, rule_arn: str) -> None:
        self.pump = pump
        self.source = source
        self.period_s = period_s
        self.rule_arn = rule_arn
        self.thread = threading.Thread(target=self._run, name=f"schedule-{source.name}", daemon=True)

    def fire(self) -> tuple[bool, Any]:
        event = build_scheduled_event(rule_arn=self.rule_arn, region=self.pump.region, account_id=self.pump.account_id)
        return self.pump.invoke(self.source.name, event, "schedule", None)

    def _run(self) -> None:
        # EventBridge's first rate() invocation comes one period after the rule is created, not at once. A failure is
        # only logged: EventBridge's two asynchronous retries are not reproduced, the next tick comes anyway.
        while not self.pump.stop_event.wait(self.period_s):
            self.fire()


class EventPump:
    """Delivers SQS messages and schedules to a Chalice app's event handlers, as Lambda would, in threads.

    ``sqs`` is a boto3 SQS client (e.g. on a moto server). ``wait_time_s`` is the long-poll wait per receive (it also
    bounds how long :meth:`stop` waits). ``retry_delay_s`` is how long a failed message stays invisible before the
    next attempt. ``schedule_time_scale`` multiplies every rate() period (0.01 turns ``rate(1 minute)`` into 0.6 s).

    Handlers run one batch at a time per event source (Lambda would run several concurrently); API requests run in
    other threads of the same process, so the app's lazily built clients must be safe to build from any thread.
    Handlers registered for other event types (S3, SNS, Kinesis, DynamoDB streams, event patterns) and cron()
    schedules are logged as not delivered locally.
    """

    def __init__(
        self,
        app: Chalice,
        sqs: Any,
        *,
        region: str,
        account_id: str,
        config: Config | None = None,
        wait_time_s: int = 1,
        retry_delay_s: int = 1,
        schedule_time_scale: float = 1.0,
    ) -> None:
        self.app = app
        self.sqs = sqs
        self.region = region
        self.account_id = account_id
        self.wait_time_s = wait_time_s
        self.retry_delay_s = retry_delay_s
        self.schedule_time_scale = schedule_time_scale
        self.stop_event = threading.Event()
        self._settings = function_settings_from_config(app, config)
        self._stage = config.chalice_stage if config is not None else "local"
        self._pollers: list[_SQSPoller] = []
        self._tickers: dict[str, _ScheduleTicker] = {}

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self.stop_event.is_set()

    @property
    def sources(self) -> list[str]:
        """One line per delivered event source, e.g. ``"sqs sleeve-local-ingest → handle_ingest (batch 1)"``."""
        lines = [f"sqs {p.queue_name} → {p.source.name} (batch {p.source.batch_size})" for p in self._pollers]
        lines += [f"schedule every {t.period_s:g} s → {name}" for name, t in self._tickers.items()]
        return lines

    def start(self) -> None:
        """Discover the app's event sources and start one thread for each one that can be delivered locally.

        A queue named by a handler but absent from the emulator is logged as an error and not polled (``chalice
        deploy`` would fail on it the same way: Chalice subscribes to queues, it never creates them).
        """
        for source in self.app.event_sources:
            self._add(source)
        for poller in self._pollers:
            poller.thread.start()
        for ticker in self._tickers.values():
            ticker.thread.start()

    def _add(self, source: BaseEventSourceConfig) -> None:
        if isinstance(source, SQSEventConfig):
            queue_name = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
            try:
                url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                log.error(
                    "sqs %s → %s: queue does not exist; declare it in infra/template.json", queue_name, source.name
                )
                return
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self._pollers.append(_SQSPoller(self, source, url, arn))
        elif isinstance(source, ScheduledEventConfig):
            period = parse_rate(source.schedule_expression)
            expression = source.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            if period is None:
                log.warning("schedule %s → %s: only rate() schedules run locally; not scheduled", text, source.name)
                return
            rule = f"{self.app.app_name}-{self._stage}-{source.name}-event"
            rule_arn = f"arn:aws:events:{self.region}:{self.account_id}:rule/{rule}"
            self._tickers[source.name] = _ScheduleTicker(self, source, period * self.schedule_time_scale, rule_arn)
        elif isinstance(source, CloudWatchEventConfig):
            log.warning("event pattern → %s: EventBridge patterns are not delivered locally", source.name)
        else:
            log.warning("%s → %s: not delivered locally", type(source).__name__, source.name)

    def trigger_schedule(self, name: str) -> tuple[bool, Any]:
        """Invoke the scheduled handler ``name`` now, in the caller's thread; returns ``(succeeded, result)``.

        Raises ``KeyError`` when ``name`` is not a rate() schedule of the app.
        """
        return self._tickers[name].fire()

    def invoke(self, name: str, event: dict[str, Any], what: str, count: int | None) -> tuple[bool, Any]:
        """Call handler ``name`` (``app.handler_map``) with ``event`` and a fresh Lambda context, logging one line.

        Returns ``(True, result)`` or, when the handler raised, ``(False, None)`` after logging the traceback.
        """
        settings = self._settings(name)
        context = make_lambda_context(settings, region=self.region, account_id=self.account_id)
        handler = self.app.handler_map[name]
        started = time.monotonic()
        size = f" {count} message(s)" if count is not None else ""
        try:
            result = handler(event, context)
        except Exception as exc:
            elapsed_ms = (time.monotonic() - started) * 1000
            log.exception(
                "%s → %s:%s failed in %.0f ms (%s: %s)", what, name, size, elapsed_ms, type(exc).__name__, exc
            )
            return False, None
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s → %s:%s ok in %.0f ms", what, name, size, elapsed_ms)
        return True, result

    def stop(self, timeout_s: float | None = None) -> None:
        """Ask every thread to stop and wait for them (a running handler finishes first; at most ``timeout_s``,
        default the long-poll wait plus 5 s, per thread)."""
        self.stop_event.set()
        limit = timeout_s if timeout_s is not None else self.wait_time_s + 5
        for thread in [p.thread for p in self._pollers] + [t.thread for t in self._tickers.values()]:
            if thread.is_alive():
                thread.join(timeout=limit)
