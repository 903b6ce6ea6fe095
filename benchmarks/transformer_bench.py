"""Transformer benchmark, on a moto server process and a DuckDB warehouse in a temporary folder.

Reported (ratios measured side by side in one run; these machines are noisy):
- a warm transformer invocation (process_batch on a real S3 event: read, validate, dbt build on the parsed
  manifest, summaries, publish) against the same `dbt build` through the dbt CLI (a new process that parses);
- the warm daily build after 1, 30 and 365 days of history (1,000 places a day): incremental, not a rebuild;
- one file of 100,000 places in one invocation; the cold start in a new process on the Athena target (handler
  import, then the manifest shipped in the artifact loaded, beside the same init parsing the project).

    python -m benchmarks.transformer_bench                 # defaults: 1,000 places/day, 1/30/365 days, 3 repeats
    python -m benchmarks.transformer_bench --history-days 1 30 --repeats 1 --big-file-places 10000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from benchmarks.harness import machine_info, stats, time_runs, versions
from restaurant_pipeline.local.processes import free_port, start_moto, stop_process
from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.transformer.adapters import shipped_manifest
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.warehouse import DuckDBWarehouse
from services.transformer.handler import process_batch
from services.transformer.service import TransformerDeps
from tests.support.transformer_stack import BUCKET, BUS, lambda_sqs_event, places_lines, provision, receive

FIRST_DAY = date(2025, 1, 1)


COLD_START_SCRIPT = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
import services.transformer.handler  # no function environment: init work is skipped, this is the import alone
imported = time.perf_counter() - started
started = time.perf_counter()
import dbt.cli.main, dbt.parser.manifest  # what both paths import first (the handler defers it to init)
dbt_imported = time.perf_counter() - started
from services.transformer.adapters.dbt_build import DbtBuilder
project, folder, environment = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
builder = DbtBuilder(project, environment["DBT_TARGET"], environment, state_dir=folder / "state")
started = time.perf_counter()
builder.prepare()
print(json.dumps({"import_seconds": imported, "dbt_import_seconds": dbt_imported,
                  "manifest_seconds": time.perf_counter() - started,
                  "origin": builder.manifest_origin, "parses": builder.parses}))
"""

# The deployed function's target, environment and artifact layout (restaurant_pipeline/artifacts/build.py ships
# the manifest parsed for it).
LAMBDA_DBT_ENVIRONMENT = dbt_environment(
    target="athena",
    bucket="the-deployed-bucket",
    athena_workgroup="restaurant-pipeline",
    glue_database="restaurant_pipeline",
    nlp_enabled=False,
)


def artifact_project(work: Path) -> Path:
    """dbt/ as `make package` leaves it in the transformer's artifact: a copy with the manifest shipped in it."""
    project = work / "artifact" / "dbt"
    shutil.copytree(
        default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs", shipped_manifest.SHIPPED_DIR)
    )
    at_package_time = {**LAMBDA_DBT_ENVIRONMENT, "BUCKET_NAME": "known-when-deployed"}
    DbtBuilder(project, "athena", at_package_time, state_dir=work / "artifact" / "state").ship_manifest()
    return project


def _cold_process(project: Path, folder: Path, clean_env: dict[str, str]) -> dict[str, Any]:
    folder.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", COLD_START_SCRIPT, str(project), str(folder), json.dumps(LAMBDA_DBT_ENVIRONMENT)],
        env=clean_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cold_start(work: Path, repeats: int = 3) -> dict[str, Any]:
    """New processes doing what Lambda's INIT phase does on the Athena target: import the handler module, then
    load the manifest shipped in the artifact; beside it, the same init parsing the project (no shipped manifest).
    """
    imports, dbt_imports, parses, loads = [], [], [], []
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BUCKET", "EVENT_BUS", "DBT_"))}
    shipped = artifact_project(work)
    for attempt in range(repeats):
        parsed = _cold_process(default_project_dir(), work / f"cold-parse-{attempt}", clean_env)
        loaded = _cold_process(shipped, work / f"cold-shipped-{attempt}", clean_env)
        if parsed["parses"] != 1 or loaded["parses"] != 0:
            raise RuntimeError(f"cold start: expected one parse, then the shipped manifest: {parsed}, {loaded}")
        imports += [parsed["import_seconds"], loaded["import_seconds"]]
        dbt_imports += [parsed["dbt_import_seconds"], loaded["dbt_import_seconds"]]
        parses.append(parsed["manifest_seconds"])
        loads.append(loaded["manifest_seconds"])
    profile = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import services.transformer.handler, dbt.cli.main"],
        env=clean_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return {
        "import_seconds": round(stats(imports).median, 3),
        "dbt_import_seconds": round(stats(dbt_imports).median, 3),
        "parse_seconds": round(stats(parses).median, 3),
        "shipped_manifest_seconds": round(stats(loads).median, 3),
        "import": stats(imports).as_dict(),
        "dbt_import": stats(dbt_imports).as_dict(),
        "parse": stats(parses).as_dict(),
        "shipped_manifest": stats(loads).as_dict(),
        "heaviest_imports": heaviest_imports(profile.stderr),
    }


def heaviest_imports(importtime: str, top: int = 8) -> list[tuple[str, float]]:
    """Top-level packages by cumulative import time, from `python -X importtime` output."""
    totals: dict[str, float] = {}
    for line in importtime.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        if name.startswith("  "):  # nested: counted in its parent's cumulative time
            continue
        totals[name.strip()] = totals.get(name.strip(), 0.0) + int(parts[1]) / 1e6
    return [(name, round(seconds, 3)) for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:top]]


