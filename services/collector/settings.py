"""The collector's environment, parsed once at the edge (see restaurant_pipeline.model.topology.service_environment)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from contracts.cities import city_slug
from services.collector.domain.field_mask import field_mask_problems
from services.common.settings import ServiceSettings


class CityOverride(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    max_restaurants: Annotated[int, Field(gt=0, le=10_000)] | None = None
    query: str | None = None
    language: str | None = None


class CollectorSettings(ServiceSettings):
    places_api_base_url: str = Field(default="https://places.googleapis.com", alias="PLACES_API_BASE_URL")
    query_template: str = Field(default="restaurants in {city}", alias="PLACES_QUERY_TEMPLATE")
    language: str = Field(default="fr", alias="PLACES_LANGUAGE")
    field_mask: str = Field(alias="PLACES_FIELD_MASK")
    requests_per_minute: int = Field(gt=0, alias="PLACES_REQUESTS_PER_MINUTE")
    default_max_restaurants: int = Field(default=20, gt=0, le=10_000, alias="DEFAULT_MAX_RESTAURANTS")
    city_overrides: dict[str, CityOverride] = Field(default_factory=dict, alias="CITY_OVERRIDES")
    # pipeline.toml's cities: what a direct invocation without "cities" asks for (service.request_run)
    cities: list[str] = Field(default_factory=list, alias="COLLECTION_CITIES")
    google_places_api_key: SecretStr | None = Field(default=None, alias="GOOGLE_PLACES_API_KEY")
    places_api_key_secret_arn: str | None = Field(default=None, alias="PLACES_API_KEY_SECRET_ARN")

    @field_validator("city_overrides", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("cities", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("field_mask")
    @classmethod
    def _mask_paginates(cls, value: str) -> str:
        paths = [path.strip() for path in value.split(",") if path.strip()]
        problems = field_mask_problems(paths)
        if problems:
            raise ValueError(f"PLACES_FIELD_MASK: {'; '.join(problems)}")
        return ",".join(paths)

    @field_validator("query_template")
    @classmethod
    def _names_city(cls, value: str) -> str:
        if "{city}" not in value:
            raise ValueError("PLACES_QUERY_TEMPLATE must contain {city}")
        return value

    def override_for(self, city: str) -> CityOverride:
        """The override configured for this city under any spelling of it (contracts/cities.py)."""
        wanted = city_slug(city)
        for name, override in self.city_overrides.items():
            if city_slug(name) == wanted:
                return override
        return CityOverride()
