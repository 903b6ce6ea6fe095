"""Validate a batch of raw objects, run one build over their days, and say how it went: one TransformCompleted per
run id. Talks to the world only through the ports (ports.py): no boto3, no SQL, no environment."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from contracts.envelope import EVENT_MAX_BYTES
from contracts.events import (
    REJECTED_LINES_SHOWN,
    CitySummary,
    RejectedLine,
    SourceObject,
    TestCounts,
    TestFailure,
    TransformCompleted,
    TransformError,
)
from contracts.layout import ObjectLayoutError, raw_day
from services.common.ports import RunFacts
from services.common.redaction import redact_secrets
from services.transformer.domain.identity import identify
from services.transformer.domain.model import (
    DAY_COLUMNS,
    MARTS,
    SAMPLE_ROWS,
    BuildReport,
    FailedTest,
    ObjectMissing,
    ObjectTooLarge,
)
from services.transformer.domain.reading import (
    LIMITS,
    ObjectRef,
    ReadLimits,
    ReadResult,
    Rejection,
    RunIdentity,
    day_of,
    declared_city,
    dropped_run_id,
    future_day_problem,
    infer_city,
    quarantine_key,
    read_object,
    render_quarantine,
    validated_key,
)
from services.transformer.ports import Builder, MartReader, ObjectStore


@dataclass
class Prepared:
    """One raw object after validation: what its outcome says of it and where its validated copy went."""

    ref: ObjectRef
    source: SourceObject
    day: str | None
    identity: RunIdentity
    validated: str | None  # the validated/ key written for it (None when nothing was read)
    cities: list[str]
    run_cities: list[str] = field(default_factory=list)  # every city the run asked for (none for a dropped file)

    @property
    def run_id(self) -> str:
        return self.identity.run_id


@dataclass(frozen=True)
class PreparedBatch:
    objects: list[Prepared]
    read_ms: int


def transform_objects(
    refs: Sequence[ObjectRef],
    *,
    store: ObjectStore,
    builder: Builder,
    marts: MartReader,
    runs: Callable[[str], RunFacts | None] = lambda run_id: None,
    limits: ReadLimits = LIMITS,
    clock: Callable[[], float] = time.monotonic,
) -> list[TransformCompleted]:
    """Validate every object, build the marts once for all their days, and describe the result per run."""
    return build_and_describe(
        prepare_objects(refs, store=store, runs=runs, limits=limits, clock=clock),
        builder=builder,
        marts=marts,
        clock=clock,
    )


def prepare_objects(
    refs: Sequence[ObjectRef],
    *,
    store: ObjectStore,
    runs: Callable[[str], RunFacts | None] = lambda run_id: None,
    limits: ReadLimits = LIMITS,
    clock: Callable[[], float] = time.monotonic,
    mapper: Callable[..., Iterable[Prepared]] = map,
) -> PreparedBatch:
    """Validate every object (`mapper` may run them in threads: each object is independent) and write its
    validated copy and its quarantine file. Each run's ledger facts are asked once."""
    started = clock()
    facts = _once(runs)
    objects = list(mapper(lambda ref: _prepare(ref, store, facts, limits), refs))
    return PreparedBatch(objects, _ms(clock() - started))


