"""The notifier's composition root: every adapter, built from the settings and boto3 clients, in one place.

handler.py calls `bootstrap()` once per execution environment (its `app()`, cached); the integration tests call it
with their settings and moto clients, one call per execution environment they play. Nothing is built at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.adapters.ledger import RunLedger
from services.common.bootstrap import Clients, MetricSink, client_source, counting
from services.common.names import Metric
from services.notifier.adapters.dynamodb import (
    OnceOnlyEmailSender,
    RepeatFailureStore,
    RunOutcomeStore,
    UndeliveredNotifications,
)
from services.notifier.adapters.sns import DeliveryTrackingSender, SnsEmailSender
from services.notifier.service import Notifier
from services.notifier.settings import NotifierSettings


@dataclass(frozen=True)
class NotifierApp:
    """What the handler calls: the use case (Notifier.notify) and its idempotent sender, which the handler hands
    each invocation's Lambda context (Powertools idempotency needs the remaining time)."""

    settings: NotifierSettings
    notifier: Notifier
    once: OnceOnlyEmailSender


def bootstrap(
    settings: NotifierSettings | None = None, clients: Clients | None = None, metric: MetricSink | None = None
) -> NotifierApp:
    """Every adapter, from `settings` (default: the function's environment) and `clients` (default: boto3's)."""
    settings = settings or NotifierSettings.from_env()
    client = client_source(clients)
    count = counting(metric)
    sns, dynamodb = client("sns"), client("dynamodb")  # one of each, shared by the adapters, as before
    sender = DeliveryTrackingSender(
        SnsEmailSender(sns, settings.topic_arn),
        UndeliveredNotifications(dynamodb, settings.idempotency_table_name),
    )
    once = OnceOnlyEmailSender(sender, dynamodb, settings.idempotency_table_name)
    notifier = Notifier(
        outcomes=RunOutcomeStore(dynamodb, settings.ledger_table_name),
        repeats=RepeatFailureStore(dynamodb, settings.idempotency_table_name),
        email=once,
        ledger=RunLedger(
            dynamodb, settings.ledger_table_name, on_failure=lambda exc: count(Metric.LEDGER_WRITE_FAILURES, 1)
        ),
        log_location=settings.log_location,
        max_receive_count=settings.max_receive_count,
        repeat_window=settings.repeat_failure_window,
    )
    return NotifierApp(settings, notifier, once)
