"""The collector, as the infrastructure builds it (services/common/spec.py): Collection Requested in, raw/places/
out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.events import CollectionCompleted, CollectionFailed, CollectionRequested
from services.collector.settings import CollectorSettings
from services.common.names import Metric
from services.common.spec import DashboardMetric, ServiceSpec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from services.common.spec import PipelineConfig, StackResources, Topology


def settings(config: PipelineConfig, topology: Topology, resources: StackResources) -> Mapping[str, object]:
    return {
        "places_api_base_url": resources.places_api_base_url,
        "query_template": config.places.query,
        "language": config.places.language,
        "field_mask": ",".join(config.effective_field_mask),
        # Fleet rule: every collector invocation that can run at once shares the project quota (topology).
        "requests_per_minute": topology.collector_requests_per_minute,
        "default_max_restaurants": config.collection.max_restaurants,
        "city_overrides": {
            city.name: overrides
            for city in config.collection.cities
            if (overrides := city.model_dump(exclude={"name"}, exclude_none=True))
        },
        "cities": config.collection.city_names,
        "places_api_key_secret_arn": resources.places_api_key_secret_arn,
    }


SPEC = ServiceSpec(
    name="collector",
    order=10,
    handler="services.collector.handler:lambda_handler",
    description="Places API (New) -> raw/places/ in S3",
    consumes=(CollectionRequested,),
    publishes=(CollectionCompleted, CollectionFailed),
    settings_model=CollectorSettings,
    settings=settings,
    dlq_cause="a collection request failed on every receive (the Places API unavailable or timing out, the bus "
    "refusing events). The run's failure email names the cause.",
    timeout_seconds=lambda config: config.timeouts.collector,
    memory_mb=512,
    batch_size=1,  # one run per invocation: its own time budget and its own retry
    batching_window_seconds=0,
    capabilities=("read_places_key", "write_raw", "publish_events", "ledger"),
    distributions=("aiohttp",),
    metrics=(
        DashboardMetric(Metric.PLACES_COLLECTED, "places collected"),
        DashboardMetric(Metric.COLLECTION_FAILURES, "cities failed"),
    ),
)
