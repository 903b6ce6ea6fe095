"""A report's inputs as the warehouse and the run ledger give them: 14 days of two cities (one with a day without
a collection) and three runs (passed; tests failed; a city not collected). For the report's tests and for the
screenshot in docs/report.png (scripts/report_screenshot.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

LATEST = date(2026, 11, 30)
GENERATED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def summary_rows() -> list[dict[str, Any]]:
    rows = []
    for offset in range(14):
        day = LATEST - timedelta(days=13 - offset)
        rows.append(
            _row("Paris", day, 180 + offset * 3 + (offset % 4) * 2, 4.31 + offset * 0.004 - (offset % 3) * 0.01)
        )
        if offset != 6:  # Lyon was not collected that day
            rows.append(_row("Lyon", day, 120 + (offset % 5) * 4, 4.45 - offset * 0.006 + (offset % 2) * 0.012))
    rows.append(_row("Paris", LATEST - timedelta(days=40), 150, 4.2))  # older than any window asked for
    return rows


def _row(city: str, day: date, seen: int, weighted: float) -> dict[str, Any]:
    return {
        "city": city,
        "summary_date": day,
        "restaurants_seen": seen,
        "new_restaurants": seen % 7,
        "closed_restaurants": seen % 3,
        "average_rating": round(weighted + 0.05, 3),
        "weighted_rating": round(weighted, 3),
    }


def ledger_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []

    def step(run: str, seconds: float, name: str, subject: str, service: str, /, **data: Any) -> None:
        start = {
            "r1": datetime(2026, 11, 28, 8, 0),
            "r2": datetime(2026, 11, 29, 8, 0),
            "r3": datetime(2026, 11, 30, 8, 0),
        }
        at = (start[run].replace(tzinfo=UTC) + timedelta(seconds=seconds)).isoformat()
        steps.append(
            {"run_id": f"sched-{run}", "step": name, "subject": subject, "service": service, "at": at, "data": data}
        )

    for run, transform_outcome in (("r1", "passed"), ("r2", "tests_failed")):
        step(run, 0, "REQUESTED", "-", "collector", trigger="schedule", cities=["Paris", "Lyon"])
        step(run, 9.5, "COLLECTED", "Paris", "collector", object_key=f"raw/places/dt=x/{run}__paris.jsonl.gz")
        step(run, 7.2, "COLLECTED", "Lyon", "collector", object_key=f"raw/places/dt=x/{run}__lyon.jsonl.gz")
        step(run, 12.0, "TRANSFORMED", f"raw/places/dt=x/{run}__lyon.jsonl.gz", "transformer", outcome="passed")
        step(
            run, 15.1, "TRANSFORMED", f"raw/places/dt=x/{run}__paris.jsonl.gz", "transformer", outcome=transform_outcome
        )
        step(run, 15.4, "CITY_OUTCOME", "Paris", "notifier")
        step(run, 16.0, "NOTIFIED", transform_outcome, "notifier", subject=f"[restaurant-pipeline] {transform_outcome}")
    step("r3", 0, "REQUESTED", "-", "collector", trigger="manual", cities=["Paris", "Lyon"])
    step("r3", 8.0, "COLLECTED", "Paris", "collector", object_key="raw/places/dt=x/r3__paris.jsonl.gz")
    step("r3", 31.0, "COLLECTION_FAILED", "Lyon", "collector", category="api_quota_daily")
    step("r3", 13.0, "TRANSFORMED", "raw/places/dt=x/r3__paris.jsonl.gz", "transformer", outcome="passed")
    step("r3", 32.5, "NOTIFIED", "mixed-0123456789ab", "notifier", subject="[restaurant-pipeline] PARTIAL")
    return sorted(steps, key=lambda item: item["at"])
