"""A moto-backed transformer for tests and benchmarks: real S3 events (bucket -> default bus -> SQS), a real DuckDB
warehouse read through httpfs, real dbt, real DynamoDB idempotency, a captured bus. The fixtures that build one are in
tests/integration/conftest.py."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import boto3

from contracts.events import TransformCompleted
from services.transformer.adapters.dbt_build import DbtBuilder
from services.transformer.handler import process_batch
from services.transformer.service import BatchOutcome, TransformerDeps
from tests.support.ledger import create_ledger_table

BUCKET = "restaurant-pipeline-local"

BUS = "restaurant-pipeline"

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "raw"

DAY = "2026-01-01"


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

    def drop(self, key: str, body: bytes) -> str | None:
        """Uploads `body` under `key`; the version S3 gave it (None while the bucket is not versioned)."""
        version = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body).get("VersionId")
        return version if version not in (None, "null") else None

    def version_objects(self) -> None:
        """Versioning on, as on the real bucket (cdk/constructs/shared.py): each upload is a version of its own,
        which its "Object Created" event names."""
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    def drop_fixture(self, name: str, key: str | None = None, gz: bool = False) -> str:
        body = (FIXTURES / name).read_bytes()
        key = key or f"raw/places/dt={DAY}/{name}" + (".gz" if gz else "")
        self.drop(key, gzip.compress(body) if gz else body)
        return key

    def s3_messages(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The next `count` "Object Created" messages moto routed to the capture queue (others discarded)."""
        return receive(self.sqs, self.s3_events_queue, count, timeout, _is_object_created)

    def s3_message_of(self, key: str, version_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """The "Object Created" message of one upload: the one naming its key and version (others discarded).

        Waiting for a message by number alone cannot tell a re-upload's event from the first upload's: on moto both
        carry the same event id and etag, and the same time when they fall in the same second."""
        return receive(self.sqs, self.s3_events_queue, 1, timeout, lambda m: _names(m, key, version_id))[0]

    def published(self, count: int, timeout: float = 20.0) -> list[TransformCompleted]:
        messages = receive(self.sqs, self.published_queue, count, timeout, lambda _: True)
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


def _names(message: dict[str, Any], key: str, version_id: str) -> bool:
    event = json.loads(message["Body"])
    stored = event.get("detail", {}).get("object", {})
    named = (stored.get("key"), stored.get("version-id")) == (key, version_id)
    return event.get("detail-type") == "Object Created" and named


def receive(sqs: Any, queue: str, count: int, timeout: float, keep: Any) -> list[dict[str, Any]]:
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
    create_ledger_table(dynamodb, "ledger")
    events.create_event_bus(Name=BUS)
    queues = []
    for name, bus, pattern in (
        # the transformer's own route (restaurant_pipeline.model.topology): Object Created under raw/places/ only
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


def places_lines(day: date | str, places: int, validated: bool) -> bytes:
    """`places` places of Lyon collected on `day`, one JSON line each; `validated` adds `_source`, as the
    transformer writes them under validated/ (what the warehouses read)."""
    lines = []
    for i in range(places):
        place: dict[str, Any] = {
            "id": f"place-{i}",
            "displayName": {"text": f"Place {i}", "languageCode": "fr"},
            "location": {"latitude": 45.0 + (i % 1000) / 1000, "longitude": 4.0 + (i // 1000) / 1000},
            "rating": round(3.0 + (i % 20) / 10, 1),
            "userRatingCount": 10 + i,
            "priceLevel": "PRICE_LEVEL_MODERATE",
            "businessStatus": "OPERATIONAL",
            "_collection": {
                "run_id": f"run-{day}",
                "city": "Lyon",
                "run_cities": ["Lyon"],
                "trigger_source": "schedule",
                "query": "q",
                "rectangle": None,
                "page": 1 + i // 20,
                "collected_at": f"{day}T08:00:00Z",
            },
        }
        if validated:
            place["_source"] = {"key": f"raw/{day}", "version": None, "line": i + 1, "loaded_at": f"{day} 08:00:00"}
        lines.append(json.dumps(place))
    return ("\n".join(lines) + "\n").encode()
