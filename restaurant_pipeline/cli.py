"""`restaurant-pipeline`: the operator's command line, for the local stack and (with --aws) a deployed one."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from restaurant_pipeline import operations
from restaurant_pipeline.config import ConfigError, load_config
from restaurant_pipeline.local import control
from restaurant_pipeline.local.alarms import DEFAULT_LOCAL_PERIOD_SECONDS
from restaurant_pipeline.local.outbox import DEFAULT_LIMIT as DEFAULT_OUTBOX_LIMIT
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.output import RowFormat, console_for, print_rows, to_json
from restaurant_pipeline.topology import SERVICES
from services.collector.domain.cities import duplicate_cities_message

app = typer.Typer(
    help="Event-driven restaurant pipeline: Places API -> S3 -> dbt -> email. Local stack or AWS (--aws).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
local_app = typer.Typer(
    help="The local stack: moto's server, the Places stub, the three services.", no_args_is_help=True
)
dlq_app = typer.Typer(help="Dead-letter queues: what failed for good, and putting it back.", no_args_is_help=True)
runs_app = typer.Typer(help="The run ledger: every run's steps and outcome.")
app.add_typer(local_app, name="local")
app.add_typer(dlq_app, name="dlq")
app.add_typer(runs_app, name="runs")

console = console_for()
errors = console_for(stderr=True)

AwsOption = Annotated[bool, typer.Option("--aws", help="Act on the deployed stack instead of the local one.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of text.")]
StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar=control.STATE_DIR_ENV,
        help="The local stack's state folder (stack.json, warehouse, outbox, logs).",
        show_default=".pipeline",
    ),
]
NO_EMAIL = "none"  # the answer to the email prompt that subscribes no address
ServiceArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"restaurant-pipeline {version('restaurant-pipeline')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Event-driven restaurant pipeline: Places API -> S3 -> dbt -> email. Local stack or AWS (--aws)."""


USAGE_ERROR = 2  # click's exit code for a command line that is wrong (the user's to fix), as for a bad --date


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and exit. The message is text, never markup: a key, a city or an error
    quoting `[/]` prints as written, and on one line (the terminal folds a long one; rich does not break it)."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


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


