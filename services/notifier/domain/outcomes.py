"""Domain: which cities an event settles, when a run is complete, what its outcome is, and whether a
failure repeats one already mailed. Pure: no AWS, no environment, no clock (time is passed in).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from contracts.events import CollectionFailed, TransformCompleted
from services.common.redaction import redact_secrets

NotifierEvent = TransformCompleted | CollectionFailed
# The events the notifier handles, by EventBridge detail-type.
NOTIFIER_EVENTS: Mapping[str, type[TransformCompleted] | type[CollectionFailed]] = {
    TransformCompleted.DETAIL_TYPE: TransformCompleted,
    CollectionFailed.DETAIL_TYPE: CollectionFailed,
}
OutcomeKind = Literal["passed", "tests_failed", "error", "collection_failed"]

# Worst first wins the subject's tag when a run mixes outcomes.
SEVERITY: Mapping[OutcomeKind, int] = {"passed": 0, "tests_failed": 1, "collection_failed": 2, "error": 3}


@dataclass(frozen=True)
class CityOutcome:
    """The terminal outcome of one city of a run (city None: the event is tied to no run city)."""

    city: str | None
    kind: OutcomeKind
    event: NotifierEvent

    @property
    def event_id(self) -> str:
        return self.event.metadata.event_id

    @property
    def produced_at(self) -> datetime:
        return self.event.metadata.produced_at

    @property
    def tentative(self) -> bool:
        """A run-wide collection failure (no city named) may stand for cities that were in fact collected
        (the collector publishes at the end of its invocation, the transformer may already be done):
        it settles only cities without an outcome, and any city-specific outcome replaces it."""
        return isinstance(self.event, CollectionFailed) and self.event.city is None


def settled_outcomes(event: NotifierEvent) -> list[CityOutcome]:
    """The city outcomes this event makes final. Empty for a collection failure that will be retried."""
    if isinstance(event, CollectionFailed):
        if not event.final_attempt:
            return []
        if event.city is not None:
            return [CityOutcome(_run_spelling(event.city, event.run_cities), "collection_failed", event)]
        # the whole request failed: it settles exactly the cities it names (the ones not collected);
        # an event from an older producer names none, and then stands for every city of the run
        covered = event.cities or event.run_cities
        if covered:
            named: dict[str, str] = {}
            for city in covered:
                named.setdefault(city.casefold(), _run_spelling(city, event.run_cities))
            return [CityOutcome(city, "collection_failed", event) for city in named.values()]
        return [CityOutcome(None, "collection_failed", event)]
    cities = list(event.cities) or [source.city for source in event.sources if source.city]
    if not cities:
        return [CityOutcome(None, event.outcome, event)]
    unique: dict[str, str] = {}
    for city in cities:
        unique.setdefault(city.casefold(), _run_spelling(city, event.run_cities))
    return [CityOutcome(city, event.outcome, event) for city in unique.values()]


def waits_for_run(event: NotifierEvent, settled: Sequence[CityOutcome]) -> bool:
    """True when the email must wait for the run's other cities; False: send for this event alone
    (a dropped file has no run cities; an outcome tied to no city cannot be gathered)."""
    return bool(event.run_cities) and all(outcome.city is not None for outcome in settled)


def _run_spelling(city: str, run_cities: Iterable[str]) -> str:
    for name in run_cities:
        if name.casefold() == city.casefold():
            return name
    return city


@dataclass(frozen=True)
class RunProgress:
    run_id: str
    run_cities: tuple[str, ...]
    outcomes: Mapping[str, CityOutcome]  # casefolded city -> outcome

    @property
    def missing(self) -> list[str]:
        return [city for city in self.run_cities if city.casefold() not in self.outcomes]

    @property
    def complete(self) -> bool:
        return not self.missing

    def ordered(self) -> list[CityOutcome]:
        """The outcomes of the run's cities, in the run's order."""
        return [self.outcomes[city.casefold()] for city in self.run_cities if city.casefold() in self.outcomes]


def run_outcome(outcomes: Sequence[CityOutcome]) -> str:
    """The run's outcome as the idempotency key sees it: one email per (run, this value).

    A uniform run is its kind ("passed", "tests_failed", ...); a mixed run is "mixed-" plus a hash of every
    city's kind, so a reprocess that changes one city's outcome is a new outcome and gets its own email.
    """
    kinds = {outcome.kind for outcome in outcomes}
    if len(kinds) == 1:
        return next(iter(kinds))
    vector = ";".join(sorted(f"{(o.city or '').casefold()}={o.kind}" for o in outcomes))
    return "mixed-" + hashlib.sha256(vector.encode()).hexdigest()[:12]


def worst_kind(outcomes: Sequence[CityOutcome]) -> OutcomeKind:
    return max((outcome.kind for outcome in outcomes), key=lambda kind: SEVERITY[kind])


def run_days(outcomes: Sequence[CityOutcome]) -> list[date]:
    """The collection days a run's outcomes talk about, sorted, without repeats."""
    days: set[date] = set()
    for outcome in outcomes:
        event = outcome.event
        if isinstance(event, CollectionFailed):
            days.add(event.collection_date)
        else:
            days.update(event.collection_dates)
            days.update(summary.day for summary in event.city_summaries)
    return sorted(days)


