"""Lambda entry point of the transformer: SQS (FIFO) batch of S3 "Object Created" events -> service.TransformBatch.

The edge only: the adapters come from bootstrap.py (once per execution environment: app()), the dbt manifest is
loaded at INIT (initialize), Powertools' batch processor runs each record through the claim step (a record that
fails is a batchItemFailure alone), and the batch's outcomes become log lines and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.common.names import TRANSFORM_OUTCOME_METRICS, Metric
from services.common.observability import observability
from services.common.settings import SettingsError
from services.transformer.bootstrap import TransformerApp, bootstrap
from services.transformer.domain.model import InfrastructureError
from services.transformer.service import BatchOutcome, TransformBatch, TransformerDeps

obs = observability("transformer")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer


@cache
def app() -> TransformerApp:
    """Every adapter, once per execution environment, from the function's environment."""
    return bootstrap(metric=_count)


def _count(name: Metric, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def process_batch(event: dict[str, Any], deps: TransformerDeps, remaining_ms: Callable[[], int | None]) -> BatchOutcome:
    """One SQS batch: each record claimed through Powertools' batch processor, then one transform (service.py)."""
    batch = TransformBatch(event, deps, remaining_ms)
    # The plain processor, not SqsFifoPartialProcessor: a malformed or busy record fails alone instead of failing
    # every record after it on each of its receives (which would dead-letter good records with it). AWS advises
    # stopping at the first failure on FIFO queues only to keep the queue's order
    # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); the transformer needs none:
    # claims make each object version exactly-once, builds are per day, and one message group still allows one
    # batch in flight at a time. One processor per batch: it holds the batch's records and failures.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    with processor(batch.records, handler=batch.claim):
        processor.process()
    return batch.finish([str(item["itemIdentifier"]) for item in processor.response()["batchItemFailures"]])


def initialize() -> None:
    """Init-time work (Lambda's INIT phase, the local worker's start): the adapters and the dbt manifest, not per event.

    The one piece of work done at import, on purpose: loading the manifest takes seconds (a parse when the shipped
    one does not match), and done here it falls in the INIT phase, which Lambda runs before the first event with up
    to 10 s of its own ("Init phase",
    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), instead of in the first event's
    time budget (docs/performance.md measured both). Importing this module without the function's environment (a
    test, a tool) builds nothing: it all waits for the first event.
    """
    try:
        ready = app()
    except SettingsError as exc:
        logger.debug("transformer settings incomplete at import; dependencies are built on the first event: %s", exc)
        return
    try:
        seconds = ready.prepare()
    except InfrastructureError as exc:  # the first event parses again and reports it through the outcome
        logger.error("dbt parse at init failed; retried on the first event", extra={"error": str(exc)[:2000]})
        return
    logger.info(
        "dbt manifest ready at init",
        extra={"seconds": round(seconds, 3), "manifest": ready.dbt.manifest_origin, "parses": ready.dbt.parses},
    )


initialize()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = process_batch(event, app().deps, remaining_ms=context.get_remaining_time_in_millis)
    _report(result)
    return result.response


def _report(result: BatchOutcome) -> None:
    for completed in result.events:
        logger.set_correlation_id(completed.run_id)
        logger.info(
            "transform completed",
            extra={
                "outcome": completed.outcome,
                "objects": [s.key for s in completed.sources],
                # when and how long, per phase: the benchmark rebuilds each dbt build's wall-clock interval from them
                "produced_at": completed.metadata.produced_at.isoformat(),
                "durations_ms": completed.durations_ms,
                # dbt's own log is off for builds (adapters/dbt_build.py BUILD_FLAGS): what failed is said here
                "failed_tests": [failure.name for failure in completed.failures],
                "error": completed.error.model_dump(mode="json") if completed.error else None,
            },
        )
        metrics.add_metric(name=TRANSFORM_OUTCOME_METRICS[completed.outcome], unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=Metric.QUARANTINED_LINES, unit=MetricUnit.Count, value=completed.quarantined_lines)
    for message_id, reason in result.malformed:
        logger.error(f"malformed message, not transformed: {reason}", extra={"message_id": message_id})
        metrics.add_metric(name=Metric.MALFORMED_MESSAGES, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=Metric.DUPLICATE_OBJECT_EVENTS, unit=MetricUnit.Count, value=result.duplicates)
    metrics.add_metric(name=Metric.COALESCED_OBJECTS, unit=MetricUnit.Count, value=result.coalesced)
    if result.error is not None:
        if result.final:
            logger.error(
                "batch failed for good: its objects are set aside, the next ones are built now",
                extra={"error": str(result.error)[:2000], "set_aside": result.set_aside},
            )
        else:
            logger.error(
                "batch failed, its objects will be retried",
                extra={"error": str(result.error)[:2000], "retry_in_seconds": result.retry_delays},
            )
        metrics.add_metric(name=Metric.TRANSFORM_INFRASTRUCTURE_ERRORS, unit=MetricUnit.Count, value=1)
    for announced in result.dead_lettered:
        logger.error(
            "last attempt failed: objects go to the dead-letter queue, outcome published",
            extra={"run_id": announced.run_id, "objects": [s.key for s in announced.sources]},
        )
        metrics.add_metric(name=Metric.DEAD_LETTERED_OBJECTS, unit=MetricUnit.Count, value=len(announced.sources))
        metrics.add_metric(name=TRANSFORM_OUTCOME_METRICS["error"], unit=MetricUnit.Count, value=1)
