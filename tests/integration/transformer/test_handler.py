"""The Lambda entry point wired from its environment, as the local stack and AWS run it."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass

import pytest

from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment
from tests.support.transformer_stack import BUCKET, BUS, FIXTURES, lambda_sqs_event, provision, receive

pytestmark = pytest.mark.integration


@dataclass
class FakeContext:
    function_name: str = "restaurant-pipeline-transformer"
    memory_limit_in_mb: int = 2048
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:restaurant-pipeline-transformer"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def test_handler_runs_from_the_topology_environment(aws: str, tmp_path, monkeypatch, capsys):
    s3, sqs, s3_queue, published_queue = provision(aws)
    config = PipelineConfig()
    resources = StackResources(
        bucket=BUCKET,
        bus_name=BUS,
        topic_arn="arn:aws:sns:eu-west-3:123456789012:t",
        idempotency_table="idempotency",
        ledger_table="ledger",
        dbt_target="local",
        warehouse_path=str(tmp_path / "warehouse.duckdb"),
        endpoint_url=aws,
    )
    environment = service_environment(config, build_topology(config, BUCKET, BUS), resources)["transformer"]
    for key, value in {**environment, "DBT_STATE_DIR": str(tmp_path / "dbt")}.items():
        monkeypatch.setenv(key, value)
    from services.transformer import handler

    handler.app.cache_clear()  # a new execution environment, from this environment
    # the module may have been imported by an earlier test, its log handler then bound to that test's captured stdout
    stream = handler.logger.registered_handler
    assert isinstance(stream, logging.StreamHandler)
    monkeypatch.setattr(stream, "stream", sys.stdout)
    s3.put_object(
        Bucket=BUCKET, Key="raw/places/dt=2026-01-01/x.jsonl", Body=(FIXTURES / "clean_paris.jsonl").read_bytes()
    )
    messages = receive(sqs, s3_queue, 1, 20.0, lambda _: True)

    try:
        response = handler.lambda_handler(lambda_sqs_event(messages), FakeContext())
    finally:
        handler.app.cache_clear()

    assert response == {"batchItemFailures": []}
    [published] = receive(sqs, published_queue, 1, 20.0, lambda _: True)
    assert '"outcome": "passed"' in published["Body"] or '"outcome":"passed"' in published["Body"]
    # the function's log says what ran and what failed (dbt's own log is off for builds)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"transform completed"' in line]
    assert [(r["outcome"], r["failed_tests"], r.get("error")) for r in lines] == [("passed", [], None)]
    assert {"read_validate", "dbt_build", "total"} <= lines[0]["durations_ms"].keys()
