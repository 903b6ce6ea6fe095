"""Lambda entry point of the transformer: SQS (FIFO) batch of S3 "Object Created" events -> service.process_batch.

Wiring only: the adapters are built once per execution environment (build_deps), the dbt manifest is loaded at INIT
(initialize), and the batch's outcomes become log lines and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.names import TRANSFORM_OUTCOME_METRICS, Metric
from services.common.observability import observability
from services.common.settings import SettingsError
from services.transformer.adapters.analyzers import make_analyzer
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.reviews import DbtReviewStaging, S3ScoreStore
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.sqs import SqsMessageQueue
from services.transformer.adapters.warehouse import AthenaWarehouse, DuckDBWarehouse
from services.transformer.domain.model import InfrastructureError
from services.transformer.domain.sentiment import ScoringBuilder
from services.transformer.ports import Builder
from services.transformer.service import BatchOutcome, Coalescing, TransformerDeps, process_batch
from services.transformer.settings import TransformerSettings

obs = observability("transformer")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer


@dataclass(frozen=True)
class Wiring:
    deps: TransformerDeps
    dbt: DbtBuilder  # the dbt adapter itself (the builder may wrap it): its manifest is loaded at INIT


def dbt_builder(config: TransformerSettings) -> DbtBuilder:
    """dbt in process, its manifest loaded once (shipped in the artifact, else parsed): see adapters/dbt_build.py."""
    environment = dbt_environment(
        target=config.dbt_target,
        bucket=config.bucket_name,
        warehouse_path=config.warehouse_path,
        endpoint_url=config.aws_endpoint_url,
        athena_workgroup=config.athena_workgroup,
        athena_results_s3=config.athena_results_s3,
        glue_database=config.glue_database,
        nlp_enabled=config.nlp_enabled,
    )
    return DbtBuilder(
        config.dbt_project_dir or default_project_dir(),
        config.dbt_target,
        environment,
        state_dir=config.dbt_state_folder,  # this stack's own: DBT_STATE_DIR, else /tmp/dbt-<function>
        daily_drop_warn_share=config.daily_drop_warn_share,
    )


@cache
def build_wiring() -> Wiring:
    """Every adapter, once per execution environment, from the environment (the edge)."""
    config = TransformerSettings.from_env()
    dbt = dbt_builder(config)
    if config.dbt_target == "local":
        warehouse: DuckDBWarehouse | AthenaWarehouse = DuckDBWarehouse(str(config.warehouse_path))
    else:
        warehouse = AthenaWarehouse(
            boto3.client("athena"),
            database=str(config.glue_database),
            workgroup=str(config.athena_workgroup),
            results_s3=config.athena_results_s3,
        )
    marts = WarehouseMarts(warehouse)
    builder: Builder = dbt
    if config.nlp_enabled:  # docs/nlp.md; dbt reads NLP_ENABLED too, so it builds the review models
        builder = ScoringBuilder(
            dbt,
            staging=DbtReviewStaging(dbt),
            marts=marts,
            store=S3ScoreStore(boto3.client("s3"), config.bucket_name),
            analyzer=make_analyzer(config.sentiment_analyzer, comprehend_region=config.comprehend_region),
        )
    ledger = RunLedger(boto3.client("dynamodb"), config.ledger_table_name)
    deps = TransformerDeps(
        store=S3ObjectStore(boto3.client("s3"), config.bucket_name),
        builder=builder,
        marts=marts,
        claims=ObjectClaims(boto3.client("dynamodb"), config.idempotency_table_name),
        publisher=EventPublisher(boto3.client("events"), config.event_bus_name),
        ledger=ledger,
        runs=ledger,
        coalescing=Coalescing(
            max_objects=config.build_max_objects,
            max_bytes=config.build_max_mebibytes * 1024 * 1024,
            window=timedelta(hours=config.coalesce_window_hours),
        ),
        max_receive_count=config.max_receive_count,
        queue=SqsMessageQueue(boto3.client("sqs"), config.dead_letter_queue_name),
        retry_backoff_seconds=config.retry_backoff_seconds,
    )
    return Wiring(deps, dbt)


def build_deps() -> TransformerDeps:
    return build_wiring().deps


def initialize() -> None:
    """Init-time work (Lambda's INIT phase, the local worker's start): clients and the dbt manifest, not per event.

    The manifest is the one shipped in the artifact when it matches (adapters/shipped_manifest.py), else parsed.
    Importing this module without the function's environment (a test, a tool) leaves it all for the first event.
    """
    try:
        dbt = build_wiring().dbt
    except SettingsError as exc:
        logger.debug("transformer settings incomplete at import; dependencies are built on the first event: %s", exc)
        return
    try:
        seconds = dbt.prepare()
    except InfrastructureError as exc:  # the first event parses again and reports it through the outcome
        logger.error("dbt parse at init failed; retried on the first event", extra={"error": str(exc)[:2000]})
        return
    logger.info(
        "dbt manifest ready at init",
        extra={"seconds": round(seconds, 3), "manifest": dbt.manifest_origin, "parses": dbt.parses},
    )


initialize()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = process_batch(event, build_deps(), remaining_ms=context.get_remaining_time_in_millis)
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
