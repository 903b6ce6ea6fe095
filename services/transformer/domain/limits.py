"""How much SQL one build may make: Athena's query string limit, and the room a build's object list may take in it.

A build names its objects in the staging model (dbt/macros/batch.sql batch_object_uris: on Athena a `"$path" in
('s3://…', …)` predicate, on DuckDB the list read_json reads). Athena refuses a query string over 262,144 bytes of
UTF-8, and the quota cannot be raised (https://docs.aws.amazon.com/athena/latest/ug/service-limits.html, "Query
string length"; https://repost.aws/knowledge-center/athena-query-string-length): a coalesced build of a thousand
objects with long names would pass that. So a build takes objects while their list fits OBJECT_LIST_MAX_BYTES, the
limit less the rest of the statement that holds the list, on both warehouses alike (one behaviour to test).
"""

from __future__ import annotations

from contracts.layout import ObjectLayoutError, raw_day
from services.transformer.domain.reading import validated_key

ATHENA_QUERY_MAX_BYTES = 262_144
# The largest statement holding the list, without the list: stg_places__places's view DDL (~4 KiB), and with the
# NLP stage on stg_places__reviews's CTAS. tests/integration/transformer/test_athena_rules.py measures it and fails
# when it outgrows this room.
STATEMENT_ROOM_BYTES = 16_384
OBJECT_LIST_MAX_BYTES = ATHENA_QUERY_MAX_BYTES - STATEMENT_ROOM_BYTES
_SEPARATOR = ", "


def object_literal(bucket: str, key: str) -> str:
    """The SQL string literal of a validated object's URI, as batch_object_uris writes it."""
    return "'" + f"s3://{bucket}/{key}".replace("'", "''") + "'"


def listed_bytes(bucket: str, raw_key: str, version: str | None) -> int:
    """What a raw object version adds to the build's object list: its validated copy's literal and a separator (nothing
    for a key outside the raw layout: it is refused before the build, with no validated copy)."""
    try:
        day, name = raw_day(raw_key)
    except ObjectLayoutError:
        return 0
    return len(object_literal(bucket, validated_key(day, name, version)).encode("utf-8")) + len(_SEPARATOR)
