"""`restaurant-pipeline`: the operator's command line, for the local stack and (with --aws) a deployed one."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from restaurant_pipeline import operations
from restaurant_pipeline.config import ConfigError, load_config
from restaurant_pipeline.local import control
from restaurant_pipeline.local.alarms import DEFAULT_LOCAL_PERIOD_SECONDS
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.topology import SERVICES

app = typer.Typer(
    help="Event-driven restaurant pipeline: Places API -> S3 -> dbt -> email. Local stack or AWS (--aws).",
    no_args_is_help=True,
    add_completion=False,
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

console = Console()
errors = Console(stderr=True)

AwsOption = Annotated[bool, typer.Option("--aws", help="Act on the deployed stack instead of the local one.")]
StateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar=control.STATE_DIR_ENV, help="Local state folder.", show_default=".pipeline"),
]
NO_EMAIL = "none"  # the answer to the email prompt that subscribes no address
ServiceArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")]


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _target(aws: bool, state_dir: Path | None) -> Any:
    from restaurant_pipeline.target import resolve

    try:
        return resolve(aws, state_dir)
    except (control.StackNotRunning, RuntimeError) as exc:
        fail(str(exc))


def _service(name: str) -> str:
    if name not in SERVICES:
        fail(f"unknown service {name!r}; choose one of: {', '.join(SERVICES)}")
    return name


# -- local stack -------------------------------------------------------------------------------------------
@local_app.command("up")
def local_up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")] = False,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not fire the schedule.")] = False,
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
        info = control.up(options, detach=detach, progress=lambda line: console.print(f"[dim]{line}[/]"))
    except control.StackStartError as exc:
        fail(str(exc))
    except control.StackNotRunning:
        return
    console.print(f"[green]Local stack up[/] on {info.endpoint_url} (state in {info.state_dir}).")
    if info.places_stub:
        console.print(f"No GOOGLE_PLACES_API_KEY set: the Places API stub answers on {info.places_api_base_url}.")
    if info.sandbox:
        console.print("Each service runs its artifact in a Lambda sandbox:")
        for line in info.sandbox:
            console.print(f"  {'[green]' if line.startswith('enforced') else '[yellow]'}{escape(line)}[/]")


@local_app.command("down")
def local_down(state_dir: StateDirOption = None) -> None:
    """Stop everything `local up` started; the bucket and tables are saved under .pipeline/."""
    if control.down(state_dir):
        console.print("[green]Local stack stopped[/]; objects and tables saved.")
    else:
        console.print("The local stack was not running.")


@local_app.command("status")
def local_status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
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
    city: Annotated[list[str] | None, typer.Option("--city", "-c", help="A city (repeatable).")] = None,
    max_restaurants: Annotated[int | None, typer.Option("--max-restaurants", "-n", min=1, max=10_000)] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run until its email; non-zero on failure.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 600,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Publish "Collection Requested" (trigger_source manual) for the configured cities or --city."""
    try:
        config = load_config()
    except ConfigError as exc:
        fail(str(exc))
    target = _target(aws, state_dir)
    cities = city or config.collection.city_names
    request = operations.request_collection(target.clients.events, target.event_bus, cities, max_restaurants)
    console.print(f"Requested run [bold]{request.run_id}[/] for {', '.join(request.cities)}.")
    if not wait:
        return
    code = _follow(target, str(request.run_id), timeout)
    raise typer.Exit(code)


def _follow(target: Any, run_id: str, timeout: float) -> int:
    def show(item: dict[str, Any]) -> None:
        console.print(f"  [cyan]{item['service']}[/] {escape(operations.describe_step(item))}", highlight=False)

    started = time.monotonic()
    with console.status("waiting for the run's events…"):
        progress = operations.follow_run(target.ledger, run_id, timeout, on_step=show)
    elapsed = time.monotonic() - started
    if progress.outcome is None:
        errors.print(f"[red]No notification for run {run_id} after {elapsed:.0f}s.[/] `restaurant-pipeline dlq list`")
        return 2
    ok = progress.outcome == "passed"
    colour = "green" if ok else "red"
    console.print(f"[{colour}]Run {run_id}: {progress.outcome}[/] after {elapsed:.1f}s.")
    return 0 if ok else 1


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs.")] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
        print(operations.dumps(runs))
        return
    table = Table(title="runs (newest first)")
    for column in ("run", "trigger", "cities", "status", "started", "duration"):
        table.add_column(column)
    for item in runs:
        duration = f"{item['duration_seconds']:.1f}s" if item["duration_seconds"] is not None else "-"
        table.add_row(
            item["run_id"], item["trigger"] or "-", ", ".join(item["cities"]), item["status"], item["started"], duration
        )
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str, aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """The timeline of one run."""
    target = _target(aws, state_dir)
    steps = target.ledger.steps(run_id)
    if not steps:
        fail(f"no run {run_id!r} in the ledger; `restaurant-pipeline runs` lists them")
    table = Table(title=f"run {run_id}")
    for column in ("at", "service", "step"):
        table.add_column(column)
    for item in steps:
        table.add_row(item["at"], item["service"], escape(operations.describe_step(item)))
    console.print(table)


