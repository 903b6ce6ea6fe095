"""What the fault drills share: a stack with chosen settings, the Places stub's controls, a capture of every bus
event, the outbox, the workers' logs and metrics, queue depths, and a fingerprint of the marts.

Each drill asserts numbers it measured here, and records them for the table of docs/reliability.md
(tests.e2e.reliability_report.record).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from contracts.events import CLI_SOURCE, COLLECTOR_SOURCE, SCHEDULER_SOURCE, TRANSFORMER_SOURCE
from restaurant_pipeline.local.outbox import OutboxMessage, read_outbox
from services.common.names import METRICS_NAMESPACE
from services.transformer.domain.model import MARTS
from tests.support.local_stack import REPO_ROOT, RunningStack, wait_until

T = TypeVar("T")
CLI = [sys.executable, "-m", "restaurant_pipeline.cli"]
# Columns that name the processing rather than the data (which run, which object version, when loaded).
VOLATILE_COLUMNS = ("run_id", "source_key", "collected_at", "loaded_at", "dbt_invocation_id")


def cli(stack: RunningStack, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=stack.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


class PlacesControl:
    """The Places stub's own controls over HTTP: GET /_stub/stats, PUT /_stub/settings, POST /_stub/reset."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def settings(self, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PUT", "/_stub/settings", changes))

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_stub/stats"))

    def reset(self) -> None:
        self._call("POST", "/_stub/reset")


class EventCapture:
    """Every event of the pipeline (custom bus) and every S3 "Object Created" (default bus), copied by two extra
    rules to a queue of our own: what was published, how often."""

    QUEUE = "drill-event-capture"

    def __init__(self, stack: RunningStack) -> None:
        clients = stack.target.clients
        self._sqs, events = clients.sqs, clients.events
        self.url = self._sqs.create_queue(QueueName=self.QUEUE)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        patterns = {
            stack.info.event_bus: {"source": [SCHEDULER_SOURCE, CLI_SOURCE, COLLECTOR_SOURCE, TRANSFORMER_SOURCE]},
            "default": {"source": ["aws.s3"], "detail-type": ["Object Created"]},
        }
        for bus, pattern in patterns.items():
            name = f"drill-capture-{'custom' if bus != 'default' else 'default'}"
            events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
        self.events: list[dict[str, Any]] = []
        self.bodies: list[str] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return self.events
            for message in messages:
                self.bodies.append(message["Body"])
                self.events.append(json.loads(message["Body"]))
            self._sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def of(self, detail_type: str, where: Callable[[dict[str, Any]], bool] = lambda d: True) -> list[dict[str, Any]]:
        self.drain()
        return [e for e in self.events if e.get("detail-type") == detail_type and where(e.get("detail") or {})]

    def s3_created(self, key: str) -> list[dict[str, Any]]:
        return self.of("Object Created", lambda d: d.get("object", {}).get("key") == key)


def emails(stack: RunningStack, containing: str = "") -> list[OutboxMessage]:
    return [m for m in read_outbox(Path(stack.info.outbox_dir)) if containing in m.subject + m.body]


def delivered_emails(stack: RunningStack, containing: str, timeout: float = 30) -> list[OutboxMessage]:
    """The emails about `containing`, once at least one is in the outbox and SNS has nothing more in flight to it
    (the local outbox turns the SNS capture queue into .eml files every half second)."""
    return wait_until(
        lambda: depth(stack, stack.info.email_capture_queue_url) == 0 and emails(stack, containing),
        timeout=timeout,
        what=f"an email about {containing}",
    )


def alarm_emails(
    stack: RunningStack, alarm: str, state: str = "ALARM", since: datetime | None = None
) -> list[OutboxMessage]:
    """The local alarms' emails (restaurant_pipeline/local/alarms.py) about one alarm entering `state`."""
    return [
        m
        for m in read_outbox(Path(stack.info.outbox_dir))
        if m.subject.startswith(f'{state}: "{alarm}"') and (since is None or published_at(m) >= since)
    ]


def alarm_status(stack: RunningStack, alarm: str) -> dict[str, Any]:
    """One alarm's local state, reason and last email (.pipeline/alarms.json)."""
    statuses = json.loads((Path(stack.state_dir) / "alarms.json").read_text(encoding="utf-8"))
    return dict(statuses[alarm])


def logged_at(record: dict[str, Any]) -> datetime:
    """When a Powertools log record was written."""
    return datetime.fromisoformat(str(record["timestamp"]))


