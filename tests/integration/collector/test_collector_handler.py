"""The real collector handler against the Places stub and the moto server."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from contracts import ContractError
from restaurant_pipeline.local.places_stub import Fault
from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.topology import build_topology
from tests.integration.collector.conftest import API_KEY, BUS, Collector, _queue_for_rule, drain

pytestmark = pytest.mark.integration


def completed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == "Collection Completed"]


def failed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == "Collection Failed"]


def test_a_city_lands_as_one_gzip_ndjson_object_and_completed_is_published(collector: Collector) -> None:
    response = collector.request(max_restaurants=50)

    assert response == {"batchItemFailures": []}
    [key] = collector.raw_keys()
    assert key.startswith("raw/places/dt=2026-03-14/20260314T080000Z-") and key.endswith("__paris.jsonl.gz")
    rows = collector.read(key)
    assert len(rows) == len({row["id"] for row in rows}) == 50
    assert {row["_collection"]["page"] for row in rows} == {1, 2, 3}
    assert set(rows[0]) >= {"id", "displayName", "formattedAddress", "location", "rating", "priceLevel"} - {
        k for k in ("rating", "priceLevel") if k not in rows[0]
    }
    assert "reviews" not in rows[0], "only the masked fields come back"
    [done] = completed(collector.bus_events())
    assert (done["city"], done["places"], done["pages"], done["requests"], done["object_key"]) == (
        "Paris",
        50,
        3,
        3,
        key,
    )
    assert done["already_collected"] is False and done["metadata"]["correlation_id"] == done["run_id"]
    steps = {item["sk"] for item in collector.ledger()}
    assert steps == {"REQUESTED#-", "COLLECTED#Paris"}


def test_500_restaurants_of_one_city_are_collected_by_tiling_the_viewport(collector: Collector) -> None:
    collector.request(max_restaurants=500)

    [key] = collector.raw_keys()
    rows = collector.read(key)
    assert len(rows) == len({row["id"] for row in rows}) == 500
    rectangles = [row["_collection"]["rectangle"] for row in rows if row["_collection"]["rectangle"]]
    assert len(rectangles) > 400, "beyond the first 60, places come from locationRestriction rectangles"
    [done] = completed(collector.bus_events())
    assert done["rectangles"] > 4 and done["places"] == 500
    stats = collector.stub.stats()
    assert stats["statuses"] == {"200": done["requests"]}


def test_a_redelivered_request_writes_nothing_new_and_emits_no_second_s3_event(collector: Collector) -> None:
    event = collector.sqs_event({"cities": ["Paris", "Lyon"], "max_restaurants": 30})
    collector.invoke(event)
    first_requests = collector.stub.stats()["search_requests"]
    redelivered = collector.sqs_event({"cities": ["Paris", "Lyon"], "max_restaurants": 30}, receive_count=2)
    collector.invoke(redelivered)

    assert len(collector.raw_keys()) == 2
    assert sorted(collector.object_created_keys()) == sorted(collector.raw_keys())  # one S3 event per object
    assert collector.stub.stats()["search_requests"] == first_requests, "the HEAD skips collected cities"
    done = completed(collector.bus_events())
    assert [d["already_collected"] for d in done] == [False, False, True, True]
    assert {d["places"] for d in done} == {30}


def test_a_failure_midway_leaves_no_object_and_the_retry_completes(collector: Collector) -> None:
    collector.stub.update(faults=[Fault(kind="unavailable", after=6, times=0)])
    response = collector.request(max_restaurants=500, timeout_seconds=3)

    assert len(response["batchItemFailures"]) == 1, "retryable: SQS redelivers"
    assert collector.raw_keys() == [] and collector.object_created_keys() == []
    assert failed(collector.bus_events()) == [], "not the last attempt: no Failed yet"

    collector.stub.reset(faults=[])
    assert collector.request(receive_count=2, max_restaurants=500) == {"batchItemFailures": []}
    assert len(collector.raw_keys()) == 1 and len(collector.object_created_keys()) == 1


def test_a_transient_5xx_is_retried_within_the_invocation(collector: Collector) -> None:
    collector.stub.update(faults=[Fault(kind="unavailable", after=1, times=2)])
    assert collector.request(max_restaurants=40) == {"batchItemFailures": []}
    [done] = completed(collector.bus_events())
    assert (done["retries"], done["requests"], done["places"]) == (2, 4, 40)


@pytest.mark.parametrize(
    ("switches", "category", "http_status"),
    [
        ({"invalid_key": True}, "api_auth", 400),
        ({"api_disabled": True}, "api_auth", 403),
        ({"faults": [Fault(kind="quota_day", times=0)]}, "api_quota_daily", 429),
    ],
)
def test_request_wide_failures_are_acknowledged_and_reported_once(
    collector: Collector, switches: dict[str, Any], category: str, http_status: int
) -> None:
    collector.stub.update(**switches)
    response = collector.request(cities=["Paris", "Lyon"], max_restaurants=500)

    assert response == {"batchItemFailures": []}, "not retried: retrying cannot help"
    [failure] = failed(collector.bus_events())
    assert (failure["category"], failure["city"], failure["retryable"], failure["final_attempt"]) == (
        category,
        None,
        False,
        True,
    )
    assert failure["http_status"] == http_status and failure["attempt"] == 1
    assert "Paris" in failure["message"] and "Lyon" in failure["message"]
    # each city had at most its first request in flight when the refusal came: none goes on after it
    assert collector.stub.stats()["search_requests"] <= 2
    assert collector.raw_keys() == []


def test_a_bad_request_fails_its_city_without_retry(collector: Collector) -> None:
    collector.stub.update(faults=[Fault(kind="bad_request", times=1)])
    response = collector.request(cities=["Paris"], max_restaurants=20)
    assert response == {"batchItemFailures": []}
    [failure] = failed(collector.bus_events())
    assert (failure["category"], failure["city"], failure["retryable"]) == ("api_bad_request", "Paris", False)


@pytest.mark.parametrize("kind", ["unavailable", "garbage", "reset"])
@pytest.mark.parametrize(("receive_count", "published"), [(1, False), (3, True)])
def test_retryable_failures_fail_the_record_and_report_on_the_last_attempt(
    collector: Collector, kind: str, receive_count: int, published: bool
) -> None:
    collector.stub.update(faults=[Fault(kind=kind, times=0)])  # type: ignore[arg-type]
    response = collector.request(receive_count=receive_count, timeout_seconds=2)

    assert len(response["batchItemFailures"]) == 1
    reports = failed(collector.bus_events())
    assert bool(reports) is published
    if published:
        [failure] = reports
        assert (failure["category"], failure["retryable"], failure["final_attempt"], failure["attempt"]) == (
            "api_unavailable",
            True,
            True,
            3,
        )
    steps = {item["sk"] for item in collector.ledger()}
    assert "COLLECTION_FAILED#Paris" in steps


def test_a_per_minute_429_is_waited_out_honouring_retry_after(collector: Collector) -> None:
    collector.stub.update(faults=[Fault(kind="quota_minute", after=1, times=1)], retry_after_seconds=1)
    assert collector.request(max_restaurants=40) == {"batchItemFailures": []}
    [done] = completed(collector.bus_events())
    assert (done["throttled"], done["retries"], done["places"]) == (1, 1, 40)


def test_a_per_minute_429_that_outlasts_the_invocation_fails_the_record(collector: Collector) -> None:
    collector.stub.update(faults=[Fault(kind="quota_minute", times=0)], retry_after_seconds=1)
    response = collector.request(receive_count=3, timeout_seconds=3)
    assert len(response["batchItemFailures"]) == 1
    [failure] = failed(collector.bus_events())
    assert (failure["category"], failure["retryable"], failure["final_attempt"]) == ("api_quota_minute", True, True)


def test_an_invalid_message_fails_only_its_own_record(collector: Collector) -> None:
    good = collector.sqs_event({"cities": ["Nice"], "max_restaurants": 5})
    bad = collector.sqs_event({"cities": []})
    garbage = collector.sqs_event({}, body="{not json")
    event = {"Records": [bad["Records"][0], good["Records"][0], garbage["Records"][0]]}

    response = collector.invoke(event)

    failures = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failures == {bad["Records"][0]["messageId"], garbage["Records"][0]["messageId"]}
    assert len(collector.raw_keys()) == 1


def test_the_key_can_come_from_secrets_manager(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    arn = boto3.client("secretsmanager").create_secret(Name="places-key", SecretString=API_KEY)["ARN"]
    monkeypatch.setenv("PLACES_API_KEY_SECRET_ARN", arn)
    monkeypatch.delenv("GOOGLE_PLACES_API_KEY")
    collector.stub.update(api_key=API_KEY)  # any other key is refused

    assert collector.request(max_restaurants=10) == {"batchItemFailures": []}
    assert len(collector.raw_keys()) == 1


def test_no_key_at_all_is_reported_as_api_auth(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_PLACES_API_KEY")
    assert collector.request() == {"batchItemFailures": []}
    [failure] = failed(collector.bus_events())
    assert failure["category"] == "api_auth" and "GOOGLE_PLACES_API_KEY" in failure["message"]
    assert collector.stub.stats()["search_requests"] == 0


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The collector's log lines exactly as Powertools formats them (JSON, with extras and correlation id)."""
    from services.collector.handler import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger._logger.removeHandler(handler)


