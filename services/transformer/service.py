"""The transformer's use case over one SQS (FIFO) batch of S3 "Object Created" events.

process_batch: parse each record at the edge (an event that is not a raw object is acknowledged; a malformed one
fails alone) -> claim each object version once (Claims) -> one transform over the claimed objects (the domain:
validate, one build, describe per run) -> publish the outcomes, complete the claims, record the ledger. An
infrastructure failure releases the claims and fails the whole batch (one build covered it all): SQS retries it.
The handler wires this to Powertools; unit tests call it with fakes, integration tests with moto-backed adapters.
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
from services.common.names import RAW_PREFIX
from services.transformer.domain.reading import ObjectRef
from services.transformer.domain.transform import transform_objects
from services.transformer.ports import Builder, Claims, Ledger, MartReader, ObjectStore, Publisher

OBJECT_CREATED = "Object Created"


class ObjectBusy(RuntimeError):
    """Another invocation is processing this object version right now: retry later."""


@dataclass
class TransformerDeps:
    """Every adapter a batch needs, built once per execution environment (handler.build_deps); fakes in tests.
    With the NLP stage on, `builder` is a ScoringBuilder around dbt (domain/sentiment.py)."""

    store: ObjectStore
    builder: Builder
    marts: MartReader
    claims: Claims
    publisher: Publisher
    ledger: Ledger


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

    def claim(record: SQSRecord) -> None:
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
    with processor(records, handler=claim):
        processor.process()
    response: dict[str, Any] = dict(processor.response())
    if not claimed:
        outcome.response = response
        return outcome
    try:
        events = transform_objects(claimed, store=deps.store, builder=deps.builder, marts=deps.marts)
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
