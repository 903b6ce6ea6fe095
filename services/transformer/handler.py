"""Lambda entry point: SQS (FIFO) batch of S3 "Object Created" events -> services.transformer.service."""

from __future__ import annotations

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
from services.transformer.adapters.claims import ObjectClaims
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.storage import S3ObjectStore
from services.transformer.adapters.warehouse import AthenaWarehouse, DuckDBWarehouse
from services.transformer.domain import InfrastructureError, Warehouse
from services.transformer.sentiment.stage import ScoringBuilder
from services.transformer.sentiment.wiring import make_analyzer, scoring_builder
from services.transformer.service import TransformerDeps, process_batch
from services.transformer.settings import TransformerSettings

obs = observability("transformer")
logger, metrics, tracer = obs.logger, obs.metrics, obs.tracer


@cache
def dependencies() -> TransformerDeps:
    """Built once per warm process: clients, and the dbt manifest (parsed on the first build, then reused)."""
    settings = TransformerSettings.from_env()
    environment = dbt_environment(
        target=settings.dbt_target,
        bucket=settings.bucket_name,
        warehouse_path=settings.warehouse_path,
        endpoint_url=settings.aws_endpoint_url,
        athena_workgroup=settings.athena_workgroup,
        athena_results_s3=settings.athena_results_s3,
        glue_database=settings.glue_database,
        nlp_enabled=settings.nlp_enabled,
    )
    warehouse: Warehouse
    if settings.dbt_target == "local":
        warehouse = DuckDBWarehouse(str(settings.warehouse_path))
    else:
        warehouse = AthenaWarehouse(
            boto3.client("athena"),
            database=str(settings.glue_database),
            workgroup=str(settings.athena_workgroup),
            results_s3=settings.athena_results_s3,
        )
    builder = DbtBuilder(
        settings.dbt_project_dir or default_project_dir(),
        settings.dbt_target,
        environment,
        state_dir=settings.dbt_state_dir,
        daily_drop_warn_share=settings.daily_drop_warn_share,
    )
    return TransformerDeps(
        store=S3ObjectStore(boto3.client("s3"), settings.bucket_name),
        builder=builder,
        warehouse=warehouse,
        claims=ObjectClaims(boto3.client("dynamodb"), settings.idempotency_table_name),
        publisher=EventPublisher(boto3.client("events"), settings.event_bus_name),
        ledger=RunLedger(boto3.client("dynamodb"), settings.ledger_table_name),
        nlp=nlp_stage(settings, builder, warehouse),
    )


def nlp_stage(settings: TransformerSettings, builder: DbtBuilder, warehouse: Warehouse) -> ScoringBuilder | None:
    """The NLP stage (docs/nlp.md) when NLP_ENABLED: dbt reads NLP_ENABLED too, so it builds the review models."""
    if not settings.nlp_enabled:
        return None
    analyzer = make_analyzer(settings.sentiment_analyzer, comprehend_region=settings.comprehend_region)
    return scoring_builder(builder, warehouse, boto3.client("s3"), settings.bucket_name, analyzer)


def initialize() -> None:
    """Init-time work (Lambda's INIT phase, the local worker's start): clients and the dbt manifest, not per event.

    The manifest is the one shipped in the artifact when it matches (adapters/shipped_manifest.py), else parsed.

    Importing this module without the function's environment (a test, a tool) leaves it all for the first event.
    """
    try:
        deps = dependencies()
    except SettingsError as exc:
        logger.debug("transformer settings incomplete at import; dependencies are built on the first event: %s", exc)
        return
    if not isinstance(deps.builder, DbtBuilder):
        return
    try:
        seconds = deps.builder.prepare()
    except InfrastructureError as exc:  # the first event parses again and reports it through the outcome
        logger.error("dbt parse at init failed; retried on the first event", extra={"error": str(exc)[:2000]})
        return
    logger.info(
        "dbt manifest ready at init",
        extra={"seconds": round(seconds, 3), "manifest": deps.builder.manifest_origin, "parses": deps.builder.parses},
    )


initialize()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = process_batch(event, dependencies(), remaining_ms=context.get_remaining_time_in_millis)
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
    metrics.add_metric(name=Metric.DUPLICATE_OBJECT_EVENTS, unit=MetricUnit.Count, value=result.duplicates)
    if result.error is not None:
        logger.error("batch failed, every record will be retried", extra={"error": str(result.error)[:2000]})
        metrics.add_metric(name=Metric.TRANSFORM_INFRASTRUCTURE_ERRORS, unit=MetricUnit.Count, value=1)
    return result.response
