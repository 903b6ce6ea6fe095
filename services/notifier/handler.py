"""Lambda entry point of the notifier: SQS batch of EventBridge events -> parse, then Notifier.notify, per record.

The edge only: the record is parsed here, the adapters come from bootstrap.py (built on the first event, once per
execution environment: app()), Powertools' batch processor turns a failed record into a batchItemFailure (retried by
SQS, then the DLQ), and the result becomes a log line and a metric.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from contracts.envelope import ContractError
from services.common.names import Metric
from services.common.observability import observability
from services.notifier.bootstrap import NotifierApp, bootstrap
from services.notifier.service import NotifyResult, parse_notifier_event

obs = observability("notifier")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

METRIC_BY_ACTION = {
    "sent": Metric.EMAILS_SENT,
    "summarised": Metric.REPEAT_SUMMARIES_SENT,
    "duplicate": Metric.DUPLICATE_EMAILS_SKIPPED,
    "already_notified": Metric.DUPLICATE_EMAILS_SKIPPED,
    "waiting": Metric.RUNS_WAITING_FOR_CITIES,
    "not_final": Metric.RETRYABLE_FAILURES_IGNORED,
    "refused": Metric.EVENTS_REFUSED,
}


@cache
def app() -> NotifierApp:
    """Every adapter, once per execution environment (on the first event), from the function's environment."""
    return bootstrap(metric=_count)


def _count(name: Metric, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_handler(record: SQSRecord) -> None:
    try:
        event = parse_notifier_event(record.body)  # at the edge: a malformed message needs no dependency
        result = app().notifier.notify(event)
    except ContractError as exc:
        logger.error(
            f"malformed message, not mailed: {exc}",
            extra={"message_id": record.message_id, "receive_count": record.attributes.approximate_receive_count},
        )
        metrics.add_metric(name=Metric.MALFORMED_MESSAGES, unit=MetricUnit.Count, value=1)
        raise
    except Exception:
        logger.exception("could not notify: the record fails and SQS retries it (DLQ after the last receive)")
        metrics.add_metric(name=Metric.NOTIFICATION_FAILURES, unit=MetricUnit.Count, value=1)
        raise
    _report(result)


def _report(result: NotifyResult) -> None:
    logger.set_correlation_id(result.run_id)
    if result.action == "refused":
        logger.warning(
            f"notifier: refused, not mailed: {result.reason}",
            extra={"run_id": result.run_id, "action": result.action, "reason": result.reason},
        )
        metrics.add_metric(name=METRIC_BY_ACTION[result.action], unit=MetricUnit.Count, value=1)
        return
    logger.info(
        f"notifier: {result.action}",
        extra={
            "run_id": result.run_id,
            "action": result.action,
            "outcome": result.outcome,
            "sns_message_id": result.message_id,
            "subject": result.subject,
            "waiting_for": result.waiting_for,
        },
    )
    metrics.add_metric(name=METRIC_BY_ACTION[result.action], unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    app().once.register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
