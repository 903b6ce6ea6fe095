"""Read-only looks into the local DuckDB warehouse (for the demo, `restaurant-pipeline sql` and operators)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCK_WAIT_SECONDS = 30.0


def _connect(warehouse: Path) -> Any:
    """A read-only connection; waits while a dbt run holds the file (one writer at a time)."""
    import duckdb

    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


class SqlError(RuntimeError):
    """The statement could not run; the message is the warehouse's, plus what to do when we know it."""


@dataclass(frozen=True)
class S3Access:
    """Where the staging views read their objects: the local stack's S3 (moto), as dbt's local profile does."""

    endpoint_url: str
    region: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_sql(warehouse: Path, statement: str, s3: S3Access | None = None) -> QueryResult:
    """One statement on the warehouse, opened read-only (nothing can change it; the stack may keep running).

    With `s3`, httpfs is loaded (offline, from duckdb-ext-httpfs) and an S3 secret points at the local stack, so the
    staging views and `read_json_auto('s3://…')` work too.
    """
    import duckdb

    if not warehouse.is_file():
        raise SqlError(
            f"no warehouse at {warehouse} yet: it is made by the first transform. Run the pipeline once "
            "(`make run`, or `restaurant-pipeline run --wait` with the stack up)."
        )
    try:
        connection = _connect(warehouse)
    except duckdb.IOException as exc:
        raise SqlError(
            f"{one_line(str(exc))}. Another process writes the warehouse (a dbt run by hand, a DuckDB shell?)"
        ) from exc
    try:
        if s3 is not None:
            _attach_s3(connection, s3)
        cursor = connection.execute(statement)
        if cursor.description is None:
            return QueryResult([], [])
        return QueryResult([column[0] for column in cursor.description], cursor.fetchall())
    except duckdb.Error as exc:
        raise SqlError(_explained(connection, exc)) from exc
    finally:
        connection.close()


# The errors that a statement's own text causes (a typo, a table or column that is not there): the answer names the
# tables there are. The others (an I/O error, a conversion of a value) are the warehouse's message alone.
STATEMENT_ERRORS = ("Parser Error", "Catalog Error", "Binder Error")


def one_line(message: str) -> str:
    """DuckDB's message on one line: without the `LINE 1: …` excerpt and its caret, the rest joined."""
    head = message.split("\n\nLINE ", 1)[0]
    return " ".join(line.strip() for line in head.splitlines() if line.strip())


def _explained(connection: Any, exc: Exception) -> str:
    message = one_line(str(exc))
    if not message.startswith(STATEMENT_ERRORS):
        return message
    try:
        names = marts(connection)
    except Exception:  # the hint is a courtesy: the warehouse's own message must reach the user regardless
        return message
    if not names:
        return f"{message} (the warehouse has no tables yet: the first transform makes them)"
    example = "restaurants" if "restaurants" in names else names[0]
    return f'{message} (tables: {", ".join(names)}; their columns: restaurant-pipeline sql "describe {example}")'


def marts(connection: Any) -> list[str]:
    """The tables of the warehouse's main schema (dbt's marts), by name: what `sql` can always read."""
    rows = connection.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
    ).fetchall()
    return [str(row[0]) for row in rows]


def _attach_s3(connection: Any, s3: S3Access) -> None:
    from services.transformer.spec import duckdb_extension_directory

    host = s3.endpoint_url.split("://", 1)[-1].rstrip("/")
    connection.execute(f"SET extension_directory = '{_literal(duckdb_extension_directory())}'")
    connection.execute("LOAD httpfs")
    connection.execute(
        "CREATE SECRET local_stack (TYPE s3, "
        f"KEY_ID '{_literal(s3.key_id)}', SECRET '{_literal(s3.secret)}', REGION '{_literal(s3.region)}', "
        f"ENDPOINT '{_literal(host)}', USE_SSL {str(s3.endpoint_url.startswith('https')).lower()}, URL_STYLE 'path')"
    )


def _literal(value: str) -> str:
    return value.replace("'", "''")


