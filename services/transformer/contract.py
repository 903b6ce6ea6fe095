"""The raw place contract: STRUCTURE only (id present, types right). Business ranges (rating 1-5, accepted price
levels, ...) are dbt tests on purpose: an out-of-range rating must reach dbt so that a test fails and reports it."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator


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
    """`_collection`, written by the collector with exactly these keys."""

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

    def collected_at_utc(self) -> datetime:
        return _parse_aware(self.collected_at)


class RawPlace(_Raw):
    id: StrictStr = Field(min_length=1)
    displayName: LocalizedText | None = None
    formattedAddress: StrictStr | None = None
    location: LatLng | None = None
    rating: StrictFloat | StrictInt | None = None
    userRatingCount: StrictInt | None = None
    priceLevel: StrictStr | None = None
    businessStatus: StrictStr | None = None
    types: list[StrictStr] | None = None
    primaryType: StrictStr | None = None
    googleMapsUri: StrictStr | None = None
    reviews: list[Review] | None = None
    collection: Collection | None = Field(default=None, alias="_collection")


class _IsoCheck(BaseModel):
    value: AwareDatetime


def _parse_aware(text: str) -> datetime:
    try:
        return _IsoCheck.model_validate({"value": text}).value
    except Exception:
        raise ValueError(f"{text[:40]!r} is not an ISO 8601 time with a zone") from None
