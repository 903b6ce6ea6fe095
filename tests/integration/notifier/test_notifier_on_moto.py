"""The notifier's Lambda handler against a real moto server: SNS topic -> SQS capture queue -> .eml files.

Counts the emails SNS actually delivered, through the same outbox drain the local stack uses.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from restaurant_pipeline.ledger_views import audit_pipeline
from restaurant_pipeline.local.outbox import OutboxMessage, drain_sns_capture, read_outbox
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment
from services.common.adapters.ledger import RunLedger
from services.notifier import handler
from services.notifier.adapters.dynamodb import EMAIL_KEY_PREFIX, UNDELIVERED_KEY, EmailInProgressError
from services.notifier.bootstrap import bootstrap
from services.notifier.service import NotifyResult
from services.notifier.settings import NotifierSettings
from tests.conftest import REGION
from tests.unit.notifier.builders import RUN_ID, collection_failed, eventbridge_body, later, sqs_event, transform

pytestmark = pytest.mark.integration

TOPIC = "restaurant-pipeline-notifications"
LEDGER = "restaurant-pipeline-ledger"
IDEMPOTENCY = "restaurant-pipeline-idempotency"


@dataclass
class FakeLambdaContext:
    function_name: str = "restaurant-pipeline-notifier"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:restaurant-pipeline-notifier"
    aws_request_id: str = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Stack:
    sns: Any
    sqs: Any
    dynamodb: Any
    topic_arn: str
    capture_url: str
    outbox: Path
    settings: NotifierSettings

    def create_topic(self) -> None:
        self.topic_arn = self.sns.create_topic(Name=TOPIC)["TopicArn"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.capture_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def invoke(self, *bodies: str, requested: bool = True) -> dict[str, Any]:
        """The bodies through the handler; `requested`: first record each run's REQUESTED step, as the collector
        does before it publishes anything about a run (the notifier mails only runs the ledger knows)."""
        if requested:
            for body in bodies:
                self.request(json.loads(body)["detail"]["run_id"])
                self.transformed(json.loads(body))
        return handler.lambda_handler(sqs_event(*bodies), FakeLambdaContext(aws_request_id=str(uuid.uuid4())))

    def request(self, run_id: str) -> None:
        RunLedger(self.dynamodb, LEDGER).record(run_id, "REQUESTED", "-", "collector", {"cities": ["Paris"]})

    def transformed(self, event: dict[str, Any]) -> None:
        """The transformer's step for each object a Transform Completed names, as it records it before publishing."""
        detail = event["detail"]
        if event["detail-type"] != "Transform Completed":
            return
        for source in detail["sources"]:
            version = source.get("version_id") or source.get("etag")
            step = {"outcome": detail["outcome"]}
            RunLedger(self.dynamodb, LEDGER).record(
                detail["run_id"], "TRANSFORMED", source["key"], "transformer", step, version=version
            )

    def emails(self) -> list[OutboxMessage]:
        drain_sns_capture(self.sqs, self.capture_url, self.outbox)
        return read_outbox(self.outbox)

    def email_idempotency_records(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=IDEMPOTENCY)["Items"]
        return [item for item in items if item["id"]["S"].startswith(EMAIL_KEY_PREFIX)]


def _create_table(dynamodb: Any, name: str, keys: list[tuple[str, str]]) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    _create_table(dynamodb, IDEMPOTENCY, [("id", "HASH")])
    _create_table(dynamodb, LEDGER, [("pk", "HASH"), ("sk", "RANGE")])
    capture_url = sqs.create_queue(QueueName="email-capture")["QueueUrl"]
    topic_arn = f"arn:aws:sns:{REGION}:123456789012:{TOPIC}"  # created by the tests that need it
    config = PipelineConfig()
    resources = StackResources(
        bucket="restaurant-pipeline-data",
        bus_name="restaurant-pipeline",
        topic_arn=topic_arn,
        idempotency_table=IDEMPOTENCY,
        ledger_table=LEDGER,
        log_location=str(tmp_path / "logs"),
    )
    environment = service_environment(config, build_topology(config, resources.bucket), resources)["notifier"]
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setattr(handler.metrics, "namespace", environment["POWERTOOLS_METRICS_NAMESPACE"])
    handler.app.cache_clear()
    stack = Stack(sns, sqs, dynamodb, topic_arn, capture_url, tmp_path / "outbox", NotifierSettings.from_env())
    try:
        yield stack
    finally:
        handler.app.cache_clear()


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_a_passed_run_sends_one_email_to_the_topic_and_it_lands_in_the_outbox(stack):
    stack.create_topic()
    response = stack.invoke(eventbridge_body(transform("passed")))

    assert failed_ids(response) == []
    emails = stack.emails()
    assert [e.subject for e in emails] == [
        "[restaurant-pipeline] OK Paris 2026-11-25: 20 restaurants, 31/31 tests passed"
    ]
    assert "Le Comptoir du Relais (4.8, 5,123 ratings)" in emails[0].body
    assert str(Path(stack.settings.log_location) / "transformer.log") in emails[0].body