def published_at(email: OutboxMessage) -> datetime:
    """When SNS published the email, to the millisecond: the outbox names each file after the notification's
    Timestamp (its Date header keeps whole seconds only)."""
    stamp = email.path.name.split("-", 1)[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def seconds_until(start: datetime, email: OutboxMessage) -> float:
    """From a moment to the email's publication by SNS."""
    return (published_at(email) - start).total_seconds()


def depth(stack: RunningStack, queue_url: str) -> int:
    attributes = stack.target.clients.sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def dlq_depths(stack: RunningStack) -> dict[str, int]:
    return {service: depth(stack, queue.dlq_url) for service, queue in stack.info.queues.items()}


def log_records(stack: RunningStack, service: str) -> list[dict[str, Any]]:
    """The JSON lines of a worker's log (Powertools records and EMF metric blobs)."""
    path = Path(stack.info.logs_dir) / f"{service}.log"
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def metric_blobs(stack: RunningStack, service: str) -> list[dict[str, Any]]:
    """One dict per invocation: the Powertools EMF metrics it flushed (name -> value); not Lambda's own metrics,
    which the local event source mapping writes beside them (restaurant_pipeline/local/emf.py)."""
    blobs = []
    for record in log_records(stack, service):
        aws = record.get("_aws")
        if not isinstance(aws, dict):
            continue
        names = [
            m["Name"]
            for block in aws.get("CloudWatchMetrics", [])
            if block.get("Namespace") == METRICS_NAMESPACE
            for m in block.get("Metrics", [])
        ]
        values = {name: record.get(name) for name in names if name != "ColdStart"}
        if values:  # each add_metric call appends to the list: the invocation's total is the sum
            blobs.append({name: sum(v) if isinstance(v, list) else v for name, v in values.items()})
    return blobs


def ledger_steps(stack: RunningStack, step: str, subject: str | None = None) -> list[dict[str, Any]]:
    return [
        s for s in stack.target.ledger.all_steps() if s["step"] == step and (subject is None or s["subject"] == subject)
    ]


def marts_fingerprint(stack: RunningStack, place_ids: list[str] | None = None) -> dict[str, str]:
    """A digest per mart of its rows (optionally only these places), without the processing columns."""
    import duckdb

    def read() -> dict[str, str] | None:
        try:
            connection = duckdb.connect(stack.info.warehouse_path, read_only=True)
        except duckdb.IOException:
            return None  # a build holds the file: try again
        with connection:
            digests = {}
            for mart in MARTS:
                columns = [
                    row[0]
                    for row in connection.execute(
                        "select column_name from information_schema.columns where table_name = ? order by 1", [mart]
                    ).fetchall()
                    if row[0] not in VOLATILE_COLUMNS
                ]
                where = ""
                parameters: list[Any] = []
                if place_ids is not None and "place_id" in columns:
                    where = " where place_id in (select unnest(?))"
                    parameters = [place_ids]
                elif place_ids is not None:
                    continue
                rows = connection.execute(
                    f"select {', '.join(columns)} from {mart}{where} order by all", parameters
                ).fetchall()
                digests[mart] = f"{len(rows)}:" + hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
            return digests

    return wait_until(read, timeout=60, what="a read-only connection to the warehouse")


def query(stack: RunningStack, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
    import duckdb

    def run() -> list[tuple[Any, ...]] | None:
        try:
            connection = duckdb.connect(stack.info.warehouse_path, read_only=True)
        except duckdb.IOException:
            return None
        with connection:
            return connection.execute(sql, parameters or []).fetchall() or [()]

    return wait_until(run, timeout=60, what="a read-only connection to the warehouse")


def place_line(place_id: str, name: str, rating: float = 4.0) -> str:
    return json.dumps(
        {
            "id": place_id,
            "displayName": {"text": name, "languageCode": "fr"},
            "formattedAddress": f"{len(name)} rue du Test, 75001 Paris",
            "location": {"latitude": 48.86, "longitude": 2.34},
            "rating": rating,
            "userRatingCount": 10,
            "priceLevel": "PRICE_LEVEL_MODERATE",
            "businessStatus": "OPERATIONAL",
            "types": ["restaurant"],
        }
    )


def drop_file(stack: RunningStack, key: str, lines: list[str]) -> None:
    body = ("\n".join(lines) + "\n").encode()
    stack.target.clients.s3.put_object(Bucket=stack.info.bucket, Key=key, Body=body)


def completed_for(capture: EventCapture, key: str) -> list[dict]:
    return [e for e in capture.of("Transform Completed") if any(s["key"] == key for s in e["detail"]["sources"])]


def park_a_notification(stack: RunningStack, capture: EventCapture, name: str) -> str:
    """Delete the topic, drop a file under raw/: its notification fails until it lands in the notifier's DLQ, no
    email sent. The run id of that transform."""
    stack.target.clients.sns.delete_topic(TopicArn=stack.info.topic_arn)
    key = f"raw/places/dt=2026-01-06/{name}-sns-down-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, key, [place_line(f"ChIJ-{name}-sns", "Chez Panne", 3.9)])
    dlq = stack.info.queues["notifier"].dlq_url
    wait_until(lambda: depth(stack, dlq) == 1, timeout=180, what="the notification in the DLQ")
    [completed] = completed_for(capture, key)
    run_id = str(completed["detail"]["run_id"])
    assert emails(stack, run_id) == []
    return run_id


def restore_the_topic(stack: RunningStack) -> None:
    """The topic again, with the local outbox's capture subscribed, as the stack made it."""
    from restaurant_pipeline.local.stack import TOPIC_NAME

    sns, sqs = stack.target.clients.sns, stack.target.clients.sqs
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    capture = sqs.get_queue_attributes(QueueUrl=stack.info.email_capture_queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=capture["Attributes"]["QueueArn"])
