"""What moto's Athena does not do, for a `dbt build --target athena` against moto: the Glue catalog effect of the DDL.

moto accepts every query and runs none of them (https://docs.getmoto.org/en/latest/docs/services/athena.html). So a
`create or replace view` leaves no table in Glue, and dbt-athena's next call about that view (GetTableVersions,
to expire old versions) fails: the build stops at the first model. This stand-in, for tests only, applies to moto's
Glue what Athena's DDL would, from the statement text: a schema created, a view or a CTAS table created or replaced
(with its location and table type), a table dropped or renamed. A SELECT (dbt's data tests) gets a result row
saying "no failure", and an Iceberg MERGE or INSERT a new version of its table, as Athena's commits do. That is
enough for dbt-athena to go through a whole build, first and incremental, and make every Glue and S3 call it makes
on AWS; it says nothing about the SQL itself (compiled and parsed by sqlglot
elsewhere: tests/integration/transformer/test_athena_target.py).

Its own Glue calls are made on a client the AWS call recorder ignores. What Athena itself asks of Glue with the
caller's permissions for each DDL statement is handed to `on_athena_glue` instead, as records of the same shape
(marked "via"), from Athena's documentation: a non-delete DDL needs the action on the table or database and its
ancestors, a DROP the delete action, and every DDL glue:GetDatabase and glue:CreateDatabase on the `default`
database (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html, "Mandatory:
Access policy to the default database and catalog per AWS Region" and the DDL examples).
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from restaurant_pipeline.local import call_recorder
from services.transformer.domain.limits import ATHENA_QUERY_MAX_BYTES

NAME = r'[`"]?(\w+)[`"]?'
QUALIFIED = rf"(?:{NAME}\.)?{NAME}\.{NAME}"  # [catalog.]schema.table
SCHEMA = re.compile(rf"^create\s+(?:schema|database)\s+(?:if\s+not\s+exists\s+)?{NAME}", re.I)
VIEW = re.compile(rf"^create\s+or\s+replace\s+view\s+{QUALIFIED}\s+as\b", re.I)
CTAS = re.compile(rf"^create\s+table\s+{QUALIFIED}\s+with\s*\((?P<props>.*?)\)\s*as\b", re.I | re.S)
DROP = re.compile(rf"^drop\s+(?:table|view)\s+(?:if\s+exists\s+)?{QUALIFIED}", re.I)
# An Iceberg write commits new table metadata, which Athena records as a new version of the Glue table
# (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-managing-tables.html): dbt-athena expires old ones.
WRITE = re.compile(rf"^(?:merge|insert)\s+into\s+{QUALIFIED}", re.I)
RENAME = re.compile(rf"^alter\s+table\s+{QUALIFIED}\s+rename\s+to\s+{QUALIFIED}", re.I)
PROPERTY = re.compile(r"(\w+)\s*=\s*'([^']*)'")
TEST_RESULT = {
    "rows": [
        {"Data": [{"VarCharValue": "failures"}, {"VarCharValue": "should_warn"}, {"VarCharValue": "should_error"}]},
        {"Data": [{"VarCharValue": "0"}, {"VarCharValue": "false"}, {"VarCharValue": "false"}]},
    ],
    "column_info": [
        {"Name": "failures", "Type": "bigint"},
        {"Name": "should_warn", "Type": "boolean"},
        {"Name": "should_error", "Type": "boolean"},
    ],
}


def refuse_oversized_query(sql: str, operation: str) -> None:
    """Athena refuses a query string over 262,144 bytes of UTF-8 (https://docs.aws.amazon.com/athena/latest/ug/
    service-limits.html, "Query string length"); moto accepts any. Refused here as Athena answers."""
    size = len(sql.encode("utf-8"))
    if size > ATHENA_QUERY_MAX_BYTES:
        message = (
            "1 validation error detected: Value at 'queryString' failed to satisfy constraint: "
            f"Member must have length less than or equal to {ATHENA_QUERY_MAX_BYTES} (this one: {size})"
        )
        error = {"Error": {"Code": "InvalidRequestException", "Message": message}}
        raise ClientError(error, operation)  # type: ignore[arg-type]


def statement(sql: str) -> str:
    """The statement without dbt's leading comment and extra whitespace."""
    text = re.sub(r"^\s*--[^\n]*\n", "", sql.strip())
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return " ".join(text.split())