def _day(value: str | None) -> str | None:
    """--date as YYYY-MM-DD, checked before anything is contacted."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day: give YYYY-MM-DD, e.g. --date 2026-12-01") from None


def _target(aws: bool, state_dir: Path | None, code: int = 1) -> Any:
    from restaurant_pipeline.target import resolve

    try:
        return resolve(aws, state_dir)
    except (control.StackNotRunning, RuntimeError) as exc:
        fail(str(exc), code)


def _refuse_local_environment() -> None:
    from restaurant_pipeline.stack_environment import LocalEnvironmentForAws, ensure_not_local

    try:
        ensure_not_local()
    except LocalEnvironmentForAws as exc:
        fail(str(exc))


def _service(name: str) -> str:
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of: {', '.join(SERVICES)}")
    return name


# -- local stack -------------------------------------------------------------------------------------------
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
    from restaurant_pipeline.config import find_config_file

    return find_config_file()


# -- runs ---------------------------------------------------------------------------------------------------
@app.command("run")
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
    target = _target(aws, state_dir)
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


def _text(*values: object) -> list[str]:
    """Table cells from data (run ids, cities, keys, statuses): printed as written, never read as rich markup."""
    return [escape(str(value)) for value in values]


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

    target = _target(aws, state_dir)
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
            *_text(
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

    target = _target(aws, state_dir)
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
        table.add_row(*_text(item["at"], item["service"], operations.describe_step(item)))
    console.print(table)


# `audit`'s exit codes, for scripts and alarms: a finding is not the audit failing (README's command table).
AUDIT_CLEAN, AUDIT_FINDINGS, AUDIT_ERROR = 0, 1, 2


@app.command("audit")
def audit(as_json: JsonOption = False, aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """Raw objects never transformed, runs never notified, messages in DLQs. Exits 0 when clean, 1 when anything is
    unaccounted for, 2 when the audit itself could not run (no stack, stack unreachable, an error)."""
    from restaurant_pipeline.ledger_views import audit_pipeline

    target = _target(aws, state_dir, code=AUDIT_ERROR)
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


# -- data in ------------------------------------------------------------------------------------------------
@app.command("reprocess")
def reprocess(
    source: Annotated[str, typer.Argument(help="A local .jsonl/.jsonl.gz/.json file, or s3://BUCKET/KEY.")],
    day: Annotated[
        str | None,
        typer.Option("--date", callback=_day, help="Partition day YYYY-MM-DD (default: today or the key's)."),
    ] = None,
    city: Annotated[
        str | None,
        typer.Option(
            "--city",
            help="The city of the file's places that carry no collection metadata (stored as the object's "
            "x-amz-meta-city). Without it: a copy keeps its source's, else the collector-style name, else unknown.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the bucket and key written as JSON.")] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Put a file under raw/places/dt=…/: its S3 event starts the transformer."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not source.strip():
        fail("pass a .jsonl, .jsonl.gz or .json file, or s3://BUCKET/KEY", USAGE_ERROR)
    target = _target(aws, state_dir)
    _check_reprocess_source(source, target.bucket, day)
    try:
        partition = date.fromisoformat(day) if day else None
        key = operations.reprocess(target.clients.s3, target.bucket, source, partition, city)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    except ClientError as exc:
        fail(_s3_source_failure(exc, source, target, aws))
    except BotoCoreError as exc:  # no endpoint, no credentials: the stack, not the file
        where = "AWS" if aws else "the local stack (`restaurant-pipeline local status`)"
        fail(f"{source}: could not reach S3 ({exc}); check {where}")
    except OSError as exc:
        fail(f"{source}: {exc.strerror or exc}")
    if as_json:
        print(to_json({"bucket": target.bucket, "key": key}))
        return
    console.print(f"Put {escape(f's3://{target.bucket}/{key}')}: the transformer will pick it up.", highlight=False)


def _check_reprocess_source(source: str, bucket: str, day: str | None) -> None:
    """The mistakes a `reprocess` source can have that are known before S3 is asked: each one line, saying what to
    pass instead."""
    from services.common.names import RAW_PREFIX
    from services.transformer.domain.reading import ObjectLayoutError, raw_day

    kinds = ", ".join(operations.RAW_SUFFIXES)
    if source.startswith("s3://"):
        source_bucket, _, key = source[len("s3://") :].partition("/")
        if source_bucket == bucket and key.startswith(RAW_PREFIX) and day is None:
            try:
                raw_day(key)  # it would be copied onto itself, where the transformer refuses it
            except ObjectLayoutError:
                fail(
                    f"{source} is under {RAW_PREFIX} but not at {RAW_PREFIX}dt=YYYY-MM-DD/NAME ({kinds}), where the "
                    "transformer reads: give its day, --date YYYY-MM-DD, to put a copy there"
                )
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(p.name for p in path.iterdir() if p.name.endswith(operations.RAW_SUFFIXES))
        example = f", e.g. restaurant-pipeline reprocess {path / files[0]}" if files else f" ({kinds})"
        fail(f"{source} is a folder: give one file in it{example}")
    if not path.exists():
        fail(f"{source}: no such file (from {Path.cwd()}); give a {kinds} file, or s3://BUCKET/KEY")


def _s3_source_failure(exc: Exception, source: str, target: Any, aws: bool) -> str:
    """One line for an S3 error met by `reprocess`: which object or bucket, and how to look."""
    from botocore.exceptions import ClientError

    assert isinstance(exc, ClientError)
    code = str(exc.response.get("Error", {}).get("Code", ""))
    source_bucket, _, key = source[len("s3://") :].partition("/") if source.startswith("s3://") else ("", "", "")
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    listing = f"aws s3 ls s3://{source_bucket}/{folder}"
    if not aws:
        listing = f'eval "$(restaurant-pipeline local env)" && {listing}'
    if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound") and source_bucket:
        if code == "NoSuchBucket" or not _bucket_exists(target.clients.s3, source_bucket):
            return f"{source}: there is no bucket {source_bucket!r}; check the name (the stack's is {target.bucket})"
        return f"{source}: no such object; check the key, or list what is there: {listing}"
    if code in ("403", "AccessDenied") and source_bucket:
        return f"{source}: access denied: these credentials cannot read it (or it does not exist); try {listing}"
    return f"{source}: {_aws_failure(exc)}"


def _bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:  # 403: it exists, someone else's
        return str(exc.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchBucket", "NotFound")
    return True


# -- the data -------------------------------------------------------------------------------------------------
# Athena runs whatever statement it is given with the caller's rights: only these kinds are sent (a statement that
# starts otherwise is refused). Locally the DuckDB file is opened read-only, which refuses any write itself.
ATHENA_READ_ONLY_STATEMENTS = ("select", "with", "show", "describe", "explain", "values")
SQL_USAGE = 'pass a statement: restaurant-pipeline sql "select * from restaurants limit 10", or --file query.sql'


@app.command("sql")
def sql(
    statement: Annotated[
        str | None,
        typer.Argument(help='One SQL statement, e.g. "select * from restaurants limit 10". Or use --file.'),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the statement from this file ('-': standard input).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON array of objects.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV, with a header line.")] = False,
    expanded: Annotated[
        bool | None,
        typer.Option(
            "--expanded/--no-expanded",
            "-x/-X",
            help="One block per row (`column | value` lines, as psql's \\x), or always a table. "
            "Default: a table when it fits the terminal's width, else one block per row.",
            show_default=False,
        ),
    ] = None,
    aws: Annotated[
        bool, typer.Option("--aws", help="Run it on Athena, in the deployed stack's work group and Glue database.")
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """Query the marts, read-only: the local DuckDB warehouse (the stack may keep running), or Athena (--aws)."""
    from restaurant_pipeline.warehouse import S3Access, SqlError, run_sql

    if as_json and as_csv:
        fail("choose one of --json and --csv", USAGE_ERROR)
    text = _statement(statement, file)
    fmt: RowFormat = "json" if as_json else "csv" if as_csv else "table"
    out = console_for()  # made now: the width of the terminal (or COLUMNS) this command prints to
    if aws:
        columns, rows = _athena_rows(text, state_dir)
        print_rows(out, columns, rows, fmt, expanded=expanded)
        return
    state = Path(state_dir or control.default_state_dir())
    try:
        info = control.read_stack(state)
        s3 = S3Access(info.endpoint_url, info.region, *_local_keys())
        warehouse = Path(info.warehouse_path)
    except control.StackNotRunning:
        s3, warehouse = None, StatePaths(state.resolve()).warehouse  # the marts still answer; S3 reads cannot
    try:
        result = run_sql(warehouse, text, s3)
    except SqlError as exc:
        hint = (
            " (this reads S3: start the local stack, `restaurant-pipeline local up --detach`)"
            if s3 is None and ("httpfs" in str(exc) or "s3://" in text)
            else ""
        )
        fail(f"{exc}{hint}")
    print_rows(out, result.columns, result.rows, fmt, expanded=expanded)


@app.command("report")
def report(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the HTML page (one self-contained file).")
    ] = Path("pipeline-report.html"),
    days: Annotated[
        int, typer.Option("--days", min=1, max=3660, help="Days of each city's trend, up to the latest.")
    ] = 30,
    last: Annotated[int, typer.Option("--runs", min=1, max=500, help="How many of the newest runs to draw.")] = 20,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Write one HTML page: each city's trends and a timeline of the latest runs (opens offline, in any browser)."""
    from datetime import UTC, datetime

    from restaurant_pipeline.report import TREND_SQL, city_trends, render_report, run_timelines
    from restaurant_pipeline.warehouse import SqlError, run_sql

    target = _target(aws, state_dir)
    if aws:
        columns, rows = _athena_rows(TREND_SQL, state_dir)
        source = f"Athena (database {target.glue_database}) and the run ledger {target.ledger_table}"
    else:
        info = control.read_stack(Path(state_dir or control.default_state_dir()))
        try:
            result = run_sql(Path(info.warehouse_path), TREND_SQL)
        except SqlError as exc:
            fail(str(exc))
        columns, rows = result.columns, result.rows
        source = f"the local warehouse {info.warehouse_path} and run ledger"
    trends = city_trends((dict(zip(columns, row, strict=True)) for row in rows), days)
    runs = run_timelines(target.ledger.all_steps(), last)
    page = render_report(trends, runs, datetime.now(UTC), source)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")
    console.print(f"Wrote {out} ({len(trends)} cities, {len(runs)} runs): open it in a browser.")


