"""`restaurant-pipeline`: the operator's command line, for the local stack and (with --aws) a deployed one.

One module per group of commands, and here the app they make, in the order `--help` lists them:
  local_stack.py  local up/down/env/status, places-stub, demo   runs.py     run, runs, runs show, audit
  data.py         reprocess, sql, report                        dbt.py      dbt, docs
  observe.py      logs, outbox                                  dlq.py      dlq list, dlq replay
  deploy.py       deploy, destroy                               common.py   the consoles, `fail`, shared options
"""

from __future__ import annotations

from typing import Annotated

import typer

from restaurant_pipeline.cli import data, dbt, deploy, dlq, local_stack, observe, runs

app = typer.Typer(
    help="Event-driven restaurant pipeline: Places API -> S3 -> dbt -> email. Local stack or AWS (--aws).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
app.add_typer(local_stack.local_app, name="local")
app.add_typer(dlq.dlq_app, name="dlq")
app.add_typer(runs.runs_app, name="runs")


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


app.command("run")(runs.run)
app.command("audit")(runs.audit)
app.command("reprocess")(data.reprocess)
app.command("sql")(data.sql)
app.command("report")(data.report)
app.command("dbt", context_settings=dbt.DBT_CONTEXT)(dbt.dbt)
app.command("logs")(observe.logs)
app.command("outbox")(observe.outbox)
app.command("docs")(dbt.docs)
app.command("places-stub")(local_stack.places_stub)
app.command("deploy")(deploy.deploy)
app.command("destroy")(deploy.destroy)
app.command("demo")(local_stack.demo)


def main() -> None:  # pragma: no cover - console script
    app()