def build_and_describe(
    batch: PreparedBatch,
    *,
    builder: Builder,
    marts: MartReader,
    clock: Callable[[], float] = time.monotonic,
    remaining_ms: Callable[[], int | None] = lambda: None,
) -> list[TransformCompleted]:
    """One build over the days of the batch's readable objects, then one TransformCompleted per run. A build that
    ends in error is built again in halves (isolate_errors) so that one object's error fails that object alone."""
    started = clock()
    prepared = batch.objects
    readable = [p for p in prepared if p.day and p.validated and p.source.valid_lines > 0]
    reports: dict[str, BuildReport] = {}  # validated key -> the report of the smallest build that held it
    summaries: list[CitySummary] = []
    failures: list[TestFailure] = []
    warnings: list[TestFailure] = []
    row_counts: dict[str, int] = {}
    dbt_ms = summary_ms = 0
    if readable:
        dbt_started = clock()
        reports = isolate_errors(readable, builder, clock=clock, remaining_ms=remaining_ms)
        dbt_ms = _ms(clock() - dbt_started)
        summary_started = clock()
        built_days = sorted({p.day for p in readable if p.day})
        seen: set[int] = set()
        built_marts: set[str] = set()
        for report in reports.values():
            if id(report) in seen:
                continue
            seen.add(id(report))
            for failed in report.failures:
                described = _describe_failure(failed, marts, built_days)
                (failures if failed.severity == "error" else warnings).append(described)
            built_marts |= {m.name for m in report.models if m.name in MARTS and m.status == "success"}
        if built_marts:
            row_counts = marts.row_counts(sorted(built_marts))
        if "city_daily_summary" in built_marts:
            pairs = sorted({(city, p.day) for p in prepared if p.day for city in p.cities})
            summaries = marts.city_summaries(pairs)
        summary_ms = _ms(clock() - summary_started)

    events = []
    for run_id, members in _by_run(prepared).items():
        cities = sorted({city for p in members for city in p.cities})
        run_days = sorted({date.fromisoformat(p.day) for p in members if p.day})
        run_report = _worst([reports[p.validated] for p in members if p.validated in reports])
        built = run_report is not None
        outcome, error = _outcome(run_report, members)
        events.append(
            TransformCompleted(
                metadata=TransformCompleted.make_metadata(run_id),
                run_id=run_id,
                run_cities=members[0].run_cities,
                cities=cities,
                collection_dates=run_days,
                outcome=outcome,
                sources=[p.source for p in members],
                models=run_report.models if run_report else [],
                tests=run_report.tests if run_report else TestCounts(),
                failures=_of_days(failures, run_days) if built else [],
                warnings=_of_days(warnings, run_days) if built else [],
                error=error,
                quarantined_lines=sum(p.source.quarantined_lines for p in members),
                row_counts=row_counts if built else {},
                reviews=run_report.reviews if run_report else None,
                city_summaries=[s for s in summaries if s.city in cities and s.day in run_days] if built else [],
                durations_ms={
                    "read_validate": batch.read_ms,
                    "dbt_build": dbt_ms,
                    "summaries": summary_ms,
                    "total": batch.read_ms + _ms(clock() - started),
                },
            )
        )
    # A run of 50 cities with every summary list would not fit one EventBridge event: trimmed, and said so.
    return [fit_for_bus(event) for event in events]


# A build that ends in error is built again in halves, to find the objects the error belongs to: at most this many
# builds beyond the first (enough to corner one bad object among 1,000: 2 per halving), and never when the time left
# would not hold two more builds of the last one's length and a margin.
ISOLATION_MAX_BUILDS = 20
ISOLATION_MARGIN_MS = 30_000


def isolate_errors(
    readable: Sequence[Prepared],
    builder: Builder,
    *,
    clock: Callable[[], float] = time.monotonic,
    remaining_ms: Callable[[], int | None] = lambda: None,
) -> dict[str, BuildReport]:
    """Build the objects; if the build ends in error (a dbt error: the SQL or the data, never an unreachable
    warehouse, which raises), build each half again, and each failing half's halves, so that an object whose data
    dbt cannot build fails alone and every other object is built. A transient error inside a node is cured the same
    way (its halves build). Returns each object's validated key -> the report of the smallest build that held it;
    objects still together when the budget (ISOLATION_MAX_BUILDS, the time left) ends share their error."""
    reports: dict[str, BuildReport] = {}
    extra = 0

    def build(items: Sequence[Prepared]) -> tuple[BuildReport, float]:
        days = sorted({p.day for p in items if p.day})
        # Only these objects: the day's other objects are already in the marts (a burst of files on one day would
        # otherwise re-read the whole day on every build).
        objects = sorted({p.validated for p in items if p.validated})
        began = clock()
        return builder.build(days, objects), (clock() - began) * 1000

    first, took_ms = build(readable)
    pending: list[tuple[Sequence[Prepared], BuildReport]] = [(readable, first)]
    while pending:
        items, report = pending.pop(0)
        left = remaining_ms()
        if (
            report.outcome != "error"
            or len(items) == 1
            or extra + 2 > ISOLATION_MAX_BUILDS
            or (left is not None and left < 2 * took_ms + ISOLATION_MARGIN_MS)
        ):
            reports.update({p.validated: report for p in items if p.validated})
            continue
        middle = len(items) // 2
        for half in (items[:middle], items[middle:]):
            half_report, took_ms = build(half)
            extra += 1
            pending.append((half, half_report))
    return reports


_SEVERITY = {"error": 0, "tests_failed": 1, "passed": 2}