def test_a_duplicated_or_replayed_event_sends_one_email(stack):
    stack.create_topic()
    body = eventbridge_body(collection_failed("api_quota_daily"))

    first = stack.invoke(body, body)  # delivered twice in one batch
    again = stack.invoke(body)  # delivered again later
    replay = stack.invoke(body)  # replayed from the DLQ (a new SQS message, the same event)

    assert failed_ids(first) == failed_ids(again) == failed_ids(replay) == []
    assert len(stack.emails()) == 1
    assert len(stack.email_idempotency_records()) == 1


def test_the_idempotency_record_alone_prevents_a_second_email(stack):
    """Even when the ledger has no NOTIFIED item (e.g. its write failed), Powertools idempotency holds."""
    stack.create_topic()
    body = eventbridge_body(transform("error"))
    stack.invoke(body)
    ledger_notified = stack.dynamodb.scan(
        TableName=LEDGER,
        FilterExpression="#s = :n",
        ExpressionAttributeNames={"#s": "step"},
        ExpressionAttributeValues={":n": {"S": "NOTIFIED"}},
    )["Items"]
    assert len(ledger_notified) == 1
    for item in ledger_notified:
        stack.dynamodb.delete_item(TableName=LEDGER, Key={"pk": item["pk"], "sk": item["sk"]})

    assert failed_ids(stack.invoke(body)) == []
    assert len(stack.emails()) == 1


def test_a_two_city_run_sends_one_email_once_both_cities_are_done(stack):
    stack.create_topic()
    cities = ["Paris", "Lyon"]

    stack.invoke(eventbridge_body(transform("passed", city="Paris", run_cities=cities)))
    assert stack.emails() == []
    stack.invoke(eventbridge_body(collection_failed("api_quota_daily", city="Lyon", run_cities=cities)))

    emails = stack.emails()
    assert len(emails) == 1
    assert emails[0].subject == ("[restaurant-pipeline] PARTIAL 2026-11-25: 1/2 cities OK; NOT COLLECTED: Lyon")
    assert "✅ Paris" in emails[0].body and "❌ Not collected · Lyon" in emails[0].body


