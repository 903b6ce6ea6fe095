"""Lambda entry point of the collector: SQS records carrying "Collection Requested" -> service, per record.

The edge only: the record is parsed here, the adapters come from bootstrap.py (built on the first event, once per
execution environment: app()), Powertools' batch processor turns a failed record into a batchItemFailure (retried by
SQS, then the DLQ), and the outcome becomes log lines and metrics.
Invoked directly (`aws lambda invoke`, the original system's habit) with `{"trigger_source": "manual"}`, it
publishes "Collection Requested" like the CLI's `run` and returns the run id; the run then comes back through the
queue like any other.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from contracts.envelope import ContractError
from services.collector.bootstrap import CollectorApp, bootstrap
from services.collector.domain.plan import plan_run
from services.collector.service import parse_request, process_request, request_run
from services.common.names import Metric
from services.common.observability import observability

obs = observability("collector")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

DEFAULT_BUDGET_SECONDS = 300.0  # when no Lambda context tells the remaining time
MAX_RESERVE_SECONDS = 15.0  # kept back from the deadline to write the object and publish


@cache
def app() -> CollectorApp:
    """Every adapter, once per execution environment (on the first event), from the function's environment."""
    return bootstrap(metric=_count)


def _count(name: Metric, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _deadline(lambda_context: Any) -> float:
    remaining = DEFAULT_BUDGET_SECONDS
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        remaining = lambda_context.get_remaining_time_in_millis() / 1000
    return time.monotonic() + remaining - min(MAX_RESERVE_SECONDS, remaining * 0.2)


def record_handler(record: SQSRecord, lambda_context: Any = None) -> None:
    try:
        envelope, request = parse_request(record.body)
    except ContractError as exc:  # this record fails (then the DLQ), the batch goes on: say why, here
        logger.error(
            f"malformed message, not collected: {exc}",
            extra={"message_id": record.message_id, "receive_count": record.attributes.approximate_receive_count},
        )
        metrics.add_metric(name=Metric.MALFORMED_MESSAGES, unit=MetricUnit.Count, value=1)
        raise
    deps = app().deps
    attempt = int(record.attributes.approximate_receive_count or 1)
    plan = plan_run(request, envelope.time, envelope.id, deps.settings, attempt)
    logger.set_correlation_id(plan.run_id)
    logger.info(
        "collection requested",
        extra={"cities": list(plan.run_cities), "trigger": plan.trigger_source, "attempt": plan.attempt},
    )
    outcome = process_request(plan, deps, _deadline(lambda_context))
    logger.info(
        "collection done",
        extra={
            "collected": [c.city for c in outcome.collected],
            "places": sum(c.places for c in outcome.collected),
            "requests": outcome.total_requests,
            "failed": [f.city or "-" for f in outcome.failed],
        },
    )


def direct_handler(event: Any) -> dict[str, Any]:
    """`aws lambda invoke --payload '{"trigger_source":"manual"}'`: publish "Collection Requested", return the run
    id (service.request_run)."""
    result = request_run(event, app().deps)
    logger.set_correlation_id(result["run_id"])
    logger.info("collection requested by a direct invocation", extra={"cities": result["cities"]})
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> PartialItemFailureResponse | dict[str, Any]:
    """SQS batches from the collector queue; anything else is a direct invocation (the runtime hands the invoke
    payload over as the event, a dict for a JSON object:
    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html, "Using the Lambda event object")."""
    if isinstance(event, dict) and "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return direct_handler(event)
