"""The Athena queries a daily run pays for, counted: docs/aws.md's cost table states them (tests/support/costs.py).

A daily run is one incremental `dbt build` over the day's object (the marts exist) and the email's queries after it.
moto runs no SQL, so tests/support/athena_ddl.py applies the catalog effects of the DDL and answers each data test
with "no failure": dbt-athena then issues every statement of a whole build, as on AWS. Each is sorted into what Athena
bills (DML: at least 10 MB each) and what it does not (DDL), by tests/support/costs.athena_statement_billed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from contracts.records import RAW_COLUMNS, TABLE_NAME
from services.common.names import VALIDATED_PREFIX
from services.transformer.adapters.dbt_build import BUILD_FLAGS
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.domain.model import MARTS
from tests.support import costs
from tests.support.athena import athena_builder
from tests.support.athena_ddl import AthenaDdlOnMoto, statement

pytestmark = pytest.mark.integration

UPDATE = "update tests/support/costs.py, then paste `.venv/bin/python -m tests.support.costs` into the docs"


class Recorded:
    """Every Athena statement and Glue request made through botocore while installed (the emulation's own Glue
    client left out: on AWS, Athena's Glue requests for each DDL are the ones `on_athena_glue` reports)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.glue: list[str] = []
        self.ignored: Any = None

    def install(self, patch: pytest.MonkeyPatch) -> None:
        original: Any = BaseClient._make_api_call
        recorded = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if service == "athena" and operation == "StartQueryExecution":
                recorded.statements.append(statement(params["QueryString"]))
            elif service == "glue" and client is not recorded.ignored:
                recorded.glue.append(operation)
            return original(client, operation, params)

        patch.setattr(BaseClient, "_make_api_call", _make_api_call)

    def clear(self) -> None:
        self.statements.clear()
        self.glue.clear()


def daily_build(builder: Any, day: str) -> Any:
    """The transformer's `dbt build` of one day's object (DbtBuilder.build's arguments), one thread at a time: moto
    answers queries in the order it was handed results, so concurrent tests would read each other's answers."""
    variables = {"dts": [day], "objects": [f"{VALIDATED_PREFIX}dt={day}/a.jsonl.gz"]}
    args = ["build", "--threads", "1", "--vars", json.dumps(variables), "--exclude-resource-type", "unit_test"]
    result = builder.invoke([*args, *BUILD_FLAGS])
    assert result.success, result.exception
    return result


def test_a_daily_build_issues_the_billed_athena_queries_the_cost_table_counts(aws: str, tmp_path: Path):
    builder = athena_builder(
        [(TABLE_NAME, RAW_COLUMNS, VALIDATED_PREFIX)], tmp_path / "dbt", workgroup="restaurant-pipeline"
    )
    recorded = Recorded()
    athena_glue: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as patch, AthenaDdlOnMoto(aws, on_athena_glue=athena_glue.append) as ddl:
        recorded.ignored = ddl.glue
        recorded.install(patch)
        daily_build(builder, "2026-01-01")  # the first build creates the marts; every later day merges into them
        recorded.clear()
        athena_glue.clear()
        result = daily_build(builder, "2026-01-02")

    billed = [sql for sql in recorded.statements if costs.athena_statement_billed(sql)]
    kinds = Counter(" ".join(sql.split()[:2]).lower() for sql in recorded.statements)
    tests = sum(1 for item in result.result.results if str(item.node.resource_type) in ("test", "NodeType.Test"))
    incremental = sum(1 for item in result.result.results if item.node.name in MARTS)
    # what makes the count: a SELECT per data test, and per mart a CTAS, a MERGE and dbt-athena's closing SELECT
    assert (tests, incremental) != (0, 0)
    assert len(billed) == tests + 3 * incremental, kinds
    assert len(billed) == costs.ATHENA_DBT_QUERIES_PER_BUILD, (
        f"a daily build issues {len(billed)} billed Athena queries ({tests} tests, {incremental} marts: {dict(kinds)}),"
        f" the cost table says {costs.ATHENA_DBT_QUERIES_PER_BUILD}: {UPDATE}"
    )
    glue_requests = len(recorded.glue) + len(athena_glue)
    assert 0 < glue_requests <= costs.GLUE_REQUESTS_PER_BUILD_AT_MOST, f"{glue_requests} Glue requests: {UPDATE}"


class CountingWarehouse:
    """The email's reader over a warehouse that counts queries and finds nothing (each query is made regardless)."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def relation(self, model: str) -> str:
        return f'"restaurant_pipeline"."{model}"'

    def query(self, sql: str) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return []


def test_the_email_after_a_passing_build_reads_the_marts_in_the_queries_the_cost_table_counts():
    warehouse = CountingWarehouse()
    marts = WarehouseMarts(warehouse)

    # what services/transformer/domain/transform.py asks after a build that built every mart
    marts.row_counts(list(MARTS))
    marts.city_summaries([("Paris", "2026-01-02")])

    assert len(warehouse.queries) == costs.ATHENA_EMAIL_QUERIES_PER_RUN, f"{len(warehouse.queries)}: {UPDATE}"
    assert all(costs.athena_statement_billed(sql) for sql in warehouse.queries)
