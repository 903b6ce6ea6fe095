"""The one declarative table of routes: event pattern -> queue (+DLQ) -> service.

Both the CDK app (cdk/) and the local stack (restaurant_pipeline/local/) are built from `build_topology`,
and both hand each function the environment from `service_environment`. Nothing about routing,
retries, timeouts or concurrency is typed anywhere else.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from contracts.envelope import BUS_NAME
from contracts.events import (
    CollectionFailed,
    CollectionRequested,
    TransformCompleted,
)
from restaurant_pipeline.config import PipelineConfig
from services.common.names import METRICS_NAMESPACE, PROJECT, RAW_PREFIX, function_name

VISIBILITY_TIMEOUT_FACTOR = 6  # AWS's advice for SQS event sources: 6 x the function timeout
# Lambda's SQS event source mapping cannot go below 2 concurrent invocations.
# The services: one route each below (build_topology). A new service is a package under services/, a route here,
# its contract, its artifact (restaurant_pipeline/artifacts/specs.py) and its construct (cdk/constructs/service.py).
ServiceName = Literal["collector", "transformer", "notifier"]
SERVICES: tuple[ServiceName, ...] = get_args(ServiceName)

MIN_ESM_CONCURRENCY = 2
TRANSFORMER_MESSAGE_GROUP = "dbt"
SCHEDULE_DLQ_NAME = f"{PROJECT}-schedule-dlq"  # the schedule's own DLQ (AWS: EventBridge Scheduler's dead letters)

# Coalesced builds (services/transformer/service.py): one transformer invocation builds every raw object waiting
# under the days of its batch, up to these caps, so a burst of files costs a handful of dbt builds. The caps keep a
# build inside the function's timeout: docs/performance.md, "Coalesced builds", has the measurement.
BUILD_MAX_OBJECTS = 1000
BUILD_MAX_MEBIBYTES = 1024
# Only versions created this recently are candidates (their claims, kept 7 days, say whether they were built).
COALESCE_WINDOW_HOURS = 24


@dataclass(frozen=True)
class Route:
    """One service: what it listens to, how it is fed, and how it retries."""

    service: ServiceName
    handler: str  # "module:function", importable inside the function's artifact
    bus: Literal["custom", "default"]  # custom = the pipeline bus; default = where S3 sends its events
    event_pattern: dict[str, Any]
    timeout_seconds: int
    memory_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    max_receive_count: int
    fifo: bool = False
    message_group_id: str | None = None
    description: str = ""
    # /tmp, the only writable place of a Lambda function: 512 MB unless configured (up to 10,240).
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html
    ephemeral_storage_mb: int = 512

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.timeout_seconds

    @property
    def lambda_handler(self) -> str:
        """Lambda's form of the handler (the function's `_HANDLER`): 'package.module.function'."""
        module, sep, function = self.handler.partition(":")
        if not sep or not module or not function:
            raise ValueError(f"handler {self.handler!r} must look like 'package.module:function'")
        return f"{module}.{function}"

    @property
    def function_name(self) -> str:
        return function_name(self.service)

    @property
    def queue_name(self) -> str:
        return f"{PROJECT}-{self.service}" + (".fifo" if self.fifo else "")

    @property
    def dlq_name(self) -> str:
        return f"{PROJECT}-{self.service}-dlq" + (".fifo" if self.fifo else "")

    @property
    def rule_dlq_name(self) -> str:
        """Where EventBridge puts an event it could not deliver to the queue (always a standard queue)."""
        return f"{PROJECT}-{self.service}-rule-dlq"

    @property
    def rule_name(self) -> str:
        return f"{PROJECT}-to-{self.service}"


@dataclass(frozen=True)
class Topology:
    bucket: str
    bus_name: str
    routes: tuple[Route, ...]
    collector_requests_per_minute: int  # per invocation: quota / collector max concurrency
    quota_requests_per_minute: int

    def route(self, service: str) -> Route:
        for route in self.routes:
            if route.service == service:
                return route
        raise KeyError(f"unknown service {service!r}; known: {', '.join(r.service for r in self.routes)}")


def build_topology(config: PipelineConfig, bucket: str, bus_name: str = BUS_NAME) -> Topology:
    """The routes, derived from the config. `bucket` is the data bucket (its name differs per stack)."""
    receives = config.retries.max_receive_count
    collector_concurrency = MIN_ESM_CONCURRENCY
    # Fleet rule: every collector invocation that can run at once shares the project quota.
    per_invocation_rpm = max(1, math.floor(config.places.requests_per_minute / collector_concurrency))
    routes = (
        Route(
            service="collector",
            handler="services.collector.handler:lambda_handler",
            bus="custom",
            event_pattern={
                "source": list(CollectionRequested.SOURCES),
                "detail-type": [CollectionRequested.DETAIL_TYPE],
            },
            timeout_seconds=config.timeouts.collector,
            memory_mb=512,
            batch_size=1,  # one run per invocation: its own time budget and its own retry
            batching_window_seconds=0,
            max_concurrency=collector_concurrency,
            max_receive_count=receives,
            description="Places API (New) -> raw/places/ in S3",
        ),
        Route(
            service="transformer",
            handler="services.transformer.handler:lambda_handler",
            bus="default",
            event_pattern={
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": RAW_PREFIX}]}},
            },
            timeout_seconds=config.timeouts.transformer,
            memory_mb=2048,
            # FIFO with one message group: at most one batch in flight, so dbt runs never overlap,
            # without the throttling (and spurious DLQ moves) a reserved concurrency of 1 causes.
            batch_size=10,
            batching_window_seconds=0,  # FIFO event sources do not support a batching window
            max_concurrency=MIN_ESM_CONCURRENCY,
            max_receive_count=receives,
            fifo=True,
            message_group_id=TRANSFORMER_MESSAGE_GROUP,
            description="validate raw objects, dbt build, publish the outcome",
        ),
        Route(
            service="notifier",
            handler="services.notifier.handler:lambda_handler",
            bus="custom",
            event_pattern={
                "source": [*TransformCompleted.SOURCES, *CollectionFailed.SOURCES],
                "detail-type": [TransformCompleted.DETAIL_TYPE, CollectionFailed.DETAIL_TYPE],
            },
            timeout_seconds=config.timeouts.notifier,
            memory_mb=256,
            batch_size=10,
            batching_window_seconds=1,
            max_concurrency=MIN_ESM_CONCURRENCY,
            max_receive_count=receives,
            description="one email per run outcome, through SNS",
        ),
    )
    return Topology(
        bucket=bucket,
        bus_name=bus_name,
        routes=routes,
        collector_requests_per_minute=per_invocation_rpm,
        quota_requests_per_minute=config.places.requests_per_minute,
    )


@dataclass(frozen=True)
class StackResources:
    """Concrete names of one deployment (CDK passes tokens, the local stack passes strings)."""

    bucket: str
    bus_name: str
    topic_arn: str
    idempotency_table: str
    ledger_table: str
    places_api_base_url: str = "https://places.googleapis.com"
    places_api_key_secret_arn: str | None = None  # AWS
    dbt_target: Literal["athena", "local"] = "athena"
    warehouse_path: str | None = None  # local DuckDB file
    athena_workgroup: str | None = None
    athena_results_s3: str | None = None
    glue_database: str | None = None
    log_location: str = ""  # where a person reads the logs: console URL prefix or local folder
    endpoint_url: str | None = None  # local AWS


def service_environment(
    config: PipelineConfig, topology: Topology, resources: StackResources
) -> dict[ServiceName, dict[str, str]]:
    """The environment variables of every function. The same keys on AWS and locally."""
    common = {
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "EVENT_BUS_NAME": resources.bus_name,
        "BUCKET_NAME": resources.bucket,
        "LEDGER_TABLE_NAME": resources.ledger_table,
        "LOG_LOCATION": resources.log_location,
        "MAX_RECEIVE_COUNT": str(config.retries.max_receive_count),
    }
    if resources.endpoint_url:
        common["AWS_ENDPOINT_URL"] = resources.endpoint_url
    collector = {
        **common,
        "POWERTOOLS_SERVICE_NAME": "collector",
        "PLACES_API_BASE_URL": resources.places_api_base_url,
        "PLACES_QUERY_TEMPLATE": config.places.query,
        "PLACES_LANGUAGE": config.places.language,
        "PLACES_FIELD_MASK": ",".join(config.effective_field_mask),
        "PLACES_REQUESTS_PER_MINUTE": str(topology.collector_requests_per_minute),
        "DEFAULT_MAX_RESTAURANTS": str(config.collection.max_restaurants),
        "CITY_OVERRIDES": _city_overrides(config),
        "COLLECTION_CITIES": json.dumps(config.collection.city_names),
    }
    if resources.places_api_key_secret_arn:
        collector["PLACES_API_KEY_SECRET_ARN"] = resources.places_api_key_secret_arn
    transformer = {
        **common,
        "POWERTOOLS_SERVICE_NAME": "transformer",
        "IDEMPOTENCY_TABLE_NAME": resources.idempotency_table,
        "DBT_TARGET": resources.dbt_target,
        "DAILY_DROP_WARN_SHARE": str(config.quality.max_daily_drop_share),
        "NLP_ENABLED": "true" if config.nlp.enabled else "false",
        "BUILD_MAX_OBJECTS": str(BUILD_MAX_OBJECTS),
        "BUILD_MAX_MEBIBYTES": str(BUILD_MAX_MEBIBYTES),
        "COALESCE_WINDOW_HOURS": str(COALESCE_WINDOW_HOURS),
        # A final failure sets its message aside there at once (services/transformer/adapters/sqs.py): a name, not a
        # URL, so the same value serves AWS and the local stack (the function looks the URL up).
        "DEAD_LETTER_QUEUE_NAME": topology.route("transformer").dlq_name,
    }
    if config.nlp.enabled:
        transformer["COMPREHEND_REGION"] = config.comprehend_region  # may differ from the stack's (docs/nlp.md)
    for key, value in (
        ("WAREHOUSE_PATH", resources.warehouse_path),
        ("ATHENA_WORKGROUP", resources.athena_workgroup),
        ("ATHENA_RESULTS_S3", resources.athena_results_s3),
        ("GLUE_DATABASE", resources.glue_database),
    ):
        if value:
            transformer[key] = value
    notifier = {
        **common,
        "POWERTOOLS_SERVICE_NAME": "notifier",
        "TOPIC_ARN": resources.topic_arn,
        "IDEMPOTENCY_TABLE_NAME": resources.idempotency_table,
        "REPEAT_FAILURE_WINDOW_MINUTES": str(config.notifications.repeat_failure_window_minutes),
    }
    return {"collector": collector, "transformer": transformer, "notifier": notifier}


def _city_overrides(config: PipelineConfig) -> str:
    overrides = {
        city.name: city.model_dump(exclude={"name"}, exclude_none=True)
        for city in config.collection.cities
        if city.model_dump(exclude={"name"}, exclude_none=True)
    }
    return json.dumps(overrides, sort_keys=True)
