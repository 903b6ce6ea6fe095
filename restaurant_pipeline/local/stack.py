"""The local stack's names and its provisioning on moto's server, built from the topology.

`provision` creates, idempotently: the data bucket (versioned, EventBridge notifications on), the custom bus,
one rule per route (on the custom or the default bus) targeting the route's SQS queue, every queue with its
DLQ and RedrivePolicy, each rule target's DLQ and the schedule's DLQ (as the CDK stack has them: moto never
writes to them, but `dlq list` and `dlq replay` treat them as on AWS), the SNS topic with an SQS capture queue
standing in for email, and the DynamoDB tables (idempotency, run ledger). What it made is described by a
StackInfo, saved as .pipeline/stack.json.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contracts.envelope import BUS_NAME
from restaurant_pipeline.local.esm import LOCAL_RETRY_DELAY_SECONDS
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import (
    PROJECT,
    SCHEDULE_DLQ_NAME,
    Route,
    StackResources,
    Topology,
    build_topology,
    service_environment,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DEFAULT_REGION = "eu-west-3"
DEFAULT_BUCKET = "restaurant-pipeline-local"
DEFAULT_STATE_DIR = ".pipeline"
# The DuckDB warehouse, in a folder of its own: the one place the transformer writes outside /tmp in the Lambda
# sandbox (it stands in for Athena). Its stem names dbt's catalog, which the shipped manifest records.
WAREHOUSE_DIR = "warehouse"
WAREHOUSE_FILE = "warehouse.duckdb"
ACCOUNT_ID = "123456789012"  # moto's default account
IDEMPOTENCY_TABLE = f"{PROJECT}-idempotency"
LEDGER_TABLE = f"{PROJECT}-ledger"
TOPIC_NAME = f"{PROJECT}-notifications"
EMAIL_CAPTURE_QUEUE = f"{PROJECT}-email-capture"
# The local stand-in for an email address: what SNS would mail, as .eml files.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class QueueInfo:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    # The DLQ of the EventBridge rule that targets this queue ("" in a stack.json written before it existed)
    rule_dlq_url: str = ""
    rule_dlq_arn: str = ""


@dataclass
class StackInfo:
    """Everything a command needs to reach the local stack; `local status --json` prints it."""

    endpoint_url: str
    region: str
    bucket: str
    event_bus: str
    queues: dict[str, QueueInfo]
    topic_arn: str
    email_capture_queue_url: str
    idempotency_table: str
    ledger_table: str
    state_dir: str
    outbox_dir: str
    warehouse_path: str
    logs_dir: str
    places_api_base_url: str = ""
    places_stub: bool = False
    schedule: str = ""
    schedule_dlq_url: str = ""  # the schedule's DLQ (AWS: EventBridge Scheduler's dead letters)
    pids: dict[str, int] = field(default_factory=dict)
    # With `local up --artifacts`: which of Lambda's conditions the sandbox enforces here ("enforced: ...").
    sandbox: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StackInfo:
        """StackFileError, saying what is wrong, when `text` is not a stack description (truncated, hand-edited)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StackFileError(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        from pydantic import TypeAdapter, ValidationError

        try:
            info: StackInfo = TypeAdapter(cls).validate_python(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "the whole file"
            more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise StackFileError(f"{field}: {error['msg']}{more}") from None
        return info


class StackFileError(ValueError):
    """stack.json cannot be read as a StackInfo: what is wrong, in a few words (the caller names the file)."""


def read_stack_file(path: Path) -> StackInfo:
    """The StackInfo saved at `path`; StackFileError when it is unreadable or not a stack description."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StackFileError("not UTF-8 text") from None
    except OSError as exc:
        raise StackFileError(exc.strerror or type(exc).__name__) from None
    return StackInfo.from_json(text)


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def stack_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def alarms(self) -> Path:
        """Each local alarm's state, reason and last email (restaurant_pipeline/local/alarms.py)."""
        return self.root / "alarms.json"

    @property
    def warehouse(self) -> Path:
        return self.root / WAREHOUSE_DIR / WAREHOUSE_FILE

    @property
    def save_report(self) -> Path:
        """The outcome of the last save on stop (supervisor.py writes it, `local down` reads it)."""
        return self.root / "last-save.json"

    @property
    def s3(self) -> Path:
        """Objects saved at their keys as paths: a snapshot from before local/persistence.py's format (read only)."""
        return self.root / "s3"

    @property
    def tables(self) -> Path:
        """Tables and messages of a snapshot from before local/persistence.py's format (read only)."""
        return self.root / "tables"

    def make(self) -> None:
        for folder in (self.root, self.logs, self.outbox, self.warehouse.parent):
            folder.mkdir(parents=True, exist_ok=True)
        earlier = self.root / WAREHOUSE_FILE  # where a stack before the Lambda sandbox kept it
        if earlier.is_file() and not self.warehouse.exists():
            earlier.rename(self.warehouse)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")


def stack_resources(info: StackInfo, places_api_base_url: str) -> StackResources:
    return StackResources(
        bucket=info.bucket,
        bus_name=info.event_bus,
        topic_arn=info.topic_arn,
        idempotency_table=info.idempotency_table,
        ledger_table=info.ledger_table,
        places_api_base_url=places_api_base_url,
        dbt_target="local",
        warehouse_path=info.warehouse_path,
        log_location=info.logs_dir,
        endpoint_url=info.endpoint_url,
    )


DBT_STATE_FOLDER = "dbt"  # under the stack's state folder: the transformer's dbt target/ and logs/


def function_environment(
    config: PipelineConfig, topology: Topology, info: StackInfo, places_api_key: str
) -> dict[str, dict[str, str]]:
    """The same variables the CDK functions get, plus what a laptop needs to reach moto."""
    local = {
        **LOCAL_CREDENTIALS,
        "AWS_DEFAULT_REGION": info.region,
        "AWS_REGION": info.region,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }
    environments = service_environment(config, topology, stack_resources(info, info.places_api_base_url))
    result: dict[str, dict[str, str]] = {service: {**local, **env} for service, env in environments.items()}
    result["collector"]["GOOGLE_PLACES_API_KEY"] = places_api_key
    result["transformer"]["RETRY_BACKOFF_SECONDS"] = str(LOCAL_RETRY_DELAY_SECONDS)
    # dbt's target/ and logs/ in this stack's state folder, never in a folder of the machine's that another stack
    # shares (services/transformer/settings.py, dbt_state_folder). The Lambda sandbox drops it: /tmp there, as on AWS.
    result["transformer"]["DBT_STATE_DIR"] = str(Path(info.state_dir) / DBT_STATE_FOLDER)
    return result


def provision(clients: Any, config: PipelineConfig, info: StackInfo) -> Topology:
    """Create every resource of the local stack (idempotent). Fills info.queues, topic and capture queue."""
    topology = build_topology(config, info.bucket, info.event_bus)
    s3, events, sqs, sns, dynamodb = clients.s3, clients.events, clients.sqs, clients.sns, clients.dynamodb
    _create_bucket(s3, info.bucket, info.region)
    s3.put_bucket_versioning(Bucket=info.bucket, VersioningConfiguration={"Status": "Enabled"})
    if not any(bus["Name"] == info.event_bus for bus in events.list_event_buses().get("EventBuses", [])):
        events.create_event_bus(Name=info.event_bus)
    for route in topology.routes:
        info.queues[route.service] = _create_queues(sqs, route)
        _route_rule(events, route, info)
    info.schedule_dlq_url = _create_dead_letter_queue(sqs, SCHEDULE_DLQ_NAME)
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    capture_url = sqs.create_queue(QueueName=EMAIL_CAPTURE_QUEUE)["QueueUrl"]
    capture_arn = _queue_arn(sqs, capture_url)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(sub["Endpoint"] == capture_arn for sub in subscriptions):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=capture_arn)
    info.topic_arn = topic_arn
    info.email_capture_queue_url = capture_url
    _create_table(dynamodb, info.idempotency_table, [("id", "HASH")])
    _create_table(dynamodb, info.ledger_table, [("pk", "HASH"), ("sk", "RANGE")])
    return topology


def enable_bucket_events(s3: Any, bucket: str) -> None:
    """S3 -> EventBridge. Done last, after restored objects are back, so a restart replays nothing."""
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})


