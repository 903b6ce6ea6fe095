"""Transformer benchmark, on a moto server process and a DuckDB warehouse in a temporary folder.

Reported (ratios measured side by side in one run; these machines are noisy):
- a warm transformer invocation (process_batch on a real S3 event: read, validate, dbt build on the parsed
  manifest, summaries, publish) against the same `dbt build` through the dbt CLI (a new process that parses);
- the warm daily build with 1 day of history against the same build with `history_days` days of history.

    python -m benchmarks.transformer_bench                 # defaults: 20 places/day, 365 days, 3 repeats
    python -m benchmarks.transformer_bench --history-days 30 --repeats 1
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3

from benchmarks.harness import machine_info, stats, time_runs, versions
from restaurant_pipeline.local.processes import free_port, start_moto, stop_process
from services.common.bus import EventPublisher
from services.common.ledger import RunLedger
from services.transformer.adapters.claims import ObjectClaims
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.storage import S3ObjectStore
from services.transformer.adapters.warehouse import DuckDBWarehouse
from services.transformer.service import TransformerDeps, process_batch

BUCKET = "bench-bucket"
FIRST_DAY = date(2025, 1, 1)


def places_lines(day: date, places: int, validated: bool) -> bytes:
    lines = []
    for i in range(places):
        place: dict[str, Any] = {
            "id": f"place-{i}",
            "displayName": {"text": f"Place {i}", "languageCode": "fr"},
            "location": {"latitude": 45.0 + i / 1000, "longitude": 4.0},
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


def _provision(endpoint: str) -> tuple[Any, Any, str]:
    s3, sqs, events, dynamodb = (boto3.client(n) for n in ("s3", "sqs", "events", "dynamodb"))
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}})
    dynamodb.create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    events.create_event_bus(Name="bench-bus")
    queue = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"object": {"key": [{"prefix": "raw/"}]}},
    }
    events.put_rule(Name="s3", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="s3", Targets=[{"Id": "q", "Arn": arn}])
    return s3, sqs, queue


def _next_event(sqs: Any, queue: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
            return {
                "Records": [
                    {
                        "messageId": messages[0]["MessageId"],
                        "body": messages[0]["Body"],
                        "attributes": {"MessageGroupId": "dbt", "ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                    }
                ]
            }
    raise TimeoutError("no S3 event reached the queue")


def run(places: int = 20, history_days: int = 365, repeats: int = 3, **_: Any) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="transformer-bench-"))
    port = free_port()
    moto = start_moto("127.0.0.1", port, work / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="eu-west-3",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    try:
        s3, sqs, queue = _provision(endpoint)
        new_day = FIRST_DAY + timedelta(days=history_days)

        # 1. warm invocation vs the dbt CLI, on a warehouse with one day
        one = work / "one" / "warehouse.duckdb"
        one.parent.mkdir()
        env = dbt_environment(target="local", bucket=BUCKET, warehouse_path=str(one), endpoint_url=endpoint)
        builder = DbtBuilder(default_project_dir(), "local", env, state_dir=work / "state")
        started = time.perf_counter()
        builder._runner_manifest()
        parse_seconds = time.perf_counter() - started
        deps = TransformerDeps(
            store=S3ObjectStore(s3, BUCKET),
            builder=builder,
            warehouse=DuckDBWarehouse(str(one)),
            claims=ObjectClaims(boto3.client("dynamodb"), "idempotency"),
            publisher=EventPublisher(boto3.client("events"), "bench-bus"),
            ledger=RunLedger(boto3.client("dynamodb"), None),
        )
        raw_key = f"raw/places/dt={new_day}/run__lyon.jsonl"

        def invocation() -> None:
            s3.put_object(Bucket=BUCKET, Key=raw_key, Body=places_lines(new_day, places, validated=False))
            event = _next_event(sqs, queue)
            started = time.perf_counter()
            outcome = process_batch(event, deps, remaining_ms=lambda: 600_000)
            timings.append(time.perf_counter() - started)
            assert outcome.error is None and outcome.events and outcome.events[0].outcome == "passed", outcome
            time.sleep(1.05)  # moto's event times have 1 s resolution: keep each upload a distinct event

        timings: list[float] = []
        for _ in range(repeats + 1):
            invocation()
        warm = stats(timings[1:])  # the first one creates the tables
        cli_env = {**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        dbt = str(Path(sys.executable).with_name("dbt"))
        command = [
            dbt,
            "--quiet",
            "build",
            "--project-dir",
            str(default_project_dir()),
            "--profiles-dir",
            str(default_project_dir()),
            "--target-path",
            str(work / "cli-target"),
            "--log-path",
            str(work / "cli-logs"),
            "--vars",
            json.dumps({"dts": [str(new_day)]}),
            "--exclude-resource-type",
            "unit_test",
        ]
        cli = time_runs(lambda: subprocess.run(command, env=cli_env, check=True, capture_output=True), repeats)

        # 2. the same daily build on 1 day vs history_days days of history
        for offset in range(history_days):
            day = FIRST_DAY + timedelta(days=offset)
            s3.put_object(
                Bucket=BUCKET,
                Key=f"validated/places/dt={day}/h.jsonl.gz",
                Body=gzip.compress(places_lines(day, places, validated=True)),
            )
        year = work / "year" / "warehouse.duckdb"
        year.parent.mkdir()
        year_builder = builder.with_environment(WAREHOUSE_PATH=str(year))
        started = time.perf_counter()
        assert year_builder.build([]).outcome == "passed"
        history_build_seconds = time.perf_counter() - started
        assert year_builder.build([str(new_day)]).outcome == "passed"  # the new day exists in both now
        daily_one = time_runs(lambda: builder.build([str(new_day)]), repeats)
        daily_year = time_runs(lambda: year_builder.build([str(new_day)]), repeats)
        return {
            "benchmark": "transformer",
            "options": {"places_per_day": places, "history_days": history_days, "repeats": repeats},
            "parse_once_seconds": round(parse_seconds, 3),
            "warm_invocation_seconds": warm.as_dict(),
            "dbt_cli_build_seconds": cli.as_dict(),
            "cli_over_warm_ratio": round(cli.median / warm.median, 2),
            "daily_build_1_day_history_seconds": daily_one.as_dict(),
            f"daily_build_{history_days}_days_history_seconds": daily_year.as_dict(),
            "history_over_one_day_ratio": round(daily_year.median / daily_one.median, 2),
            "full_history_build_seconds": round(history_build_seconds, 2),
            "builds_in_process": builder.builds + year_builder.builds,
            "parses_in_process": builder.parses,
            "machine": machine_info(),
            "versions": versions(),
        }
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop_process(moto)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--places", type=int, default=20)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    result = run(places=args.places, history_days=args.history_days, repeats=args.repeats)
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
