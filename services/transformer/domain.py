"""The transformer's domain: validate a batch of raw objects, run one dbt build over their days, and say how it
went, one TransformCompleted per run id. Talks to the world only through the ports below (no boto3, no env)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from contracts.events import (
    CitySummary,
    ModelRun,
    RatedRestaurant,
    SourceObject,
    TestCounts,
    TestFailure,
    TransformCompleted,
    TransformError,
)
from services.transformer.reading import (
    ObjectLayoutError,
    ObjectRef,
    ReadResult,
    default_collection,
    quarantine_key,
    raw_day,
    read_places,
    render_quarantine,
    render_validated,
    validated_key,
)

MARTS = ("restaurants", "restaurant_daily_snapshots", "city_daily_summary", "city_cuisine_daily_summary")
SAMPLE_ROWS = 5


class InfrastructureError(RuntimeError):
    """S3, the warehouse or dbt itself could not do its part: the SQS record must be retried."""


class ObjectMissing(LookupError):
    """The object (version) named by the event no longer exists."""


class ObjectStore(Protocol):
    def get(self, key: str, version_id: str | None) -> bytes: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...


@dataclass(frozen=True)
class FailedTest:
    name: str
    model: str | None
    severity: Literal["error", "warn"]
    failing_rows: int
    relation: str | None  # where store_failures kept the failing rows
    message: str


@dataclass
class BuildReport:
    outcome: Literal["passed", "tests_failed", "error"]
    models: list[ModelRun] = field(default_factory=list)
    tests: TestCounts = field(default_factory=TestCounts)
    failures: list[FailedTest] = field(default_factory=list)
    error_message: str | None = None
    error_model: str | None = None
    duration_ms: int = 0


class Builder(Protocol):
    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        """Build the marts for those collection days, reading only `objects` (validated keys of those days);
        no objects = every object of the days."""
        ...


class Warehouse(Protocol):
    def relation(self, model: str) -> str: ...

    def query(self, sql: str) -> list[dict[str, Any]]: ...


@dataclass
class _Prepared:
    ref: ObjectRef
    source: SourceObject
    day: str | None
    run_id: str
    validated: str | None  # the validated/ key written for it (None when nothing was read)
    run_cities: list[str]
    cities: list[str]


def transform_objects(
    refs: Sequence[ObjectRef],
    *,
    store: ObjectStore,
    builder: Builder,
    warehouse: Warehouse,
    clock: Callable[[], float] = time.monotonic,
) -> list[TransformCompleted]:
    """Validate every object, build the marts once for all their days, and describe the result per run."""
    started = clock()
    prepared = [_prepare(ref, store) for ref in refs]
    read_ms = _ms(clock() - started)

    readable = [p for p in prepared if p.day and p.validated and p.source.valid_lines > 0]
    days = sorted({p.day for p in readable if p.day})
    # Only this batch's objects: the day's other objects are already in the marts (a burst of files on one day
    # would otherwise re-read the whole day on every build).
    objects = sorted({p.validated for p in readable if p.validated})
    report: BuildReport | None = None
    summaries: list[CitySummary] = []
    failures: list[TestFailure] = []
    warnings: list[TestFailure] = []
    row_counts: dict[str, int] = {}
    dbt_ms = summary_ms = 0
    if days:
        dbt_started = clock()
        report = builder.build(days, objects)
        dbt_ms = _ms(clock() - dbt_started)
        summary_started = clock()
        for failed in report.failures:
            described = _describe_failure(failed, warehouse)
            (failures if failed.severity == "error" else warnings).append(described)
        built_marts = [m.name for m in report.models if m.name in MARTS and m.status == "success"]
        if built_marts:
            row_counts = _row_counts(warehouse, built_marts)
        if "city_daily_summary" in built_marts:
            pairs = sorted({(city, p.day) for p in prepared if p.day for city in p.cities})
            summaries = _city_summaries(warehouse, pairs)
        summary_ms = _ms(clock() - summary_started)

    events = []
    for run_id, members in _by_run(prepared).items():
        cities = sorted({city for p in members for city in p.cities})
        run_days = sorted({date.fromisoformat(p.day) for p in members if p.day})
        built = report is not None and any(p.source.valid_lines > 0 for p in members)
        outcome, error = _outcome(report if built else None, members)
        events.append(
            TransformCompleted(
                metadata=TransformCompleted.make_metadata(run_id),
                run_id=run_id,
                run_cities=members[0].run_cities,
                cities=cities,
                collection_dates=run_days,
                outcome=outcome,
                sources=[p.source for p in members],
                models=report.models if built and report else [],
                tests=report.tests if built and report else TestCounts(),
                failures=failures if built else [],
                warnings=warnings if built else [],
                error=error,
                quarantined_lines=sum(p.source.quarantined_lines for p in members),
                row_counts=row_counts if built else {},
                city_summaries=[s for s in summaries if s.city in cities and s.day in run_days] if built else [],
                durations_ms={
                    "read_validate": read_ms,
                    "dbt_build": dbt_ms,
                    "summaries": summary_ms,
                    "total": _ms(clock() - started),
                },
            )
        )
    return events


def _prepare(ref: ObjectRef, store: ObjectStore) -> _Prepared:
    base = {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id, "etag": ref.etag, "size": ref.size}
    try:
        day, name = raw_day(ref.key)
    except ObjectLayoutError as exc:
        name = ref.key.rsplit("/", 1)[-1]
        collection = default_collection(ref, name)
        source = SourceObject(**base, run_id=collection["run_id"], city=collection["city"], problem=str(exc))
        return _Prepared(ref, source, None, collection["run_id"], None, [], [collection["city"]])
    try:
        body = store.get(ref.key, ref.version_id)
    except ObjectMissing as exc:
        collection = default_collection(ref, name)
        source = SourceObject(**base, run_id=collection["run_id"], city=collection["city"], problem=str(exc))
        return _Prepared(ref, source, day, collection["run_id"], None, [], [collection["city"]])

    result: ReadResult = read_places(ref.key, body)
    q_key = None
    if result.rejections:
        q_key = quarantine_key(ref.key)
        store.put(q_key, render_quarantine(ref, result.rejections), "application/x-ndjson")
    v_key = validated_key(day, name)
    store.put(v_key, render_validated(ref, name, result.places), "application/gzip")

    fallback = default_collection(ref, name)
    collections = [place.get("_collection") or fallback for _, place in result.places] or [fallback]
    first = collections[0]
    source = SourceObject(
        **base,
        run_id=first["run_id"],
        city=first["city"],
        lines=result.lines,
        valid_lines=len(result.places),
        quarantined_lines=len(result.rejections),
        quarantine_key=q_key,
        problem=result.problem,
    )
    cities = sorted({c["city"] for c in collections})
    return _Prepared(ref, source, day, first["run_id"], v_key, list(first.get("run_cities") or []), cities)


def _by_run(prepared: list[_Prepared]) -> dict[str, list[_Prepared]]:
    runs: dict[str, list[_Prepared]] = {}
    for item in prepared:
        runs.setdefault(item.run_id, []).append(item)
    return runs


def _outcome(
    report: BuildReport | None, members: list[_Prepared]
) -> tuple[Literal["passed", "tests_failed", "error"], TransformError | None]:
    if report is None:
        problems = "; ".join(f"{p.ref.key}: {p.source.problem or 'no valid place'}" for p in members)
        return "error", TransformError(phase="validate", message=f"nothing to transform. {problems}"[:4000])
    if report.outcome == "error":
        message = report.error_message or "dbt build failed"
        return "error", TransformError(phase="dbt", message=message[:4000], model=report.error_model)
    return report.outcome, None


def _describe_failure(failed: FailedTest, warehouse: Warehouse) -> TestFailure:
    samples: list[dict[str, Any]] = []
    if failed.relation and failed.failing_rows > 0:
        rows = warehouse.query(f"select * from {failed.relation} limit {SAMPLE_ROWS}")
        samples = [{k: _plain(v) for k, v in row.items()} for row in rows[:SAMPLE_ROWS]]
    return TestFailure(
        name=failed.name,
        model=failed.model,
        severity=failed.severity,
        failing_rows=failed.failing_rows,
        samples=samples,
        message=failed.message[:2000],
    )


def _row_counts(warehouse: Warehouse, models: list[str]) -> dict[str, int]:
    """Rows in each mart built by this run (a skipped mart may not exist yet)."""
    union = " union all ".join(
        f"select '{model}' as model, count(*) as n from {warehouse.relation(model)}" for model in models
    )
    return {str(row["model"]): int(row["n"]) for row in warehouse.query(union)}


def _city_summaries(warehouse: Warehouse, pairs: list[tuple[str, str]]) -> list[CitySummary]:
    if not pairs:
        return []
    wanted = " or ".join(f"(city = {_literal(city)} and summary_date = date '{day}')" for city, day in pairs)
    rows = warehouse.query(f"select * from {warehouse.relation('city_daily_summary')} where {wanted}")
    top_where = " or ".join(f"(city = {_literal(city)} and snapshot_date = date '{day}')" for city, day in pairs)
    top_rows = warehouse.query(
        "select * from ("
        " select city, snapshot_date, place_id, name, rating, user_rating_count, row_number() over ("
        "  partition by city, snapshot_date order by rating desc, user_rating_count desc, place_id) as position"
        f" from {warehouse.relation('restaurant_daily_snapshots')}"
        # a permanently closed place is not a recommendation, however good its reviews were
        f" where rating is not null and coalesce(business_status, '') <> 'CLOSED_PERMANENTLY' and ({top_where})"
        f") ranked where position <= {SAMPLE_ROWS}"
    )
    summaries = []
    for row in rows:
        day = _as_date(row["summary_date"])
        top = sorted(
            (r for r in top_rows if r["city"] == row["city"] and _as_date(r["snapshot_date"]) == day),
            key=lambda r: int(r["position"]),
        )
        summaries.append(
            CitySummary(
                city=row["city"],
                day=day,
                restaurants_seen=int(row["restaurants_seen"]),
                new_restaurants=int(row["new_restaurants"]),
                closed_restaurants=int(row["closed_restaurants"]),
                average_rating=_round(row["average_rating"]),
                weighted_rating=_round(row["weighted_rating"]),
                price_level_mix={
                    level: int(row[f"price_{level}"] or 0)
                    for level in ("free", "inexpensive", "moderate", "expensive", "very_expensive", "unknown")
                    if int(row[f"price_{level}"] or 0)
                },
                top_rated=[
                    RatedRestaurant(
                        place_id=r["place_id"],
                        name=r["name"] or r["place_id"],
                        rating=_round(r["rating"]),
                        user_rating_count=None if r["user_rating_count"] is None else int(r["user_rating_count"]),
                    )
                    for r in top
                ],
            )
        )
    return sorted(summaries, key=lambda s: (s.city, s.day))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))
