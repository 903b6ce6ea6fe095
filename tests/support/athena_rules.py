"""Athena's own rules, checked on the SQL the athena target compiles: what sqlglot parsing alone cannot tell.

The local warehouse is DuckDB, whose timestamps are microseconds and whose functions are its own, so nothing local
sees a model that Athena would refuse. These rules stand in for Athena, each from its documentation:

- Types an Iceberg table cannot store. A model materialized as an Iceberg table (`table_type: iceberg`, built by
  CTAS then MERGE) must produce only the types of "Supported data types for Iceberg tables in Athena"
  (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-supported-data-types.html): no tinyint, smallint,
  char or time; timestamp without time zone only in DDL; and Iceberg keeps microseconds, so a timestamp must be
  timestamp(6). A bare `timestamp` is timestamp(3) in Athena (Trino), and a CTAS of it into Iceberg fails with
  "Timestamp precision (3) not supported for Iceberg" (trinodb/trino#6658, #17006; dbt-athena's own cast_timestamp
  macro casts to timestamp(6) for Iceberg for that reason).
- The functions Athena has. Athena engine version 3 runs Trino's functions
  (https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html, https://trino.io/docs/current/functions/list.html).
  A call of anything else (a DuckDB function, `::` casts) is refused: ATHENA_FUNCTIONS lists the Trino functions
  this check knows; one Athena has that is missing here is added with its documentation page.
- The query string limit: at most 262,144 bytes of UTF-8 per query, not adjustable
  (https://docs.aws.amazon.com/athena/latest/ug/service-limits.html, "Query string length").

Output types are inferred with sqlglot's type annotation in the Athena (Trino) dialect, from the Glue tables the
CDK stack declares (contracts/records.py) and, model after model, the types inferred for the
models they select from. A column whose type cannot be inferred is refused too: a check that guessed would let a
timestamp(3) through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.athena import Athena
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import TokenType

from services.transformer.domain.limits import ATHENA_QUERY_MAX_BYTES

DIALECT = "athena"
ICEBERG_TYPES_DOC = "https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-supported-data-types.html"
FUNCTIONS_DOC = "https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html"
QUOTA_DOC = "https://docs.aws.amazon.com/athena/latest/ug/service-limits.html"

# What Iceberg tables in Athena store (ICEBERG_TYPES_DOC). TIMESTAMP only with precision 6, checked apart.
ICEBERG_STORABLE = {
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.BINARY,
    exp.DataType.Type.VARBINARY,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.ARRAY,
    exp.DataType.Type.MAP,
    exp.DataType.Type.STRUCT,
}
ICEBERG_PRECISION = 6
TRINO_DEFAULT_TIMESTAMP_PRECISION = 3  # https://trino.io/docs/current/language/types.html#timestamp

# Trino functions Athena engine version 3 has (FUNCTIONS_DOC): the ones dbt/ and dbt-athena's macros call, and the
# common ones a model may reach for next. Names are lower case, as written in SQL.
ATHENA_FUNCTIONS = frozenset(
    """
    abs approx_distinct approx_percentile arbitrary array_agg array_distinct array_join array_max array_min
    array_position array_sort at_timezone avg bool_and bool_or cardinality cast ceil ceiling coalesce concat contains
    count count_if cume_dist current_date current_timestamp date date_add date_diff date_format date_parse date_trunc
    day day_of_week dense_rank element_at every exp filter first_value floor format from_iso8601_date
    from_iso8601_timestamp from_unixtime from_utf8 greatest if json_extract json_extract_scalar json_format json_parse
    lag last_value lead least length ln localtimestamp log10 lower lpad ltrim map map_agg max max_by md5 min min_by
    month now ntile nullif percent_rank position power rank regexp_extract regexp_like regexp_replace replace reverse
    round row row_number rpad rtrim sequence sha256 split split_part sqrt stddev strpos substr substring sum
    to_hex to_iso8601 to_unixtime to_utf8 transform trim try try_cast typeof unnest upper url_decode url_encode
    variance week with_timezone year zip
    """.split()  # noqa: SIM905 (a word list reads better than 120 quoted names)
)
# DuckDB's, not Athena's: the message says what to use instead.
DUCKDB_ONLY = {
    "list_contains": "contains (in an adapter.dispatch macro)",
    "list_value": "array[...]",
    "struct_pack": "cast(row(...) as row(...))",
    "read_json": "the Glue table (source())",
    "read_json_auto": "the Glue table (source())",
    "read_parquet": "the Glue table (source())",
    "glob": "the Glue table (source())",
    "strftime": "date_format",
    "strptime": "date_parse",
    "epoch_ms": "from_unixtime",
    "regexp_matches": "regexp_like",
    "string_split": "split",
    "ifnull": "coalesce",
    "array_length": "cardinality",
    "len": "length or cardinality",
}
# Tokens that a parenthesis follows without being a call.
_NOT_CALLS = {TokenType.ALIAS}


@dataclass(frozen=True)
class Violation:
    node: str  # the dbt node (model or test) whose compiled SQL breaks the rule
    rule: str  # "iceberg type", "function", "query size", "unknown type"
    detail: str

    def __str__(self) -> str:
        return f"{self.node}: {self.rule}: {self.detail}"


@dataclass(frozen=True)
class CompiledNode:
    """One node of the athena target as dbt compiled it."""

    name: str
    resource_type: str  # "model" or "test"
    sql: str
    relation: str | None = None  # "database.identifier" of a model
    iceberg: bool = False  # materialized as an Iceberg table (CTAS / MERGE), not a view
    unique_id: str = ""
    depends_on: tuple[str, ...] = ()  # the unique ids of the nodes it selects from

    @classmethod
    def from_dbt(cls, node: Any) -> CompiledNode:
        """A node of a dbtRunner result (`result.result.results[i].node`)."""
        config = node.config
        materialized = config.get("materialized")
        iceberg = str(config.get("table_type") or "").lower() == "iceberg" and materialized in ("table", "incremental")
        relation = f"{node.schema}.{node.alias or node.name}" if node.resource_type == "model" else None
        return cls(
            node.name,
            str(node.resource_type),
            node.compiled_code or "",
            relation,
            iceberg,
            node.unique_id,
            tuple(node.depends_on.nodes),
        )


def compiled_nodes(result: Any) -> list[CompiledNode]:
    """The compiled nodes of a dbtRunner `compile` result, each after the nodes it selects from."""
    nodes = {r.node.unique_id: CompiledNode.from_dbt(r.node) for r in result.result.results if r.node.compiled_code}
    order = TopologicalSorter({uid: [d for d in n.depends_on if d in nodes] for uid, n in nodes.items()})
    return [nodes[uid] for uid in order.static_order()]


@dataclass
class AthenaCatalog:
    """Column types by relation ("database.table"), in Athena's types: the Glue tables, then inferred models."""

    tables: dict[str, dict[str, exp.DataType]] = field(default_factory=dict)

    def add_glue_table(self, relation: str, columns: Iterable[tuple[str, str]]) -> None:
        """A table as Glue declares it (Hive type strings, e.g. struct<text:string>)."""
        self.tables[relation] = {name: exp.DataType.build(kind, dialect="hive") for name, kind in columns}

    def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """For sqlglot: awsdatacatalog -> database -> table -> column -> type."""
        nested: dict[str, dict[str, dict[str, str]]] = {}
        for relation, columns in self.tables.items():
            database, table = relation.split(".")
            nested.setdefault(database, {})[table] = {n: t.sql(DIALECT) for n, t in columns.items()}
        return {"awsdatacatalog": nested}  # type: ignore[dict-item]


