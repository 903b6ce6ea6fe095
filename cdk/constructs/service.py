"""One construct per service, all built from its topology Route: rule -> queue (+DLQ) -> function.

`PipelineService` holds what every service has; the capabilities its spec lists (services/<name>/spec.py) add only
the permissions its adapters need, each scoped to concrete ARNs (CAPABILITY_GRANTS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.nag import acknowledge, wildcard_finding
from cdk.constructs.shared import RAW_DELETE_ACTIONS, SharedResources
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import Route
from services.common.names import RAW_PREFIX, log_group_name
from services.common.spec import Capability

# Queue retention: long enough to notice and replay over a long weekend.
MESSAGE_RETENTION = Duration.days(14)
RULE_TARGET_MAX_EVENT_AGE = Duration.hours(24)
RULE_TARGET_RETRY_ATTEMPTS = 185
# Raw objects are immutable: every pipeline role is explicitly denied RAW_DELETE_ACTIONS on raw/* (the bucket policy
# denies them to everyone too: cdk/constructs/shared.py), and these on the bucket: a lifecycle rule or suspended
# versioning could expire raw just as well.
RAW_PROTECTION_BUCKET_ACTIONS = ("s3:PutLifecycleConfiguration", "s3:PutBucketVersioning")
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
LEDGER_ACTIONS = ("dynamodb:PutItem", "dynamodb:Query")

_PATTERN_KEYS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """A topology event pattern (EventBridge JSON keys) as a CDK EventPattern."""
    unknown = sorted(set(pattern) - set(_PATTERN_KEYS))
    if unknown:
        raise ValueError(f"event pattern keys {unknown} are not EventBridge pattern fields: {sorted(_PATTERN_KEYS)}")
    return events.EventPattern(**{_PATTERN_KEYS[key]: value for key, value in pattern.items()})


class PipelineService(Construct):
    """Rule -> queue (with DLQ, 6x visibility) -> Lambda (own role, JSON logs, ESM with batch failures)."""

    RUNTIME: ClassVar[lambda_.Runtime] = lambda_.Runtime.PYTHON_3_12
    ARCHITECTURE: ClassVar[lambda_.Architecture] = lambda_.Architecture.ARM_64
    LOG_RETENTION: ClassVar[logs.RetentionDays] = logs.RetentionDays.ONE_MONTH

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: Route,
        config: PipelineConfig,
        shared: SharedResources,
        environment: dict[str, str],
        code: lambda_.Code,
    ) -> None:
        super().__init__(scope, construct_id)
        self.route = route
        self.shared = shared
        self.nlp_enabled = config.nlp.enabled  # the transformer's NLP stage calls Comprehend (docs/nlp.md)
        self.comprehend_region = config.comprehend_region if config.nlp.enabled else None
        self._acknowledged: set[str] = set()

        self.dlq, self.queue, self.rule_dlq = self._queues(route)
        self.rule = self._rule(route, shared)
        self.log_group = self._log_group(route)
        self.role = self._role(route, shared)
        self.function = self._function(route, config, environment, code)
        self.grant_service_permissions()
        self._wait_for_role_policies_only()
        if config.aws.tracing:
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (CDK adds "
                "them for active tracing).",
            )

    def _queues(self, route: Route) -> tuple[sqs.Queue, sqs.Queue, sqs.Queue]:
        """The service's queue, its dead-letter queue, and the dead-letter queue of the rule's target."""
        dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=route.dlq_name,
            fifo=route.fifo or None,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=MESSAGE_RETENTION,
        )
        queue = sqs.Queue(
            self,
            "Queue",
            queue_name=route.queue_name,
            fifo=route.fifo or None,
            content_based_deduplication=True if route.fifo else None,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=MESSAGE_RETENTION,
            visibility_timeout=Duration.seconds(route.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=route.max_receive_count),
        )
        # EventBridge cannot deliver to the queue (deleted, policy broken): the event lands here instead of
        # being lost. A target DLQ is always a standard queue, even for a FIFO target.
        rule_dlq = sqs.Queue(
            self,
            "RuleDlq",
            queue_name=route.rule_dlq_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=MESSAGE_RETENTION,
        )
        for dead_letters in (dlq, rule_dlq):
            acknowledge(dead_letters, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue.")
        return dlq, queue, rule_dlq

    def _rule(self, route: Route, shared: SharedResources) -> events.Rule:
        """The route's rule, on its bus, delivering to the queue (and to the rule's DLQ when it cannot)."""
        bus = shared.bus if route.bus == "custom" else shared.default_bus
        rule = events.Rule(
            self,
            "Rule",
            rule_name=route.rule_name,
            description=f"{route.description} ({route.service})"[:512],
            event_bus=bus,
            event_pattern=event_pattern(route.event_pattern),
        )
        rule.add_target(
            targets.SqsQueue(
                self.queue,
                message_group_id=route.message_group_id,
                dead_letter_queue=self.rule_dlq,
                max_event_age=RULE_TARGET_MAX_EVENT_AGE,
                retry_attempts=RULE_TARGET_RETRY_ATTEMPTS,
            )
        )
        return rule

    def _log_group(self, route: Route) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name(route.service),
            retention=self.LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _role(self, route: Route, shared: SharedResources) -> iam.Role:
        """The function's own role: its log group, and the denies every pipeline role carries (raw is immutable)."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{route.function_name}: only what the {route.service} needs",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RawIsImmutable",
                effect=iam.Effect.DENY,
                actions=list(RAW_DELETE_ACTIONS),
                resources=[shared.raw_objects_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RawRetentionIsFixed",
                effect=iam.Effect.DENY,
                actions=list(RAW_PROTECTION_BUCKET_ACTIONS),
                resources=[shared.bucket.bucket_arn],
            )
        )
        return role

    def _function(
        self, route: Route, config: PipelineConfig, environment: dict[str, str], code: lambda_.Code
    ) -> lambda_.Function:
        """The function, fed by the queue (partial batch responses), with its role, log group and tracing."""
        function_environment = dict(environment)
        if not config.aws.tracing:
            function_environment["POWERTOOLS_TRACE_DISABLED"] = "true"
        function = lambda_.Function(
            self,
            "Function",
            function_name=route.function_name,
            description=route.description,
            runtime=self.RUNTIME,
            architecture=self.ARCHITECTURE,
            handler=route.lambda_handler,
            code=code,
            timeout=Duration.seconds(route.timeout_seconds),
            memory_size=route.memory_mb,
            ephemeral_storage_size=Size.mebibytes(route.ephemeral_storage_mb),
            environment=function_environment,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE if config.aws.tracing else lambda_.Tracing.DISABLED,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.12 on purpose: dbt-athena pins mmh3<4.2, which has no Python 3.13+ wheel for Linux arm64, "
            "so the transformer artifact cannot be built for a newer runtime (restaurant_pipeline/artifacts/specs.py).",
        )
        function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=route.batch_size,
                max_batching_window=(
                    Duration.seconds(route.batching_window_seconds) if route.batching_window_seconds else None
                ),
                report_batch_item_failures=True,
                max_concurrency=route.max_concurrency,
            )
        )
        return function

    def grant_service_permissions(self) -> None:
        """Permissions beyond queue, logs and tracing: the capabilities its spec lists, in their order."""
        for capability in self.route.spec.capabilities:
            CAPABILITY_GRANTS[capability](self)

    def _wait_for_role_policies_only(self) -> None:
        """The function waits for its role's policies (its event source mapping is checked against them when it is
        created); CDK also makes it depend on the role, which its `Role` attribute already orders: cfn-lint W3005."""
        function = self.function.node.default_child
        assert isinstance(function, lambda_.CfnFunction)
        stack = Stack.of(self)
        policies = [child for child in self.role.node.find_all() if isinstance(child, iam.CfnPolicy)]
        function.add_override("DependsOn", [stack.get_logical_id(policy) for policy in policies])

    def allow(
        self,
        sid: str,
        actions: tuple[str, ...] | list[str],
        resources: list[str],
        wildcard_reason: str | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> None:
        """Allow concrete actions on concrete resources; a resource with a wildcard needs its reason."""
        if any("*" in action for action in actions):
            raise ValueError(f"{sid}: name each action; wildcard actions are not allowed ({actions})")
        self.role.add_to_policy(
            iam.PolicyStatement(sid=sid, actions=list(actions), resources=resources, conditions=conditions)
        )
        for resource in resources:
            finding = wildcard_finding(self, resource)
            if finding is None:
                continue
            if wildcard_reason is None:
                raise ValueError(f"{sid}: {resource} has a wildcard; say why with wildcard_reason")
            if finding not in self._acknowledged:
                self._acknowledged.add(finding)
                acknowledge(self.role, finding, wildcard_reason)

    def allow_ledger(self) -> None:
        self.allow("RecordRunSteps", LEDGER_ACTIONS, [self.shared.ledger_table.table_arn])

    def allow_idempotency(self) -> None:
        self.allow("IdempotencyRecords", IDEMPOTENCY_ACTIONS, [self.shared.idempotency_table.table_arn])

    def allow_publish_events(self) -> None:
        self.allow("PublishPipelineEvents", ["events:PutEvents"], [self.shared.bus.event_bus_arn])

    def deny_raw_writes(self) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="OnlyTheCollectorWritesRaw",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject"],
                resources=[self.shared.raw_objects_arn],
            )
        )


