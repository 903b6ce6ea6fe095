"""A moto-backed transformer: real S3 events (bucket -> default bus -> SQS), a real DuckDB warehouse read through
httpfs, real dbt (one parsed manifest for the whole session), real DynamoDB idempotency, a captured bus."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from contracts.events import TransformCompleted
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.warehouse import DuckDBWarehouse
from services.transformer.service import BatchOutcome, TransformerDeps, process_batch

BUCKET = "restaurant-pipeline-local"
BUS = "restaurant-pipeline"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw"
DAY = "2026-01-01"


@pytest.fixture(scope="session")
def parsed_builder(tmp_path_factory: pytest.TempPathFactory) -> DbtBuilder:
    """Parses the dbt project once for the session; each test clones it with its own warehouse and endpoint."""
    state = tmp_path_factory.mktemp("dbt-state")
    env = dbt_environment(
        target="local", bucket=BUCKET, warehouse_path=str(state / "warehouse.duckdb")
    )  # same stem, same catalog
    builder = DbtBuilder(default_project_dir(), "local", env, state_dir=state)
    builder._runner_manifest()
    return builder


@dataclass
class Stack:
    endpoint: str
    s3: Any
    sqs: Any
    builder: DbtBuilder
    deps: TransformerDeps
    warehouse_path: str
    s3_events_queue: str
    published_queue: str

    def drop(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def drop_fixture(self, name: str, key: str | None = None, gz: bool = False) -> str:
        body = (FIXTURES / name).read_bytes()
        key = key or f"raw/places/dt={DAY}/{name}" + (".gz" if gz else "")
        self.drop(key, gzip.compress(body) if gz else body)
        return key

    def s3_messages(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The next `count` "Object Created" messages moto routed to the capture queue (others discarded)."""
        return _receive(self.sqs, self.s3_events_queue, count, timeout, _is_object_created)

    def published(self, count: int, timeout: float = 20.0) -> list[TransformCompleted]:
        messages = _receive(self.sqs, self.published_queue, count, timeout, lambda _: True)
        return [TransformCompleted.parse_detail(json.loads(m["Body"])["detail"]) for m in messages]

    def no_more_published(self) -> bool:
        response = self.sqs.receive_message(QueueUrl=self.published_queue, WaitTimeSeconds=1)
        return not response.get("Messages")

    def run(self, messages: list[dict[str, Any]]) -> BatchOutcome:
        return process_batch(lambda_sqs_event(messages), self.deps, remaining_ms=lambda: 600_000)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(self.warehouse_path, read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def get_text(self, key: str) -> str:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def _is_object_created(message: dict[str, Any]) -> bool:
    return json.loads(message["Body"]).get("detail-type") == "Object Created"


def _receive(sqs: Any, queue: str, count: int, timeout: float, keep: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            if keep(message):
                found.append(message)
    assert len(found) >= count, f"expected {count} message(s) on {queue}, got {len(found)}"
    return found


def lambda_sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """SQS messages as the Lambda event source mapping of a FIFO queue hands them to the function."""
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": message.get("MessageId", str(uuid.uuid4())),
                "receiptHandle": message.get("ReceiptHandle", "handle"),
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SequenceNumber": str(18849496460467696128 + index),
                    "MessageGroupId": "dbt",
                    "SenderId": "AIDAEXAMPLE",
                    "MessageDeduplicationId": str(uuid.uuid4()),
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:restaurant-pipeline-transformer.fifo",
                "awsRegion": "eu-west-3",
            }
            for index, message in enumerate(messages)
        ]
    }


def provision(endpoint: str) -> tuple[Any, Any, str, str]:
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    events = boto3.client("events")
    dynamodb = boto3.client("dynamodb")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    dynamodb.create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    events.create_event_bus(Name=BUS)
    queues = []
    for name, bus, pattern in (
        # the transformer's own route (restaurant_pipeline.topology): Object Created under raw/places/ only
        (
            "s3-events",
            "default",
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"object": {"key": [{"prefix": "raw/places/"}]}},
            },
        ),
        ("published", BUS, {"source": ["restaurant-pipeline.transformer"]}),
    ):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        queues.append(url)
    return s3, sqs, queues[0], queues[1]


@pytest.fixture
def stack(aws: str, parsed_builder: DbtBuilder, tmp_path: Path) -> Iterator[Stack]:
    s3, sqs, s3_events_queue, published_queue = provision(aws)
    warehouse_path = str(tmp_path / "warehouse.duckdb")
    builder = parsed_builder.with_environment(WAREHOUSE_PATH=warehouse_path, AWS_ENDPOINT_URL=aws)
    deps = TransformerDeps(
        store=S3ObjectStore(s3, BUCKET),
        builder=builder,
        marts=WarehouseMarts(DuckDBWarehouse(warehouse_path)),
        claims=ObjectClaims(boto3.client("dynamodb"), "idempotency"),
        publisher=EventPublisher(boto3.client("events"), BUS),
        ledger=RunLedger(boto3.client("dynamodb"), "ledger"),
    )
    yield Stack(aws, s3, sqs, builder, deps, warehouse_path, s3_events_queue, published_queue)
