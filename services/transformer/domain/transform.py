"""Validate a batch of raw objects, run one build over their days, and say how it went: one TransformCompleted per
run id. Talks to the world only through the ports (ports.py): no boto3, no SQL, no environment."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from contracts.events import (
    CitySummary,
    SourceObject,
    TestCounts,
    TestFailure,
    TransformCompleted,
    TransformError,
)
from services.transformer.domain.model import (
    MARTS,
    SAMPLE_ROWS,
    BuildReport,
    FailedTest,
    ObjectMissing,
)
from services.transformer.domain.reading import (
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
from services.transformer.ports import Builder, MartReader, ObjectStore


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
    marts: MartReader,
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
            described = _describe_failure(failed, marts)
            (failures if failed.severity == "error" else warnings).append(described)
        built_marts = [m.name for m in report.models if m.name in MARTS and m.status == "success"]
        if built_marts:
            row_counts = marts.row_counts(built_marts)
        if "city_daily_summary" in built_marts:
            pairs = sorted({(city, p.day) for p in prepared if p.day for city in p.cities})
            summaries = marts.city_summaries(pairs)
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
                reviews=report.reviews if built and report else None,
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


def _describe_failure(failed: FailedTest, marts: MartReader) -> TestFailure:
    samples: list[dict[str, Any]] = []
    if failed.relation and failed.failing_rows > 0:
        samples = marts.failing_rows(failed.relation, SAMPLE_ROWS)
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
