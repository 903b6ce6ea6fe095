"""The records that travel through S3 between the services, declared once; every other form is generated from them.

- `RawPlace`: a place as the collector lands it (the API's object plus `_collection`, which the collector builds
  through `Collection`). STRUCTURE only (id present, types right): business ranges (rating 1-5, accepted price
  levels, ...) are dbt tests on purpose, so an out-of-range rating reaches dbt, whose test fails and reports it. The
  transformer validates each raw line with it.
- `ValidatedPlace`: the same plus `_source` (where the line came from, when it landed): what the transformer writes
  under VALIDATED_PREFIX and what both warehouses read (raw/ itself may hold malformed lines and `{"places": [...]}`
  bodies, which Athena's JSON SerDe cannot read).
- `EnrichedReview`: one scored review, written by the NLP stage under ENRICHED_PREFIX.

Generated from them: RAW_COLUMNS and ENRICHED_COLUMNS (Hive types, contracts/columns.py: the Glue tables of the CDK
stack), the DuckDB `columns={...}` of dbt's local reads and the raw source's column list (dbt/macros/*_columns.sql,
dbt/models/staging/_places__sources.yml: `python -m contracts.generate` rewrites them; a test fails on drift), the
bounds the transformer's validation holds a line to, and the default Places field mask (every field of RawPlace but
the reviews, which the NLP stage adds, plus nextPageToken).
A field's `description` is its documentation in the dbt source. Adding a Places field to the marts:
docs/architecture.md, "Add a Places field".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

from contracts.columns import hive_columns

TABLE_NAME = "raw_places"
ENRICHED_TABLE_NAME = "enriched_reviews"
PARTITION_KEYS: tuple[tuple[str, str], ...] = (("dt", "string"),)
PARTITION_DESCRIPTIONS = {"dt": "Collection day partition (YYYY-MM-DD)."}


class _Raw(BaseModel):
    # Unknown fields are kept in the validated copy and simply not read; strict: "4.5" is not a rating.
    model_config = ConfigDict(extra="allow", strict=True)


class LocalizedText(_Raw):
    text: StrictStr | None = None
    languageCode: StrictStr | None = None


class LatLng(_Raw):
    latitude: StrictFloat | StrictInt
    longitude: StrictFloat | StrictInt


class Rectangle(_Raw):
    low: LatLng
    high: LatLng


class Review(_Raw):
    name: StrictStr | None = None
    rating: StrictFloat | StrictInt | None = None
    text: LocalizedText | None = None
    originalText: LocalizedText | None = None
    publishTime: StrictStr | None = None


class Collection(BaseModel):
    """`_collection`: the collector builds it with this model (services/collector/domain/collect.py) and the
    transformer validates it with the same one, so a key cannot drift between the two."""

    model_config = ConfigDict(extra="forbid", strict=True)

    run_id: StrictStr = Field(min_length=1)
    city: StrictStr = Field(min_length=1)
    run_cities: list[StrictStr]
    trigger_source: StrictStr
    query: StrictStr | None = None
    rectangle: Rectangle | None = None
    page: StrictInt = Field(ge=0)
    collected_at: StrictStr

    @field_validator("collected_at")
    @classmethod
    def _iso_with_zone(cls, value: str) -> str:
        _parse_aware(value)
        return value


class RawPlace(_Raw):
    id: StrictStr = Field(min_length=1, description="Places API place id (natural key).")
    displayName: LocalizedText | None = Field(default=None, description="Name: {text, languageCode}.")
    formattedAddress: StrictStr | None = Field(default=None, description="Full address.")
    location: LatLng | None = Field(default=None, description="{latitude, longitude} in degrees.")
    rating: StrictFloat | StrictInt | None = Field(default=None, description="Average user rating, 1 to 5.")
    userRatingCount: StrictInt | None = Field(default=None, description="Number of user ratings.")
    priceLevel: StrictStr | None = Field(
        default=None,
        description="PRICE_LEVEL_FREE | INEXPENSIVE | MODERATE | EXPENSIVE | VERY_EXPENSIVE | UNSPECIFIED.",
    )
    businessStatus: StrictStr | None = Field(
        default=None, description="OPERATIONAL | CLOSED_TEMPORARILY | CLOSED_PERMANENTLY."
    )
    types: list[StrictStr] | None = Field(default=None, description="Place types.")
    primaryType: StrictStr | None = Field(default=None, description="Primary place type.")
    googleMapsUri: StrictStr | None = Field(default=None, description="Link to the place on Google Maps.")
    reviews: list[Review] | None = Field(
        default=None, description="Up to five reviews, when the field mask asks for them."
    )
    collection: Collection | None = Field(
        default=None,
        alias="_collection",
        description="Collector metadata: run_id, city, run_cities, trigger_source, query, rectangle, page, "
        "collected_at.",
    )


class _IsoCheck(BaseModel):
    value: AwareDatetime


def _parse_aware(text: str) -> datetime:
    try:
        return _IsoCheck.model_validate({"value": text}).value
    except Exception:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 time with a zone") from None


class Source(BaseModel):
    """`_source`, added by the transformer to each validated line. loaded_at: UTC "YYYY-MM-DD HH:MM:SS.ffffff",
    castable to timestamp by both warehouses."""

    model_config = ConfigDict(extra="forbid")

    key: str
    version: str | None
    line: int
    loaded_at: str


class ValidatedPlace(RawPlace):
    source: Source = Field(
        alias="_source", description="Added by the transformer: raw object key, version, line number, loaded_at (UTC)."
    )


class EnrichedReview(BaseModel):
    """One processed review. status: scored | empty_text | unsupported_language (the last two are kept, counted,
    never sent to an analyzer)."""

    model_config = ConfigDict(extra="forbid")

    review_id: str
    place_id: str
    status: Literal["scored", "empty_text", "unsupported_language"]
    analyzer: str | None
    analyzed_language: str | None
    analyzed_text_source: Literal["original", "text"] | None  # docs/nlp.md, "Which text is scored"
    sentiment_label: Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"] | None
    sentiment_score: float | None  # -1 (negative) .. 1 (positive)
    positive: float | None
    negative: float | None
    neutral: float | None
    mixed: float | None
    key_phrases: list[str]
    themes: list[str]
    scored_at: str  # UTC "YYYY-MM-DD HH:MM:SS.ffffff"


# --- generated forms ---------------------------------------------------------------------------------------

RAW_COLUMNS: tuple[tuple[str, str], ...] = hive_columns(ValidatedPlace)
# The columns a raw line's values land in: all of RAW_COLUMNS but `_source`, which the transformer writes itself.
LINE_COLUMNS: tuple[tuple[str, str], ...] = tuple(column for column in RAW_COLUMNS if column[0] != "_source")
ENRICHED_COLUMNS: tuple[tuple[str, str], ...] = hive_columns(EnrichedReview)
ENRICHED_PARTITION_KEYS = PARTITION_KEYS

# Collected only when the NLP stage is on (restaurant_pipeline.model.config adds it to the mask); never in the default.
NLP_FIELDS = ("reviews",)
DEFAULT_FIELD_MASK: tuple[str, ...] = (
    *(
        f"places.{field.alias or name}"
        for name, field in RawPlace.model_fields.items()
        if (field.alias or name) not in NLP_FIELDS and not (field.alias or name).startswith("_")
    ),
    "nextPageToken",
)


def missing_paths(paths: Iterable[str], needed: Iterable[str]) -> list[str]:
    """The `needed` paths a field mask does not ask for, in their order; none when it asks for "*" (every field).
    Config loading holds pipeline.toml's mask to DEFAULT_FIELD_MASK with it, the collector its own to the paths it
    needs (services/collector/domain/field_mask.py)."""
    present = {path.strip() for path in paths if path.strip()}
    if "*" in present:
        return []
    return [path for path in needed if path not in present]


def raw_column_descriptions() -> dict[str, str | None]:
    """Each raw column's description (the field's `description`, the partition's), by column name."""
    described = {field.alias or name: field.description for name, field in ValidatedPlace.model_fields.items()}
    return {**described, **{name: PARTITION_DESCRIPTIONS.get(name) for name, _ in PARTITION_KEYS}}