class AthenaDdlOnMoto:
    """Installed around botocore's client calls for the time of a `with` block."""

    def __init__(
        self,
        endpoint_url: str,
        region: str = "eu-west-3",
        on_athena_glue: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.on_athena_glue = on_athena_glue
        self.region = region
        self.glue = boto3.client("glue", endpoint_url=endpoint_url, region_name=region)
        call_recorder.ignore(self.glue)
        self.applied: list[str] = []
        self._original: Any = None

    def __enter__(self) -> AthenaDdlOnMoto:
        from botocore.client import BaseClient

        client_class: Any = BaseClient
        self._original = original = client_class._make_api_call
        emulation = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "athena" and operation == "StartQueryExecution":
                refuse_oversized_query(params.get("QueryString", ""), operation)
            response = original(client, operation, params)
            if client.meta.service_model.service_name == "athena" and operation == "StartQueryExecution":
                emulation.apply(statement(params.get("QueryString", "")))
            return response

        client_class._make_api_call = _make_api_call
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        client_class: Any = BaseClient
        client_class._make_api_call = self._original

    def _via(self, sql: str, *calls: tuple[str, dict[str, Any]]) -> None:
        """Athena's Glue requests for this DDL (documented, not observed), plus those every DDL makes on default."""
        if self.on_athena_glue is None:
            return
        mandatory = (("GetDatabase", {"Name": "default"}), ("CreateDatabase", {"DatabaseInput.Name": "default"}))
        for operation, params in (*mandatory, *calls):
            record = {"service": "glue", "operation": operation, "region": self.region, "params": params}
            self.on_athena_glue({**record, "error": None, "via": f"Athena DDL: {sql[:70]}"})

    def apply(self, sql: str) -> None:
        if match := SCHEMA.match(sql):
            self._create_database(match.group(1))
            name = match.group(1)
            self._via(sql, ("GetDatabase", {"Name": name}), ("CreateDatabase", {"DatabaseInput.Name": name}))
        elif match := VIEW.match(sql):
            self._put_table(match.group(2), match.group(3), {"TableType": "VIRTUAL_VIEW"})
            self._via_create(sql, match.group(2), match.group(3))
        elif match := CTAS.match(sql):
            props = {k.lower(): v for k, v in PROPERTY.findall(match.group("props"))}
            table: dict[str, Any] = {"TableType": "EXTERNAL_TABLE"}
            location = props.get("location") or props.get("external_location")
            if location:
                table["StorageDescriptor"] = {"Location": location, "Columns": []}
            if props.get("table_type", "").lower() == "iceberg":
                table["Parameters"] = {"table_type": "ICEBERG"}
            self._put_table(match.group(2), match.group(3), table)
            self._via_create(sql, match.group(2), match.group(3))
        elif match := DROP.match(sql):
            self._drop(match.group(2), match.group(3))
            table = {"DatabaseName": match.group(2), "Name": match.group(3)}
            self._via(sql, ("GetDatabase", {"Name": match.group(2)}), ("GetTable", table), ("DeleteTable", table))
        elif match := WRITE.match(sql):
            self._put_table(match.group(2), match.group(3), self._kept(match.group(2), match.group(3)))
            table = {"DatabaseName": match.group(2), "Name": match.group(3)}
            self._via(sql, ("GetTable", table), ("UpdateTable", table))
        elif match := RENAME.match(sql):
            kept = self._kept(match.group(2), match.group(3))
            self._drop(match.group(2), match.group(3))
            self._put_table(match.group(5), match.group(6), kept)
        elif sql.lower().startswith(("select", "with")):
            self._queue_result(TEST_RESULT)
        else:
            return
        self.applied.append(sql[:80])

    def _via_create(self, sql: str, database: str, name: str) -> None:
        table = {"DatabaseName": database, "Name": name}
        self._via(
            sql,
            ("GetDatabase", {"Name": database}),
            ("GetTable", table),
            ("CreateTable", {"DatabaseName": database, "TableInput.Name": name}),
        )

    def _kept(self, database: str, name: str) -> dict[str, Any]:
        table = self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        return {k: table[k] for k in ("TableType", "StorageDescriptor", "Parameters") if k in table}

    def _create_database(self, name: str) -> None:
        with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):
            self.glue.create_database(DatabaseInput={"Name": name})

    def _put_table(self, database: str, name: str, table: dict[str, Any]) -> None:
        table_input = {"Name": name, **table}
        try:
            self.glue.create_table(DatabaseName=database, TableInput=table_input)
        except self.glue.exceptions.AlreadyExistsException:
            self.glue.update_table(DatabaseName=database, TableInput=table_input)

    def _drop(self, database: str, name: str) -> None:
        with contextlib.suppress(self.glue.exceptions.EntityNotFoundException):
            self.glue.delete_table(DatabaseName=database, Name=name)

    def _queue_result(self, result: dict[str, Any]) -> None:
        body = json.dumps({"region": self.region, "results": [result]}).encode()
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/static/athena/query-results", data=body, method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()
