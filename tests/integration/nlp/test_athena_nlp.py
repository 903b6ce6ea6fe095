"""With NLP on, the athena target compiles on moto's Athena + Glue and every review model parses as Athena SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from contracts.records import ENRICHED_COLUMNS, RAW_COLUMNS
from contracts.records import ENRICHED_TABLE_NAME as ENRICHED_TABLE
from contracts.records import TABLE_NAME as RAW_TABLE
from services.common.names import ENRICHED_PREFIX, VALIDATED_PREFIX
from tests.support.athena import BUCKET, athena_builder

pytestmark = pytest.mark.integration


def test_review_models_compile_for_athena_and_parse_as_athena_sql(aws: str, tmp_path: Path):
    builder = athena_builder(
        [(RAW_TABLE, RAW_COLUMNS, VALIDATED_PREFIX), (ENRICHED_TABLE, ENRICHED_COLUMNS, ENRICHED_PREFIX)],
        tmp_path / "dbt-athena-nlp",
        nlp=True,
    )

    objects = '"objects": ["validated/places/dt=2026-01-01/a.jsonl.gz"]'
    result = builder.invoke(
        ["compile", "--vars", '{"dts": ["2026-01-01"], ' + objects + "}", "--exclude", "test_type:unit"]
    )

    assert result.success, result.exception
    compiled = {r.node.name: r.node.compiled_code for r in result.result.results if r.node.compiled_code}
    for model in ("stg_places__reviews", "stg_enriched__reviews", "review_sentiments", "restaurants"):
        assert model in compiled
    assert "to_hex(md5(to_utf8(" in compiled["stg_places__reviews"]
    # only the batch's objects, filtered on the hidden "$path" column
    path = f"'s3://{BUCKET}/validated/places/dt=2026-01-01/a.jsonl.gz'"
    assert f'"$path" in ({path})' in compiled["stg_places__reviews"]
    assert f'"{ENRICHED_TABLE}"' in compiled["stg_enriched__reviews"]
    assert "contains(themes, 'food')" in compiled["review_sentiments"]
    for sql in compiled.values():
        sqlglot.parse_one(sql, read="athena")
