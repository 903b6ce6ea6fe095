"""The command line's conventions: help on everything, --version, completion, JSON where it prints data, output
that a pipe gets whole, run ids by prefix, log lines without metric records, the local stack's environment."""

from __future__ import annotations

import io
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.ledger_views import find_run
from restaurant_pipeline.local.stack import StatePaths, new_stack_info
from restaurant_pipeline.logs import render_line
from restaurant_pipeline.output import UNWRAPPED_WIDTH, console_for, rows_as_csv
from restaurant_pipeline.stack_environment import (
    LocalEnvironmentForAws,
    ensure_not_local,
    export_lines,
    local_variables,
)


def every_command(group: Any, path: str = "restaurant-pipeline") -> list[tuple[str, Any]]:
    """(name, click command) of the command and every subcommand below it (typer ships its own click)."""
    found = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        found += every_command(command, f"{path} {name}")
    return found


def test_every_option_and_argument_of_every_command_has_help():
    commands = every_command(typer.main.get_command(cli.app))
    assert len(commands) >= 15  # the walk reached the subcommands
    missing = [
        f"{path} {param.name}"
        for path, command in commands
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]

    assert missing == []


def test_the_commands_that_print_data_take_json():
    commands = dict(every_command(typer.main.get_command(cli.app)))
    printing_data = ["run", "runs", "runs show", "dlq list", "dlq replay", "outbox", "audit", "reprocess"]
    printing_data += ["local status", "local env", "sql"]

    lacking = [
        name
        for name in printing_data
        if not any("--json" in p.opts for p in commands[f"restaurant-pipeline {name}"].params)
    ]
    assert lacking == []


def test_version_and_shell_completion():
    runner = CliRunner()

    assert runner.invoke(cli.app, ["--version"]).output == f"restaurant-pipeline {version('restaurant-pipeline')}\n"
    assert "--install-completion" in runner.invoke(cli.app, ["--help"]).output


def test_output_into_a_pipe_is_not_wrapped_and_columns_still_rules(monkeypatch: pytest.MonkeyPatch):
    command = "restaurant-pipeline sql " + '"' + "select name from restaurants where " + "x = 1 and " * 30 + 'y"'
    monkeypatch.delenv("COLUMNS", raising=False)
    piped = io.StringIO()
    console = console_for(piped)
    console.print(f"  $ {command}")

    assert console.width == UNWRAPPED_WIDTH
    assert piped.getvalue() == f"  $ {command}\n"
    monkeypatch.setenv("COLUMNS", "100")
    assert console_for(io.StringIO()).width == 100


def ledger(*run_ids: str) -> list[dict[str, object]]:
    return [
        {"run_id": run_id, "step": "REQUESTED", "subject": "-", "at": f"2026-01-0{i + 1}T08:00:00+00:00", "data": {}}
        for i, run_id in enumerate(run_ids)
    ]


def test_a_run_is_found_by_latest_by_its_id_or_by_a_unique_start_of_it():
    steps = ledger("manual-20260101T080000Z-aaaaaa", "manual-20260102T080000Z-bbbbbb", "schedule-x")

    assert find_run(steps, "latest") == "schedule-x"
    assert find_run(steps, "manual-20260101T080000Z-aaaaaa") == "manual-20260101T080000Z-aaaaaa"
    assert find_run(steps, "manual-20260102") == "manual-20260102T080000Z-bbbbbb"
    with pytest.raises(LookupError, match="starts 2 run ids"):
        find_run(steps, "manual-")
    with pytest.raises(LookupError, match="runs` lists them"):
        find_run(steps, "nope")
    with pytest.raises(LookupError, match="no run yet"):
        find_run([], "latest")


EMF = {
    "_aws": {
        "Timestamp": 1767254400000,
        "CloudWatchMetrics": [
            {"Namespace": "RestaurantPipeline", "Dimensions": [["service"]], "Metrics": [{"Name": "EmailsSent"}]}
        ],
    },
    "service": "notifier",
    "EmailsSent": [1.0],
}


def test_logs_show_log_lines_and_leave_metric_records_out_unless_asked():
    line = json.dumps({"level": "INFO", "message": "sent", "timestamp": "2026-01-01 08:00:00,000", "run_id": "r1"})

    assert "sent" in render_line(line).plain
    assert render_line(json.dumps(EMF)) is None
    assert render_line(json.dumps(EMF), metrics=True).plain == (
        "2026-01-01 08:00:00.000 METRICS EmailsSent=1.0 (service=notifier)"
    )


def test_local_env_exports_the_endpoint_dummy_credentials_region_and_state_folder_quoted_for_the_shell():
    info = new_stack_info("http://127.0.0.1:4566", StatePaths(Path("/home/me/restaurant pipeline/.pipeline")))

    lines = export_lines(local_variables(info)).splitlines()

    assert lines == [
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4566",
        "export AWS_ACCESS_KEY_ID=local",
        "export AWS_SECRET_ACCESS_KEY=local",
        "export AWS_REGION=eu-west-3",
        "export AWS_DEFAULT_REGION=eu-west-3",
        "export PIPELINE_STATE_DIR='/home/me/restaurant pipeline/.pipeline'",
    ]


def test_an_aws_command_refuses_a_shell_holding_the_local_stacks_credentials():
    with pytest.raises(LocalEnvironmentForAws, match="local env --unset"):
        ensure_not_local({"AWS_ACCESS_KEY_ID": "local"})
    ensure_not_local({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"})


def test_rows_as_csv_write_a_header_and_empty_cells_for_null():
    assert rows_as_csv(["name", "rating"], [("Chez, Nous", 4.5), ("Sans note", None)]) == (
        'name,rating\n"Chez, Nous",4.5\nSans note,\n'
    )
