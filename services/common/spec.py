"""What one service is, declared once beside its code: `services/<name>/spec.py` holds its `SPEC`.

Everything the infrastructure knows about a service is read from its spec, never retyped: the topology's route
(restaurant_pipeline/model/topology.py), the function's environment (its settings model dumped by alias, so a key is
typed once, in the settings model), its dead-letter alarm (restaurant_pipeline/model/alarms.py), its CDK construct, the
bus's source policy and the dashboard rows (cdk/), its artifact (restaurant_pipeline/artifacts/specs.py) and the local
stack. A new service is its package (handler, settings, spec) and the contract events it consumes and publishes;
`service_specs` finds it.

Plain data: no CDK or boto3 import (the local stack and the artifact builder read specs too).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from contracts.envelope import Event
from services.common.settings import ServiceSettings

# What a spec's settings and timeout are computed from: restaurant_pipeline.model.config.PipelineConfig,
# restaurant_pipeline.model.topology.Topology and StackResources. Named here, not imported: services never import the
# platform, not even for types (the artifacts ship services/ without it; tests/unit/platform/test_dependencies.py).
PipelineConfig = Any
Topology = Any
StackResources = Any

# Lambda's SQS event source mapping cannot go below 2 concurrent invocations.
# MaximumConcurrency: "Minimum value of 2" (https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html).
MIN_ESM_CONCURRENCY = 2

# What a service's role may do beyond its queue, its logs and tracing. The CDK construct maps each name to its grants
# (cdk/constructs/service.py, CAPABILITY_GRANTS), in the order a spec lists them.
Capability = Literal[
    "read_places_key",  # the Places API key's secret
    "write_raw",  # put (and read back) raw/places/ objects, list under raw/
    "transform_objects",  # read every object, write derived ones, list raw versions; no raw writes
    "query_athena",  # Athena in the pipeline's work group over its Glue databases (dbt)
    "idempotency",  # the idempotency table
    "publish_events",  # PutEvents on the pipeline bus: what `publishes` declares
    "ledger",  # the run ledger
    "retry_own_messages",  # change its messages' visibility, set final failures aside in its DLQ
    "score_reviews",  # Comprehend, when [nlp] is enabled
    "send_notifications",  # publish to the encrypted notification topic
    "deny_raw_writes",  # an explicit deny of s3:PutObject on raw/
]

# A spec's settings: the values of its settings model's fields, by field name, from the deployment's config, topology
# and concrete resource names. The keys every function gets (ServiceSettings's) are added by the topology.
SettingsValues = Callable[[PipelineConfig, Topology, StackResources], Mapping[str, object]]


@dataclass(frozen=True)
class ObjectsCreated:
    """S3's Object Created events for keys under `prefix` of the data bucket, which S3 sends to the default bus.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html"""

    prefix: str

    def pattern(self, bucket: str) -> dict[str, Any]:
        return {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": self.prefix}]}},
        }


@dataclass(frozen=True)
class DashboardMetric:
    """One of the service's metrics (Powertools Metrics, dimension `service`) as a dashboard row shows it."""

    metric: str
    label: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    order: int  # where it stands in the pipeline: routes, constructs and dashboard rows follow this order
    handler: str  # "package.module:function", importable inside the function's artifact
    description: str
    consumes: tuple[type[Event], ...] | ObjectsCreated  # its rule's event pattern
    publishes: tuple[type[Event], ...]  # their SOURCES are what only its role may put on the bus
    settings_model: type[ServiceSettings]
    settings: SettingsValues
    dlq_cause: str  # why a message ends in its dead-letter queue, in the words an operator needs
    timeout_seconds: Callable[[PipelineConfig], int]
    memory_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int = MIN_ESM_CONCURRENCY
    fifo: bool = False
    message_group_id: str | None = None
    # /tmp, the only writable place of a Lambda function: 512 MB unless configured (up to 10,240).
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html
    ephemeral_storage_mb: int = 512
    capabilities: tuple[Capability, ...] = ()
    only_its_rule_sends: bool = False  # its queue denies every sender but its own rule (cdk/stack.py)
    errors_note: str = ""  # added to its function-errors alarm
    # Its artifact: distributions beyond the common ones, project folders beyond contracts/ and services/common/, and
    # what stands in on the host for an AWS service it uses (restaurant_pipeline/artifacts/specs.py).
    distributions: tuple[str, ...] = ()
    extra_folders: tuple[str, ...] = ()
    host_distributions: tuple[str, ...] = ()
    metrics: tuple[DashboardMetric, ...] = ()

    def __post_init__(self) -> None:
        module, sep, function = self.handler.partition(":")
        if not sep or not module or not function:
            raise ValueError(f"{self.name}: handler {self.handler!r} must look like 'package.module:function'")
        if bool(self.publishes) != ("publish_events" in self.capabilities):
            raise ValueError(
                f"{self.name}: a service that publishes events needs the capability 'publish_events', and only one "
                "that publishes has it; declare both or neither"
            )
        if self.fifo and self.batching_window_seconds:
            raise ValueError(f"{self.name}: FIFO event sources do not support a batching window; set it to 0")
        if self.max_concurrency < MIN_ESM_CONCURRENCY:
            raise ValueError(f"{self.name}: max_concurrency is at least {MIN_ESM_CONCURRENCY} (Lambda's minimum)")

    @property
    def bus(self) -> Literal["custom", "default"]:
        """custom = the pipeline bus; default = where S3 sends its events."""
        return "default" if isinstance(self.consumes, ObjectsCreated) else "custom"

    def event_pattern(self, bucket: str) -> dict[str, Any]:
        if isinstance(self.consumes, ObjectsCreated):
            return self.consumes.pattern(bucket)
        return {
            "source": _unique(source for event in self.consumes for source in event.SOURCES),
            "detail-type": _unique(event.DETAIL_TYPE for event in self.consumes),
        }

    @property
    def published_sources(self) -> tuple[str, ...]:
        return tuple(_unique(source for event in self.publishes for source in event.SOURCES))


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


@cache
def service_specs() -> tuple[ServiceSpec, ...]:
    """Every service package's SPEC (services/<name>/spec.py), in their declared order."""
    import services

    specs = []
    for module in pkgutil.iter_modules(services.__path__):
        name = f"services.{module.name}.spec"
        if not module.ispkg or name == __name__ or importlib.util.find_spec(name) is None:
            continue
        spec = getattr(importlib.import_module(name), "SPEC", None)
        if not isinstance(spec, ServiceSpec) or spec.name != module.name:
            raise TypeError(f"{name} must define SPEC = ServiceSpec(name={module.name!r}, ...)")
        specs.append(spec)
    orders = [spec.order for spec in specs]
    if len(set(orders)) != len(orders):
        raise ValueError(f"service specs need distinct `order` values: {sorted(orders)}")
    return tuple(sorted(specs, key=lambda spec: spec.order))


def service_spec(name: str) -> ServiceSpec:
    for spec in service_specs():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}; known: {', '.join(spec.name for spec in service_specs())}")
