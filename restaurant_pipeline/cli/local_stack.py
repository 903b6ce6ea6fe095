"""`restaurant-pipeline local …`, `demo` and `places-stub`: the local stack (moto's server, the Places stub, the
three services) started, stopped, looked at, and pointed at by the aws CLI, DuckDB and dbt."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from restaurant_pipeline.cli.common import JsonOption, StateDirOption, console, errors, fail
from restaurant_pipeline.local import control
from restaurant_pipeline.local.alarms import DEFAULT_LOCAL_PERIOD_SECONDS
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.model.config import ConfigError, load_config
from restaurant_pipeline.output import to_json

local_app = typer.Typer(
    help="The local stack: moto's server, the Places stub, the three services.", no_args_is_help=True
)


@local_app.command("up")
def local_up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background and return.")] = False,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Do not fire pipeline.toml's schedule (runs start by hand only).")
    ] = False,
    artifacts: Annotated[
        bool,
        typer.Option(
            "--artifacts",
            help="Run each service from its built artifact in a Lambda sandbox (read-only code, only /tmp writable, "
            "no /dev/shm, Lambda's environment, the runtime interface client) instead of importing its code.",
        ),
    ] = False,
    alarm_period: Annotated[
        int,
        typer.Option(
            "--alarm-period",
            min=1,
            help="Seconds per period of the alarms that watch events (a dead-letter queue not empty, a failure "
            "metric; 300 on AWS): an alarm email follows a failure within about this long.",
        ),
    ] = DEFAULT_LOCAL_PERIOD_SECONDS,
    state_dir: StateDirOption = None,
) -> None:
    """Start moto's server, provision the stack from the topology, and run every service and the alarms."""
    try:
        config_path = _config_path()
        load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
    host, port = control.endpoint_host_port()
    options = StackOptions(
        state_dir=str(state_dir or control.default_state_dir()),
        host=host,
        port=port,
        config_path=str(config_path) if config_path else None,
        scheduler=not no_scheduler,
        artifacts=artifacts,
        alarm_period_seconds=alarm_period,
    )
    if not detach:
        console.print(f"Local stack on http://{host}:{port} (Ctrl-C stops it and saves the state).")
    try:
        info = control.up(options, detach=detach, progress=lambda line: console.print(f"[dim]{escape(line)}[/]"))
    except control.StackStartError as exc:
        fail(str(exc))
    except control.StackNotRunning:
        return
    console.print(f"[green]Local stack up[/] on {escape(f'{info.endpoint_url} (state in {info.state_dir})')}.")
    if info.places_stub:
        console.print(f"No GOOGLE_PLACES_API_KEY set: the Places API stub answers on {info.places_api_base_url}.")
    if info.sandbox:
        console.print("Each service runs its artifact in a Lambda sandbox:")
        for line in info.sandbox:
            console.print(f"  {'[green]' if line.startswith('enforced') else '[yellow]'}{escape(line)}[/]")


