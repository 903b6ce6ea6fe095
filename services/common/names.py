"""Names that several artifacts and the infrastructure share, declared once (every Lambda artifact ships this).

The services, the CDK stack, the local stack, the artifact builder and the CLI import them; none retypes them.
(The bus name is part of the events' contract: contracts.envelope.BUS_NAME.)
"""

from __future__ import annotations

from enum import StrEnum

PROJECT = "restaurant-pipeline"

# The data bucket's layout.
RAW_PREFIX = "raw/places/"  # what the collector lands and people drop: an object created here starts the transformer
VALIDATED_PREFIX = "validated/places/"  # the transformer's validated copy of each raw object: what the warehouses read
QUARANTINE_PREFIX = "quarantine/"  # lines and objects that could not be read, with the reason
ENRICHED_PREFIX = "enriched/reviews/"  # the NLP stage's scored reviews
WAREHOUSE_PREFIX = "warehouse/"  # Athena's Iceberg tables (dbt/profiles.yml s3_data_dir; a test ties the two)
ATHENA_RESULTS_PREFIX = "athena-results/"

# The Glue database dbt-athena builds in, and the Athena work group its queries run in (a deployment's names).
GLUE_DATABASE = "restaurant_pipeline"
ATHENA_WORKGROUP = PROJECT
# dbt keeps failing test rows (store_failures, dbt/dbt_project.yml) in "<target schema>_dbt_test__audit". The stack
# creates it (and deletes it, with its views, when the stack goes), so dbt finds it and never runs CREATE SCHEMA.
GLUE_AUDIT_DATABASE = f"{GLUE_DATABASE}_dbt_test__audit"


def function_name(service: str) -> str:
    """The Lambda function of a service, on AWS and in the local stack."""
    return f"{PROJECT}-{service}"


def log_group_name(service: str) -> str:
    """Where Lambda writes a function's logs (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html)."""
    return f"/aws/lambda/{function_name(service)}"


METRICS_NAMESPACE = "RestaurantPipeline"
# AWS's own metrics that the alarms read (restaurant_pipeline/model/alarms.py); the local stack writes the Lambda
# ones itself.
SQS_NAMESPACE = "AWS/SQS"
QUEUE_DEPTH = "ApproximateNumberOfMessagesVisible"  # messages available for retrieval
LAMBDA_NAMESPACE = "AWS/Lambda"
FUNCTION_INVOCATIONS = "Invocations"
FUNCTION_ERRORS = "Errors"  # invocations that failed as a whole (an exception, a timeout); not batch item failures


class Metric(StrEnum):
    """Every metric a service emits (Powertools Metrics, dimension `service`); the dashboard and alarms read them."""

    # collector
    PLACES_COLLECTED = "PlacesCollected"
    PLACES_REQUESTS = "PlacesRequests"
    RETRIES = "Retries"
    THROTTLED_429 = "Throttled429"
    COLLECTION_FAILURES = "CollectionFailures"
    # transformer: one of the three per transform, by its outcome
    TRANSFORM_PASSED = "Transform_passed"
    TRANSFORM_TESTS_FAILED = "Transform_tests_failed"
    TRANSFORM_ERROR = "Transform_error"
    QUARANTINED_LINES = "QuarantinedLines"
    DUPLICATE_OBJECT_EVENTS = "DuplicateObjectEvents"
    TRANSFORM_INFRASTRUCTURE_ERRORS = "TransformInfrastructureErrors"  # every failed attempt, retried or not
    COALESCED_OBJECTS = "CoalescedObjects"  # built ahead of their own message (coalesced builds)
    # objects of a batch that failed on its final receive, announced as errors (their messages go to the DLQ next)
    DEAD_LETTERED_OBJECTS = "DeadLetteredObjects"
    # notifier
    EMAILS_SENT = "EmailsSent"
    REPEAT_SUMMARIES_SENT = "RepeatSummariesSent"
    DUPLICATE_EMAILS_SKIPPED = "DuplicateEmailsSkipped"
    RUNS_WAITING_FOR_CITIES = "RunsWaitingForCities"
    RETRYABLE_FAILURES_IGNORED = "RetryableFailuresIgnored"
    MALFORMED_MESSAGES = "MalformedMessages"  # every service: a message its contract rejects (logged with why)
    NOTIFICATION_FAILURES = "NotificationFailures"
    EVENTS_REFUSED = "EventsRefused"  # events whose run the ledger does not know: never mailed
    # every service
    LEDGER_WRITE_FAILURES = "LedgerWriteFailures"


TRANSFORM_OUTCOME_METRICS: dict[str, Metric] = {
    "passed": Metric.TRANSFORM_PASSED,
    "tests_failed": Metric.TRANSFORM_TESTS_FAILED,
    "error": Metric.TRANSFORM_ERROR,
}
