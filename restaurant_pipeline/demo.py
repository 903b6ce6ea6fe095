"""`restaurant-pipeline demo` (what `make run` calls): the whole pipeline on this machine, watched.

Brings the local stack up, triggers a run for the configured cities, shows each step as its event flows
(collected -> transformed -> notified), prints the email and a small table from the marts, and says where
everything is. Exits non-zero when the run did not complete or did not pass.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from restaurant_pipeline import operations
from restaurant_pipeline.local import control
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.model.config import ConfigError, load_config
from restaurant_pipeline.target import local_target

STEP_LABELS = {
    "REQUESTED": "requested",
    "COLLECTED": "collected",
    "COLLECTION_FAILED": "collection failed",
    "TRANSFORMED": "transformed",
    "NOTIFIED": "notified",
}


def run_demo(
    console: Console, state_dir: Path, keep_running: bool = True, timeout: float = 300, artifacts: bool = False
) -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        return 2
    host, port = control.endpoint_host_port()
    options = StackOptions(state_dir=str(state_dir), host=host, port=port, scheduler=True, artifacts=artifacts)
    started = time.monotonic()
    with console.status("starting the local stack (moto's server, Places stub, collector, transformer, notifier)…"):
        try:
            info = control.up(options, detach=True, progress=lambda line: console.print(f"[dim]{escape(line)}[/]"))
        except control.StackStartError as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            return 2
    source = f"the Places API stub ({info.places_api_base_url})" if info.places_stub else "the Google Places API"
    console.print(
        f"[green]✓[/] local stack up on {info.endpoint_url} in {time.monotonic() - started:.1f}s; places from {source}"
    )
    if info.sandbox:
        console.print("[green]✓[/] each service runs its artifact in a Lambda sandbox: " + "; ".join(info.sandbox))
    try:
        return _run_once(console, state_dir, config.collection.city_names, timeout)
    finally:
        if keep_running:
            console.print("\nThe stack keeps running for you to explore; stop it with", highlight=False)
            console.print(f"  $ {executable('restaurant-pipeline')} local down", highlight=False)
        else:
            with console.status("stopping the local stack…"):
                control.down(state_dir)


def _run_once(console: Console, state_dir: Path, cities: list[str], timeout: float) -> int:
    target = local_target(state_dir)
    request = operations.request_collection(target.clients.events, target.event_bus, cities, None)
    run_id = str(request.run_id)
    console.print(f"[green]✓[/] Collection Requested: run [bold]{escape(run_id)}[/] for {escape(', '.join(cities))}")
    started = time.monotonic()

    def show(item: dict[str, Any]) -> None:
        label = STEP_LABELS.get(item["step"], item["step"].lower())
        mark = "[red]✗[/]" if item["step"] == "COLLECTION_FAILED" else "[green]✓[/]"
        detail = escape(operations.describe_step(item).removeprefix(item["step"].lower()))
        console.print(
            f"{mark} {time.monotonic() - started:5.1f}s  {item['service']:<11} {label}{detail}", highlight=False
        )

    with console.status("following the run's events…"):
        progress = operations.follow_run(target.ledger, run_id, timeout, on_step=show)
    if progress.outcome is None:
        console.print(
            f"[red]The run did not complete within {timeout:.0f}s.[/] Look at `restaurant-pipeline dlq list` and "
            "`restaurant-pipeline logs transformer`."
        )
        return 1
    email = _wait_for_email(target.outbox_dir, run_id, deadline=time.monotonic() + 30)
    if email:
        console.print(Panel(Text(email), title="the email (captured in the local outbox)", expand=False))
    else:
        console.print("[yellow]The notification was recorded but no email reached the outbox.[/]")
    _show_marts(console, target.warehouse_path, cities)
    _show_where(console, target)
    ok = progress.outcome == "passed"
    console.print(
        f"\n[{'green' if ok else 'red'}]Run {run_id}: {progress.outcome}[/] in {time.monotonic() - started:.1f}s "
        f"(trigger -> email)."
    )
    return 0 if ok else 1


def _wait_for_email(outbox: Path | None, run_id: str, deadline: float) -> str | None:
    if outbox is None:
        return None
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            text = path.read_text(encoding="utf-8", errors="replace")
            if run_id in text:
                from restaurant_pipeline.local.outbox import render_eml

                return render_eml(path)
        time.sleep(0.2)
    return None


def _show_marts(console: Console, warehouse: Path | None, cities: list[str]) -> None:
    if warehouse is None or not warehouse.exists():
        console.print("[yellow]No warehouse yet.[/]")
        return
    from restaurant_pipeline.warehouse import best_rated, city_summary

    try:
        for city in cities:
            rows = best_rated(warehouse, city, limit=5)
            table = Table(title=escape(f"best-rated restaurants in {city} (mart: restaurants)"))
            for column in ("name", "cuisine", "rating", "ratings", "7-day change", "price level", "address"):
                table.add_column(column)
            for row in rows:
                change = row["rating_change_7d"]
                table.add_row(  # names and addresses come from the Places API: text, not markup
                    escape(str(row["name"])),
                    escape(str(row["cuisine"] or "-")),
                    f"{row['rating']:.1f}" if row["rating"] is not None else "-",
                    str(row["user_rating_count"] or 0),
                    f"{change:+.2f}" if change is not None else "-",
                    str(row["price_level"] or "-"),
                    escape(str(row["formatted_address"] or "-")),
                )
            console.print(table)
        summary = city_summary(warehouse, cities)
        if summary:
            table = Table(title="city_daily_summary (latest day)")
            for column in summary[0]:
                table.add_column(column)
            for row in summary:
                table.add_row(*[f"{v:.2f}" if isinstance(v, float) else escape(str(v)) for v in row.values()])
            console.print(table)
    except Exception as exc:  # the demo still reports the run; the marts are a bonus view
        console.print(f"[yellow]Could not read the marts: {escape(str(exc))}[/]")


def executable(name: str) -> str:
    """How to type this installation's `name` (restaurant-pipeline, aws): bare when it is the one on PATH, else its
    path (`.venv/bin/aws` from the repository), so a printed command works when pasted."""
    here = Path(sys.executable).parent / name
    on_path = shutil.which(name)
    if on_path and Path(on_path).resolve() == here.resolve():
        return name
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return shlex.quote(str(here))


def where_things_are(target: Any) -> list[str]:
    """Each place, then the command that shows it (a `$ ` line; `# until Ctrl-C` when it keeps running)."""
    cli, aws = executable("restaurant-pipeline"), executable("aws")
    marts = "select name, cuisine, rating, user_rating_count from restaurants order by rating desc limit 10"
    return [
        f"warehouse (DuckDB): {target.warehouse_path}",
        f'  $ {cli} sql "{marts}"',
        f"  $ {cli} dbt show --select city_daily_summary",
        f"raw data (S3 on {target.clients.endpoint_url}): s3://{target.bucket}/raw/places/",
        f'  $ eval "$({cli} local env)" && {aws} s3 ls s3://{target.bucket}/raw/places/ --recursive',
        f"emails: {target.outbox_dir}",
        f"  $ {cli} outbox --last",
        f"logs: {target.logs_dir}",
        f"  $ {cli} logs transformer",
        "runs, trends, audit and lineage:",
        f"  $ {cli} runs show latest",
        f"  $ {cli} report   # writes pipeline-report.html: each city's trends and the runs, offline",
        f"  $ {cli} audit",
        f"  $ {cli} docs   # until Ctrl-C",
    ]


def _show_where(console: Console, target: Any) -> None:
    console.print("\n[bold]Where things are[/] (each command works as printed):")
    for line in where_things_are(target):
        console.print(escape(line), highlight=False)
