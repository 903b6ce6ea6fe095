"""The notifier, as the infrastructure builds it (services/common/spec.py): run outcomes in, one email each out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.events import CollectionFailed, TransformCompleted
from services.common.names import Metric
from services.common.spec import DashboardMetric, ServiceSpec
from services.notifier.settings import NotifierSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from services.common.spec import PipelineConfig, StackResources, Topology


def settings(config: PipelineConfig, topology: Topology, resources: StackResources) -> Mapping[str, object]:
    return {
        "topic_arn": resources.topic_arn,
        "idempotency_table_name": resources.idempotency_table,
        "repeat_failure_window_minutes": config.notifications.repeat_failure_window_minutes,
    }


SPEC = ServiceSpec(
    name="notifier",
    order=30,
    handler="services.notifier.handler:lambda_handler",
    description="one email per run outcome, through SNS",
    consumes=(TransformCompleted, CollectionFailed),
    publishes=(),
    settings_model=NotifierSettings,
    settings=settings,
    dlq_cause="a notification could not be published on every receive (the SNS topic missing, its KMS key or the "
    "notifier's permissions broken), or a message is malformed. Once SNS works again the replayed email says which "
    "notification was late.",
    timeout_seconds=lambda config: config.timeouts.notifier,
    memory_mb=256,
    batch_size=10,
    batching_window_seconds=1,
    capabilities=("send_notifications", "idempotency", "ledger", "deny_raw_writes"),
    # A message put on its queue directly would be an email: only its rule sends (cdk/stack.py).
    only_its_rule_sends=True,
    metrics=(
        DashboardMetric(Metric.EMAILS_SENT, "emails sent"),
        DashboardMetric(Metric.NOTIFICATION_FAILURES, "emails failed"),
        DashboardMetric(Metric.EVENTS_REFUSED, "events refused (run unknown to the ledger)"),
    ),
)
