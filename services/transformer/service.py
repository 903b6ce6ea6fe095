"""The transformer's use case over one SQS batch: edge parsing, exactly-once claims, the domain, the outcome.

The handler module only wires this to Powertools; tests call `process_batch` with moto-backed adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models.s3 import S3EventNotificationEventBridgeDetailModel
from pydantic import ValidationError

from contracts.envelope import ContractError, describe_validation_error, parse_eventbridge_event
from contracts.events import TransformCompleted
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.names import RAW_PREFIX
from services.transformer.adapters.claims import ObjectClaims
from services.transformer.domain import Builder, ObjectStore, Warehouse, transform_objects
from services.transformer.reading import ObjectRef
from services.transformer.sentiment.stage import ScoringBuilder, describe_sentiment

OBJECT_CREATED = "Object Created"


class ObjectBusy(RuntimeError):
    """Another invocation is processing this object version right now: retry later."""


@dataclass
class TransformerDeps:
    store: ObjectStore
    builder: Builder
    warehouse: Warehouse
    claims: ObjectClaims
    publisher: EventPublisher
    ledger: RunLedger
    # The NLP stage (pipeline.toml [nlp] enabled): wraps `builder`, scoring new reviews between staging and marts.
    nlp: ScoringBuilder | None = None


@dataclass
class BatchOutcome:
    response: dict[str, Any]
    events: list[TransformCompleted] = field(default_factory=list)
    ignored: int = 0
    duplicates: int = 0
    error: Exception | None = None  # an infrastructure failure: every record of the batch is retried


def object_ref_from_body(body: str | dict[str, Any]) -> ObjectRef | None:
    """The object of an S3 "Object Created" event under raw/places/, or None for anything else (acknowledged).

    ContractError when the body is not an EventBridge event or its detail is not an S3 notification.
    """
    event = parse_eventbridge_event(body)
    if event.source != "aws.s3" or event.detail_type != OBJECT_CREATED:
        return None
    raw_detail = event.detail if isinstance(event.detail, dict) else {}
    try:
        detail = S3EventNotificationEventBridgeDetailModel.model_validate(raw_detail)
    except ValidationError as exc:
        raise ContractError(describe_validation_error("S3 Object Created event", exc)) from None
    if not detail.object.key.startswith(RAW_PREFIX):
        return None
    # AWS spells it etag, moto eTag (the Powertools model only knows etag)
    etag = detail.object.etag or raw_detail.get("object", {}).get("eTag") or None
    version = detail.object.version_id if detail.object.version_id not in (None, "", "null") else None
    size = int(detail.object.size) if detail.object.size is not None else None
    time = event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC)
    return ObjectRef(detail.bucket.name, detail.object.key, version, etag, size, time, event.id)


def process_batch(event: dict[str, Any], deps: TransformerDeps, remaining_ms: Callable[[], int | None]) -> BatchOutcome:
    """One SQS batch (FIFO, one message group): claim each new object, one transform, publish, record."""
    claimed: list[ObjectRef] = []
    outcome = BatchOutcome(response={})

    def collect(record: SQSRecord) -> None:
        ref = object_ref_from_body(record.body)
        if ref is None:
            outcome.ignored += 1
            return
        claim = deps.claims.claim(ref.idempotency_key, remaining_ms())
        if claim.state == "done":
            outcome.duplicates += 1
            return
        if claim.state == "busy":
            raise ObjectBusy(f"{ref.key} is being transformed by another invocation; retrying later")
        claimed.append(ref)

    processor = SqsFifoPartialProcessor()
    # a batch of nothing but malformed messages is a partial response too, not a function error
    processor.raise_on_entire_batch_failure = False
    records = event.get("Records", [])
    with processor(records, handler=collect):
        processor.process()
    response: dict[str, Any] = dict(processor.response())
    if not claimed:
        outcome.response = response
        return outcome
    try:
        builder = deps.nlp or deps.builder
        if deps.nlp is not None:
            deps.nlp.last_report = None
        events = transform_objects(claimed, store=deps.store, builder=builder, warehouse=deps.warehouse)
        if deps.nlp is not None and deps.nlp.last_report is not None:
            events = describe_sentiment(events, deps.warehouse, deps.nlp.last_report)
        deps.publisher.publish(events)
    except Exception as exc:
        for ref in claimed:
            deps.claims.release(ref.idempotency_key, exc)
        # The dbt run covered every object of the batch: the whole batch is retried.
        outcome.response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
        outcome.error = exc
        return outcome
    by_key = {source.key: (e.run_id, e.outcome) for e in events for source in e.sources}
    for ref in claimed:
        run_id, result = by_key.get(ref.key, ("", "error"))
        deps.claims.complete(ref.idempotency_key, {"run_id": run_id, "outcome": result})
        deps.ledger.record(run_id, "TRANSFORMED", ref.key, "transformer", {"outcome": result})
    outcome.events = events
    outcome.response = response
    return outcome