def run(
    places: int = 1000,
    history_days: tuple[int, ...] | list[int] | int = (1, 30, 365),
    repeats: int = 3,
    big_file_places: int = 100_000,
    cold_start_repeats: int = 3,
    **_: Any,
) -> dict[str, Any]:
    histories = sorted({1, *([history_days] if isinstance(history_days, int) else history_days)})
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
        s3, sqs, queue, _published = provision(endpoint)  # the test tier's moto-backed transformer
        longest = max(histories)
        new_day = FIRST_DAY + timedelta(days=longest)

        # 1. warm invocation vs the dbt CLI, on a warehouse with one day
        one = work / "one" / "warehouse.duckdb"
        one.parent.mkdir()
        env = dbt_environment(target="local", bucket=BUCKET, warehouse_path=str(one), endpoint_url=endpoint)
        builder = DbtBuilder(default_project_dir(), "local", env, state_dir=work / "state")
        parse_seconds = builder.prepare()
        deps = TransformerDeps(
            store=S3ObjectStore(s3, BUCKET),
            builder=builder,
            marts=WarehouseMarts(DuckDBWarehouse(str(one))),
            claims=ObjectClaims(boto3.client("dynamodb"), "idempotency"),
            publisher=EventPublisher(boto3.client("events"), BUS),
            ledger=RunLedger(boto3.client("dynamodb"), None),
        )
        raw_key = f"raw/places/dt={new_day}/run__lyon.jsonl"
        body = places_lines(new_day, places, validated=False)
        nodes: list[int] = []

        def invocation(key: str, data: bytes) -> float:
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            event = lambda_sqs_event(receive(sqs, queue, 1, 30.0, lambda _: True))
            started = time.perf_counter()
            outcome = process_batch(event, deps, remaining_ms=lambda: 600_000)
            seconds = time.perf_counter() - started
            assert outcome.error is None and outcome.events and outcome.events[0].outcome == "passed", outcome
            completed = outcome.events[0]
            nodes.append(len(completed.models) + completed.tests.total)
            time.sleep(1.05)  # moto's event times have 1 s resolution: keep each upload a distinct event
            return seconds

        timings = [invocation(raw_key, body) for _ in range(repeats + 1)]
        warm = stats(timings[1:])  # the first one creates the tables
        cli_env = {**os.environ, **env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        cli_env.pop("DBT_DUCKDB_KEEP_OPEN", None)  # the CLI as a person runs it: the profile's defaults
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

        # 2. the same daily build after 1, 30, 365 days of history (validated objects, as the transformer writes)
        for offset in range(longest):
            day = FIRST_DAY + timedelta(days=offset)
            s3.put_object(
                Bucket=BUCKET,
                Key=f"validated/places/dt={day}/h.jsonl.gz",
                Body=gzip.compress(places_lines(day, places, validated=True)),
            )
        daily: dict[str, Any] = {}
        history_build_seconds: dict[str, float] = {}
        builders = [builder]
        for days in histories:
            if days == 1:
                daily["1"] = time_runs(lambda: builder.build([str(new_day)]), repeats)
                continue
            path = work / f"history-{days}" / "warehouse.duckdb"
            path.parent.mkdir()
            history_builder = builder.with_environment(WAREHOUSE_PATH=str(path))
            builders.append(history_builder)
            history = [str(FIRST_DAY + timedelta(days=offset)) for offset in range(longest - days, longest)]
            started = time.perf_counter()
            assert history_builder.build(history).outcome == "passed"
            history_build_seconds[str(days)] = round(time.perf_counter() - started, 2)
            assert history_builder.build([str(new_day)]).outcome == "passed"  # the new day exists in all now
            daily[str(days)] = time_runs(partial(history_builder.build, [str(new_day)]), repeats)

        # 3. one big file in one invocation
        big_day = new_day + timedelta(days=1)
        big_seconds = invocation(f"raw/places/dt={big_day}/big.jsonl", places_lines(big_day, big_file_places, False))

        result: dict[str, Any] = {
            "benchmark": "transformer",
            "places_per_day": places,
            "options": {"places_per_day": places, "history_days": histories, "repeats": repeats},
            "parse_once_seconds": round(parse_seconds, 3),
            "warm_invocation_seconds": warm.as_dict(),
            "dbt_cli_build_seconds": cli.as_dict(),
            "warm_over_cli_ratio": round(warm.median / cli.median, 3),
            "nodes_per_build": max(nodes),
            "daily_build_seconds": {days: value.as_dict() for days, value in daily.items()},
            "history_ratio": round(daily[str(longest)].median / daily["1"].median, 2),
            "history_initial_build_seconds": history_build_seconds,
            "big_file": {
                "places": big_file_places,
                "seconds": round(big_seconds, 2),
                "places_per_second": round(big_file_places / big_seconds, 0),
            },
            "builds_in_process": sum(b.builds for b in builders),
            "parses_in_process": builder.parses,
            "cold_start": cold_start(work, cold_start_repeats),
            "machine": machine_info(),
            "versions": versions(),
        }
        return result
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop_process(moto)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--places", type=int, default=1000)
    parser.add_argument("--history-days", type=int, nargs="+", default=[1, 30, 365])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-file-places", type=int, default=100_000)
    parser.add_argument("--output", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    result = run(
        places=args.places, history_days=args.history_days, repeats=args.repeats, big_file_places=args.big_file_places
    )
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
