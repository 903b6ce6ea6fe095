"""What every service's use case needs from the outside besides its own adapters: the bus and the run ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from contracts.envelope import Event

Step = Literal[
    "REQUESTED",
    "COLLECTED",
    "COLLECTION_FAILED",
    "TRANSFORMED",
    "TRANSFORM_FAILED",
    "CITY_OUTCOME",
    "NOTIFIED",
    "REFUSED",  # the notifier refused an event whose run the ledger does not know (listed by `audit`)
]


class Publisher(Protocol):
    def publish(self, events: Iterable[Event]) -> None:
        """Put the events on the bus; raises when any is refused (the caller's record is retried)."""
        ...


class Ledger(Protocol):
    def record(
        self,
        run_id: str,
        step: Step,
        subject: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        version: str | None = None,
        variant: str | None = None,
    ) -> bool:
        """Record a step of a run once; False when the ledger could not be written (never raises). `version`: the
        version of the subject (an S3 object's version id, else its ETag), so that two versions of one key are two
        steps (the notifier checks an outcome against the step of the very object version it names). `variant`: what
        else makes the step another one (the transformer's outcome: a retry that ends otherwise records its own
        step, so the outcome it announces is vouched for too)."""
        ...


@dataclass(frozen=True)
class RunFacts:
    """What the ledger says of a run: whether the pipeline started it, its cities, the objects its collection wrote
    (key -> ETag, "" when not recorded) and whether an email already went out for it."""

    requested: bool
    cities: tuple[str, ...] = ()
    collected: Mapping[str, str] = field(default_factory=dict)
    notified: bool = False


class RunHistory(Protocol):
    def facts(self, run_id: str) -> RunFacts | None:
        """The run as the ledger knows it (requested=False: never started by the pipeline); None when there is no
        ledger to ask. Raises when the ledger cannot be read (the caller's record is retried)."""
        ...