def test_two_cities_finishing_at_once_in_two_invocations_send_exactly_one_email(stack):
    stack.create_topic()
    runs = [f"race-{n}" for n in range(6)]

    def environment() -> Any:
        # A separate execution environment: its own clients and its own notifier.
        app = bootstrap(
            stack.settings,
            {"sns": boto3.client("sns", region_name=REGION), "dynamodb": boto3.client("dynamodb", region_name=REGION)},
        )
        app.once.register_lambda_context(FakeLambdaContext())
        return app.notifier

    def invocation(notifier: Any, event: Any, barrier: threading.Barrier, results: list, retries: list) -> None:
        barrier.wait()
        try:
            results.append(notifier.notify(event))
        except EmailInProgressError:  # the record fails; SQS redelivers it after the visibility timeout
            retries.append(event)

    for run in runs:
        stack.request(run)
        events = [
            transform("passed", city=city, run_id=run, run_cities=["Paris", "Lyon"]) for city in ("Paris", "Lyon")
        ]
        for event in events:
            stack.transformed(json.loads(eventbridge_body(event)))
        notifiers = [environment(), environment()]
        barrier = threading.Barrier(2)
        results: list[NotifyResult] = []
        retries: list[Any] = []
        threads = [
            threading.Thread(target=invocation, args=(notifier, event, barrier, results, retries))
            for notifier, event in zip(notifiers, events, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        results.extend(notifiers[0].notify(event) for event in retries)  # the redelivery
        assert len(results) == 2, (run, results)
        actions = sorted(r.action for r in results)
        assert actions.count("sent") == 1, (run, actions)
        assert set(actions) <= {"sent", "waiting", "already_notified", "duplicate"}, (run, actions)

    emails = stack.emails()
    assert len(emails) == len(runs)
    assert sorted(e.body.split("run ")[-1].strip() for e in emails) == sorted(runs)


def test_a_failed_sns_publish_fails_the_record_and_the_retry_sends_exactly_once(stack):
    body = eventbridge_body(transform("tests_failed"))

    response = stack.invoke(body)  # the topic does not exist yet: SNS answers NotFound

    assert len(failed_ids(response)) == 1
    assert stack.email_idempotency_records() == []  # nothing blocks the retry
    stack.create_topic()
    assert failed_ids(stack.invoke(body)) == []
    assert failed_ids(stack.invoke(body)) == []
    emails = stack.emails()
    assert [e.subject for e in emails] == ["[restaurant-pipeline] TESTS FAILED Paris 2026-11-25: 2/31 tests failed"]


def undelivered_notes(stack: Stack) -> list[dict[str, Any]]:
    return [i for i in stack.dynamodb.scan(TableName=IDEMPOTENCY)["Items"] if i["id"]["S"] == UNDELIVERED_KEY]


def test_an_email_sns_refused_is_delivered_late_saying_when_and_how_often_it_was_refused(stack):
    body = eventbridge_body(transform("tests_failed"))
    for _ in range(3):  # every receive, until SQS parks it in the DLQ
        assert len(failed_ids(stack.invoke(body))) == 1

    stack.create_topic()  # SNS works again; the replay from the DLQ
    assert failed_ids(stack.invoke(body)) == []

    [email] = stack.emails()
    assert email.subject == "[restaurant-pipeline] TESTS FAILED Paris 2026-11-25: 2/31 tests failed"
    text = " ".join(email.body.split())
    assert text.startswith("⚠️ This email is late: SNS refused to deliver it at 20")
    assert "(3 attempt(s) until 20" in text and "NotFound" in text
    assert "restaurant-pipeline dlq replay notifier" in text
    assert "⚠️ Data tests failed" in email.body  # the email itself follows the note
    assert undelivered_notes(stack) == []  # said once: the next email has no note
    stack.invoke(eventbridge_body(transform("passed", run_id="run-after")))
    assert not stack.emails()[-1].body.startswith("⚠️")


def test_after_an_outage_the_next_run_s_email_names_the_run_whose_email_was_not_delivered(stack):
    assert len(failed_ids(stack.invoke(eventbridge_body(transform("error", run_id="run-lost"))))) == 1
    stack.create_topic()

    stack.invoke(eventbridge_body(transform("passed", run_id="run-next")))

    [email] = stack.emails()
    text = " ".join(email.body.split())
    assert text.startswith("⚠️ An earlier notification could not be delivered: SNS refused it at ")
    assert "the email of run(s) run-lost" in text
    assert undelivered_notes(stack) == []


def test_a_malformed_record_fails_alone_and_the_rest_of_the_batch_is_sent(stack):
    stack.create_topic()
    stack.request(RUN_ID)
    body = eventbridge_body(transform("passed"))
    stack.transformed(json.loads(body))
    event = sqs_event("{not an event", body)
    response = handler.lambda_handler(event, FakeLambdaContext())

    assert failed_ids(response) == [event["Records"][0]["messageId"]]
    assert len(stack.emails()) == 1


def test_the_same_failure_in_the_next_run_is_summarised_with_real_stores(stack):
    stack.create_topic()
    stack.invoke(eventbridge_body(collection_failed("api_auth", run_id="run-1")))
    stack.invoke(eventbridge_body(collection_failed("api_auth", run_id="run-2")))

    first, second = stack.emails()
    assert "REPEAT" not in first.subject and "Check the key" in first.body
    assert second.subject.startswith("[restaurant-pipeline] REPEAT NOT COLLECTED Paris 2026-11-25: 2x since")
    assert "same failure as run run-1" in second.body


def test_an_older_event_delivered_late_does_not_replace_the_newer_outcome(stack):
    stack.create_topic()
    stack.invoke(eventbridge_body(transform("passed", produced_at=later(30))))
    # another version of the object (a reprocess), so that the ledger vouches for this outcome too
    earlier = [s.model_copy(update={"version_id": "earlier-version"}) for s in transform("error").sources]
    result = stack.invoke(eventbridge_body(transform("error", produced_at=later(2), sources=earlier)))

    assert result == {"batchItemFailures": []}
    assert [e.subject.split()[1] for e in stack.emails()] == ["OK"]
    assert not [s for s in RunLedger(stack.dynamodb, LEDGER).steps(RUN_ID) if s["step"] == "REFUSED"]


def test_a_run_wide_collection_failure_never_hides_a_city_that_was_transformed(stack):
    """The transformer can finish Paris before the collector publishes a failure naming no city."""
    stack.create_topic()
    cities = ["Paris", "Lyon"]
    stack.invoke(eventbridge_body(transform("passed", city="Paris", run_cities=cities, produced_at=later(1))))
    stack.invoke(
        eventbridge_body(collection_failed("api_quota_daily", city=None, run_cities=cities, produced_at=later(3)))
    )

    (email,) = stack.emails()
    assert email.subject.endswith("1/2 cities OK; NOT COLLECTED: Lyon")


def test_forged_events_for_runs_the_ledger_does_not_know_are_not_mailed_and_audit_lists_them(stack):
    stack.create_topic()
    forged = [
        eventbridge_body(transform("passed", run_id="forged-1")),
        eventbridge_body(collection_failed("api_auth", run_id="forged-2", message="see http://evil.example")),
    ]

    response = stack.invoke(*forged, requested=False)

    assert failed_ids(response) == []  # refused, not retried into the dead-letter queue
    assert stack.emails() == []
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="audit-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    target = SimpleNamespace(
        ledger=RunLedger(stack.dynamodb, LEDGER),
        clients=SimpleNamespace(s3=s3),
        bucket="audit-bucket",
        queues={},
        dead_letter_queues=list,  # no queue: this audit is about the ledger
    )
    report = audit_pipeline(target)
    refused = report["findings"]["events refused by the notifier (forged or unknown run)"]
    assert not report["clean"]
    assert [line.split(" at ")[0] for line in sorted(refused)] == [
        "Collection Failed for run forged-2",
        "Transform Completed for run forged-1",
    ]
    assert report["findings"]["runs never notified"] == [] and report["in_progress"] == []
