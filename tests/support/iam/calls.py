"""From a recorded AWS API call to the authorization requests AWS makes for it: action, resource ARN, context.

One table row per operation, each citing where AWS documents it. What the rows rely on:
- S3, "Required permissions for Amazon S3 API operations":
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
  (GetObject/HeadObject -> s3:GetObject, with a VersionId s3:GetObjectVersion; ListObjectsV2 -> s3:ListBucket on the
  bucket with the s3:prefix condition key; DeleteObjects -> s3:DeleteObject per key; CopyObject -> s3:GetObject on
  the source and s3:PutObject on the target); a missing key answers 404 only with s3:ListBucket, else 403:
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html#API_HeadObject_RequestSyntax ("Permissions").
- DynamoDB: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
  (one action per operation on table/NAME; a Query on an index on table/NAME/index/INDEX).
- EventBridge PutEvents: events:PutEvents on each entry's bus, with events:source and events:detail-type:
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html
- SNS Publish: sns:Publish on the topic; to a topic encrypted with a KMS key the publisher also needs
  kms:GenerateDataKey and kms:Decrypt on that key:
  https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#sns-what-permissions-for-sse
- Secrets Manager GetSecretValue on the secret's ARN:
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
- Athena: query actions on the query's work group, catalog actions on datacatalog/NAME:
  https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html,
  https://docs.aws.amazon.com/athena/latest/ug/datacatalogs-example-policies.html
- Glue Data Catalog: an action on a table needs the table, its database and the catalog; on a database, the
  database and the catalog; GetDatabases the catalog and database/*; GetTables the catalog, the database and
  table/DB/*: https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html and
  https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html
- STS GetCallerIdentity needs no permission:
  https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
- Comprehend's detect operations act on no resource ("*"):
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncomprehend.html
- SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
Every request carries aws:SecureTransport=true: the SDK speaks HTTPS to AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.support.iam.evaluator import ContextValue


class Unmapped(ValueError):
    """A recorded call this table does not know: add its row (with its documentation) before trusting the proof."""


@dataclass(frozen=True)
class Need:
    """One authorization AWS makes for a call: `action` on `resource`, under `context`, also checked against the
    resource policy of `policy_kind` on `policy_target` when the resource has one."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    policy_kind: str | None = None  # AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, AWS::SNS::TopicPolicy, AWS::KMS::Key
    policy_target: str | None = None
    why: str = ""  # when it is not the call itself: "to answer 404 rather than 403", "the topic's KMS key"


@dataclass(frozen=True)
class Call:
    """One recorded call (restaurant_pipeline/local/call_recorder.py), with who made it."""

    function: str
    service: str
    operation: str
    region: str
    params: Mapping[str, Any]
    error: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict)
    via: str = ""  # made by a service on the function's behalf (Athena DDL), from its documentation

    @classmethod
    def from_record(cls, function: str, record: Mapping[str, Any]) -> Call:
        return cls(
            function=function,
            service=record["service"],
            operation=record["operation"],
            region=record.get("region") or "eu-west-3",
            params=record.get("params", {}),
            error=record.get("error"),
            response=record.get("response") or {},
            via=record.get("via", ""),
        )

    def describe(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("Entries.Source", "Entries.DetailType")}
        call = f"{self.service}.{self.operation}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
        return f"{self.function}: {call}" + (f" [{self.via}]" if self.via else "")


SECURE = {"aws:SecureTransport": "true"}