# -- capabilities: what a spec's `capabilities` grant its role, each scoped to concrete ARNs --------------------------
def _read_places_key(service: PipelineService) -> None:
    service.allow("ReadPlacesApiKey", ["secretsmanager:GetSecretValue"], [service.shared.places_api_key.secret_arn])


def _write_raw(service: PipelineService) -> None:
    shared = service.shared
    service.allow(
        "WriteRawObjects",
        ["s3:PutObject", "s3:GetObject"],
        [shared.raw_objects_arn],
        wildcard_reason="Raw object keys are per day and per run (raw/places/dt=.../NAME); only that prefix.",
    )
    service.role.add_to_policy(
        iam.PolicyStatement(
            # The existence check lists the key itself (services/collector/adapters/s3.py): this grant covers a
            # listing under raw/ only, never a HEAD, which carries no prefix (a missing key then answers 403).
            sid="ListRawPrefix",
            actions=["s3:ListBucket"],
            resources=[shared.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{RAW_PREFIX}*"]}},
        )
    )


def _transform_objects(service: PipelineService) -> None:
    """Reads raw, writes validated/quarantine/models and dbt's table data; raw/ writes and deletes are denied."""
    bucket = service.shared.bucket
    objects_reason = (
        "The transformer reads raw/ and writes validated/, quarantine/, Athena results and dbt table data "
        "under keys made at run time; raw/ writes and deletes are explicitly denied."
    )
    service.allow(
        "ReadObjects",
        ["s3:GetObject", "s3:GetObjectVersion"],
        [bucket.arn_for_objects("*")],
        wildcard_reason=objects_reason,
    )
    # Validated/quarantine objects, Athena results and the dbt tables' data: dbt replaces table data,
    # so it deletes too; raw/ stays protected by the explicit denies.
    service.allow(
        "WriteDerivedObjects",
        ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        [bucket.arn_for_objects("*")],
        wildcard_reason=objects_reason,
    )
    service.deny_raw_writes()
    service.allow(
        "ListDataBucket",
        ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        [bucket.bucket_arn],
    )
    # Coalesced builds list the raw versions waiting under the days of a batch (services/transformer/service.py):
    # ListObjectVersions needs s3:ListBucketVersions, only under raw/places/ here.
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    service.role.add_to_policy(
        iam.PolicyStatement(
            sid="ListRawVersions",
            actions=["s3:ListBucketVersions"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{RAW_PREFIX}*"]}},
        )
    )


def _query_athena(service: PipelineService) -> None:
    """dbt on Athena over the pipeline's Glue databases."""
    shared = service.shared
    service.allow(
        "RunAthenaQueries",
        [
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
            "athena:GetWorkGroup",
        ],
        [shared.workgroup_arn],
    )
    stack = Stack.of(service)
    service.allow(
        "ReadAthenaCatalog",
        ["athena:GetDataCatalog", "athena:GetDatabase", "athena:GetTableMetadata", "athena:ListTableMetadata"],
        [stack.format_arn(service="athena", resource="datacatalog", resource_name="AwsDataCatalog")],
    )
    service.allow(
        "AthenaDefaultDatabase",  # Athena's documented requirement, for every query (see shared.py)
        ["glue:GetDatabase", "glue:CreateDatabase"],
        [shared.glue_catalog_arn, shared.athena_default_database_arn],
    )
    # The two databases exist (the stack made them): read only, never created or dropped by dbt.
    service.allow(
        "ReadOwnGlueDatabases",
        ["glue:GetDatabase", "glue:GetDatabases"],
        [shared.glue_catalog_arn, *shared.glue_database_arns()],
    )
    service.allow(
        "ManageOwnGlueTables",
        [
            "glue:GetTable",
            "glue:GetTables",
            "glue:CreateTable",
            "glue:UpdateTable",
            "glue:DeleteTable",
            "glue:BatchDeleteTable",
            "glue:GetTableVersions",
            # dbt-athena expires old table versions one by one (expire_glue_table_versions) after views and
            # incremental models: DeleteTableVersion, not only the batch call.
            "glue:DeleteTableVersion",
            "glue:BatchDeleteTableVersion",
            "glue:GetPartition",
            "glue:GetPartitions",
            "glue:BatchGetPartition",
            "glue:CreatePartition",
            "glue:BatchCreatePartition",
            "glue:UpdatePartition",
            "glue:DeletePartition",
            "glue:BatchDeletePartition",
        ],
        # A table's actions need its ancestors too: the catalog and its database (same page as above).
        [shared.glue_catalog_arn, *shared.glue_database_arns(), *shared.glue_table_arns()],
        wildcard_reason="dbt creates, replaces and drops its tables and views at run time, only inside the "
        "pipeline's two Glue databases (models, test failures).",
    )
    # dbt-athena lists the catalog's databases (recorded: tests/e2e/test_iam_sufficiency.py); AWS authorizes
    # glue:GetDatabases on the catalog and database/* (the SHOW DATABASES example of
    # https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html), so it gets a
    # statement of its own: listing names, no other action on other databases.
    service.allow(
        "ListGlueDatabases",
        ["glue:GetDatabases"],
        [shared.glue_catalog_arn, stack.format_arn(service="glue", resource="database", resource_name="*")],
        wildcard_reason="glue:GetDatabases (dbt-athena lists the schemas) is authorized on database/*, never on "
        "one database; this statement allows only that listing.",
    )


def _retry_own_messages(service: PipelineService) -> None:
    # A failed batch's messages come back after a short backoff, not the queue's hour-long visibility timeout,
    # and a final failure's message is copied to the dead-letter queue at once (services/transformer/adapters/
    # sqs.py); the queue URLs are looked up by name. The event source mapping's own grant covers the first today;
    # stated here so that it does not depend on it.
    service.allow(
        "RetryFailedMessagesSoon", ["sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"], [service.queue.queue_arn]
    )
    service.allow("SetAsideFinalFailures", ["sqs:SendMessage", "sqs:GetQueueUrl"], [service.dlq.queue_arn])


def _score_reviews(service: PipelineService) -> None:
    if service.comprehend_region:
        service.allow(
            "ScoreReviewsWithComprehend",
            ["comprehend:BatchDetectSentiment", "comprehend:BatchDetectKeyPhrases"],
            ["*"],
            wildcard_reason="Comprehend's detect APIs have no resource to scope to (they act on the text sent); "
            "granted only when pipeline.toml [nlp] enabled is true, and only in the configured Comprehend "
            "region (aws:RequestedRegion).",
            # The one region the NLP stage calls (COMPREHEND_REGION): aws:RequestedRegion is the region a request
            # goes to (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
            conditions={"StringEquals": {"aws:RequestedRegion": service.comprehend_region}},
        )


def _send_notifications(service: PipelineService) -> None:
    """One email per run outcome, to the encrypted topic."""
    service.allow("PublishNotifications", ["sns:Publish"], [service.shared.topic.topic_arn])
    service.allow("UseTopicKey", ["kms:Decrypt", "kms:GenerateDataKey"], [service.shared.key.key_arn])


CAPABILITY_GRANTS: dict[Capability, Callable[[PipelineService], None]] = {
    "read_places_key": _read_places_key,
    "write_raw": _write_raw,
    "transform_objects": _transform_objects,
    "query_athena": _query_athena,
    "idempotency": PipelineService.allow_idempotency,
    "publish_events": PipelineService.allow_publish_events,
    "ledger": PipelineService.allow_ledger,
    "retry_own_messages": _retry_own_messages,
    "score_reviews": _score_reviews,
    "send_notifications": _send_notifications,
    "deny_raw_writes": PipelineService.deny_raw_writes,
}


__all__ = ["CAPABILITY_GRANTS", "PipelineService", "event_pattern"]
