"""`make run` is `restaurant-pipeline demo`: it must bring a stack up, complete a run, show the email and the marts,
and (with --stop) leave nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from restaurant_pipeline.local.processes import free_port
from tests.support.local_stack import REPO_ROOT

pytestmark = pytest.mark.e2e


def test_demo_runs_the_pipeline_end_to_end_and_prints_the_email_and_the_marts(tmp_path):
    state_dir = tmp_path / "state"
    env = {
        **os.environ,
        "PIPELINE_STATE_DIR": str(state_dir),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "PIPELINE__SCHEDULE__EXPRESSION": "cron(0 8 1 1 ? 2099)",
        "COLUMNS": "160",
    }
    env.pop("GOOGLE_PLACES_API_KEY", None)

    result = subprocess.run(
        [sys.executable, "-m", "restaurant_pipeline.cli", "demo", "--stop", "--timeout", "180"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for expected in ("Collection Requested", "collected Paris", "transformed", "notified passed"):
        assert expected in out
    assert "Subject: [restaurant-pipeline] OK Paris" in out
    assert "best-rated restaurants in Paris" in out and "city_daily_summary" in out
    assert "cuisine" in out and "7-day change" in out  # the new columns of the restaurants mart
    assert ": passed in" in out
    emails = list((state_dir / "outbox").glob("*.eml"))
    assert len(emails) == 1
    assert not (state_dir / "stack.json").exists()  # --stop took everything down
    status = subprocess.run(
        [sys.executable, "-m", "restaurant_pipeline.cli", "local", "status", "--json"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(status.stdout)["running"] is False
