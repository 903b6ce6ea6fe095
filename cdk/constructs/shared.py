"""What every service shares: the data bucket, the bus, the topic, the tables, the secret, Glue and Athena."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk.constructs.nag import acknowledge
from contracts.envelope import BUS_NAME
from contracts.records import (
    ENRICHED_COLUMNS,
    ENRICHED_PARTITION_KEYS,
    ENRICHED_TABLE_NAME,
    PARTITION_KEYS,
    RAW_COLUMNS,
    TABLE_NAME,
)
from restaurant_pipeline.artifacts.specs import LAMBDA
from restaurant_pipeline.model.config import PipelineConfig
from services.common.names import (
    ATHENA_RESULTS_PREFIX,
    ATHENA_WORKGROUP,
    ENRICHED_PREFIX,
    GLUE_AUDIT_DATABASE,
    GLUE_DATABASE,
    PROJECT,
    QUARANTINE_PREFIX,
    RAW_PREFIX,
    VALIDATED_PREFIX,
)

# Athena's own requirement for any query or DDL in the Glue Data Catalog: GetDatabase and CreateDatabase on the
# catalog and the `default` database of the region ("Mandatory: access policy to the default database and catalog",
# https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
ATHENA_DEFAULT_DATABASE = "default"
DBT_TARGET: Final = LAMBDA.dbt_target  # the dbt/profiles.yml output of a deployment (its manifest is shipped)
QUARANTINE_RETENTION_DAYS = 90
ATHENA_RESULTS_RETENTION_DAYS = 7
# Old versions of what the pipeline rebuilds from raw expire; raw's never do (no lifecycle rule covers raw/).
NONCURRENT_VERSION_RETENTION_DAYS = 30
DBT_DATA_PREFIX = "warehouse/"  # dbt-athena's s3_data_dir (dbt/profiles.yml): the marts' table data
DERIVED_PREFIXES = (VALIDATED_PREFIX, ENRICHED_PREFIX, DBT_DATA_PREFIX)
# Deleting a raw object, or any version of one: denied to every principal by the bucket policy (admins included, who
# must remove that statement first: `restaurant-pipeline destroy --delete-data` does) and to the pipeline's roles.
RAW_DELETE_ACTIONS = (
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
)
RAW_PROTECTION_SID = "RawIsImmutable"
ACCESS_LOG_RETENTION_DAYS = 90
# Partition projection: Athena computes dt values instead of listing partitions (no crawler, no MSCK).
PROJECTION_START_DATE = "2024-01-01"


class SharedResources(Construct):
    """The bucket, bus, topic, tables, secret, Glue catalog and Athena work group of one deployment."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = self._access_logs_bucket()
        self.bucket = self._data_bucket()
        self._make_raw_immutable()
        self._announce_objects_on_eventbridge()
        self.raw_objects_arn = self.bucket.arn_for_objects(f"{RAW_PREFIX}*")

        self.key = self._topic_key()
        self.topic = self._topic()
        self.email = config.notifications.email or None
        if self.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(self.email))

        self.bus = events.EventBus(self, "Bus", event_bus_name=BUS_NAME)
        self.default_bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        self.archive = self._bus_archive(config.aws.bus_archive_retention_days)

        self.idempotency_table = self._idempotency_table()
        self.ledger_table = self._ledger_table()
        self.places_api_key = self._places_api_key()

        self.glue_database = self._glue_database(
            "GlueDatabase", GLUE_DATABASE, "restaurant-pipeline: raw places and the dbt models"
        )
        self.audit_database = self._glue_database(
            "GlueAuditDatabase", GLUE_AUDIT_DATABASE, "restaurant-pipeline: failing rows of the dbt tests (views)"
        )
        self.raw_table = self._daily_json_table(
            "RawPlacesTable",
            name=TABLE_NAME,
            description="Validated raw places, one JSON object per line, partitioned by collection day",
            prefix=VALIDATED_PREFIX,
            columns=[(name.lower(), kind) for name, kind in RAW_COLUMNS],
            partition_keys=PARTITION_KEYS,
        )
        # The NLP stage's review scores (contracts/records.py), read by the dbt marts:
        # only when pipeline.toml [nlp] enabled, so the default stack is unchanged.
        self.enriched_reviews_table: glue.CfnTable | None = None
        if config.nlp.enabled:
            self.enriched_reviews_table = self._daily_json_table(
                "EnrichedReviewsTable",
                name=ENRICHED_TABLE_NAME,
                description="NLP stage review scores, one JSON object per review, partitioned by collection day",
                prefix=ENRICHED_PREFIX,
                columns=list(ENRICHED_COLUMNS),
                partition_keys=ENRICHED_PARTITION_KEYS,
            )

        self.athena_results_s3 = f"s3://{self.bucket.bucket_name}/{ATHENA_RESULTS_PREFIX}"
        self.workgroup = self._workgroup(config.aws.athena_bytes_scanned_cutoff_mb)

    def _access_logs_bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket of the data bucket; logging it to itself would loop.",
        )
        return access_logs

    def _data_bucket(self) -> s3.Bucket:
        """The data bucket: raw is immutable (versioned, never deleted by the pipeline's roles)."""
        return s3.Bucket(
            self,
            "Data",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="quarantine",
                    prefix=QUARANTINE_PREFIX,
                    expiration=Duration.days(QUARANTINE_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="athena-results",
                    prefix=ATHENA_RESULTS_PREFIX,
                    expiration=Duration.days(ATHENA_RESULTS_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                *(
                    s3.LifecycleRule(
                        id=f"old-versions-{prefix.split('/')[0]}",
                        prefix=prefix,
                        noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_RETENTION_DAYS),
                    )
                    for prefix in DERIVED_PREFIXES
                ),
                # An unfinished multipart upload is not an object (nor a version of one): cleaning it up loses nothing.
                s3.LifecycleRule(id="incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            # The data outlives the stack: `restaurant-pipeline destroy --delete-data` empties it on request.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _make_raw_immutable(self) -> None:
        """Raw is immutable for every principal, not only the pipeline's roles. The policy outlives the stack with the
        bucket, so kept data stays protected after `destroy`."""
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=RAW_PROTECTION_SID,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(RAW_DELETE_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{RAW_PREFIX}*")],
            )
        )
        for bucket in (self.bucket, self.access_logs):  # the access-log policy lets S3 deliver the kept bucket's logs
            assert bucket.policy is not None
            bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)

    def _announce_objects_on_eventbridge(self) -> None:
        """S3 -> EventBridge natively (NotificationConfiguration), not through CDK's notifications custom resource."""
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)

    def _topic_key(self) -> kms.Key:
        """One customer-managed key for the topic: CloudWatch alarms and EventBridge can only publish to an
        encrypted topic whose key lets them, which the AWS-managed aws/sns key does not."""
        key = kms.Key(
            self,
            "TopicKey",
            description=f"{PROJECT}: encrypts the notification topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return key

    def _topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"{PROJECT}-notifications",
            display_name="Restaurant pipeline",
            master_key=self.key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return topic

    def _bus_archive(self, retention_days: int) -> events.Archive | None:
        """Every pipeline event kept for replay, for [aws] bus_archive_retention_days (0: no archive)."""
        if retention_days <= 0:
            return None
        archive = self.bus.archive(
            "Archive",
            archive_name=f"{PROJECT}-bus",
            description="Every pipeline event, for replay (restaurant-pipeline sources)",
            event_pattern=events.EventPattern(source=events.Match.prefix(PROJECT)),
            retention=Duration.days(retention_days),
        )
        # aws-cdk-lib writes KmsKeyIdentifier: "" when no key is given, which CloudFormation rejects in some
        # regions (https://github.com/aws/aws-cdk/issues/37847); without the property the archive uses the
        # AWS-owned key, as intended.
        cfn_archive = archive.node.default_child
        assert isinstance(cfn_archive, events.CfnArchive)
        cfn_archive.add_property_deletion_override("KmsKeyIdentifier")
        return archive

    def _idempotency_table(self) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _ledger_table(self) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Ledger",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _places_api_key(self) -> secretsmanager.Secret:
        """The value is set by `restaurant-pipeline deploy` (put-secret-value), never through the template. The secret
        is created empty (no GenerateSecretString: "If you omit both GenerateSecretString and SecretString, you
        create an empty secret", AWS::SecretsManager::Secret in the CloudFormation template reference), not with a
        random value that would look like a key: `deploy` knows whether a key was stored from its versions."""
        secret = secretsmanager.Secret(
            self,
            "PlacesApiKey",
            description="Google Places API (New) key used by the collector; set by `restaurant-pipeline deploy`",
            removal_policy=RemovalPolicy.DESTROY,
        )
        cfn_secret = secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        cfn_secret.add_property_deletion_override("GenerateSecretString")
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "A Google API key cannot be rotated by a Lambda; the owner rotates it in the Google console and "
            "stores the new one with `restaurant-pipeline deploy`.",
        )
        return secret

    def _glue_database(self, construct_id: str, name: str, description: str) -> glue.CfnDatabase:
        return glue.CfnDatabase(
            self,
            construct_id,
            catalog_id=Stack.of(self).account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=name, description=description),
        )

    def _workgroup(self, bytes_scanned_cutoff_mb: int) -> athena.CfnWorkGroup:
        """The dbt queries' work group: its settings enforced, results encrypted, each query's scan capped."""
        return athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=ATHENA_WORKGROUP,
            description="restaurant-pipeline dbt queries: enforced settings, encrypted results, scan cutoff",
            recursive_delete_option=True,
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff_mb * 1024 * 1024,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.athena_results_s3,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    def accept_sources_only_from(self, publishers: Mapping[str, iam.IRole]) -> None:
        """The bus refuses a PutEvents naming one of the pipeline's sources unless the caller is that source's role.

        An explicit Deny in the bus's resource policy overrides any Allow a principal of the account holds
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html);
        `events:source` is the condition key EventBridge evaluates on the entries of a PutEvents, several values
        for a batch, hence ForAnyValue (https://docs.aws.amazon.com/eventbridge/latest/userguide/policy-keys-eventbridge.html,
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html). `aws:PrincipalArn` is the
        role's ARN for a session of that role (Lambda's, the scheduler's). The CLI's source (`run`) stays open to
        whoever IAM allows: a forged request only starts a real collection.
        """
        for source, role in publishers.items():
            name = "".join(part.capitalize() for part in source.split(".")[-1].split("-"))
            self.bus.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Only{name}RolePutsItsEvents",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["events:PutEvents"],
                    resources=[self.bus.event_bus_arn],
                    conditions={
                        "ForAnyValue:StringEquals": {"events:source": [source]},
                        "ArnNotEquals": {"aws:PrincipalArn": role.role_arn},
                    },
                )
            )

    @property
    def glue_catalog_arn(self) -> str:
        stack = Stack.of(self)
        return stack.format_arn(service="glue", resource="catalog")

    def _daily_json_table(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        prefix: str,
        columns: Sequence[tuple[str, str]],
        partition_keys: Sequence[tuple[str, str]],
    ) -> glue.CfnTable:
        """A gzip JSON-lines Glue table under s3://BUCKET/<prefix>dt=YYYY-MM-DD/, with partition projection on dt
        (no crawler, no partition maintenance)."""
        stack = Stack.of(self)
        location = f"s3://{self.bucket.bucket_name}/{prefix}"
        table = glue.CfnTable(
            self,
            construct_id,
            catalog_id=stack.account,
            database_name=GLUE_DATABASE,
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                description=description,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{PROJECTION_START_DATE},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "storage.location.template": location + "dt=${dt}/",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=key, type=kind) for key, kind in partition_keys],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=[glue.CfnTable.ColumnProperty(name=column, type=kind) for column, kind in columns],
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "false", "case.insensitive": "true"},
                    ),
                ),
            ),
        )
        table.add_resource_dependency(self.glue_database)
        return table

    def glue_database_arns(self) -> list[str]:
        """The pipeline's two databases (dbt's models and its test failures): both made by the stack."""
        stack = Stack.of(self)
        return [
            stack.format_arn(service="glue", resource="database", resource_name=name)
            for name in (GLUE_DATABASE, GLUE_AUDIT_DATABASE)
        ]

    def glue_table_arns(self) -> list[str]:
        """Every table, view and function in the pipeline's databases (dbt creates, replaces and drops them)."""
        stack = Stack.of(self)
        return [
            stack.format_arn(service="glue", resource=kind, resource_name=f"{name}/*")
            for name in (GLUE_DATABASE, GLUE_AUDIT_DATABASE)
            for kind in ("table", "userDefinedFunction")
        ]

    @property
    def athena_default_database_arn(self) -> str:
        return Stack.of(self).format_arn(service="glue", resource="database", resource_name=ATHENA_DEFAULT_DATABASE)

    @property
    def workgroup_arn(self) -> str:
        return Stack.of(self).format_arn(service="athena", resource="workgroup", resource_name=ATHENA_WORKGROUP)
