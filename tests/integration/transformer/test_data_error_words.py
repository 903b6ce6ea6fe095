"""A data error whose message happens to read like a lost connection is an error outcome, not a retry (issue 24,
item 1c): the real dbt build on DuckDB, a model that fails on a value reading "Connection timed out (HTTP 503)"."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.transformer.adapters.dbt_build import DbtBuilder, default_project_dir
from services.transformer.domain.model import InfrastructureError
from tests.support.transformer_stack import Stack

pytestmark = pytest.mark.integration


def test_a_model_failing_on_words_of_a_lost_connection_is_an_error_outcome_and_not_retried(stack: Stack, tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    model = Path(project / "models" / "marts" / "restaurants.sql")
    sql = model.read_text()
    assert "    c.first_seen_date,\n" in sql
    failing = "    c.first_seen_date,\n    cast('Connection timed out (HTTP 503)' as integer) as words,\n"
    model.write_text(sql.replace("    c.first_seen_date,\n", failing, 1))
    stack.deps.builder = DbtBuilder(project, "local", stack.builder._environment, state_dir=tmp_path / "state")
    stack.drop_fixture("clean_paris.jsonl")

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.error is None
    assert outcome.response == {"batchItemFailures": []}  # acknowledged: no retry of a data error
    [event] = stack.published(1)
    assert event.outcome == "error" and event.error is not None
    assert event.error.phase == "dbt" and event.error.model == "restaurants"
    assert "Connection timed out (HTTP 503)" in event.error.message


def test_a_warehouse_another_process_holds_is_still_an_infrastructure_failure_and_retried(stack: Stack):
    """The lock is met when dbt opens the warehouse, in its on-run-start hook, not in a model: dbt could not work,
    whatever the words (the hook's failure is raised by its kind, never read)."""
    stack.drop_fixture("clean_paris.jsonl")
    [message] = stack.s3_messages(1)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WAREHOUSE, stack.warehouse_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"

        failed = stack.run([message])
    finally:
        holder.communicate("", timeout=30)

    assert isinstance(failed.error, InfrastructureError), failed.error
    assert failed.response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    retried = stack.run([message])  # the lock is released: the same message builds
    assert retried.error is None
    assert stack.published(1)[0].outcome == "passed"


HOLD_THE_WAREHOUSE = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
connection.close()
"""
