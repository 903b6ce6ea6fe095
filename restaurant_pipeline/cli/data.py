"""`restaurant-pipeline reprocess`, `sql` and `report`: a file put where the transformer reads, and the marts read
back (the local DuckDB warehouse, or Athena with --aws; restaurant_pipeline/warehouse.py runs the statements)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from restaurant_pipeline import operations
from restaurant_pipeline.cli import common
from restaurant_pipeline.cli.common import USAGE_ERROR, AwsOption, StateDirOption, aws_failure, console, fail
from restaurant_pipeline.local import control
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.output import RowFormat, console_for, print_rows, to_json


def _day(value: str | None) -> str | None:
    """--date as YYYY-MM-DD, checked before anything is contacted."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day: give YYYY-MM-DD, e.g. --date 2026-12-01") from None


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
    target = common.resolve_target(aws, state_dir)
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
    from contracts.layout import ObjectLayoutError, raw_day
    from services.common.names import RAW_PREFIX

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
    return f"{source}: {aws_failure(exc)}"


def _bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:  # 403: it exists, someone else's
        return str(exc.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchBucket", "NotFound")
    return True


SQL_USAGE = 'pass a statement: restaurant-pipeline sql "select * from restaurants limit 10", or --file query.sql'


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

    target = common.resolve_target(aws, state_dir)
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
    """The statement's rows from Athena in the deployed stack's work group and Glue database (warehouse.run_athena);
    a statement that is not read-only is refused before the stack is looked up."""
    from restaurant_pipeline.warehouse import SqlError, check_read_only, run_athena

    try:
        check_read_only(statement)
    except SqlError as exc:
        fail(str(exc))
    target = common.resolve_target(True, state_dir)
    if not (target.athena_workgroup and target.glue_database):
        fail("the deployed stack has no AthenaWorkGroup/GlueDatabase outputs: it is from another version; redeploy it")
    try:
        result = run_athena(
            target.clients.client("athena"),
            target.glue_database,
            target.athena_workgroup,
            target.athena_results_s3,
            statement,
        )
    except SqlError as exc:
        fail(str(exc))
    return result.columns, result.rows
