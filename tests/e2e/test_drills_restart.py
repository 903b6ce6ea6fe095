"""`local down` in the middle of a run, then `local up`: the stack snapshots what is queued, restores it, and the
run carries on. Its own stack: the drill stops and restarts it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from restaurant_pipeline.local import control
from tests.e2e.drills import PlacesControl, cli, delivered_emails, dlq_depths, wait_until
from tests.e2e.reliability_report import record
from tests.support.local_stack import RunningStack, start_stack, state_folder

pytestmark = pytest.mark.e2e

THIS = "tests/e2e/test_drills_restart.py"
CITIES = ["Paris", "Lyon", "Marseille"]


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    with state_folder("restart") as folder:
        try:
            yield folder
        finally:
            control.down(folder)


def objects_of(stack: RunningStack, run_id: str) -> list[str]:
    s3 = stack.target.clients.s3
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.info.bucket, Prefix="raw/places/")
    return [item["Key"] for page in pages for item in page.get("Contents", []) if run_id in item["Key"]]


def test_local_down_mid_run_then_up_completes_the_run_and_loses_nothing(state_dir):
    stack = start_stack(state_dir)
    PlacesControl(stack.info.places_api_base_url).settings(latency_ms=400)  # a collection that takes a while
    result = cli(stack, "run", *[arg for city in CITIES for arg in ("--city", city)], "--max-restaurants", "20")
    run_id = result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]
    wait_until(lambda: stack.target.ledger.steps(run_id), timeout=60, interval=0.05, what="the run under way")

    down_started = time.monotonic()
    cli(stack, "local", "down")  # mid-run: the collector finishes its batch, the rest waits in the queues
    down_seconds = time.monotonic() - down_started
    saved = (state_dir / "logs" / "supervisor.log").read_text(errors="replace")
    [saved_counts] = re.findall(r"saved (\d+) objects, (\d+) table items and (\d+) messages", saved)[-1:]

    restarted = start_stack(state_dir)
    restored = (state_dir / "logs" / "supervisor.log").read_text(errors="replace")
    [restored_counts] = re.findall(r"restored (\d+) objects, (\d+) table items and (\d+) messages", restored)[-1:]
    steps = wait_until(
        lambda: (
            [s for s in restarted.target.ledger.steps(run_id) if s["step"] == "NOTIFIED"]
            and restarted.target.ledger.steps(run_id)
        ),
        timeout=180,
        what="the run's email after the restart",
    )
    emails = delivered_emails(restarted, run_id)
    transformed = sorted(s["subject"] for s in steps if s["step"] == "TRANSFORMED")
    audit = cli(restarted, "audit", "--json", check=False)

    assert saved_counts == restored_counts  # what was saved on down is what came back on up
    assert len(objects_of(restarted, run_id)) == len(CITIES)
    assert transformed == sorted(objects_of(restarted, run_id))  # every object transformed, once
    assert len(emails) == 1
    assert dlq_depths(restarted) == {"collector": 0, "transformer": 0, "notifier": 0}
    assert audit.returncode == 0, json.loads(audit.stdout)
    record(
        "down-up",
        "`local down` in the middle of a 3-city run, then `local up`",
        "The run completes (or is reported); nothing is lost",
        f"down took {down_seconds:.0f} s and saved {saved_counts[0]} objects, {saved_counts[1]} ledger/idempotency "
        f"items and {saved_counts[2]} queued messages; up restored the same; the run then finished: "
        f"{len(CITIES)}/{len(CITIES)} objects transformed once, 1 email, DLQs empty, audit exit 0",
        THIS,
        order=75,
    )