def _relation(connection: Any, name: str) -> tuple[str, set[str]]:
    rows = connection.execute(
        "select table_schema, column_name from information_schema.columns where table_name = ? order by table_schema",
        [name],
    ).fetchall()
    if not rows:
        raise LookupError(f"no table {name!r} in the warehouse yet")
    schema = rows[0][0]
    return f'"{schema}"."{name}"', {column for table_schema, column in rows if table_schema == schema}


def query(warehouse: Path, sql_for: Any, params: list[Any]) -> list[dict[str, Any]]:
    connection = _connect(warehouse)
    try:
        sql = sql_for(connection)
        cursor = connection.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def best_rated(warehouse: Path, city: str, limit: int = 5) -> list[dict[str, Any]]:
    def sql(connection: Any) -> str:
        table, columns = _relation(connection, "restaurants")
        # as in the email: a permanently closed place is no recommendation
        status = "and coalesce(business_status, '') <> 'CLOSED_PERMANENTLY'" if "business_status" in columns else ""
        # a warehouse built before these columns existed still answers, without them
        extra = "".join(
            f", {column}" if column in columns else f", null as {column}"
            for column in ("cuisine", "rating_change_7d", "formatted_address")
        )
        return (
            f"select name, rating, user_rating_count, price_level{extra} from {table} "
            f"where lower(city) = lower(?) {status} and rating is not null "
            f"order by rating desc, user_rating_count desc nulls last limit {int(limit)}"
        )

    return query(warehouse, sql, [city])


def city_summary(warehouse: Path, cities: list[str]) -> list[dict[str, Any]]:
    def sql(connection: Any) -> str:
        table, columns = _relation(connection, "city_daily_summary")
        day = "summary_date" if "summary_date" in columns else "day"
        wanted = [
            c
            for c in (
                "city",
                day,
                "restaurants_seen",
                "new_restaurants",
                "closed_restaurants",
                "average_rating",
                "weighted_rating",
            )
            if c in columns
        ]
        placeholders = ", ".join("lower(?)" for _ in cities)
        return (
            f"select {', '.join(wanted)} from {table} t where lower(city) in ({placeholders}) "
            f"and {day} = (select max({day}) from {table} s where s.city = t.city) order by city"
        )

    return query(warehouse, sql, list(cities))


# -- Athena (`sql --aws`, `report --aws`) ----------------------------------------------------------------------
# Athena runs whatever statement it is given with the caller's rights: only these kinds are sent (a statement that
# starts otherwise is refused). Locally the DuckDB file is opened read-only, which refuses any write itself.
ATHENA_READ_ONLY_STATEMENTS = ("select", "with", "show", "describe", "explain", "values")
ATHENA_TIMEOUT_SECONDS = 300


def first_keyword(statement: str) -> str:
    """The statement's first word, lower case, after comments and parentheses."""
    import re

    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.DOTALL)
    match = re.search(r"[A-Za-z]+", text)
    return match.group(0).lower() if match else ""


def check_read_only(statement: str) -> None:
    """SqlError unless the statement is one of the read-only kinds Athena is sent."""
    keyword = first_keyword(statement)
    if keyword not in ATHENA_READ_ONLY_STATEMENTS:
        raise SqlError(
            f"`sql --aws` sends only read-only statements to Athena ({', '.join(ATHENA_READ_ONLY_STATEMENTS)}); "
            f"this one starts with {keyword or 'nothing'!r}"
        )


def run_athena(
    athena_client: Any, database: str, workgroup: str, results_s3: str | None, statement: str
) -> QueryResult:
    """One read-only statement on Athena, in the stack's work group and Glue database (the transformer's adapter,
    which waits for the query and pages its results); its failure is a SqlError of one line."""
    from services.transformer.spec import AthenaWarehouse, InfrastructureError

    check_read_only(statement)
    athena = AthenaWarehouse(athena_client, database, workgroup, results_s3, timeout_seconds=ATHENA_TIMEOUT_SECONDS)
    try:
        rows = athena.query(statement)
    except InfrastructureError as exc:
        raise SqlError(str(exc)) from exc
    columns = list(rows[0]) if rows else []
    return QueryResult(columns, [tuple(row.values()) for row in rows])