@local_app.command("down")
def local_down(
    no_save: Annotated[
        bool,
        typer.Option(
            "--no-save",
            help="Stop without saving: the next `local up` restores the last snapshot, and what changed since is lost.",
        ),
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """Stop everything `local up` started, saving the bucket (every object version), the tables and every queued
    message under .pipeline/ first. Exits 1, saying why, when the save failed: the previous snapshot is kept."""
    result = control.down(state_dir, save=not no_save)
    if result.note:  # stack.json was unreadable: say how the stack was found and what became of the file
        errors.print(f"[yellow]warning:[/] {escape(result.note)}", highlight=False, soft_wrap=True)
    if not result.was_running:
        console.print("The local stack was not running.")
        return
    if result.released_sentence():  # messages whose invocation outlasted the stop grace (local/supervisor.py)
        console.print(escape(str(result.released_sentence())), soft_wrap=True)
    if result.saved:
        counts = result.counts or {}
        console.print(
            f"[green]Local stack stopped[/]; saved {counts.get('objects', 0)} object versions, "
            f"{counts.get('items', 0)} table items and {counts.get('messages', 0)} queued messages."
        )
        return
    kept = (
        f"`local up` restores the snapshot saved at {result.previous_snapshot}"
        if result.previous_snapshot
        else "there is no earlier snapshot: `local up` starts empty"
    )
    if result.error is None:
        console.print(f"Local stack stopped without saving (--no-save); {kept}.")
        return
    if result.holding:
        fail(
            f"the local state was NOT saved: {result.error}\nThe stack keeps running with its state (workers stopped) "
            f"and {kept}. Fix the cause, then run `restaurant-pipeline local down` again; "
            "`local down --no-save` stops it without saving."
        )
    fail(f"the local state was NOT saved: {result.error}. The stack is stopped; {kept}.")


@local_app.command("env")
def local_env(
    unset: Annotated[
        bool, typer.Option("--unset", help="Print the `unset` line that clears these variables again.")
    ] = False,
    as_json: JsonOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """The variables that point the aws CLI, boto3, DuckDB and dbt at the running local stack, as `export` lines:
    eval "$(restaurant-pipeline local env)", then `cd dbt && dbt show --select city_daily_summary` works too."""
    from restaurant_pipeline.dbt_command import local_dbt_variables
    from restaurant_pipeline.stack_environment import export_lines, unset_lines

    if unset:
        sys.stdout.write(unset_lines())
        return
    try:
        info = control.read_stack(state_dir)
    except control.StackNotRunning as exc:
        fail(str(exc))
    try:
        nlp: bool | None = load_config().nlp.enabled
    except ConfigError as exc:  # the AWS variables still serve; dbt parses with the NLP stage off
        nlp = None
        errors.print(f"# NLP_ENABLED left out: {exc}", highlight=False, markup=False)
    variables = local_dbt_variables(info, nlp)
    sys.stdout.write(to_json(variables) + "\n" if as_json else export_lines(variables))
    if sys.stdout.isatty() and not as_json:
        errors.print('# to set them in this shell: eval "$(restaurant-pipeline local env)"', highlight=False)


@local_app.command("status")
def local_status(
    as_json: JsonOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Names, endpoints and processes of the running local stack."""
    from restaurant_pipeline.local.processes import pid_alive

    try:
        info = control.read_stack(state_dir)
    except control.StackNotRunning as exc:
        if as_json:
            print(json.dumps({"running": False, "reason": str(exc)}))
            raise typer.Exit(1) from None
        fail(str(exc))
    processes = {name: {"pid": pid, "alive": pid_alive(pid)} for name, pid in info.pids.items()}
    status = {
        "running": True,
        "endpoint_url": info.endpoint_url,
        "region": info.region,
        "bucket": info.bucket,
        "event_bus": info.event_bus,
        "queues": {name: {"url": q.url, "dlq_url": q.dlq_url} for name, q in info.queues.items()},
        "topic_arn": info.topic_arn,
        "outbox_dir": info.outbox_dir,
        "warehouse_path": info.warehouse_path,
        "logs_dir": info.logs_dir,
        "state_dir": info.state_dir,
        "tables": {"idempotency": info.idempotency_table, "ledger": info.ledger_table},
        "places_api_base_url": info.places_api_base_url,
        "places_stub": info.places_stub,
        "schedule": info.schedule,
        "processes": processes,
    }
    if as_json:
        print(json.dumps(status, indent=2))
        return
    table = Table(title="restaurant-pipeline local stack", show_header=False)
    for key in ("endpoint_url", "region", "bucket", "event_bus", "topic_arn", "schedule", "places_api_base_url"):
        table.add_row(key, str(status[key]))
    for name, queue in info.queues.items():
        table.add_row(f"queue {name}", queue.url)
        table.add_row(f"dlq {name}", queue.dlq_url)
    for key in ("warehouse_path", "outbox_dir", "logs_dir"):
        table.add_row(key, str(status[key]))
    for name, process in processes.items():
        table.add_row(f"process {name}", f"pid {process['pid']} " + ("up" if process["alive"] else "[red]DOWN[/]"))
    console.print(table)


def _config_path() -> Path | None:
    from restaurant_pipeline.model.config import find_config_file

    return find_config_file()


def places_stub(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    latency_ms: Annotated[int, typer.Option(help="Added latency per request.")] = 0,
    error_rate: Annotated[float, typer.Option(help="Share of requests answered 500.")] = 0.0,
    invalid_key: Annotated[bool, typer.Option(help="Answer every request as Google does to a bad key.")] = False,
    per_minute_quota: Annotated[int | None, typer.Option(help="429 past this many requests a minute.")] = None,
    per_day_quota: Annotated[int | None, typer.Option(help="429 (per day) past this many requests.")] = None,
) -> None:
    """A faithful local stand-in for the Places API (New) Text Search."""
    from restaurant_pipeline.local.places_stub import StubSettings, run_stub

    settings = StubSettings(
        latency_ms=latency_ms,
        error_rate=error_rate,
        invalid_key=invalid_key,
        per_minute_quota=per_minute_quota,
        per_day_quota=per_day_quota,
    )
    console.print(f"Places API stub on http://{host}:{port} (POST /v1/places:searchText).")
    run_stub(host, port, settings)


def demo(
    keep_running: Annotated[bool, typer.Option("--keep-running/--stop", help="Leave the stack up afterwards.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the run.")] = 300,
    artifacts: Annotated[
        bool, typer.Option("--artifacts", help="Run the services' built artifacts in Lambda sandboxes (local up).")
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """Bring the local stack up, run the configured cities end to end, print the email and the marts."""
    from restaurant_pipeline.demo import run_demo

    state = state_dir or control.default_state_dir()
    code = run_demo(console, state, keep_running=keep_running, timeout=timeout, artifacts=artifacts)
    raise typer.Exit(code)
