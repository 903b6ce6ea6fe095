"""The transformer, as the infrastructure builds it (services/common/spec.py): raw objects in, dbt builds, outcomes
out.

Also the transformer's operator surface: what the CLI shares with the function to run dbt and query the warehouse
as the function does (`restaurant-pipeline dbt`, `docs`, `sql --aws`, the artifact build). Outside services/
transformer/ nothing imports the service but this module (tests/unit/platform/test_layering.py), so those names are
re-exported here, lazily: importing the spec (the stack, the topology) loads no dbt, no DuckDB, no adapter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from contracts.events import TransformCompleted
from services.common.names import PROJECT, RAW_PREFIX, Metric
from services.common.spec import DashboardMetric, ObjectsCreated, ServiceSpec
from services.transformer.settings import TransformerSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from services.common.spec import PipelineConfig, StackResources, Topology
    from services.transformer.adapters.dbt_build import DbtBuilder as DbtBuilder
    from services.transformer.adapters.dbt_build import dbt_environment as dbt_environment
    from services.transformer.adapters.dbt_build import default_project_dir as default_project_dir
    from services.transformer.adapters.dbt_build import duckdb_extension_directory as duckdb_extension_directory
    from services.transformer.adapters.shipped_manifest import ARTIFACT_PROJECT_DIR as ARTIFACT_PROJECT_DIR
    from services.transformer.adapters.warehouse import AthenaWarehouse as AthenaWarehouse
    from services.transformer.domain.model import InfrastructureError as InfrastructureError

# FIFO with one message group: at most one batch in flight, so dbt runs never overlap, without the throttling (and
# spurious DLQ moves) a reserved concurrency of 1 causes.
MESSAGE_GROUP = "dbt"

# Coalesced builds (services/transformer/service.py): one transformer invocation builds every raw object waiting
# under the days of its batch, up to these caps, so a burst of files costs a handful of dbt builds. The caps keep a
# build inside the function's timeout: docs/performance.md, "Coalesced builds", has the measurement.
BUILD_MAX_OBJECTS = 1000
BUILD_MAX_MEBIBYTES = 1024
# Only versions created this recently are candidates (their claims, kept 7 days, say whether they were built).
COALESCE_WINDOW_HOURS = 24


def settings(config: PipelineConfig, topology: Topology, resources: StackResources) -> Mapping[str, object]:
    return {
        "idempotency_table_name": resources.idempotency_table,
        "dbt_target": resources.dbt_target,
        "daily_drop_warn_share": config.quality.max_daily_drop_share,
        "nlp_enabled": config.nlp.enabled,
        "build_max_objects": BUILD_MAX_OBJECTS,
        "build_max_mebibytes": BUILD_MAX_MEBIBYTES,
        "coalesce_window_hours": COALESCE_WINDOW_HOURS,
        # A final failure sets its message aside there at once (services/transformer/adapters/sqs.py): a name, not a
        # URL, so the same value serves AWS and the local stack (the function looks the URL up).
        "dead_letter_queue_name": topology.route(SPEC.name).dlq_name,
        # Where Comprehend is called: may differ from the stack's region (docs/nlp.md).
        "comprehend_region": config.comprehend_region if config.nlp.enabled else None,
        "warehouse_path": resources.warehouse_path or None,
        "athena_workgroup": resources.athena_workgroup or None,
        "athena_results_s3": resources.athena_results_s3 or None,
        "glue_database": resources.glue_database or None,
    }


SPEC = ServiceSpec(
    name="transformer",
    order=20,
    handler="services.transformer.handler:lambda_handler",
    description="validate raw objects, dbt build, publish the outcome",
    consumes=ObjectsCreated(RAW_PREFIX),
    publishes=(TransformCompleted,),
    settings_model=TransformerSettings,
    settings=settings,
    dlq_cause="a raw object failed its transform on every receive for an infrastructure reason (S3 unreachable, dbt "
    "cannot start, the warehouse locked, Athena throttled). The Transform Completed email (outcome error) names the "
    "cause and the objects.",
    timeout_seconds=lambda config: config.timeouts.transformer,
    memory_mb=2048,
    batch_size=10,
    batching_window_seconds=0,  # FIFO event sources do not support a batching window
    fifo=True,
    message_group_id=MESSAGE_GROUP,
    capabilities=(
        "transform_objects",
        "query_athena",
        "idempotency",
        "publish_events",
        "ledger",
        "retry_own_messages",
        "score_reviews",
    ),
    errors_note=" Rarely fires: the transformer reports a failed batch as batch item failures, not as a Lambda error; "
    f"{PROJECT}-transformer-infrastructure-failed is the alarm for failed transforms.",
    # dbt on Athena only: dbt-duckdb, duckdb and its httpfs extension are the local target's.
    distributions=("dbt-core", "dbt-athena-community", "vadersentiment"),
    extra_folders=("dbt",),
    host_distributions=("dbt-duckdb", "duckdb", "duckdb-ext-httpfs"),
    metrics=(
        DashboardMetric(Metric.TRANSFORM_PASSED, "transforms passed"),
        DashboardMetric(Metric.TRANSFORM_TESTS_FAILED, "transforms with failed dbt tests"),
        DashboardMetric(Metric.TRANSFORM_ERROR, "transforms in error"),
        DashboardMetric(Metric.DEAD_LETTERED_OBJECTS, "transforms failed for good (to the DLQ)"),
        DashboardMetric(Metric.QUARANTINED_LINES, "lines quarantined"),
    ),
)

# The operator surface (the module docstring): each name and the module that defines it, imported on first use.
OPERATOR_SURFACE = {
    "DbtBuilder": "services.transformer.adapters.dbt_build",  # runs `dbt build`/`docs generate`/`parse` in-process
    "dbt_environment": "services.transformer.adapters.dbt_build",  # the variables dbt/profiles.yml reads, per target
    "default_project_dir": "services.transformer.adapters.dbt_build",  # dbt/, or the artifact's dbt_project/
    "duckdb_extension_directory": "services.transformer.adapters.dbt_build",  # the offline httpfs extension
    "ARTIFACT_PROJECT_DIR": "services.transformer.adapters.shipped_manifest",  # where an artifact holds dbt/
    "AthenaWarehouse": "services.transformer.adapters.warehouse",  # `sql --aws`: a query, waited for and paged
    "InfrastructureError": "services.transformer.domain.model",  # what AthenaWarehouse raises
}


def __getattr__(name: str) -> object:
    """PEP 562: an operator-surface name, looked up in its module at each access (a test that patches it there is
    seen), so the spec's own import stays light."""
    module = OPERATOR_SURFACE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
