"""End to end on a real local stack (moto server, Places stub, collector/transformer/notifier workers).

- trigger -> email: request_collection, follow the run ledger until the notification is recorded, then the .eml
  carrying the run id in the outbox;
- a burst of dropped files under raw/places/: time until every file has its TRANSFORMED ledger step, and how many
  dbt builds did it (distinct transformer invocations in its log: one dbt build each), and how many of those builds
  were running at once (their wall-clock intervals, rebuilt from the same log, swept for the deepest overlap).

    python -m benchmarks.e2e_bench --restaurants 20 1000 --burst-files 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from restaurant_pipeline.local import control
from restaurant_pipeline.operations import follow_run, new_run_id, request_collection
from tests.support.local_stack import start_stack, wait_until

BURST_DAY = "2030-01-01"
T = TypeVar("T")
Instant = TypeVar("Instant", float, datetime)  # what an interval's ends are: seconds or wall-clock times


def _email_for(outbox: Path, run_id: str) -> Path | None:
    for path in outbox.glob("*.eml"):
        if run_id in path.read_text(errors="replace"):
            return path
    return None


def _transformer_ready(logs: Path) -> bool:
    log = logs / "transformer.log"
    return log.exists() and "dbt manifest ready at init" in log.read_text(errors="replace")


def trigger_to_email(target: Any, info: Any, restaurants: int, timeout: float) -> dict[str, Any]:
    run_id = new_run_id()
    started = time.perf_counter()
    request_collection(target.clients.client("events"), info.event_bus, ["Paris"], restaurants, run_id)
    progress = follow_run(target.ledger, run_id, timeout_seconds=timeout, poll_seconds=0.1)
    wait_until(lambda: _email_for(Path(info.outbox_dir), run_id), timeout, 0.1, f"the email of run {run_id}")
    seconds = time.perf_counter() - started
    return {
        "restaurants": restaurants,
        "run_id": run_id,
        "trigger_to_email_seconds": round(seconds, 2),
        "outcome": progress.outcome,
        "steps": sorted({step["step"] for step in progress.steps}),
    }


def _place(index: int) -> str:
    return json.dumps(
        {
            "id": f"burst-{index:05d}",
            "displayName": {"text": f"Burst {index}", "languageCode": "fr"},
            "location": {"latitude": 48.85 + index / 100_000, "longitude": 2.35},
            "rating": 4.0,
            "userRatingCount": 10,
            "businessStatus": "OPERATIONAL",
        }
    )


def _completed_records(log: Path, prefix: str) -> Iterator[dict[str, Any]]:
    """The transformer's "transform completed" log records naming at least one object under `prefix`."""
    for line in log.read_text(errors="replace").splitlines():
        if '"transform completed"' not in line:
            continue
        record = json.loads(line)
        if any(str(key).startswith(prefix) for key in record.get("objects", [])):
            yield record


def transformer_invocations(log: Path, prefix: str) -> int:
    """Distinct transformer invocations (one dbt build each) that completed objects under `prefix`, from its log.

    The marts cannot tell: every build of a day re-merges all of that day's places, so their dbt_invocation_id is
    the last build's.
    """
    return len({record.get("function_request_id") for record in _completed_records(log, prefix)})


