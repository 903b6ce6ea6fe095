"""`restaurant-pipeline logs` and `outbox`: what the services wrote and what the local stack would have emailed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restaurant_pipeline.cli import common
from restaurant_pipeline.cli.common import (
    USAGE_ERROR,
    AwsOption,
    ServiceArgument,
    StateDirOption,
    check_service,
    console,
    fail,
)
from restaurant_pipeline.local import control
from restaurant_pipeline.local.outbox import DEFAULT_LIMIT as DEFAULT_OUTBOX_LIMIT
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.output import to_json


def logs(
    service: ServiceArgument,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many recent lines.")] = 50,
    metrics: Annotated[
        bool, typer.Option("--metrics", help="Also show the metric records (EMF), one line of values each.")
    ] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """A service's log lines (local: .pipeline/logs/SERVICE.log; AWS: its log group), one readable line each."""
    from restaurant_pipeline.logs import tail_aws, tail_local

    target = common.resolve_target(aws, state_dir)
    check_service(service)
    try:
        if target.kind == "local":
            tail_local(target.logs_dir / f"{service}.log", lines, follow, console, metrics)
        else:
            tail_aws(target.clients.logs, target.log_groups[service], lines, follow, console, metrics)
    except KeyboardInterrupt:
        return


def outbox(
    last: Annotated[
        bool, typer.Option("--last", help="The newest run email in full (with --alarms: the newest alarm email).")
    ] = False,
    run: Annotated[
        str | None,
        typer.Option("--run", help="The emails of this run in full (its id, or a unique start of it).", metavar="ID"),
    ] = None,
    alarms: Annotated[
        bool, typer.Option("--alarms", help="The alarms' emails (ALARM, OK) instead of the runs'.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help=f"How many emails the listing shows, newest first; 0: all. Default: {DEFAULT_OUTBOX_LIMIT}, "
            "all with --json.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the emails as JSON, newest first: sent_at, kind (run, alarm, other), run_id, from, to, "
            "subject, body, file, message_id.",
        ),
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """The emails the local stack captured (what SNS would have sent), from .pipeline/outbox/: a listing of the
    runs' emails, newest first; one run's in full (--run, --last); the alarms' (--alarms)."""
    from restaurant_pipeline.local.outbox import list_outbox, read_outbox, select_emails, show_outbox

    if run is not None and alarms:
        fail("--run shows a run's emails and --alarms the alarms': pass one of them", USAGE_ERROR)
    folder = StatePaths(Path(state_dir or control.default_state_dir()).resolve()).outbox
    try:
        if as_json:
            emails = select_emails(read_outbox(folder), alarms=alarms, run=run)
            emails = emails[:1] if last else emails[:limit] if limit else emails
            print(to_json([email.as_record() for email in emails]))
        elif last or run is not None:
            console.print(show_outbox(folder, last, alarms=alarms, run=run), highlight=False, markup=False)
        else:
            text = list_outbox(folder, alarms=alarms, limit=DEFAULT_OUTBOX_LIMIT if limit is None else limit)
            console.print(text, highlight=False, markup=False, end="", soft_wrap=True)
    except LookupError as exc:
        fail(str(exc))
