"""The collector's composition root: every adapter, built from the settings and boto3 clients, in one place.

handler.py calls `bootstrap()` once per execution environment (its `app()`, cached); the integration tests call it
with their environment, and their moto clients when they hold some. Nothing is built at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.collector.adapters.s3 import RawStore
from services.collector.adapters.secrets import PlacesApiKey
from services.collector.adapters.spool import PlaceSpool
from services.collector.service import CollectorDeps
from services.collector.settings import CollectorSettings
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.common.bootstrap import Clients, MetricSink, client_source, counting
from services.common.names import Metric


@dataclass(frozen=True)
class CollectorApp:
    """What the handler calls: the use case's dependencies (service.process_request, service.request_run)."""

    settings: CollectorSettings
    deps: CollectorDeps


def bootstrap(
    settings: CollectorSettings | None = None, clients: Clients | None = None, metric: MetricSink | None = None
) -> CollectorApp:
    """Every adapter, from `settings` (default: the function's environment) and `clients` (default: boto3's)."""
    settings = settings or CollectorSettings.from_env()
    client = client_source(clients)
    count = counting(metric)
    deps = CollectorDeps(
        settings=settings,
        store=RawStore(client("s3"), settings.bucket_name),
        publisher=EventPublisher(client("events"), settings.event_bus_name),
        ledger=RunLedger(
            client("dynamodb"),
            settings.ledger_table_name,
            on_failure=lambda exc: count(Metric.LEDGER_WRITE_FAILURES, 1),
        ),
        api_key=PlacesApiKey(settings),
        spool=PlaceSpool,
        metric=count,
    )
    return CollectorApp(settings, deps)
