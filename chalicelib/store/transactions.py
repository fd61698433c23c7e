"""DynamoDB transactions of the single table: counted before they are sent, their cancellation reasons mapped by kind.

A transaction is a list of labelled steps. :func:`send_transaction` refuses more than DynamoDB's 100 items with a 409
before sending anything, sends the steps through PynamoDB's ``TransactWrite`` and, when DynamoDB cancels the
transaction, pairs each cancellation reason with the step it belongs to and turns the whole into one error:

- ``ConditionalCheckFailed`` on a step → that step's own domain error (the caller's ``on_condition_failed``);
- ``TransactionConflict`` or throttling only → :class:`TransientTransactionError`, which the caller may retry;
- anything else (``ValidationError``, ``ItemCollectionSizeLimitExceeded``…) → :class:`TransactionFailedError`
  (500 ``internal_error``): a bug or a limit, never a misleading 409.

Sources: DynamoDB API reference, *TransactWriteItems* (at most 100 actions; ``CancellationReasons`` is "an ordered
array of reasons … in the same order as the TransactItems"; the reason codes and which of them are retryable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NoReturn

from pynamodb.connection import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import AppError, ConflictError
from chalicelib.store.records import CatalogueRecord

#: DynamoDB's limit on the actions of one TransactWriteItems request.
MAX_TRANSACTION_ITEMS = 100
#: Reasons that say "not now" rather than "not ever": another transaction held an item, or capacity ran out.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
#: Whole-request error codes of the same kind (botocore's own retries already gave up on them).
RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
#: The order in which PynamoDB's ``Connection.transact_write_items`` lays out the actions of a ``TransactWrite``,
#: whatever order they were added in (pynamodb/connection/base.py, 6.x): condition checks, deletes, puts, updates.
OPERATION_ORDER: tuple[str, ...] = ("ConditionCheck", "Delete", "Put", "Update")

Operation = Literal["Delete", "Put"]


class TransactionTooLargeError(ConflictError):
    """A change needs more items than one transaction holds (409 ``transaction_too_large``;
    ``details``: ``items`` needed, ``max`` allowed)."""

    default_code = "transaction_too_large"

    def __init__(self, items: int) -> None:
        super().__init__(
            f"This change would write {items} items at once; DynamoDB takes at most {MAX_TRANSACTION_ITEMS} "
            "in one transaction. Make it in smaller steps.",
            details={"items": items, "max": MAX_TRANSACTION_ITEMS},
        )


class TransientTransactionError(AppError):
    """DynamoDB cancelled the transaction for a passing reason (a conflicting transaction, throttling).

    Nothing was written; the same change may be read, planned and sent again. ``reasons`` are the codes seen.
    Answered as 503 ``throttled`` only if it escapes the caller's retries.
    """

    status = 503
    default_code = "throttled"

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("The catalogue is busy; try again shortly.", details={"reasons": sorted(set(reasons))})
        self.reasons = tuple(reasons)


class TransactionFailedError(AppError):
    """DynamoDB refused the transaction for a reason no retry or user action fixes (500 ``internal_error``).

    ``details`` carries the reason codes for the log; the route decorator logs every 5xx.
    """

    status = 500
    default_code = "internal_error"


@dataclass(frozen=True)
class Step:
    """One action of a transaction: ``operation`` on ``record`` (with ``condition`` on top of PynamoDB's own version
    condition), labelled ``kind`` / ``key`` so that a cancellation reason can name the item it belongs to."""

    operation: Operation
    kind: str
    key: str
    record: Model
    condition: Condition | None = None


def ordered(steps: Sequence[Step]) -> list[Step]:
    """``steps`` in the order PynamoDB sends them (``OPERATION_ORDER``, stable within one operation)."""
    return sorted(steps, key=lambda step: OPERATION_ORDER.index(step.operation))


def send_transaction(
    steps: Sequence[Step], on_condition_failed: Callable[[Step, TransactWriteError], NoReturn]
) -> None:
    """Write ``steps`` in one TransactWriteItems request, all or nothing.

    Raises :class:`TransactionTooLargeError` (409) before sending more than ``MAX_TRANSACTION_ITEMS``; whatever
    ``on_condition_failed`` raises for the first step whose condition failed; :class:`TransientTransactionError` when
    only conflicts or throttling cancelled it; :class:`TransactionFailedError` (500) for any other refusal.
    """
    if len(steps) > MAX_TRANSACTION_ITEMS:
        raise TransactionTooLargeError(len(steps))
    sent = ordered(steps)
    try:
        with TransactWrite(connection=_connection()) as transaction:
            for step in sent:
                if step.operation == "Delete":
                    transaction.delete(step.record, condition=step.condition)
                else:
                    transaction.save(step.record, condition=step.condition)
    except TransactWriteError as exc:
        _raise_mapped(exc, sent, on_condition_failed)


def _raise_mapped(
    exc: TransactWriteError, sent: list[Step], on_condition_failed: Callable[[Step, TransactWriteError], NoReturn]
) -> NoReturn:
    code = exc.cause_response_code or ""
    if code in RETRYABLE_ERRORS:
        raise TransientTransactionError([code]) from exc
    if code != "TransactionCanceledException":
        raise TransactionFailedError(
            "The catalogue could not be written.", details={"error": code or type(exc.cause).__name__}
        ) from exc
    reasons: list[CancellationReason | None] = exc.cancellation_reasons
    if len(reasons) != len(sent):
        raise TransactionFailedError(
            "The catalogue could not be written.",
            details={"error": code, "reasons": len(reasons), "items": len(sent)},
        ) from exc
    failed = [(step, reason.code) for step, reason in zip(sent, reasons, strict=True) if reason is not None]
    unexpected = sorted({c for _, c in failed if c != "ConditionalCheckFailed" and c not in RETRYABLE_REASONS})
    if unexpected:
        raise TransactionFailedError(
            "The catalogue could not be written.",
            details={"error": code, "reasons": unexpected, "items": [f"{s.kind}:{s.key}" for s, c in failed]},
        ) from exc
    for step, reason_code in failed:
        if reason_code == "ConditionalCheckFailed":
            on_condition_failed(step, exc)
    raise TransientTransactionError([c for _, c in failed]) from exc


def _connection() -> Connection:
    """The PynamoDB connection transactions go through, reused: building one loads botocore's DynamoDB model."""
    meta = CatalogueRecord.Meta
    return connection_to(meta.region, meta.host)


@lru_cache(maxsize=4)
def connection_to(region: str, host: str | None) -> Connection:
    """The cached PynamoDB connection for ``region`` through ``host`` (moto's URL locally, None in AWS)."""
    return Connection(region=region, host=host)


def transaction_client() -> Any:
    """The botocore DynamoDB client transactions are sent with (tests stub or watch it)."""
    return _connection().client