@dataclass
class Mapper:
    """Maps calls to needs. `account` is the account the ARNs name; `topic_key(topic_arn)` the KMS key ARN that
    encrypts a topic (from the template), or None."""

    account: str
    topic_key: Callable[[str], str | None] = lambda topic: None
    _query_workgroups: dict[str, str] = field(default_factory=dict)

    def needs(self, call: Call) -> list[Need]:
        handler = getattr(self, f"_{call.service}", None)
        if handler is None:
            raise Unmapped(f"no rows for service {call.service!r} ({call.describe()})")
        return list(handler(call))

    # -- S3 ---------------------------------------------------------------------------------------------------
    def _s3(self, call: Call) -> Iterable[Need]:
        p, op = call.params, call.operation
        bucket = p.get("Bucket")
        bucket_arn = f"arn:aws:s3:::{bucket}"

        def on_object(action: str, key: str, why: str = "") -> Need:
            arn = f"{bucket_arn}/{key}"
            return Need(action, arn, SECURE, "AWS::S3::BucketPolicy", bucket_arn, why)

        def on_bucket(action: str, context: Mapping[str, ContextValue] = SECURE, why: str = "") -> Need:
            return Need(action, bucket_arn, context, "AWS::S3::BucketPolicy", bucket_arn, why)

        if op in ("GetObject", "HeadObject"):
            yield on_object("s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject", p["Key"])
            if call.error in ("404", "NoSuchKey", "NotFound"):
                # the code saw 404 here; AWS answers 404 only to a caller that may list the bucket (no s3:prefix
                # in this request's context), 403 to any other
                yield on_bucket("s3:ListBucket", why=f"for the missing key {p['Key']} to answer 404, not 403")
        elif op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
            yield on_object("s3:PutObject", p["Key"])
        elif op == "CopyObject":
            source = p["CopySource"]
            if isinstance(source, str):
                source_bucket, _, source_key = unquote(source.lstrip("/")).partition("/")
                version = None
                if "?versionId=" in source_key:
                    source_key, version = source_key.split("?versionId=", 1)
            else:
                source_bucket, source_key, version = source["Bucket"], source["Key"], source.get("VersionId")
            arn = f"arn:aws:s3:::{source_bucket}/{source_key}"
            action = "s3:GetObjectVersion" if version else "s3:GetObject"
            yield Need(action, arn, SECURE, "AWS::S3::BucketPolicy", f"arn:aws:s3:::{source_bucket}")
            yield on_object("s3:PutObject", p["Key"])
        elif op == "DeleteObject":
            yield on_object("s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject", p["Key"])
        elif op == "DeleteObjects":
            for key in p.get("Delete.Objects.Key", []):
                yield on_object("s3:DeleteObject", key)
        elif op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
            context: dict[str, ContextValue] = dict(SECURE)
            if p.get("Prefix") is not None:
                context["s3:prefix"] = p["Prefix"]
            if p.get("Delimiter") is not None:
                context["s3:delimiter"] = p["Delimiter"]
            action = "s3:ListBucketVersions" if op == "ListObjectVersions" else "s3:ListBucket"
            yield on_bucket(action, context)
        elif op == "HeadBucket":
            yield on_bucket("s3:ListBucket")
        elif op == "GetBucketLocation":
            yield on_bucket("s3:GetBucketLocation")
        elif op == "AbortMultipartUpload":
            yield on_object("s3:AbortMultipartUpload", p["Key"])
        elif op == "ListParts":
            yield on_object("s3:ListMultipartUploadParts", p["Key"])
        elif op == "ListMultipartUploads":
            yield on_bucket("s3:ListBucketMultipartUploads")
        else:
            raise Unmapped(f"no row for s3 {op} ({call.describe()})")

    # -- DynamoDB ------------------------------------------------------------------------------------------------
    def _dynamodb(self, call: Call) -> Iterable[Need]:
        single = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable")
        p, op = call.params, call.operation
        if op in single:
            arn = f"arn:aws:dynamodb:{call.region}:{self.account}:table/{p['TableName']}"
            if op in ("Query", "Scan") and p.get("IndexName"):
                arn += f"/index/{p['IndexName']}"
            yield Need(f"dynamodb:{op}", arn, SECURE)
        elif op in ("BatchWriteItem", "BatchGetItem"):
            for table in p.get("RequestItems.TableNames", []):
                yield Need(f"dynamodb:{op}", f"arn:aws:dynamodb:{call.region}:{self.account}:table/{table}", SECURE)
        else:
            raise Unmapped(f"no row for dynamodb {op} ({call.describe()})")

    # -- EventBridge ---------------------------------------------------------------------------------------------
    def _events(self, call: Call) -> Iterable[Need]:
        if call.operation != "PutEvents":
            raise Unmapped(f"no row for events {call.operation} ({call.describe()})")
        buses = call.params.get("Entries.EventBusName") or ["default"]
        sources = call.params.get("Entries.Source") or []
        types = call.params.get("Entries.DetailType") or []
        for index, bus in enumerate(buses):
            arn = bus if bus.startswith("arn:") else f"arn:aws:events:{call.region}:{self.account}:event-bus/{bus}"
            context: dict[str, ContextValue] = dict(SECURE)
            if index < len(sources):
                context["events:source"] = sources[index]
            if index < len(types):
                context["events:detail-type"] = types[index]
            yield Need("events:PutEvents", arn, context, "AWS::Events::EventBusPolicy", arn)

    # -- SNS -----------------------------------------------------------------------------------------------------
    def _sns(self, call: Call) -> Iterable[Need]:
        if call.operation != "Publish":
            raise Unmapped(f"no row for sns {call.operation} ({call.describe()})")
        topic = call.params.get("TopicArn") or call.params["TargetArn"]
        yield Need("sns:Publish", topic, SECURE, "AWS::SNS::TopicPolicy", topic)
        key = self.topic_key(topic)
        if key:
            why = "the topic is encrypted with this KMS key (SNS uses it on the publisher's behalf)"
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield Need(action, key, SECURE, "AWS::KMS::Key", key, why)

    # -- Secrets Manager -----------------------------------------------------------------------------------------
    def _secretsmanager(self, call: Call) -> Iterable[Need]:
        secret = call.params.get("SecretId", "")
        if call.operation != "GetSecretValue" or not secret.startswith("arn:"):
            raise Unmapped(f"no row for secretsmanager {call.operation} by name ({call.describe()})")
        yield Need("secretsmanager:GetSecretValue", secret, SECURE)

    # -- Athena --------------------------------------------------------------------------------------------------
    def _athena(self, call: Call) -> Iterable[Need]:
        p, op = call.params, call.operation

        def workgroup(name: str) -> str:
            return f"arn:aws:athena:{call.region}:{self.account}:workgroup/{name}"

        def catalog(name: str) -> str:
            return f"arn:aws:athena:{call.region}:{self.account}:datacatalog/{name}"

        if op == "StartQueryExecution":
            name = p.get("WorkGroup", "primary")  # Athena's default work group when none is named
            if call.response.get("QueryExecutionId"):
                self._query_workgroups[call.response["QueryExecutionId"]] = name
            yield Need("athena:StartQueryExecution", workgroup(name), SECURE)
        elif op in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution"):
            query = p["QueryExecutionId"]
            if query not in self._query_workgroups:
                raise Unmapped(f"{op} on query {query} whose StartQueryExecution was not recorded")
            yield Need(f"athena:{op}", workgroup(self._query_workgroups[query]), SECURE)
        elif op == "GetWorkGroup":
            yield Need("athena:GetWorkGroup", workgroup(p["WorkGroup"]), SECURE)
        elif op in ("GetDataCatalog",):
            yield Need(f"athena:{op}", catalog(p["Name"]), SECURE)
        elif op in ("GetDatabase", "ListDatabases", "GetTableMetadata", "ListTableMetadata"):
            yield Need(f"athena:{op}", catalog(p["CatalogName"]), SECURE)
        else:
            raise Unmapped(f"no row for athena {op} ({call.describe()})")

    # -- Glue ----------------------------------------------------------------------------------------------------
    def _glue(self, call: Call) -> Iterable[Need]:
        p, op = call.params, call.operation
        account = p.get("CatalogId", self.account)
        base = f"arn:aws:glue:{call.region}:{account}"
        catalog = f"{base}:catalog"
        action = f"glue:{op}"

        def database(name: str) -> list[str]:
            return [catalog, f"{base}:database/{name}"]

        def tables(db: str, names: Iterable[str]) -> list[str]:
            return [*database(db), *(f"{base}:table/{db}/{name}" for name in names)]

        table_ops = {
            "GetTable": "Name",
            "UpdateTable": "Name",
            "DeleteTable": "Name",
            "GetTableVersion": "TableName",
            "GetTableVersions": "TableName",
            "DeleteTableVersion": "TableName",
            "BatchDeleteTableVersion": "TableName",
            "GetPartition": "TableName",
            "GetPartitions": "TableName",
            "BatchGetPartition": "TableName",
            "CreatePartition": "TableName",
            "BatchCreatePartition": "TableName",
            "UpdatePartition": "TableName",
            "DeletePartition": "TableName",
            "BatchDeletePartition": "TableName",
        }
        if op in table_ops:
            resources = tables(p["DatabaseName"], [p[table_ops[op]]])
        elif op == "CreateTable":
            resources = tables(p["DatabaseName"], [p["TableInput.Name"]])
        elif op == "BatchDeleteTable":
            resources = tables(p["DatabaseName"], p.get("TablesToDelete", []))
        elif op == "GetTables":
            resources = tables(p["DatabaseName"], ["*"])
        elif op in ("GetDatabase", "UpdateDatabase"):
            resources = database(p["Name"])
        elif op == "CreateDatabase":
            resources = database(p["DatabaseInput.Name"])
        elif op == "DeleteDatabase":
            name = p["Name"]
            resources = [*database(name), f"{base}:table/{name}/*", f"{base}:userDefinedFunction/{name}/*"]
        elif op == "GetDatabases":
            resources = [catalog, f"{base}:database/*"]
        else:
            raise Unmapped(f"no row for glue {op} ({call.describe()})")
        for resource in resources:
            yield Need(action, resource, SECURE)

    # -- the rest ------------------------------------------------------------------------------------------------
    def _sts(self, call: Call) -> Iterable[Need]:
        if call.operation != "GetCallerIdentity":
            raise Unmapped(f"no row for sts {call.operation} ({call.describe()})")
        return []  # needs no permission

    def _comprehend(self, call: Call) -> Iterable[Need]:
        if call.operation not in ("BatchDetectSentiment", "BatchDetectKeyPhrases", "DetectSentiment"):
            raise Unmapped(f"no row for comprehend {call.operation} ({call.describe()})")
        yield Need(f"comprehend:{call.operation}", "*", SECURE)

    def _sqs(self, call: Call) -> Iterable[Need]:
        actions = {
            "SendMessage": "sqs:SendMessage",
            "SendMessageBatch": "sqs:SendMessage",
            "ReceiveMessage": "sqs:ReceiveMessage",
            "DeleteMessage": "sqs:DeleteMessage",
            "DeleteMessageBatch": "sqs:DeleteMessage",
            "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
            "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
            "GetQueueAttributes": "sqs:GetQueueAttributes",
            "GetQueueUrl": "sqs:GetQueueUrl",
        }
        if call.operation not in actions:
            raise Unmapped(f"no row for sqs {call.operation} ({call.describe()})")
        # GetQueueUrl names the queue (its owner account, when given, is this account: the recorder keeps no other)
        name = call.params["QueueName"] if call.operation == "GetQueueUrl" else call.params["QueueUrl"]
        name = name.rstrip("/").rsplit("/", 1)[-1]
        arn = f"arn:aws:sqs:{call.region}:{self.account}:{name}"
        yield Need(actions[call.operation], arn, SECURE, "AWS::SQS::QueuePolicy", arn)