def _worst(reports: Sequence[BuildReport]) -> BuildReport | None:
    """The report that speaks for a run whose objects were built apart: its error, else its failed tests."""
    return min(reports, key=lambda report: _SEVERITY[report.outcome], default=None)


def dead_letter_events(
    refs: Sequence[ObjectRef],
    cause: Exception,
    *,
    attempts: int,
    runs: Callable[[str], RunFacts | None] = lambda run_id: None,
    prepared: Sequence[Prepared] = (),
) -> list[TransformCompleted]:
    """The outcome of objects whose messages go to the dead-letter queue after this attempt, the last one: an
    error naming the cause in plain words, per run (from the validation when it got that far, else from the key)."""
    known = {p.ref.idempotency_key: p for p in prepared}
    facts = _once(_or_none(runs))
    members: dict[str, list[tuple[ObjectRef, RunIdentity, list[str]]]] = {}
    for ref in refs:
        if ref.idempotency_key in known:
            item = known[ref.idempotency_key]
            identity, cities = item.identity, item.cities
        else:
            identity, cities = _identity_from_key(ref, facts)
        members.setdefault(identity.run_id, []).append((ref, identity, cities))
    tried = "on its first attempt" if attempts == 1 else f"after {attempts} attempts"
    message = (
        f"The transformer could not finish {tried}: {plain_cause(cause)}. "
        "The objects' messages are now in the transformer's dead-letter queue; nothing was lost."
    )
    events = []
    for run_id, items in members.items():
        sources = [
            SourceObject(
                bucket=ref.bucket,
                key=ref.key,
                version_id=ref.version_id,
                etag=ref.etag,
                size=ref.size,
                run_id=run_id,
                city=(cities[0] if cities else None),
                identity_note=identity.note,
            )
            for ref, identity, cities in items
        ]
        days = sorted({date.fromisoformat(day) for ref, _, _ in items if (day := day_of(ref.key))})
        events.append(
            TransformCompleted(
                metadata=TransformCompleted.make_metadata(run_id),
                run_id=run_id,
                run_cities=list(items[0][1].run_cities),
                cities=sorted({city for _, _, cities in items for city in cities}),
                collection_dates=days,
                outcome="error",
                sources=sources,
                error=TransformError(phase="internal", message=message[:4000]),
                dead_lettered=True,
                attempts=attempts,
            )
        )
    return events


def plain_cause(cause: Exception) -> str:
    """An infrastructure failure in words a person can act on, without secrets."""
    text = redact_secrets(str(cause)).strip() or cause.__class__.__name__
    return text[:1500]


def _identity_from_key(ref: ObjectRef, facts: Callable[[str], RunFacts | None]) -> tuple[RunIdentity, list[str]]:
    try:
        _, name = raw_day(ref.key)
    except ObjectLayoutError:
        return RunIdentity(dropped_run_id(ref), collected=False), [infer_city(ref.key.rsplit("/", 1)[-1])]
    return identify(ref, name, facts), [infer_city(name)]


def _once(runs: Callable[[str], RunFacts | None]) -> Callable[[str], RunFacts | None]:
    """Ask the ledger about each run once per batch (a burst holds many objects of few runs)."""
    asked: dict[str, RunFacts | None] = {}
    lock = threading.Lock()

    def facts(run_id: str) -> RunFacts | None:
        with lock:
            if run_id not in asked:
                asked[run_id] = runs(run_id)
            return asked[run_id]

    return facts


def _or_none(runs: Callable[[str], RunFacts | None]) -> Callable[[str], RunFacts | None]:
    """The ledger may be what failed: then the key alone names the run."""

    def facts(run_id: str) -> RunFacts | None:
        try:
            return runs(run_id)
        except Exception:
            return None

    return facts


