"""Names of the stack and its outputs: shared by the CDK stack and restaurant_pipeline.deploy (no CDK import)."""

from __future__ import annotations

from restaurant_pipeline.model.topology import SERVICES
from services.common.names import PROJECT

STACK_NAME = PROJECT

# Output keys read by restaurant_pipeline.deploy.stack_outputs (and the CLI's --aws mode).
OUTPUT_REGION = "Region"
OUTPUT_BUCKET = "BucketName"
OUTPUT_ACCESS_LOGS_BUCKET = "AccessLogsBucketName"
OUTPUT_BUS = "EventBusName"
OUTPUT_TOPIC = "TopicArn"
OUTPUT_IDEMPOTENCY_TABLE = "IdempotencyTableName"
OUTPUT_LEDGER_TABLE = "LedgerTableName"
OUTPUT_SECRET = "PlacesApiKeySecretArn"
OUTPUT_WORKGROUP = "AthenaWorkGroup"
OUTPUT_RESULTS = "AthenaResultsS3"
OUTPUT_GLUE_DATABASE = "GlueDatabase"
OUTPUT_SCHEDULE = "ScheduleName"
OUTPUT_SCHEDULE_DLQ = "ScheduleDlqUrl"
OUTPUT_DASHBOARD = "DashboardName"  # only when config.aws.dashboard is true
OUTPUT_EMAIL = "NotificationEmail"  # only when an address is subscribed: `deploy` keeps it when given none
# The schedule's state is a template parameter: DISABLED until `deploy` has stored the Places API key (the secret is
# created empty), so the schedule never fires a run with no key.
SCHEDULE_STATE_PARAMETER = "ScheduleState"
SCHEDULE_STATES = ("ENABLED", "DISABLED")
SERVICE_OUTPUT_SUFFIXES = ("QueueUrl", "DlqUrl", "RuleDlqUrl", "FunctionName", "LogGroupName")


def output_key(service: str, suffix: str) -> str:
    """e.g. output_key("collector", "QueueUrl") -> "CollectorQueueUrl"."""
    if suffix not in SERVICE_OUTPUT_SUFFIXES:
        raise ValueError(f"unknown service output {suffix!r}; known: {', '.join(SERVICE_OUTPUT_SUFFIXES)}")
    return f"{service.capitalize()}{suffix}"


REQUIRED_OUTPUTS: tuple[str, ...] = (
    OUTPUT_REGION,
    OUTPUT_BUCKET,
    OUTPUT_ACCESS_LOGS_BUCKET,
    OUTPUT_BUS,
    OUTPUT_TOPIC,
    OUTPUT_IDEMPOTENCY_TABLE,
    OUTPUT_LEDGER_TABLE,
    OUTPUT_SECRET,
    OUTPUT_WORKGROUP,
    OUTPUT_RESULTS,
    OUTPUT_GLUE_DATABASE,
    OUTPUT_SCHEDULE,
    OUTPUT_SCHEDULE_DLQ,
    *(output_key(service, suffix) for service in SERVICES for suffix in SERVICE_OUTPUT_SUFFIXES),
)
