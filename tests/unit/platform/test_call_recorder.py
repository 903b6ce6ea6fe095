"""The AWS call recorder of the IAM proof (restaurant_pipeline/local/call_recorder.py): what a record holds, and
what it never holds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from restaurant_pipeline.local import call_recorder


@pytest.fixture
def records() -> Iterator[list[dict]]:
    found: list[dict] = []
    call_recorder.install(found.append)
    try:
        yield found
    finally:
        call_recorder.uninstall()


def client(service: str):
    return boto3.client(service, region_name="eu-west-3", aws_access_key_id="k", aws_secret_access_key="s")


def test_a_call_is_recorded_with_the_parameters_that_name_its_resource_and_never_its_content(records):
    s3, secrets, sns = client("s3"), client("secretsmanager"), client("sns")
    with Stubber(s3) as s3_stub, Stubber(secrets) as secrets_stub, Stubber(sns) as sns_stub:
        s3_stub.add_response("put_object", {})
        secrets_stub.add_response("put_secret_value", {})
        sns_stub.add_response("publish", {"MessageId": "1"})
        s3.put_object(Bucket="data", Key="raw/places/dt=2026-01-01/a.jsonl", Body=b"the data", IfNoneMatch="*")
        secrets.put_secret_value(SecretId="arn:aws:secretsmanager:eu-west-3:1:secret:key", SecretString="AIzaSECRET")
        sns.publish(TopicArn="arn:aws:sns:eu-west-3:1:topic", Message="dear reader", Subject="OK")

    put, secret, publish = records
    assert put == {
        "service": "s3",
        "operation": "PutObject",
        "region": "eu-west-3",
        "params": {"Bucket": "data", "Key": "raw/places/dt=2026-01-01/a.jsonl", "IfNoneMatch": "*"},
        "error": None,
    }
    assert secret["params"] == {"SecretId": "arn:aws:secretsmanager:eu-west-3:1:secret:key"}
    assert publish["params"] == {"TopicArn": "arn:aws:sns:eu-west-3:1:topic"}
    assert "AIzaSECRET" not in json.dumps(records) and "dear reader" not in json.dumps(records)


def test_nested_resource_names_are_kept_and_a_failed_call_records_its_error_code(records):
    events, glue = client("events"), client("glue")
    with Stubber(events) as events_stub, Stubber(glue) as glue_stub:
        events_stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})
        glue_stub.add_client_error("get_table", "EntityNotFoundException")
        events.put_events(
            Entries=[{"EventBusName": "bus", "Source": "restaurant-pipeline.cli", "DetailType": "X", "Detail": "{}"}]
        )
        with pytest.raises(glue.exceptions.EntityNotFoundException):
            glue.get_table(DatabaseName="db", Name="t")

    put_events, get_table = records
    assert put_events["params"] == {
        "Entries.EventBusName": ["bus"],
        "Entries.Source": ["restaurant-pipeline.cli"],
        "Entries.DetailType": ["X"],
    }
    assert get_table["params"] == {"DatabaseName": "db", "Name": "t"}
    assert get_table["error"] == "EntityNotFoundException"


def test_an_ignored_client_is_not_recorded(records):
    sqs = client("sqs")
    call_recorder.ignore(sqs)
    with Stubber(sqs) as stub:
        stub.add_response("get_queue_url", {"QueueUrl": "https://q"})
        sqs.get_queue_url(QueueName="q")

    assert records == []


def test_records_are_read_back_from_a_log_among_other_lines():
    lines = [
        '{"level": "INFO", "message": "collected"}',
        "not json at all aws_api_call",
        json.dumps({call_recorder.MARKER: {"service": "s3", "operation": "GetObject", "params": {}}}),
    ]

    assert call_recorder.records_in(lines) == [{"service": "s3", "operation": "GetObject", "params": {}}]


def test_it_records_only_when_the_variable_asks(monkeypatch):
    monkeypatch.delenv(call_recorder.RECORD_ENV, raising=False)
    assert call_recorder.install_if_requested() is False
    monkeypatch.setenv(call_recorder.RECORD_ENV, "1")
    try:
        assert call_recorder.install_if_requested() is True
    finally:
        call_recorder.uninstall()