def _create_bucket(s3: Any, bucket: str, region: str) -> None:
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


DLQ_RETENTION_SECONDS = 14 * 86400  # the CDK stack's dead-letter queues keep messages 14 days too


def _create_dead_letter_queue(sqs: Any, name: str) -> str:
    """A standard queue: EventBridge and the Scheduler take no FIFO queue as a DLQ
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html,
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html)."""
    return str(
        sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})["QueueUrl"]
    )


def _create_queues(sqs: Any, route: Route) -> QueueInfo:
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if route.fifo else {}
    dlq_url = sqs.create_queue(
        QueueName=route.dlq_name, Attributes={**fifo, "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": route.max_receive_count})
    url = sqs.create_queue(
        QueueName=route.queue_name,
        Attributes={
            **fifo,
            "VisibilityTimeout": str(route.visibility_timeout_seconds),
            "RedrivePolicy": redrive,
        },
    )["QueueUrl"]
    # create_queue keeps an existing queue's attributes: apply them again so config changes take effect
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"VisibilityTimeout": str(route.visibility_timeout_seconds), "RedrivePolicy": redrive},
    )
    rule_dlq_url = _create_dead_letter_queue(sqs, route.rule_dlq_name)
    return QueueInfo(
        url=url,
        arn=_queue_arn(sqs, url),
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        rule_dlq_url=rule_dlq_url,
        rule_dlq_arn=_queue_arn(sqs, rule_dlq_url),
    )


def _route_rule(events: Any, route: Route, info: StackInfo) -> None:
    bus = info.event_bus if route.bus == "custom" else "default"
    events.put_rule(
        Name=route.rule_name,
        EventBusName=bus,
        EventPattern=json.dumps(route.event_pattern),
        State="ENABLED",
        Description=route.description,
    )
    queue = info.queues[route.service]
    # The rule target's DLQ, as on AWS; moto keeps the setting and never delivers to it (docs/local.md).
    target: dict[str, Any] = {
        "Id": f"{route.service}-queue",
        "Arn": queue.arn,
        "DeadLetterConfig": {"Arn": queue.rule_dlq_arn},
    }
    if route.message_group_id:
        target["SqsParameters"] = {"MessageGroupId": route.message_group_id}
    events.put_targets(Rule=route.rule_name, EventBusName=bus, Targets=[target])


def _create_table(dynamodb: Any, name: str, keys: list[tuple[str, str]]) -> None:
    if name in dynamodb.list_tables().get("TableNames", []):
        return
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def new_stack_info(endpoint_url: str, state: StatePaths, bucket: str = DEFAULT_BUCKET) -> StackInfo:
    return StackInfo(
        endpoint_url=endpoint_url,
        region=DEFAULT_REGION,
        bucket=bucket,
        event_bus=BUS_NAME,
        queues={},
        topic_arn="",
        email_capture_queue_url="",
        idempotency_table=IDEMPOTENCY_TABLE,
        ledger_table=LEDGER_TABLE,
        state_dir=str(state.root),
        outbox_dir=str(state.outbox),
        warehouse_path=str(state.warehouse),
        logs_dir=str(state.logs),
    )
