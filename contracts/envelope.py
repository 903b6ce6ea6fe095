"""The envelope every event on the bus carries, and the mapping to and from EventBridge entries.

An event's EventBridge `detail` is the model dumped to JSON: its payload fields plus `metadata`
(event name, version, source, correlation id = run id, time). Consumers validate the detail at the edge
with `parse_detail`, which raises ContractError naming the field that is wrong.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:  # the type stubs (dev extra): never imported at run time, no artifact has them
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

BUS_NAME = "restaurant-pipeline"
SOURCE_PREFIX = "restaurant-pipeline"

# PutEvents takes at most 10 entries a request, and "the total entry size must be less than 256KB"
# (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html, "Entries": 1 to 10 items).
# 256 KB read as 256 x 1,024 bytes, as SQS writes its default maximum message size, 262,144 bytes "(256 KiB)"
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
PUT_EVENTS_MAX_ENTRIES = 10
PUT_EVENTS_MAX_BYTES = 256 * 1024
# What one event may take (Event.bus_size), so that it always fits a request alone and is still delivered to the SQS
# queue its rule targets, whose messages the stack keeps at SQS's default maximum, 262,144 bytes. A target receives
# more than the entry: "the event in EventBridge is always larger than the entry size"
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html), by an amount not documented.
# 16 KiB are left for what Event.delivered_size may underestimate.
EVENT_MAX_BYTES = PUT_EVENTS_MAX_BYTES - 16 * 1024


class ContractError(ValueError):
    """A message that does not match its contract. Never retried: it cannot get better."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_name: str = Field(description="The event's class name, e.g. CollectionCompleted.")
    event_version: int = Field(ge=1, description="Schema version of the detail.")
    source: str = Field(description="EventBridge source of the producer.")
    correlation_id: str = Field(min_length=1, description="The run id: ties every event of one run together.")
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()), description="Unique per produced event.")
    produced_at: datetime = Field(default_factory=utc_now, description="When the producer built the event (UTC).")


class Event(BaseModel):
    """Base of every bus event. Subclasses set DETAIL_TYPE, SOURCES and VERSION."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    DETAIL_TYPE: ClassVar[str]
    SOURCES: ClassVar[tuple[str, ...]]
    VERSION: ClassVar[int] = 1

    @classmethod
    def make_metadata(cls, correlation_id: str, source: str | None = None) -> EventMetadata:
        return EventMetadata(
            event_name=cls.__name__,
            event_version=cls.VERSION,
            source=source or cls.SOURCES[0],
            correlation_id=correlation_id,
        )

    def detail_json(self) -> str:
        return self.model_dump_json(exclude_none=False)

    def to_entry(self, bus_name: str = BUS_NAME, source: str | None = None) -> PutEventsRequestEntryTypeDef:
        """The PutEvents entry for this event."""
        metadata = getattr(self, "metadata", None)
        chosen = source or (metadata.source if metadata is not None else self.SOURCES[0])
        if chosen not in self.SOURCES:
            raise ContractError(f"{self.DETAIL_TYPE!r} cannot come from {chosen!r}; allowed: {list(self.SOURCES)}")
        return {
            "EventBusName": bus_name,
            "Source": chosen,
            "DetailType": self.DETAIL_TYPE,
            "Detail": self.detail_json(),
        }

    def entry_size(self, bus_name: str = BUS_NAME) -> int:
        """The size EventBridge counts for this event's PutEvents entry (entry_size)."""
        return entry_size(self.to_entry(bus_name))

    def delivered_size(self, bus_name: str = BUS_NAME) -> int:
        """An estimate, on the large side, of this event as an SQS target receives it: EventBridge's envelope around
        the detail, re-serialized. How EventBridge writes it byte for byte is not documented; the estimate writes it
        the roomiest plausible way, Python's json defaults (non-ASCII as \\u escapes, a space after separators),
        as moto's EventBridge delivers it."""
        entry = self.to_entry(bus_name)
        envelope = {
            "version": "0",
            "id": "00000000-0000-0000-0000-000000000000",
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": "123456789012",
            "time": "2026-01-01T00:00:00Z",
            "region": "ap-southeast-5",
            "resources": [],
            "detail": json.loads(entry["Detail"]),
        }
        return len(json.dumps(envelope).encode("utf-8"))

    def bus_size(self, bus_name: str = BUS_NAME) -> int:
        """What bounds this event on the bus (EVENT_MAX_BYTES): the larger of its PutEvents entry size and its
        delivered size."""
        return max(self.entry_size(bus_name), self.delivered_size(bus_name))

    @classmethod
    def parse_detail(cls, detail: str | bytes | dict[str, Any]) -> Self:
        try:
            if isinstance(detail, dict):
                return cls.model_validate(detail)
            return cls.model_validate_json(detail)
        except ValidationError as exc:
            raise ContractError(describe_validation_error(cls.DETAIL_TYPE, exc)) from None


def entry_size(entry: Mapping[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge computes it, "Calculating PutEvents event entry size"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html): Time, if specified, 14 bytes;
    Source and DetailType, the bytes of their UTF-8 forms; Detail, if specified, the bytes of its UTF-8 form; each
    entry of Resources, if specified, the bytes of its UTF-8 form. EventBusName and TraceHeader are not counted."""
    size = 14 if entry.get("Time") is not None else 0
    size += len(str(entry["Source"]).encode("utf-8"))
    size += len(str(entry["DetailType"]).encode("utf-8"))
    if entry.get("Detail") is not None:
        size += len(str(entry["Detail"]).encode("utf-8"))
    for resource in entry.get("Resources") or ():
        if resource is not None:
            size += len(str(resource).encode("utf-8"))
    return size


def describe_validation_error(what: str, exc: ValidationError) -> str:
    """One line per problem, naming the field, without echoing whole (possibly huge) inputs."""
    problems = []
    for error in exc.errors()[:10]:
        field = ".".join(str(part) for part in error["loc"]) or "(body)"
        problems.append(f"{field}: {error['msg']}")
    more = f" (+{exc.error_count() - 10} more)" if exc.error_count() > 10 else ""
    return f"{what}: invalid message: " + "; ".join(problems) + more


def parse_eventbridge_event(body: str | bytes | dict[str, Any]) -> EventBridgeModel:
    """An EventBridge event as delivered to an SQS target (the SQS body); ContractError if it is not one.

    moto's EventBridge -> SQS delivery omits `account` (AWS always sends it; measured with moto 5.2):
    a missing account is filled with "" so that local and AWS messages parse alike.
    """
    try:
        data = body if isinstance(body, dict) else json.loads(body)
    except ValueError as exc:
        raise ContractError(f"EventBridge event: invalid message: (body): not JSON ({exc})") from None
    if isinstance(data, dict) and "account" not in data:
        data = {**data, "account": ""}
    try:
        return EventBridgeModel.model_validate(data)
    except ValidationError as exc:
        raise ContractError(describe_validation_error("EventBridge event", exc)) from None
