"""The collector against real local servers: the Places stub (a real aiohttp server on a free port, in a
background thread) and the moto server (S3, EventBridge, SQS, DynamoDB, Secrets Manager over HTTP).

`collector` provisions what the collector talks to, exactly as the topology names it, plus two observation
queues: every event the collector publishes on the bus, and every S3 "Object Created" on the default bus.
"""

from __future__ import annotations

import copy
import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from restaurant_pipeline.local.esm import LambdaContext
from restaurant_pipeline.local.places_stub import StubServer, StubSettings
from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment
from services.common.names import RAW_PREFIX
from tests.conftest import REGION, load_event
from tests.support.ledger import create_ledger_table

pytestmark = pytest.mark.integration

API_KEY = "AIzaSyCANARY-collector-test-key-0001"
BUCKET = "restaurant-pipeline-test"
BUS = "restaurant-pipeline"
LEDGER = "restaurant-pipeline-ledger"


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubServer]:
    with StubServer(StubSettings()) as server:
        yield server


@pytest.fixture
def stub(stub_server: StubServer) -> StubServer:
    """The stub with default switches and zeroed counters for each test."""
    stub_server.reset(**StubSettings().model_dump())
    return stub_server


def _queue_for_rule(sqs: Any, events: Any, name: str, bus: str, pattern: dict[str, Any]) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
    return url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in the queue (moto delivers rule targets synchronously within PutEvents / PutObject)."""
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Collector:
    """Drives the real handler and observes its effects."""

    stub: StubServer
    s3: Any
    sqs: Any
    dynamodb: Any
    bus_queue: str
    s3_queue: str

    def sqs_event(
        self,
        detail: dict[str, Any],
        receive_count: int = 1,
        event_id: str = "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        body: str | None = None,
    ) -> dict[str, Any]:
        event = copy.deepcopy(load_event("collector_sqs_collection_requested.json"))
        record = event["Records"][0]
        envelope = json.loads(record["body"])
        envelope["detail"] = detail
        envelope["id"] = event_id
        record["body"] = body if body is not None else json.dumps(envelope)
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        record["messageId"] = str(uuid.uuid4())
        return event

    def invoke(self, event: dict[str, Any], timeout_seconds: int = 60) -> dict[str, Any]:
        from services.collector.handler import lambda_handler

        context = LambdaContext(function_name="restaurant-pipeline-collector", timeout_seconds=timeout_seconds)
        return dict(lambda_handler(event, context))

    def request(self, receive_count: int = 1, timeout_seconds: int = 60, **detail: Any) -> dict[str, Any]:
        return self.invoke(self.sqs_event({"cities": ["Paris"], **detail}, receive_count), timeout_seconds)

    def bus_events(self) -> list[dict[str, Any]]:
        return drain(self.sqs, self.bus_queue)

    def object_created_keys(self) -> list[str]:
        return [event["detail"]["object"]["key"] for event in drain(self.sqs, self.s3_queue)]

    def raw_keys(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=RAW_PREFIX)
        return [item["Key"] for item in listing.get("Contents", [])]

    def read(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]

    def ledger(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=LEDGER)["Items"]
        return [{key: next(iter(value.values())) for key, value in item.items()} for item in items]


@pytest.fixture
def collector(aws: str, stub: StubServer, monkeypatch: pytest.MonkeyPatch) -> Collector:
    # a high quota keeps these tests fast; pacing itself is tested in test_rate_limit.py
    config = parse_config({"places": {"requests_per_minute": 12_000}})
    topology = build_topology(config, BUCKET, BUS)
    resources = StackResources(
        bucket=BUCKET,
        bus_name=BUS,
        topic_arn=f"arn:aws:sns:{REGION}:123456789012:restaurant-pipeline",
        idempotency_table="restaurant-pipeline-idempotency",
        ledger_table=LEDGER,
        places_api_base_url=stub.url,
        endpoint_url=aws,
    )
    for name, value in service_environment(config, topology, resources)["collector"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GOOGLE_PLACES_API_KEY", API_KEY)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("PLACES_API_KEY_SECRET_ARN", raising=False)
    from services.collector.handler import app

    app.cache_clear()  # a new execution environment: its adapters are built from this environment

    s3, sqs, events, dynamodb = (boto3.client(name) for name in ("s3", "sqs", "events", "dynamodb"))
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    events.create_event_bus(Name=BUS)
    bus_queue = _queue_for_rule(sqs, events, "observe-collector", BUS, {"source": ["restaurant-pipeline.collector"]})
    s3_queue = _queue_for_rule(
        sqs,
        events,
        "observe-s3",
        "default",
        {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [BUCKET]}}},
    )
    create_ledger_table(dynamodb, LEDGER)
    return Collector(stub, s3, sqs, dynamodb, bus_queue, s3_queue)
