"""Adapters: read the marts after a build (DuckDB file locally, Athena on AWS)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.transformer.domain.model import InfrastructureError

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient


class DuckDBWarehouse:
    """Opens the warehouse file read-only per query batch, so it never holds the lock between invocations."""

    def __init__(self, path: str, schema: str = "main") -> None:
        self._path = path
        self._schema = schema

    def relation(self, model: str) -> str:
        return f'"{self._schema}"."{model}"'

    def query(self, sql: str) -> list[dict[str, Any]]:
        import duckdb

        try:
            with duckdb.connect(self._path, read_only=True) as connection:
                cursor = connection.execute(sql)
                names = [column[0] for column in cursor.description or []]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.IOException as exc:  # locked or missing file: retry later
            raise InfrastructureError(f"warehouse {self._path} unavailable: {exc}") from exc


class AthenaWarehouse:
    """Runs a query in the work group and returns its rows as dicts (values converted by the column types)."""

    def __init__(
        self,
        athena_client: AthenaClient,
        database: str,
        workgroup: str,
        results_s3: str | None,
        timeout_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._athena = athena_client
        self._database = database
        self._workgroup = workgroup
        self._results = results_s3
        self._timeout = timeout_seconds
        self._sleep = sleep

    def relation(self, model: str) -> str:
        return f'"{self._database}"."{model}"'

    def query(self, sql: str) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self._database},
            "WorkGroup": self._workgroup,
        }
        if self._results:
            kwargs["ResultConfiguration"] = {"OutputLocation": self._results}
        query_id = self._athena.start_query_execution(**kwargs)["QueryExecutionId"]
        deadline = time.monotonic() + self._timeout
        delay = 0.2
        while True:
            status = self._athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                raise InfrastructureError(f"Athena query {query_id} {state}: {status.get('StateChangeReason', '')}")
            if time.monotonic() > deadline:
                raise InfrastructureError(f"Athena query {query_id} still {state} after {self._timeout:.0f} s")
            self._sleep(delay)
            delay = min(delay * 2, 2.0)
        return list(self._rows(query_id))

    def _rows(self, query_id: str) -> Any:
        paginator = self._athena.get_paginator("get_query_results")
        names: list[str] = []
        types: list[str] = []
        first_page = True
        for page in paginator.paginate(QueryExecutionId=query_id):
            result_set = page["ResultSet"]
            if not names:
                info = result_set["ResultSetMetadata"]["ColumnInfo"]
                names = [c["Name"] for c in info]
                types = [c["Type"].lower() for c in info]
            rows = result_set["Rows"]
            if first_page and rows and [d.get("VarCharValue") for d in rows[0]["Data"]] == names:
                rows = rows[1:]  # the header row
            first_page = False
            for row in rows:
                values = [d.get("VarCharValue") for d in row["Data"]]
                yield {n: _convert(v, t) for n, v, t in zip(names, values, types, strict=False)}


def _convert(value: str | None, type_name: str) -> Any:
    if value is None:
        return None
    if type_name in ("integer", "bigint", "smallint", "tinyint"):
        return int(value)
    if type_name in ("double", "float", "real") or type_name.startswith("decimal"):
        return float(value)
    if type_name == "boolean":
        return value.lower() == "true"
    return value
