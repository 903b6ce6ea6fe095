"""pipeline.toml parsed into typed models, once, at the edge.

A bad file fails fast with a ConfigError that names the key, the bad value and what is allowed.
Environment overrides use PIPELINE__<SECTION>__<KEY> (values are JSON when they parse as JSON).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.cities import duplicate_cities_message
from contracts.records import DEFAULT_FIELD_MASK, missing_paths
from restaurant_pipeline.model.schedule import ScheduleExpression, parse_schedule

DEFAULT_CONFIG_FILE = "pipeline.toml"
ENV_CONFIG_FILE = "PIPELINE_CONFIG"
ENV_OVERRIDE_PREFIX = "PIPELINE__"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


class ConfigError(ValueError):
    """A configuration problem, worded for the person who has to fix the file."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class City(_Section):
    """A city to collect, with optional per-city overrides."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    max_restaurants: Annotated[int, Field(gt=0, le=10_000)] | None = None
    query: str | None = None
    language: str | None = None

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a city name cannot be blank")
        return value.strip()


class Collection(_Section):
    cities: Annotated[list[City], Field(min_length=1)] = [City(name="Paris")]
    max_restaurants: Annotated[int, Field(gt=0, le=10_000)] = 20

    @field_validator("cities", mode="before")
    @classmethod
    def _names_to_cities(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_cities(self) -> Collection:
        """Two spellings of one city would be collected once but awaited twice (contracts/cities.py)."""
        problem = duplicate_cities_message(self.city_names)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def city_names(self) -> list[str]:
        return [city.name for city in self.cities]


class Places(_Section):
    query: str = "restaurants in {city}"
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = "fr"
    # Unset (the default; the committed pipeline.toml leaves it so): the mask generated from the records the
    # transformer reads (contracts/records.py: every field of RawPlace but the reviews, plus
    # nextPageToken), so a field added there is requested by every stack. Set: an override, which must still ask for
    # all of those (more fields, or "*", are fine).
    field_mask: Annotated[list[str], Field(min_length=1)] | None = None
    requests_per_minute: Annotated[int, Field(gt=0, le=60_000)] = 600

    @field_validator("query")
    @classmethod
    def _query_names_city(cls, value: str) -> str:
        if "{city}" not in value:
            raise ValueError("the query must contain the placeholder {city}, e.g. 'restaurants in {city}'")
        return value

    @field_validator("field_mask")
    @classmethod
    def _mask_asks_for_what_the_records_read(cls, value: list[str] | None) -> list[str] | None:
        missing = missing_paths(value or (), DEFAULT_FIELD_MASK)
        if value is not None and missing:
            raise ValueError(
                f"it leaves out {', '.join(missing)}, which the transformer's records read "
                "(contracts/records.py; nextPageToken paginates): add them (more fields or "
                '"*" are fine), or delete field_mask to send the mask generated from those records'
            )
        return value


class Schedule(_Section):
    expression: str = "cron(0 8 * * ? *)"

    @field_validator("expression")
    @classmethod
    def _valid(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def parsed(self) -> ScheduleExpression:
        return parse_schedule(self.expression)


class Notifications(_Section):
    email: str = ""
    repeat_failure_window_minutes: Annotated[int, Field(ge=0, le=10_080)] = 360

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if value and not _EMAIL.match(value):
            raise ValueError('expected an email address like data-team@example.com, or "" for none')
        return value


class Retries(_Section):
    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 3


class Timeouts(_Section):
    # A city of 10,000 places takes ~1,630 Places requests (docs/collector.md): ~5.5 min at the 300/min each
    # collector invocation may use of the default 600/min quota. 600 s leaves room; the old 300 s did not.
    collector: Annotated[int, Field(ge=10, le=900)] = 600
    transformer: Annotated[int, Field(ge=10, le=900)] = 600
    notifier: Annotated[int, Field(ge=10, le=900)] = 60


class Quality(_Section):
    max_daily_drop_share: Annotated[float, Field(ge=0, le=1)] = 0.2


_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"
COMPREHEND = "comprehend"


class Nlp(_Section):
    enabled: bool = False
    # Where the NLP stage calls Amazon Comprehend (not offered in every region: botocore's endpoint data says where).
    # Unset: the stack's region when Comprehend is there, else the nearest region that has it.
    comprehend_region: Annotated[str, Field(pattern=_REGION_PATTERN)] | None = None

    @field_validator("comprehend_region")
    @classmethod
    def _offers_comprehend(cls, value: str | None) -> str | None:
        from restaurant_pipeline.model.regions import service_regions

        if value is not None and value not in service_regions(COMPREHEND):
            raise ValueError(
                f"Amazon Comprehend is not offered in {value}; choose one of {', '.join(service_regions(COMPREHEND))}"
            )
        return value


class Aws(_Section):
    region: Annotated[str, Field(pattern=_REGION_PATTERN)] = "eu-west-3"
    bus_archive_retention_days: Annotated[int, Field(ge=0, le=3650)] = 30
    athena_bytes_scanned_cutoff_mb: Annotated[int, Field(ge=10, le=1_000_000)] = 1024
    dashboard: bool = True
    tracing: bool = True


class PipelineConfig(_Section):
    collection: Collection = Collection()
    places: Places = Places()
    schedule: Schedule = Schedule()
    notifications: Notifications = Notifications()
    retries: Retries = Retries()
    timeouts: Timeouts = Timeouts()
    quality: Quality = Quality()
    nlp: Nlp = Nlp()
    aws: Aws = Aws()

    @model_validator(mode="after")
    def _comprehend_region_known(self) -> PipelineConfig:
        if self.nlp.enabled:
            _ = self.comprehend_region  # raises, naming the fix, when there is no region to default to
        return self

    @property
    def comprehend_region(self) -> str:
        """[nlp] comprehend_region, else the stack's region when Comprehend is offered there, else the nearest one
        that offers it (eu-west-3 -> eu-west-2). Review text is then sent to that region (docs/nlp.md)."""
        from restaurant_pipeline.model.regions import nearest_region, service_regions

        if self.nlp.comprehend_region:
            return self.nlp.comprehend_region
        nearest = nearest_region(self.aws.region, service_regions(COMPREHEND))
        if nearest is None:
            raise ValueError(
                f"no known region near {self.aws.region} offers Amazon Comprehend: set [nlp] comprehend_region to one "
                f"of {', '.join(service_regions(COMPREHEND))}"
            )
        return nearest

    @property
    def effective_field_mask(self) -> list[str]:
        """The mask sent to Google: [places] field_mask, else the one generated from the records the transformer reads;
        reviews are added only when the NLP stage needs them."""
        mask = list(self.places.field_mask or DEFAULT_FIELD_MASK)
        if self.nlp.enabled and "places.reviews" not in mask:
            mask.append("places.reviews")
        return mask


REGION_ENVIRONMENT = ("AWS_REGION", "AWS_DEFAULT_REGION")


def deployment_region(config: PipelineConfig, environ: Mapping[str, str] | None = None) -> str:
    """The one region of the deployed stack, for deploy, destroy, synthesis and every `--aws` command:
    pipeline.toml's [aws] region (PIPELINE__AWS__REGION overrides it, like any key).

    AWS_REGION or AWS_DEFAULT_REGION naming another region is an error, not an override: the SDKs, the aws CLI and
    the CDK CLI read them, so a stack, its bootstrap and its outputs could otherwise be looked for in one region and
    deployed to another (CloudShell always sets AWS_REGION to the console's region).
    """
    region = config.aws.region
    env = os.environ if environ is None else environ
    for name in REGION_ENVIRONMENT:
        value = (env.get(name) or "").strip()
        if value and value != region:
            raise ConfigError(
                f"{name}={value}, but the stack's region is {region} (pipeline.toml [aws] region). Use one region: "
                f'either set [aws] region = "{value}" in pipeline.toml (or PIPELINE__AWS__REGION={value}), or '
                f"`export {name}={region}` (or unset {name})."
            )
    return region


def find_config_file(start: Path | None = None) -> Path | None:
    """PIPELINE_CONFIG if set, else the nearest pipeline.toml from `start` upwards."""
    explicit = os.environ.get(ENV_CONFIG_FILE)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{ENV_CONFIG_FILE}={explicit}: no such file. Point it at a pipeline.toml.")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> PipelineConfig:
    """Read pipeline.toml (or the defaults when there is none) and apply environment overrides."""
    path = path or find_config_file()
    source = str(path) if path else "defaults"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc}). Fix the syntax at that line.") from exc
    overrides = _apply_overrides(data, os.environ if environ is None else environ)
    return parse_config(data, source, overrides)


def parse_config(
    data: dict[str, Any], source: str = "pipeline.toml", overrides: Mapping[tuple[str, str], str] | None = None
) -> PipelineConfig:
    """`overrides`: (section, key) -> the environment variable that set it, so that an error names its source."""
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source, overrides or {})) from None


def _apply_overrides(data: dict[str, Any], environ: Any) -> dict[tuple[str, str], str]:
    """Apply PIPELINE__<SECTION>__<KEY> variables; returns which variable set which (section, key)."""
    applied: dict[tuple[str, str], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_OVERRIDE_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_OVERRIDE_PREFIX) :].split("__") if part]
        if len(path) != 2:
            raise ConfigError(
                f"{name}: overrides are PIPELINE__<SECTION>__<KEY>, e.g. PIPELINE__COLLECTION__MAX_RESTAURANTS=50"
            )
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        section = data.setdefault(path[0], {})
        if not isinstance(section, dict):
            raise ConfigError(f"{name}: [{path[0]}] is not a section in the config file")
        section[path[1]] = value
        applied[(path[0], path[1])] = name
    return applied


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = PipelineConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        model = inner[0] if inner else annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def _explain(exc: ValidationError, source: str, overrides: Mapping[tuple[str, str], str]) -> str:
    from_env = False
    lines = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if part not in ("function-after", "function-before"))
        key = ".".join(str(part) for part in loc) or "(top level)"
        if len(loc) >= 2:
            variables = [overrides[(str(loc[0]), str(loc[1]))]] if (str(loc[0]), str(loc[1])) in overrides else []
        else:  # a whole section's check (or the top level): any variable that set a key in it may be the cause
            variables = sorted(v for (section, _), v in overrides.items() if not loc or section == str(loc[0]))
        # a value an environment variable set is fixed there, not in the file
        where = ""
        if len(variables) == 1 and len(loc) >= 2:
            where = f" (set by the environment variable {variables[0]}, not by {source}: fix or unset it)"
        elif variables:
            where = f" (with values from the environment: {', '.join(variables)})"
        from_env = from_env or bool(variables)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(loc)) or "none"
            lines.append(f"  - {key}: unknown key{where}. Allowed here: {allowed}.")
            continue
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  - {key} = {error.get('input')!r}{where}: {message}.")
    origin = f"{source} and PIPELINE__ environment variables" if from_env else source
    return "\n".join([f"{origin}: {exc.error_count()} problem(s) in the configuration:", *lines])