# --- repeated failures -------------------------------------------------------------------------------

_NUMBERS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    """Error text without what changes from one occurrence to the next (numbers, ids, spacing)."""
    return _SPACES.sub(" ", _NUMBERS.sub("#", redact_secrets(text).casefold())).strip()[:500]


def failure_signature(outcome: CityOutcome) -> str | None:
    """What makes this failure the same failure as another one; None for a success."""
    city = (outcome.city or "").casefold()
    event = outcome.event
    if isinstance(event, CollectionFailed):
        return f"{city}|collection_failed|{event.category}|{event.http_status}"
    if event.outcome == "tests_failed":
        return f"{city}|tests_failed|" + ",".join(sorted({failure.name for failure in event.failures}))
    if event.outcome == "error":
        error = event.error
        if error is None:
            return f"{city}|error|unknown"
        return f"{city}|error|{error.phase}|{error.model}|{_normalise(error.message)}"
    return None


def failure_fingerprint(outcomes: Sequence[CityOutcome]) -> str | None:
    """A stable digest of a run's failures (None when nothing failed)."""
    signatures = sorted({s for s in (failure_signature(o) for o in outcomes) if s is not None})
    if not signatures:
        return None
    return hashlib.sha256("\n".join(signatures).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RepeatState:
    """What was mailed for one failure fingerprint: the full email's run and time, and how often since."""

    fingerprint: str
    first_run_id: str
    first_sent_at: datetime
    count: int  # occurrences mailed since first_sent_at, the full email included
    last_run_id: str


@dataclass(frozen=True)
class Repeat:
    """This run's failure is the same as `first_run_id`'s, mailed in full at `first_sent_at`."""

    first_run_id: str
    first_sent_at: datetime
    occurrences: int  # including this run


def repeat_of(state: RepeatState | None, run_id: str, now: datetime, window: timedelta) -> Repeat | None:
    """Whether to summarise instead of mailing the failure in full again."""
    if state is None or window <= timedelta(0) or state.first_run_id == run_id:
        return None
    if now - state.first_sent_at > window:
        return None  # the window is over: a fresh full email is a useful reminder
    occurrences = state.count if state.last_run_id == run_id else state.count + 1
    return Repeat(state.first_run_id, state.first_sent_at, occurrences)


# --- what the stores hand back ----------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    message_id: str
    sent_at: str
    duplicate: bool  # True: this (run, outcome) had already been sent; nothing was published now


@dataclass
class RunRecords:
    """What the ledger holds about a run, as the notifier needs it."""

    outcomes: dict[str, CityOutcome] = field(default_factory=dict)  # casefolded city -> outcome
    notified: dict[str, str] = field(default_factory=dict)  # outcome -> SNS message id
    requested_at: datetime | None = None
    requested: bool = False  # the collector recorded the run's REQUESTED step
    # What the transformer recorded under the run, per object version (key, version id else ETag): the outcomes of
    # its TRANSFORMED steps ("passed" | "tests_failed" | "error"; TRANSFORM_FAILED is "error").
    transformed: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
