"""`restaurant-pipeline dbt` and `docs`: dbt run in dbt/ with the stack's environment, as dbt users type it, and
its lineage site served for the local warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from restaurant_pipeline.cli import common
from restaurant_pipeline.cli.common import StateDirOption, fail
from restaurant_pipeline.local import control
from restaurant_pipeline.model.config import ConfigError, load_config

# Everything after `dbt` goes to dbt untouched, its own options included (click's context settings).
DBT_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}


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
        target = common.resolve_target(True, state_dir)
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


DOCS_PORT = 8080


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