def _prepare(
    ref: ObjectRef, store: ObjectStore, facts: Callable[[str], RunFacts | None], limits: ReadLimits
) -> Prepared:
    base = {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id, "etag": ref.etag, "size": ref.size}
    try:
        day, name = raw_day(ref.key)
    except ObjectLayoutError as exc:
        identity = RunIdentity(dropped_run_id(ref), collected=False)
        city = infer_city(ref.key.rsplit("/", 1)[-1])
        source = SourceObject(**base, run_id=identity.run_id, city=city, problem=str(exc))
        return Prepared(ref, source, None, identity, None, [city])
    identity = identify(ref, name, facts)
    fallback_city = infer_city(name)
    if (too_late := future_day_problem(day, ref.event_time)) is not None:  # refused unread; the reason in quarantine/
        aside = quarantine_key(ref.key, ref.version_label)
        store.put(aside, render_quarantine(ref, [Rejection(None, too_late, "")]), "application/x-ndjson")
        source = SourceObject(
            **base,
            run_id=identity.run_id,
            city=fallback_city,
            quarantine_key=aside,
            problem=too_late,
            identity_note=identity.note,
        )
        return Prepared(ref, source, None, identity, None, [fallback_city])
    # The marts hold the newest version of each key: an older one (its event came late, or two versions share a
    # batch) is accounted, not built; the newer one's own event builds it.
    if (newer := store.superseded_by(ref.key, ref.version_id)) is not None:
        source = SourceObject(
            **base, run_id=identity.run_id, city=fallback_city, superseded_by=newer, identity_note=identity.note
        )
        return Prepared(ref, source, day, identity, None, [fallback_city])
    try:
        raw = store.get(ref.key, ref.version_id, limits.object_bytes)
    except (ObjectMissing, ObjectTooLarge) as exc:
        source = SourceObject(
            **base, run_id=identity.run_id, city=fallback_city, problem=str(exc), identity_note=identity.note
        )
        return Prepared(ref, source, day, identity, None, [fallback_city])
    declared = declared_city(raw.metadata)  # the object's city metadata outranks a city guessed from its name
    if declared:
        fallback_city = declared
    try:
        result: ReadResult = read_object(ref, name, raw.body, identity, limits, declared)
    except Exception as exc:  # a bug meeting one object costs that object, never the batch: it is quarantined
        problem = f"could not be read ({exc.__class__.__name__}: {str(exc)[:300]}); please report it"
        result = ReadResult(problem=problem, rejections=[Rejection(None, problem, "")])
    q_key = None
    if result.rejections:
        q_key = quarantine_key(ref.key, ref.version_label)
        store.put(q_key, render_quarantine(ref, result.rejections), "application/x-ndjson")
    v_key = validated_key(day, name, ref.version_label)
    store.put(v_key, result.validated, "application/gzip")
    cities = result.cities or [fallback_city]
    source = SourceObject(
        **base,
        run_id=identity.run_id,
        city=cities[0],
        lines=result.lines,
        valid_lines=result.valid_lines,
        quarantined_lines=len(result.rejections),
        quarantine_key=q_key,
        rejected=[RejectedLine.of(r.line, r.reason) for r in result.rejections[:REJECTED_LINES_SHOWN]],
        problem=result.problem,
        identity_note=identity.note,
    )
    run_cities = list(identity.run_cities) or (result.run_cities if identity.collected else [])
    return Prepared(ref, source, day, identity, v_key, sorted(cities), run_cities)


def _by_run(prepared: list[Prepared]) -> dict[str, list[Prepared]]:
    runs: dict[str, list[Prepared]] = {}
    for item in prepared:
        runs.setdefault(item.run_id, []).append(item)
    return runs


def _outcome(
    report: BuildReport | None, members: list[Prepared]
) -> tuple[Literal["passed", "tests_failed", "error"], TransformError | None]:
    if report is None and all(p.source.superseded_by for p in members):
        return "passed", None  # nothing of it to build: a newer version of each object is built instead
    if report is None:
        problems = "; ".join(f"{p.ref.key}: {p.source.problem or 'no valid place'}" for p in members)
        return "error", TransformError(phase="validate", message=f"nothing to transform. {problems}"[:4000])
    if report.outcome == "error":
        message = report.error_message or "dbt build failed"
        return "error", TransformError(phase="dbt", message=message[:4000], model=report.error_model)
    return report.outcome, None


def _describe_failure(failed: FailedTest, marts: MartReader, days: Sequence[str]) -> TestFailure:
    samples: list[dict[str, Any]] = []
    if failed.relation and failed.failing_rows > 0:
        samples = marts.failing_rows(failed.relation, SAMPLE_ROWS, days)
    return TestFailure(
        name=failed.name,
        model=failed.model,
        severity=failed.severity,
        failing_rows=failed.failing_rows,
        samples=samples,
        message=failed.message[:2000],
    )


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))


