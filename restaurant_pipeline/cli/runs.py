"""`restaurant-pipeline run`, `runs` and `audit`: a run started (and followed to its email), the run ledger read
back, and the audit of what was never accounted for."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from contracts.cities import duplicate_cities_message
from restaurant_pipeline import operations
from restaurant_pipeline.cli import common
from restaurant_pipeline.cli.common import AwsOption, JsonOption, StateDirOption, cells, console, errors, fail
from restaurant_pipeline.model.config import ConfigError, load_config
from restaurant_pipeline.output import to_json

runs_app = typer.Typer(help="The run ledger: every run's steps and outcome.")


def _cities(values: list[str] | None) -> list[str] | None:
    """--city values as the request's contract takes them, checked before anything is contacted."""
    if not values:
        return values
    from pydantic import TypeAdapter, ValidationError

    from contracts.events import CityName

    checked = []
    for value in values:
        try:
            checked.append(TypeAdapter(CityName).validate_python(value))
        except ValidationError:
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise typer.BadParameter(
                f"{shown!r} is not a city name: give 1 to 100 characters, e.g. --city Paris "
                '(quote a name with spaces: --city "Le Mans")'
            ) from None
    return checked


def run(
    city: Annotated[
        list[str] | None,
        typer.Option("--city", "-c", callback=_cities, help="A city (repeatable). Default: pipeline.toml's cities."),
    ] = None,
    max_restaurants: Annotated[
        int | None,
        typer.Option("--max-restaurants", "-n", min=1, max=10_000, help="Restaurants per city for this run only."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until its email; non-zero on failure.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 600,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run id (and with --wait the outcome) as JSON.")
    ] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Publish "Collection Requested" (trigger_source manual) for the configured cities or --city."""
    try:
        config = load_config()
    except ConfigError as exc:
        fail(str(exc))
    cities = city or config.collection.city_names
    problem = duplicate_cities_message(cities)
    if problem:
        fail(f"--city: {problem}")
    target = common.resolve_target(aws, state_dir)
    request = operations.request_collection(target.clients.events, target.event_bus, cities, max_restaurants)
    run_id = str(request.run_id)
    if not as_json:
        console.print(f"Requested run [bold]{escape(run_id)}[/] for {escape(', '.join(request.cities))}.")
    if not wait:
        if as_json:
            print(to_json({"run_id": run_id, "cities": request.cities}))
        return
    outcome, seconds = _follow(target, run_id, timeout, quiet=as_json)
    if as_json:
        print(to_json({"run_id": run_id, "cities": request.cities, "outcome": outcome, "seconds": round(seconds, 1)}))
    raise typer.Exit(0 if outcome == "passed" else 1 if outcome else 2)


def _follow(target: Any, run_id: str, timeout: float, quiet: bool = False) -> tuple[str | None, float]:
    """(outcome or None when no email came in time, seconds waited); the steps on the console unless quiet."""

    def show(item: dict[str, Any]) -> None:
        if not quiet:
            console.print(f"  [cyan]{item['service']}[/] {escape(operations.describe_step(item))}", highlight=False)

    started = time.monotonic()
    with console.status("waiting for the run's events…"):
        progress = operations.follow_run(target.ledger, run_id, timeout, on_step=show)
    elapsed = time.monotonic() - started
    if progress.outcome is None:
        errors.print(
            f"[red]No notification for run {escape(run_id)} after {elapsed:.0f}s.[/] `restaurant-pipeline dlq list`"
        )
        return None, elapsed
    if not quiet:
        colour = "green" if progress.outcome == "passed" else "red"
        console.print(f"[{colour}]{escape(f'Run {run_id}: {progress.outcome}')}[/] after {elapsed:.1f}s.")
    return progress.outcome, elapsed


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs, newest first.")] = 10,
    as_json: JsonOption = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """List the latest runs with their status and duration."""
    if ctx.invoked_subcommand:
        return
    from restaurant_pipeline.ledger_views import summarise_runs

    target = common.resolve_target(aws, state_dir)
    runs = summarise_runs(target.ledger.all_steps())[:last]
    if as_json:
        print(to_json(runs))
        return
    table = Table(title="runs (newest first)")
    for column in ("run", "trigger", "cities", "status", "started", "duration"):
        table.add_column(column)
    for item in runs:
        duration = f"{item['duration_seconds']:.1f}s" if item["duration_seconds"] is not None else "-"
        table.add_row(
            *cells(
                item["run_id"],
                item["trigger"] or "-",
                ", ".join(item["cities"]),
                item["status"],
                item["started"],
                duration,
            )
        )
    console.print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[
        str,
        typer.Argument(help="A run id, the start of one (unique), or `latest`.", metavar="RUN_ID|latest"),
    ] = "latest",
    as_json: JsonOption = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """The timeline of one run: each service's step, when."""
    from restaurant_pipeline.ledger_views import find_run

    target = common.resolve_target(aws, state_dir)
    try:
        run_id = find_run(target.ledger.all_steps(), run_id)
    except LookupError as exc:
        fail(str(exc))
    steps = target.ledger.steps(run_id)
    if as_json:
        print(to_json({"run_id": run_id, "steps": steps}))
        return
    table = Table(title=escape(f"run {run_id}"))
    for column in ("at", "service", "step"):
        table.add_column(column)
    for item in steps:
        table.add_row(*cells(item["at"], item["service"], operations.describe_step(item)))
    console.print(table)


# `audit`'s exit codes, for scripts and alarms: a finding is not the audit failing (README's command table).
AUDIT_CLEAN, AUDIT_FINDINGS, AUDIT_ERROR = 0, 1, 2


def audit(as_json: JsonOption = False, aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """Raw objects never transformed, runs never notified, messages in DLQs. Exits 0 when clean, 1 when anything is
    unaccounted for, 2 when the audit itself could not run (no stack, stack unreachable, an error)."""
    from restaurant_pipeline.ledger_views import audit_pipeline

    target = common.resolve_target(aws, state_dir, code=AUDIT_ERROR)
    try:
        report = audit_pipeline(target)
    except Exception as exc:  # any failure to look is the audit's own error, never "findings"
        fail(f"the audit could not run: {type(exc).__name__}: {exc}", AUDIT_ERROR)
    if as_json:
        print(to_json(report))
    else:
        for section, items in report["findings"].items():
            marker = "[green]ok[/]" if not items else f"[red]{len(items)}[/]"
            console.print(f"{section}: {marker}")
            for item in items[:20]:
                console.print(f"  - {escape(str(item))}", highlight=False)
    raise typer.Exit(AUDIT_CLEAN if report["clean"] else AUDIT_FINDINGS)
