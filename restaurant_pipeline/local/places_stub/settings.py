"""The stub's switches: what kind of Google it pretends to be right now."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal[
    "invalid_key",  # 400 INVALID_ARGUMENT, reason API_KEY_INVALID
    "permission_denied",  # 403 PERMISSION_DENIED, reason SERVICE_DISABLED
    "quota_minute",  # 429 RESOURCE_EXHAUSTED, "... per minute"
    "quota_day",  # 429 RESOURCE_EXHAUSTED, "... per day"
    "unavailable",  # 503 UNAVAILABLE
    "internal",  # 500 INTERNAL
    "bad_request",  # 400 INVALID_ARGUMENT about the request body
    "garbage",  # 200 with an HTML body: not the documented JSON
    "reset",  # the connection is closed without an answer
]


class Fault(BaseModel):
    """A scripted answer: skip `after` searchText requests, then answer the next `times` with this fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    after: Annotated[int, Field(ge=0)] = 0
    times: Annotated[int, Field(ge=0, description="0 = every request after `after`")] = 1


class StubSettings(BaseModel):
    """Switches of the Places stub (the CLI `restaurant-pipeline places-stub` exposes each one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invalid_key: bool = Field(default=False, description="Reject every API key (400 API_KEY_INVALID).")
    api_key: str | None = Field(default=None, description="If set, only this key is valid; any key otherwise.")
    api_disabled: bool = Field(default=False, description="Answer 403 PERMISSION_DENIED (API not enabled).")
    error_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.0, description="Share of searchText requests answered 500/503 (drawn from `seed`)."
    )
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = Field(default=0, description="Added to every answer.")
    per_minute_quota: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="Requests accepted in any sliding window of quota_window_seconds (None: no limit)."
    )
    per_day_quota: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="Requests accepted since start or the last reset (None: no limit)."
    )
    quota_window_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=60.0, description="The per-minute quota's window; tests shorten it (e.g. 20 per 1 s)."
    )
    retry_after_seconds: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="Send Retry-After with per-minute 429s (Google usually does not)."
    )
    seed: int = Field(default=0, description="Seeds the synthetic world and the 5xx draws.")
    places_per_city: Annotated[int, Field(ge=0, le=50_000)] | None = Field(
        default=None, description="Restaurants per city (None: 1,500 to 4,000, derived from the city name)."
    )
    faults: list[Fault] = Field(default_factory=list, description="Scripted answers, in order.")