def _of_days(failures: list[TestFailure], days: Sequence[date]) -> list[TestFailure]:
    """The failures with only the sample rows of `days` (a run's days; a batch may build several runs' days)."""
    wanted = {day.isoformat() for day in days}

    def own(sample: dict[str, Any]) -> bool:
        column = next((name for name in DAY_COLUMNS if name in sample), None)
        return column is not None and str(sample[column])[:10] in wanted

    return [failure.model_copy(update={"samples": [s for s in failure.samples if own(s)]}) for failure in failures]


# --- one event on the bus ----------------------------------------------------------------------------

_SUMMARY_LISTS: dict[str, Any] = {
    "top_rated": [],
    "new_places": [],
    "rating_movers": [],
    "sentiment_movers": [],
    "trend": [],
    "top_themes": [],
    "price_level_mix": {},
}


def fit_for_bus(event: TransformCompleted, max_bytes: int = EVENT_MAX_BYTES) -> TransformCompleted:
    """The event, or a copy with less in it, whose size on the bus (contracts.envelope Event.bus_size: its PutEvents
    entry, and its estimated size as its queue receives it) is at most `max_bytes`. What grows with a run's cities
    goes first: the lists of the last cities' summaries (their counts and ratings stay; details_trimmed marks them),
    then the failing-row samples, then whole summaries from the last. `trimmed` says in words what went. The
    sources, the tests and the error always stay (the notifier's trust and counts read them): an event still too
    large is returned as trimmed as it gets, and the publisher refuses it if PutEvents would."""
    held = event.bus_size()
    if held <= max_bytes:
        return event
    full = list(event.city_summaries)
    bare = [summary.model_copy(update={**_SUMMARY_LISTS, "details_trimmed": True}) for summary in full]
    count = len(full)
    why = f"to fit one EventBridge event ({held:,} bytes; at most {max_bytes:,})"

    def candidate(summaries: list[CitySummary], notes: list[str], **more: Any) -> TransformCompleted:
        return event.model_copy(update={"city_summaries": summaries, "trimmed": [*event.trimmed, *notes], **more})

    def lists_note(stripped: int) -> str:
        return f"city_summaries: the lists of {stripped} of {count} cities' summaries left out, {why}"

    # 1. the lists of the last summaries, as few as will do
    savings = [_delivered_bytes(f) - _delivered_bytes(b) for f, b in zip(full, bare, strict=True)]
    stripped = _fewest(savings, held + _delivered_bytes(lists_note(count)) - max_bytes)
    notes = [lists_note(stripped)] if stripped else []
    trimmed = candidate(full[: count - stripped] + bare[count - stripped :], notes)
    while trimmed.bus_size() > max_bytes and stripped < count:
        stripped += 1
        notes = [lists_note(stripped)]
        trimmed = candidate(full[: count - stripped] + bare[count - stripped :], notes)
    if trimmed.bus_size() <= max_bytes:
        return trimmed

    # 2. the failing-row samples
    sampled = [f for f in (*event.failures, *event.warnings) if f.samples]
    if sampled:
        notes.append(f"failures: the sample rows of {len(sampled)} failing test(s) left out, {why}")
        trimmed = candidate(
            bare,
            notes,
            failures=[f.model_copy(update={"samples": []}) for f in event.failures],
            warnings=[f.model_copy(update={"samples": []}) for f in event.warnings],
        )
        if trimmed.bus_size() <= max_bytes:
            return trimmed

    # 3. whole summaries, from the last
    kept = list(bare)
    while kept and trimmed.bus_size() > max_bytes:
        kept = kept[:-1]
        summaries_note = f"city_summaries: the summaries of {count - len(kept)} of {count} cities left out, {why}"
        trimmed = trimmed.model_copy(
            update={"city_summaries": kept, "trimmed": [*event.trimmed, *notes, summaries_note]}
        )
    return trimmed


def _delivered_bytes(part: CitySummary | str) -> int:
    """A part's bytes as Event.delivered_size counts them (json defaults), with the separator before it."""
    value = part.model_dump(mode="json") if isinstance(part, CitySummary) else part
    return len(json.dumps(value).encode("utf-8")) + 2


def _fewest(savings: Sequence[int], excess: int) -> int:
    """How many of the last items must go for their savings to cover `excess` (all of them at most)."""
    if excess <= 0:
        return 0
    saved = 0
    for taken, saving in enumerate(reversed(savings), start=1):
        saved += saving
        if saved >= excess:
            return taken
    return len(savings)