def _statement(statement: str | None, file: Path | None) -> str:
    if statement is None and file is None:
        fail(SQL_USAGE, USAGE_ERROR)
    if statement is not None and file is not None:
        fail(f"pass a statement or --file {file}, not both", USAGE_ERROR)
    if file is not None:
        try:
            statement = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"--file {file}: {exc.strerror or exc}")
    assert statement is not None
    if not statement.strip():
        fail(f"the statement is empty; {SQL_USAGE}", USAGE_ERROR)
    return statement


def _local_keys() -> tuple[str, str]:
    from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS

    return LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def _athena_rows(statement: str, state_dir: Path | None) -> tuple[list[str], list[tuple[Any, ...]]]:
    from services.transformer.adapters.warehouse import AthenaWarehouse
    from services.transformer.domain.model import InfrastructureError

    keyword = _first_keyword(statement)
    if keyword not in ATHENA_READ_ONLY_STATEMENTS:
        fail(
            f"`sql --aws` sends only read-only statements to Athena ({', '.join(ATHENA_READ_ONLY_STATEMENTS)}); "
            f"this one starts with {keyword or 'nothing'!r}"
        )
    target = _target(True, state_dir)
    if not (target.athena_workgroup and target.glue_database):
        fail("the deployed stack has no AthenaWorkGroup/GlueDatabase outputs: it is from another version; redeploy it")
    athena = AthenaWarehouse(
        target.clients.client("athena"),
        target.glue_database,
        target.athena_workgroup,
        target.athena_results_s3,
        timeout_seconds=300,
    )
    try:
        rows = athena.query(statement)
    except InfrastructureError as exc:
        fail(str(exc))
    columns = list(rows[0]) if rows else []
    return columns, [tuple(row.values()) for row in rows]