def dbt_build_interval(record: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The wall-clock interval of the dbt build behind one "transform completed" record; None if it lacks the fields.

    The record carries when its event was produced (wall clock) and how long each phase took (monotonic, ms): the
    invocation started `total` before that, read and validated for `read_validate`, then built for `dbt_build`. The
    record's own log timestamp would anchor it later than the build (the events are published before it is logged).
    Truncation to whole ms makes the ends accurate to a couple of ms; one worker's builds are further apart than that.
    """
    durations = record.get("durations_ms") or {}
    if "produced_at" not in record or not {"total", "read_validate", "dbt_build"} <= durations.keys():
        return None
    invocation_started = datetime.fromisoformat(record["produced_at"]) - timedelta(milliseconds=durations["total"])
    build_started = invocation_started + timedelta(milliseconds=durations["read_validate"])
    return build_started, build_started + timedelta(milliseconds=durations["dbt_build"])


def dbt_build_intervals(log: Path, prefix: str) -> dict[str, tuple[datetime, datetime] | None]:
    """Per transformer invocation (request id) for objects under `prefix`: its dbt build's interval.

    An invocation logs one record per run id it served, all from the same build: their intervals are merged.
    None for an invocation whose records lack the timing fields (a log from before they were added).
    """
    intervals: dict[str, tuple[datetime, datetime] | None] = {}
    for record in _completed_records(log, prefix):
        request = str(record.get("function_request_id"))
        interval = dbt_build_interval(record)
        if request not in intervals:
            intervals[request] = interval
        else:
            known = intervals[request]
            intervals[request] = None if known is None or interval is None else _hull(known, interval)
    return intervals


def build_breakdown(log: Path, prefix: str) -> list[dict[str, Any]]:
    """Per transformer invocation that built objects under `prefix`: how many, and its phases in seconds."""
    builds: dict[str, dict[str, Any]] = {}
    for record in _completed_records(log, prefix):
        request = str(record.get("function_request_id"))
        durations = record.get("durations_ms") or {}
        build = builds.setdefault(
            request,
            {
                "objects": 0,
                "read_validate_seconds": round(durations.get("read_validate", 0) / 1000, 2),
                "dbt_build_seconds": round(durations.get("dbt_build", 0) / 1000, 2),
                "total_seconds": round(durations.get("total", 0) / 1000, 2),
            },
        )
        build["objects"] += len(record.get("objects", []))
    return list(builds.values())


def _hull(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    return min(a[0], b[0]), max(a[1], b[1])


def max_concurrent(intervals: Iterable[tuple[Instant, Instant]]) -> int:
    """The largest number of intervals in progress at one instant: a sweep over their sorted ends.

    Half-open [start, end): a build that ends exactly when the next one starts was not running beside it, so
    back-to-back builds count 1. An empty interval (an invocation that built nothing) counts nowhere.
    """
    edges = sorted((edge for start, end in intervals if end > start for edge in ((start, 1), (end, -1))))
    running = peak = 0
    for _, step in edges:  # at one instant, the ends (-1) sort before the starts (+1)
        running += step
        peak = max(peak, running)
    return peak


def burst(target: Any, info: Any, files: int, timeout: float) -> dict[str, Any]:
    s3 = target.clients.client("s3")
    prefix = f"raw/places/dt={BURST_DAY}/burst-"
    started = time.perf_counter()

    def upload(index: int) -> None:
        s3.put_object(Bucket=info.bucket, Key=f"{prefix}{index:05d}.jsonl", Body=(_place(index) + "\n").encode())

    # 10 at a time, as `aws s3 cp --recursive` uploads (max_concurrent_requests defaults to 10:
    # https://docs.aws.amazon.com/cli/latest/topic/s3-config.html)
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(upload, range(files)))
    uploaded = time.perf_counter() - started

    def transformed() -> list[dict[str, Any]] | None:
        steps = [s for s in target.ledger.all_steps() if s["step"] == "TRANSFORMED" and s["subject"].startswith(prefix)]
        return steps if len({s["subject"] for s in steps}) >= files else None

    steps = wait_until(transformed, timeout, interval=3.0, what=f"{files} burst files transformed")  # a scan per poll
    drained = time.perf_counter() - started
    log = Path(info.logs_dir) / "transformer.log"
    # an invocation logs its builds after it has recorded and published them: wait for every file's log record
    wait_until(
        lambda: sum(len(r.get("objects", [])) for r in _completed_records(log, prefix)) >= files,
        timeout=120,
        interval=1.0,
        what="the transformer's log of every burst file",
    )
    dbt_runs = transformer_invocations(log, prefix)
    builds = dbt_build_intervals(log, prefix)
    measured = [interval for interval in builds.values() if interval is not None]
    outcomes: dict[str, int] = {}
    for step in steps or []:
        outcome = str((step.get("data") or {}).get("outcome"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "files": files,
        "upload_seconds": round(uploaded, 2),
        "drain_seconds": round(drained, 2),
        "drain_after_upload_seconds": round(drained - uploaded, 2),
        "builds": build_breakdown(log, prefix),
        "files_per_minute": round(files / drained * 60, 1),
        "dbt_runs": dbt_runs,
        "files_per_dbt_run": round(files / dbt_runs, 1) if dbt_runs else None,
        "outcomes": outcomes,
        # The deepest overlap of the builds' wall-clock intervals; None unless every invocation logged its timings.
        "max_concurrent_dbt_runs": max_concurrent(measured) if builds and len(measured) == len(builds) else None,
    }


def run(restaurants: Sequence[int] = (20, 1000), burst_files: int = 1000, timeout: float = 900) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    started = time.perf_counter()
    try:
        stack = start_stack(state)  # the e2e tier's stack: the Places stub, the schedule kept from firing
        info, target = stack.info, stack.target
        up_seconds = time.perf_counter() - started
        ready = time.perf_counter()
        wait_until(lambda: _transformer_ready(Path(info.logs_dir)), 180, what="the transformer's init (dbt parse)")
        result: dict[str, Any] = {
            "stack_up_seconds": round(up_seconds, 2),
            "transformer_init_wait_seconds": round(time.perf_counter() - ready, 2),
            "runs": [trigger_to_email(target, info, count, timeout) for count in restaurants],
        }
        if burst_files:
            result["burst"] = burst(target, info, burst_files, timeout)
        return result
    finally:
        try:
            control.down(state)
        finally:
            if os.environ.get("KEEP_BENCH_STATE"):  # the logs and the ledger, for a post-mortem
                print(f"state kept in {state}", file=sys.stderr)
            else:
                shutil.rmtree(state, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--restaurants", type=int, nargs="+", default=[20, 1000])
    parser.add_argument("--burst-files", type=int, default=1000)
    args = parser.parse_args(argv)
    result = run(args.restaurants, args.burst_files)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