@app.command("audit")
def audit(
    as_json: Annotated[bool, typer.Option("--json")] = False, aws: AwsOption = False, state_dir: StateDirOption = None
) -> None:
    """Raw objects never transformed, runs never notified, messages in DLQs. Exits 1 if anything is unaccounted."""
    from restaurant_pipeline.ledger_views import audit_pipeline

    target = _target(aws, state_dir)
    report = audit_pipeline(target)
    if as_json:
        print(operations.dumps(report))
    else:
        for section, items in report["findings"].items():
            marker = "[green]ok[/]" if not items else f"[red]{len(items)}[/]"
            console.print(f"{section}: {marker}")
            for item in items[:20]:
                console.print(f"  - {item}", highlight=False)
    raise typer.Exit(0 if report["clean"] else 1)


# -- data in ------------------------------------------------------------------------------------------------
@app.command("reprocess")
def reprocess(
    source: Annotated[str, typer.Argument(help="A local .jsonl/.jsonl.gz/.json file, or s3://BUCKET/KEY.")],
    day: Annotated[
        str | None, typer.Option("--date", help="Partition day YYYY-MM-DD (default: today or the key's).")
    ] = None,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Put a file under raw/places/dt=…/: its S3 event starts the transformer."""
    target = _target(aws, state_dir)
    try:
        partition = date.fromisoformat(day) if day else None
        key = operations.reprocess(target.clients.s3, target.bucket, source, partition)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    console.print(f"Put s3://{target.bucket}/{key}: the transformer will pick it up.")


# -- dead-letter queues ---------------------------------------------------------------------------------------
@dlq_app.command("list")
def dlq_list(aws: AwsOption = False, state_dir: StateDirOption = None) -> None:
    """Each DLQ's depth and the age of its oldest message."""
    target = _target(aws, state_dir)
    table = Table(title="dead-letter queues")
    for column in ("service", "messages", "in flight", "oldest", "queue"):
        table.add_column(column)
    for service, queue in target.queues.items():
        depth = operations.dlq_depth(target.clients.sqs, service, queue.dlq_url)
        oldest = f"{depth.oldest_age_seconds:.0f}s" if depth.oldest_age_seconds is not None else "-"
        style = "red" if depth.messages else "green"
        table.add_row(service, f"[{style}]{depth.messages}[/]", str(depth.in_flight), oldest, queue.dlq_url)
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    service: ServiceArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; move nothing.")] = False,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """Move a service's DLQ messages back to its queue (safe to repeat)."""
    target = _target(aws, state_dir)
    queue = target.queue(_service(service))
    result = operations.replay_dlq(
        target.clients.sqs, service, queue.url, queue.arn, queue.dlq_url, queue.dlq_arn, dry_run=dry_run
    )
    if dry_run:
        console.print(f"{result.moved} message(s) would move from {queue.dlq_url} to {queue.url}.")
        for preview in result.previews:
            console.print(f"  {preview}", highlight=False)
        return
    console.print(f"Moved {result.moved} message(s) back to the {service} queue ({result.method}).")


# -- observing ------------------------------------------------------------------------------------------------
@app.command("logs")
def logs(
    service: ServiceArgument,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many recent lines.")] = 50,
    aws: AwsOption = False,
    state_dir: StateDirOption = None,
) -> None:
    """A service's structured logs (local: .pipeline/logs/SERVICE.log; AWS: its log group)."""
    from restaurant_pipeline.logs import tail_aws, tail_local

    target = _target(aws, state_dir)
    _service(service)
    try:
        if target.kind == "local":
            tail_local(target.logs_dir / f"{service}.log", lines, follow, console)
        else:
            tail_aws(target.clients.logs, target.log_groups[service], lines, follow, console)
    except KeyboardInterrupt:
        return


@app.command("outbox")
def outbox(
    last: Annotated[bool, typer.Option("--last", help="Only the newest email.")] = False,
    state_dir: StateDirOption = None,
) -> None:
    """The emails the local stack captured (what SNS would have sent), from .pipeline/outbox/."""
    from restaurant_pipeline.local.outbox import show_outbox

    folder = StatePaths(Path(state_dir or control.default_state_dir()).resolve()).outbox
    console.print(show_outbox(folder, last=last), highlight=False, markup=False)


@app.command("docs")
def docs(
    port: Annotated[int, typer.Option("--port", help="Where to serve the site.")] = 8080,
    state_dir: StateDirOption = None,
) -> None:
    """Generate dbt's documentation for the local warehouse and serve the lineage site."""
    from restaurant_pipeline.dbt_docs import DocsError, serve_docs

    try:
        info = control.read_stack(state_dir)
    except control.StackNotRunning as exc:
        fail(f"{exc} (the docs read the warehouse's sources through the local S3 endpoint)")
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
    yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
) -> None:
    """Remove the stack; the data bucket is kept unless --delete-data. Exits 1 when a bucket could not be deleted."""
    from restaurant_pipeline import deploy as deployment

    if not yes:
        what = f"the buckets {', '.join(bucket)}" if bucket else "the restaurant-pipeline stack"
        typer.confirm(f"Destroy {what}?", abort=True)
    try:
        summary = deployment.destroy(keep_data=not delete_data, buckets=bucket or ())
    except deployment.DeployError as exc:
        fail(str(exc))
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
