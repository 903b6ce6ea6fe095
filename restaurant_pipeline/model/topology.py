"""The one declarative table of routes: event pattern -> queue (+DLQ) -> service.

Both the CDK app (cdk/) and the local stack (restaurant_pipeline/local/) are built from `build_topology`,
and both hand each function the environment from `service_environment`. Nothing about routing,
retries, timeouts or concurrency is typed anywhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from contracts.envelope import BUS_NAME
from restaurant_pipeline.model.config import PipelineConfig
from services.common.names import METRICS_NAMESPACE, PROJECT, function_name
from services.common.spec import MIN_ESM_CONCURRENCY, ServiceSpec, service_spec, service_specs
from services.transformer.spec import (  # re-exported: where the platform's tests and docs look for them
    BUILD_MAX_MEBIBYTES,
    BUILD_MAX_OBJECTS,
    COALESCE_WINDOW_HOURS,
)
from services.transformer.spec import MESSAGE_GROUP as TRANSFORMER_MESSAGE_GROUP

VISIBILITY_TIMEOUT_FACTOR = 6  # AWS's advice for SQS event sources: 6 x the function timeout
# The services: one route per service spec (services/<name>/spec.py, found by services.common.spec.service_specs).
# A new service is its package (handler, settings, spec) and its contract events: nothing here names it.
ServiceName = str
SERVICES: tuple[ServiceName, ...] = tuple(spec.name for spec in service_specs())

SCHEDULE_DLQ_NAME = f"{PROJECT}-schedule-dlq"  # the schedule's own DLQ (AWS: EventBridge Scheduler's dead letters)

__all__ = [
    "BUILD_MAX_MEBIBYTES",
    "BUILD_MAX_OBJECTS",
    "COALESCE_WINDOW_HOURS",
    "MIN_ESM_CONCURRENCY",
    "SCHEDULE_DLQ_NAME",
    "SERVICES",
    "TRANSFORMER_MESSAGE_GROUP",
    "Route",
    "ServiceName",
    "StackResources",
    "Topology",
    "build_topology",
    "service_environment",
]


@dataclass(frozen=True)
class Route:
    """One service: what it listens to, how it is fed, and how it retries (from its spec)."""

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
    def spec(self) -> ServiceSpec:
        return service_spec(self.service)

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
    """The routes, one per service spec, derived from the config. `bucket` is the data bucket (its name differs per
    stack)."""
    routes = tuple(_route(spec, config, bucket) for spec in service_specs())
    collector = next(route for route in routes if route.service == "collector")
    # Fleet rule: every collector invocation that can run at once shares the project quota.
    per_invocation_rpm = max(1, math.floor(config.places.requests_per_minute / collector.max_concurrency))
    return Topology(
        bucket=bucket,
        bus_name=bus_name,
        routes=routes,
        collector_requests_per_minute=per_invocation_rpm,
        quota_requests_per_minute=config.places.requests_per_minute,
    )


def _route(spec: ServiceSpec, config: PipelineConfig, bucket: str) -> Route:
    return Route(
        service=spec.name,
        handler=spec.handler,
        bus=spec.bus,
        event_pattern=spec.event_pattern(bucket),
        timeout_seconds=spec.timeout_seconds(config),
        memory_mb=spec.memory_mb,
        batch_size=spec.batch_size,
        batching_window_seconds=spec.batching_window_seconds,
        max_concurrency=spec.max_concurrency,
        max_receive_count=config.retries.max_receive_count,
        fifo=spec.fifo,
        message_group_id=spec.message_group_id,
        description=spec.description,
        ephemeral_storage_mb=spec.ephemeral_storage_mb,
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
    """The environment variables of every function, the same keys on AWS and locally: each service's settings model
    (its spec's) dumped by alias, so a key is typed once, in the settings model."""
    return {route.service: _environment(route.spec, config, topology, resources) for route in topology.routes}


def _environment(
    spec: ServiceSpec, config: PipelineConfig, topology: Topology, resources: StackResources
) -> dict[str, str]:
    common: dict[str, object] = {
        "powertools_metrics_namespace": METRICS_NAMESPACE,
        "powertools_log_level": "INFO",
        "event_bus_name": resources.bus_name,
        "bucket_name": resources.bucket,
        "ledger_table_name": resources.ledger_table,
        "log_location": resources.log_location,
        "max_receive_count": config.retries.max_receive_count,
        "aws_endpoint_url": resources.endpoint_url or None,
        "powertools_service_name": spec.name,
    }
    return spec.settings_model.environment_of({**common, **spec.settings(config, topology, resources)})