def test_the_key_never_appears_in_logs_events_ledger_or_errors(
    collector: Collector, capfd: pytest.CaptureFixture[str], json_logs: io.StringIO
) -> None:
    collector.stub.update(api_key="another-key")  # ours is refused: 400 API_KEY_INVALID
    collector.request(cities=["Paris", "Lyon"])
    collector.stub.reset(api_key=None, faults=[Fault(kind="unavailable", times=0)])
    response = collector.request(receive_count=3, timeout_seconds=2)
    collector.stub.reset(faults=[Fault(kind="garbage", times=0)])
    collector.request(receive_count=3, timeout_seconds=2)

    output = capfd.readouterr()
    logs = json_logs.getvalue()
    events = collector.bus_events()
    assert len(failed(events)) == 3 and response["batchItemFailures"]
    assert logs.count('"message":"collection requested"') == 3, "the logs were captured"
    assert "API_KEY_INVALID" in repr(events), "the failure itself is reported"
    for text in (logs, output.out, output.err, repr(events), repr(collector.ledger()), repr(response)):
        assert API_KEY not in text


def test_invoked_directly_with_the_original_payload_it_requests_a_run_that_comes_back_through_the_queue(
    collector: Collector,
) -> None:
    """`aws lambda invoke --payload '{"trigger_source":"manual"}'`: the payload is the event (a dict)."""
    route = build_topology(parse_config({}), "bucket").route("collector")
    requests = _queue_for_rule(collector.sqs, boto3.client("events"), "observe-requests", BUS, route.event_pattern)

    response = collector.invoke({"trigger_source": "manual", "max_restaurants": 25})

    assert response["run_id"].startswith("manual-") and response["cities"] == ["Paris"]  # pipeline.toml's cities
    [requested] = drain(collector.sqs, requests)  # what the collector rule routes to the collector queue
    assert (requested["source"], requested["detail-type"]) == ("restaurant-pipeline.cli", "Collection Requested")
    detail = requested["detail"]
    assert (detail["run_id"], detail["cities"], detail["max_restaurants"], detail["trigger_source"]) == (
        response["run_id"],
        ["Paris"],
        25,
        "manual",
    )
    assert collector.raw_keys() == [] and collector.stub.stats()["search_requests"] == 0, "nothing collected yet"

    delivered = collector.invoke(collector.sqs_event(detail, body=json.dumps(requested)))  # the queue's delivery

    assert delivered == {"batchItemFailures": []}
    [key] = collector.raw_keys()
    assert f"/{response['run_id']}__paris.jsonl.gz" in key and len(collector.read(key)) == 25
    [done] = completed(collector.bus_events())
    assert (done["run_id"], done["trigger_source"]) == (response["run_id"], "manual")


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"trigger_source": "manual", "cities": "Paris"}, "cities"),
        ({"trigger_source": "schedule"}, "trigger_source"),
        ({"trigger_source": "manual", "max_restaurants": 0}, "max_restaurants"),
        ({"trigger_source": "manual", "cities": ["Nice", "NICE"]}, "'Nice' and 'NICE'"),
        ("manual", "direct invocation"),
    ],
)
def test_a_bad_direct_payload_fails_naming_the_problem_and_publishes_nothing(
    collector: Collector, payload: Any, named: str
) -> None:
    with pytest.raises(ContractError) as error:
        collector.invoke(payload)

    assert named in str(error.value)
    assert collector.bus_events() == [] and collector.raw_keys() == []
