"""Lambda entry point: SQS records carrying "Collection Requested" -> services.collector.service.

Thin on purpose: boto3 clients once per container, parse each record, call the service, and let
Powertools' BatchProcessor turn failures into batchItemFailures (ReportBatchItemFailures).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from services.collector.service import (
    CollectorServices,
    KeyUnavailable,
    handle_request,
    parse_request,
    plan_run,
    read_secret_value,
)
from services.collector.settings import CollectorSettings
from services.collector.storage import RawStore
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.names import Metric
from services.common.observability import observability

obs = observability("collector")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

SECRET_MAX_AGE_SECONDS = 300
DEFAULT_BUDGET_SECONDS = 300.0  # when no Lambda context tells the remaining time
MAX_RESERVE_SECONDS = 15.0  # kept back from the deadline to write the object and publish


@functools.cache
def _clients(endpoint: str | None, region: str | None) -> tuple[Any, Any, Any]:
    # keyed on the endpoint so a process pointed at another (local) AWS gets fresh clients
    return boto3.client("s3"), boto3.client("events"), boto3.client("dynamodb")


def _api_key(settings: CollectorSettings) -> str:
    if settings.places_api_key_secret_arn:
        try:
            raw = parameters.get_secret(settings.places_api_key_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:
            raise KeyUnavailable(
                f"The Places API key secret could not be read ({exc.__class__.__name__}): no key stored in it yet "
                "(`restaurant-pipeline deploy` stores it), or the secret is gone, or the collector's role may not "
                "read it."
            ) from None
        return read_secret_value(str(raw))
    if settings.google_places_api_key is not None and settings.google_places_api_key.get_secret_value().strip():
        return settings.google_places_api_key.get_secret_value().strip()
    raise KeyUnavailable(
        "No Places API key: set GOOGLE_PLACES_API_KEY (local) or PLACES_API_KEY_SECRET_ARN (AWS, set by the stack)."
    )


def build_services(settings: CollectorSettings) -> CollectorServices:
    """Thin wrappers per record around the boto3 clients, which are created once per container."""
    s3, events, dynamodb = _clients(os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))
    return CollectorServices(
        settings=settings,
        store=RawStore(s3, settings.bucket_name),
        publisher=EventPublisher(events, settings.event_bus_name),
        ledger=RunLedger(
            dynamodb,
            settings.ledger_table_name,
            on_failure=lambda exc: metrics.add_metric(Metric.LEDGER_WRITE_FAILURES, MetricUnit.Count, 1),
        ),
        api_key=lambda: _api_key(settings),
        metric=lambda name, value: metrics.add_metric(name, MetricUnit.Count, value),
    )


def _deadline(lambda_context: Any) -> float:
    remaining = DEFAULT_BUDGET_SECONDS
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        remaining = lambda_context.get_remaining_time_in_millis() / 1000
    return time.monotonic() + remaining - min(MAX_RESERVE_SECONDS, remaining * 0.2)


def record_handler(record: SQSRecord, lambda_context: Any = None) -> None:
    envelope, request = parse_request(record.body)  # ContractError: this record fails, the batch goes on
    settings = CollectorSettings.from_env()
    plan = plan_run(envelope, request, settings, int(record.attributes.approximate_receive_count or 1))
    logger.set_correlation_id(plan.run_id)
    logger.info(
        "collection requested",
        extra={"cities": list(plan.run_cities), "trigger": plan.trigger_source, "attempt": plan.attempt},
    )
    outcome = handle_request(plan, build_services(settings), _deadline(lambda_context))
    logger.info(
        "collection done",
        extra={
            "collected": [c.city for c in outcome.collected],
            "places": sum(c.places for c in outcome.collected),
            "requests": outcome.total_requests,
            "failed": [f.city or "-" for f in outcome.failed],
        },
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
