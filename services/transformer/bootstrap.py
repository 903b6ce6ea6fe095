"""The transformer's composition root: every adapter, built from the settings and boto3 clients, in one place.

handler.py calls `bootstrap()` once per execution environment (its `app()`, cached) and, at import when the
function's environment is complete, `TransformerApp.prepare()`: the dbt manifest is loaded in Lambda's INIT phase, not
on the first event (handler.py says why). Tests call it with their settings and clients. Nothing is built at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.bootstrap import Clients, MetricSink, client_source, counting
from services.common.names import Metric
from services.transformer.adapters.analyzers import make_analyzer
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.reviews import DbtReviewStaging, S3ScoreStore
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.sqs import SqsMessageQueue
from services.transformer.adapters.warehouse import AthenaWarehouse, DuckDBWarehouse
from services.transformer.domain.sentiment import ScoringBuilder
from services.transformer.ports import Builder
from services.transformer.service import Coalescing, TransformerDeps
from services.transformer.settings import TransformerSettings


@dataclass(frozen=True)
class TransformerApp:
    """What the handler calls: the use case's dependencies (service.process_batch), and the dbt adapter itself (the
    builder may wrap it) so that its manifest can be loaded ahead of the first event."""

    settings: TransformerSettings
    deps: TransformerDeps
    dbt: DbtBuilder

    def prepare(self) -> float:
        """Load the dbt manifest now (the one shipped in the artifact when it matches, else parsed:
        adapters/shipped_manifest.py); the seconds it took. InfrastructureError if the parse fails."""
        return self.dbt.prepare()


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


def bootstrap(
    settings: TransformerSettings | None = None, clients: Clients | None = None, metric: MetricSink | None = None
) -> TransformerApp:
    """Every adapter, from `settings` (default: the function's environment) and `clients` (default: boto3's)."""
    config = settings or TransformerSettings.from_env()
    client = client_source(clients)
    count = counting(metric)
    dbt = dbt_builder(config)
    if config.dbt_target == "local":
        warehouse: DuckDBWarehouse | AthenaWarehouse = DuckDBWarehouse(str(config.warehouse_path))
    else:
        warehouse = AthenaWarehouse(
            client("athena"),
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
            store=S3ScoreStore(client("s3"), config.bucket_name),
            analyzer=make_analyzer(config.sentiment_analyzer, comprehend_region=config.comprehend_region),
        )
    ledger = RunLedger(
        client("dynamodb"), config.ledger_table_name, on_failure=lambda exc: count(Metric.LEDGER_WRITE_FAILURES, 1)
    )
    deps = TransformerDeps(
        store=S3ObjectStore(client("s3"), config.bucket_name),
        builder=builder,
        marts=marts,
        claims=ObjectClaims(client("dynamodb"), config.idempotency_table_name),
        publisher=EventPublisher(client("events"), config.event_bus_name),
        ledger=ledger,
        runs=ledger,
        coalescing=Coalescing(
            max_objects=config.build_max_objects,
            max_bytes=config.build_max_mebibytes * 1024 * 1024,
            window=timedelta(hours=config.coalesce_window_hours),
        ),
        max_receive_count=config.max_receive_count,
        queue=SqsMessageQueue(client("sqs"), config.dead_letter_queue_name),
        retry_backoff_seconds=config.retry_backoff_seconds,
    )
    return TransformerApp(config, deps, dbt)