# What Trino returns for the functions sqlglot parses but does not type (https://trino.io/docs/current/functions/):
# to_hex and lower(to_hex(...)) varchar, to_utf8 varbinary, from_iso8601_timestamp and AT TIME ZONE a timestamp with
# time zone (precision 3 from text).
TRINO_RETURN_TYPES: dict[type[exp.Expression], str] = {
    exp.Hex: "varchar",
    exp.LowerHex: "varchar",
    exp.Encode: "varbinary",
    exp.FromISO8601Timestamp: "timestamp(3) with time zone",
    exp.AtTimeZone: "timestamp(3) with time zone",
}


def output_types(sql: str, catalog: AthenaCatalog) -> dict[str, exp.DataType]:
    """The type of each column a SELECT produces, as Athena would type it."""
    schema = catalog.schema()
    tree = sqlglot.parse_one(sql, read=DIALECT)
    qualified = qualify(tree, schema=schema, dialect=DIALECT, validate_qualify_columns=False, identify=False)
    for node in qualified.walk():
        if (kind := TRINO_RETURN_TYPES.get(type(node))) is not None:
            node.type = exp.DataType.build(kind, dialect=DIALECT)
    annotated = annotate_types(qualified, schema=schema, dialect=DIALECT, overwrite_types=False)
    if not isinstance(annotated, exp.Query):
        raise ValueError("not a query")
    return {select.alias_or_name: select.type or exp.DataType.build("unknown") for select in annotated.selects}