def _first_keyword(statement: str) -> str:
    """The statement's first word, lower case, after comments and parentheses."""
    import re

    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.DOTALL)
    match = re.search(r"[A-Za-z]+", text)
    return match.group(0).lower() if match else ""


@app.command(
    "dbt",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
)
def dbt(
    ctx: typer.Context,
    aws: Annotated[
        bool,
        typer.Option("--aws", help="Target the deployed stack's Athena (target athena, names from the stack outputs)."),
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """Run dbt in dbt/ with the stack's environment, as dbt users do: `restaurant-pipeline dbt build`,
    `dbt test --select restaurants`, `dbt show --select restaurants`, `dbt compile --target athena`.
    Everything after `dbt` goes to dbt (its own help: `restaurant-pipeline dbt -- --help`)."""
    from restaurant_pipeline.dbt_command import DbtNotFound, aws_dbt_variables, local_dbt_variables, run_dbt

    args = list(ctx.args)
    try:
        nlp = load_config().nlp.enabled
    except ConfigError as exc:
        fail(str(exc))
    if aws:
        target = _target(True, state_dir)
        if not (target.athena_workgroup and target.athena_results_s3 and target.glue_database):
            fail("the deployed stack has no Athena outputs: it is from another version; redeploy it")
        variables = aws_dbt_variables(
            region=target.clients.region,
            bucket=target.bucket,
            workgroup=target.athena_workgroup,
            results_s3=target.athena_results_s3,
            glue_database=target.glue_database,
            nlp_enabled=nlp,
        )
    else:
        try:
            info = control.read_stack(state_dir)
        except control.StackNotRunning as exc:
            fail(f"{exc} (dbt reads the raw objects from the local stack's S3)")
        variables = local_dbt_variables(info, nlp)
    try:
        code = run_dbt(args, variables)
    except DbtNotFound as exc:
        fail(str(exc))
    raise typer.Exit(code)


# -- dead-letter queues ---------------------------------------------------------------------------------------
DlqArgument = Annotated[
    str,
    typer.Argument(
        help=f"The dead-letter queue, as `dlq list` names it: {', '.join(operations.DLQ_NAMES)}. A service's name is "
        "its queue's DLQ; SERVICE-rule holds the events EventBridge could not deliver to that queue; schedule holds "
        "the scheduled runs the Scheduler could not put on the bus.",
        metavar="NAME",
        show_default=False,
    ),
]


def _aws_failure(exc: Exception) -> str:
    """One line for an AWS error met by a dlq command: the call, the code, the message."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name} failed ({error.get('Code', 'error')}): {error.get('Message', '')}".rstrip(": ")
    return f"{exc.__class__.__name__}: {exc}"


@dlq_app.command("list")
def dlq_list(as_json: JsonOption = False, aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """Every DLQ of the stack (each service's, each rule target's, the schedule's): its depth, the age of its oldest
    message, what ends up in it."""
    from botocore.exceptions import BotoCoreError, ClientError

    target = _target(aws, state_dir)
    depths = []
    try:
        for dlq in target.dead_letter_queues():
            depth = operations.dlq_depth(target.clients.sqs, dlq.service, dlq.url)
            depth.name, depth.kind, depth.purpose, depth.replays_to = dlq.name, dlq.kind, dlq.purpose, dlq.destination
            depths.append(depth)
    except (ClientError, BotoCoreError) as exc:
        fail(_aws_failure(exc))
    if as_json:
        print(to_json([asdict(depth) for depth in depths]))
        return
    table = Table(title="dead-letter queues (replay one: restaurant-pipeline dlq replay NAME)")
    for column in ("name", "messages", "in flight", "oldest", "what ends up here", "queue"):
        table.add_column(column)
    for depth in depths:
        oldest = f"{depth.oldest_age_seconds:.0f}s" if depth.oldest_age_seconds is not None else "-"
        style = "red" if depth.messages else "green"
        table.add_row(
            escape(depth.name or depth.service),
            f"[{style}]{depth.messages}[/]",
            str(depth.in_flight),
            oldest,
            escape(depth.purpose),
            escape(depth.dlq_url),
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    name: DlqArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; move nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what moved (or would) as JSON.")] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Put a DLQ's messages back where they belong (safe to repeat): a service's DLQ into its queue, a rule's DLQ
    (SERVICE-rule) into the queue the rule targets, the schedule's DLQ onto the bus as Collection Requested."""
    from botocore.exceptions import BotoCoreError, ClientError

    if name not in operations.DLQ_NAMES:
        fail(f"unknown dead-letter queue {name!r}; choose one of: {', '.join(operations.DLQ_NAMES)}")
    target = _target(aws, state_dir)
    try:
        dlq = target.dead_letter_queue(name)
    except KeyError as exc:
        fail(f"{exc.args[0]} (a local stack started before this version: `local down`, then `local up`)")
    try:
        result = operations.replay(target.clients, dlq, dry_run=dry_run)
    except (ClientError, BotoCoreError, RuntimeError) as exc:
        fail(f"replaying {name}: {_aws_failure(exc)}; what moved before stays moved, run the replay again")
    if as_json:
        print(to_json(asdict(result)))
        return
    if dry_run:
        console.print(f"{result.moved} message(s) would go from {dlq.url} to {dlq.destination}.", highlight=False)
        for preview in result.previews:
            console.print(f"  {escape(preview)}", highlight=False)
        return
    where = {"rule": f"the {dlq.service} queue", "schedule": f"the bus {dlq.destination}"}.get(
        dlq.kind, f"the {dlq.service} queue"
    )
    if result.method == "invoke-function":  # its queue refused the operator (docs/aws.md, "Dead-letter queues")
        where = f"the {dlq.service} function"
    console.print(f"Moved {result.moved} message(s) back to {where} ({result.method}).", highlight=False)
    if result.run_ids:
        console.print(
            f"Runs started: {', '.join(result.run_ids)} (follow one: restaurant-pipeline runs show RUN_ID)",
            highlight=False,
        )
    if result.skipped:
        errors.print(
            f"[yellow]{result.skipped} message(s) left in {escape(dlq.url)}:[/] not what this queue's producer writes",
            highlight=False,
        )
        for problem in result.problems:
            errors.print(f"  {escape(problem)}", highlight=False)
        if dlq.kind == "schedule":
            errors.print("Start those runs by hand: restaurant-pipeline run" + (" --aws" if aws else ""))
        raise typer.Exit(1)


# -- observing ------------------------------------------------------------------------------------------------
@app.command("logs")
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

    target = _target(aws, state_dir)
    _service(service)
    try:
        if target.kind == "local":
            tail_local(target.logs_dir / f"{service}.log", lines, follow, console, metrics)
        else:
            tail_aws(target.clients.logs, target.log_groups[service], lines, follow, console, metrics)
    except KeyboardInterrupt:
        return


@app.command("outbox")
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


DOCS_PORT = 8080


@app.command("docs")
def docs(
    port: Annotated[
        int | None,
        typer.Option("--port", help="Where to serve the site. Default: 8080, or a free port when 8080 is taken."),
    ] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Generate dbt's documentation for the local warehouse and serve the lineage site (until Ctrl-C)."""
    from restaurant_pipeline.dbt_docs import DocsError, serve_docs

    try:
        info = control.read_stack(state_dir)
    except control.StackNotRunning as exc:
        fail(f"{exc} (the docs read the warehouse's sources through the local S3 endpoint)")
    if port is None:
        from restaurant_pipeline.local.processes import free_port, port_in_use

        port = free_port() if port_in_use("127.0.0.1", DOCS_PORT) else DOCS_PORT
    try:
        serve_docs(info.warehouse_path, port, bucket=info.bucket, endpoint_url=info.endpoint_url)
    except DocsError as exc:
        fail(str(exc))


@app.command("places-stub")
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


# -- AWS ------------------------------------------------------------------------------------------------------
@app.command("deploy")
def deploy(
    api_key_file: Annotated[
        str | None,
        typer.Option(
            "--api-key-file",
            metavar="FILE",
            help="Read the Places API key from FILE ('-': standard input). Never on the command line: it would stay "
            "in the shell's history. Without it, a hidden prompt asks (Enter keeps the stored key).",
            show_default=False,
        ),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            "--email",
            envvar="NOTIFICATION_EMAIL",
            help="Who gets the emails. Default: pipeline.toml's, else the address the deployed stack has.",
        ),
    ] = None,
    no_email: Annotated[
        bool, typer.Option("--no-email", help="Subscribe no address (removes the current one).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="No questions (automation).")] = False,
) -> None:
    """Deploy the stack to the AWS account of your credentials; asks for the API key and the email."""
    from restaurant_pipeline import deploy as deployment

    _refuse_local_environment()
    api_key: str | None = None
    if api_key_file is not None:
        try:
            api_key = read_api_key(api_key_file)
        except (OSError, ValueError) as exc:
            fail(str(exc))
    elif not yes:
        typed = typer.prompt(
            "Google Places API key (hidden; Enter keeps the stored one)",
            hide_input=True,
            default="",
            show_default=False,
        )
        api_key = typed.strip() or None
    if no_email:
        email = ""
    elif email is None and not yes:
        try:
            current = deployment.current_email(load_config())
        except ConfigError as exc:
            fail(str(exc))
        answer = typer.prompt(
            f"Notification email ({NO_EMAIL!r} for none)", default=current or NO_EMAIL, show_default=True
        )
        email = "" if answer.strip().lower() == NO_EMAIL else answer
    try:
        deployment.deploy(api_key=api_key, email=email)
    except deployment.DeployError as exc:
        fail(str(exc))


def read_api_key(source: str) -> str:
    """The key from a file, or from standard input for '-': its first line, without surrounding blanks."""
    if source == "-":
        text = sys.stdin.readline()
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"--api-key-file {source}: no such file")
        text = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    key = text.strip()
    if not key:
        where = "standard input" if source == "-" else source
        raise ValueError(f"--api-key-file: {where} holds no key (expected the key on its first line)")
    return key


@app.command("destroy")
def destroy(
    delete_data: Annotated[bool, typer.Option("--delete-data", help="Also delete the data bucket.")] = False,
    bucket: Annotated[
        list[str] | None,
        typer.Option(
            "--bucket",
            help="With --delete-data: delete this bucket kept by an earlier destroy, not the stack (repeatable).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (automation).")] = False,
) -> None:
    """Remove the stack; the data bucket is kept unless --delete-data. Exits 1, with one line saying what AWS refused
    and what to do, when something could not be deleted."""
    from botocore.exceptions import BotoCoreError, ClientError

    from restaurant_pipeline import deploy as deployment

    _refuse_local_environment()
    if not yes:
        what = f"the buckets {', '.join(bucket)}" if bucket else "the restaurant-pipeline stack"
        typer.confirm(f"Destroy {what}?", abort=True)
    try:
        summary = deployment.destroy(keep_data=not delete_data, buckets=bucket or ())
    except deployment.DeployError as exc:
        fail(str(exc))
    except (ClientError, BotoCoreError) as exc:  # an AWS error destroy() does not expect: one line all the same
        fail(deployment.aws_failure(exc, "destroy"))
    if summary.remaining:
        raise typer.Exit(1)


# -- the demo -------------------------------------------------------------------------------------------------
@app.command("demo")
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


def main() -> None:  # pragma: no cover - console script
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