def iceberg_type_problem(kind: exp.DataType) -> str | None:
    """Why an Iceberg table in Athena cannot store this type (None when it can), nested types included."""
    name = kind.sql(DIALECT)
    if kind.this in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return "its type could not be inferred: cast it explicitly, so Athena's type is known"
    if kind.this not in ICEBERG_STORABLE:
        if kind.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ):
            return f"{name}: only timestamp without time zone can be created in an Iceberg table ({ICEBERG_TYPES_DOC})"
        return f"{name} is not supported for Iceberg tables in Athena ({ICEBERG_TYPES_DOC})"
    if kind.this == exp.DataType.Type.TIMESTAMP:
        precision = _precision(kind)
        if precision != ICEBERG_PRECISION:
            return (
                f"{name} is timestamp({precision}) in Athena; Iceberg stores timestamp(6) only "
                '("Timestamp precision (3) not supported for Iceberg", trinodb/trino#6658): '
                "make it with the timestamp macros of dbt/macros/warehouse.sql (timestamp(6) on Athena)"
            )
    for inner in kind.expressions:
        nested = inner.args.get("kind") if isinstance(inner, exp.ColumnDef) else inner
        if isinstance(nested, exp.DataType) and (problem := iceberg_type_problem(nested)):
            return f"{name}: {problem}"
    return None


def _precision(kind: exp.DataType) -> int:
    for parameter in kind.expressions:
        if isinstance(parameter, exp.DataTypeParam):
            return int(parameter.name)
    return TRINO_DEFAULT_TIMESTAMP_PRECISION


def functions_called(sql: str) -> set[str]:
    """The lower-case names called in a statement, as written (a name then a parenthesis), and '::' for a
    DuckDB/PostgreSQL cast."""
    tokens = Athena().tokenize(sql)
    called = set()
    for previous, token, following in zip([None, *tokens[:-1]], tokens, [*tokens[1:], None], strict=True):
        if token.token_type == TokenType.DCOLON:
            called.add("::")
        if following is None or following.token_type != TokenType.L_PAREN:
            continue
        if previous is not None and previous.token_type in _NOT_CALLS:
            continue  # `as item (review)`: a table alias and its columns
        if token.token_type == TokenType.VAR or token.text.lower() in ATHENA_FUNCTIONS | DUCKDB_ONLY.keys():
            called.add(token.text.lower())
    return called


def statement_violations(node: str, sql: str) -> list[Violation]:
    """The rules every statement sent to Athena obeys: its size and the functions it calls."""
    found = []
    size = len(sql.encode("utf-8"))
    if size > ATHENA_QUERY_MAX_BYTES:
        found.append(
            Violation(node, "query size", f"{size:,} bytes, over Athena's {ATHENA_QUERY_MAX_BYTES:,} ({QUOTA_DOC})")
        )
    for name in sorted(functions_called(sql) - ATHENA_FUNCTIONS):
        if name == "::":
            found.append(Violation(node, "function", f"'::' casts are DuckDB's: use cast(x as type) ({FUNCTIONS_DOC})"))
        elif name in DUCKDB_ONLY:
            found.append(
                Violation(node, "function", f"{name}() is DuckDB's, not Athena's: use {DUCKDB_ONLY[name]} on Athena")
            )
        else:
            found.append(
                Violation(
                    node,
                    "function",
                    f"{name}() is not a function this check knows Athena has ({FUNCTIONS_DOC}); if Athena has it, "
                    "add it to ATHENA_FUNCTIONS in tests/support/athena_rules.py",
                )
            )
    return found


def check(nodes: Sequence[CompiledNode], catalog: AthenaCatalog) -> list[Violation]:
    """Every rule on every node, in the order given (compiled_nodes: a model after those it selects from); the
    types inferred for each model are added to `catalog` for the models after it."""
    found: list[Violation] = []
    for node in nodes:
        found += statement_violations(node.name, node.sql)
        if node.resource_type != "model" or node.relation is None:
            continue
        try:
            types = output_types(node.sql, catalog)
        except Exception as exc:  # a query sqlglot cannot type: said, never passed over
            found.append(Violation(node.name, "unknown type", f"the output types could not be inferred: {exc}"))
            continue
        catalog.tables[node.relation] = types
        if node.iceberg:
            found += [
                Violation(node.name, "iceberg type", f"column {column}: {problem}")
                for column, kind in types.items()
                if (problem := iceberg_type_problem(kind))
            ]
    return found


def glue_catalog(
    database: str, tables: Mapping[str, Sequence[tuple[str, str]]], partition_keys: Sequence[tuple[str, str]]
) -> AthenaCatalog:
    """The Glue tables the stack declares (name -> columns), each with its partition keys, in `database`."""
    catalog = AthenaCatalog()
    for name, columns in tables.items():
        catalog.add_glue_table(f"{database}.{name}", [*columns, *partition_keys])
    return catalog
