"""A run whose file had quarantined lines says so in `restaurant-pipeline runs` and in the report's runs timeline,
never a bare "notified: passed" (issue 26, item 5): the notifier records the count with its NOTIFIED step."""

from __future__ import annotations

from typing import Any

from restaurant_pipeline.ledger_views import summarise_runs
from restaurant_pipeline.report import run_timelines
from tests.unit.notifier.builders import transform
from tests.unit.notifier.fakes import make_world


class RecordingLedger:
    """The world's ledger, keeping each step's data as the real ledger does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.data: dict[tuple[str, str], dict[str, Any]] = {}

    def record(
        self, run_id: str, step: Any, subject: str, service: str, data: dict | None = None, **identity: Any
    ) -> bool:
        self.data[(step, subject)] = dict(data or {})
        return bool(self.inner.record(run_id, step, subject, service, data, **identity))


def steps(quarantined: int | None) -> list[dict[str, Any]]:
    data: dict[str, Any] = {"subject": "[restaurant-pipeline] QUARANTINED Paris"}
    if quarantined is not None:
        data["quarantined_lines"] = quarantined
    requested = {"run_id": "run-1", "step": "REQUESTED", "subject": "-", "service": "collector"}
    notified = {"run_id": "run-1", "step": "NOTIFIED", "subject": "passed", "service": "notifier"}
    return [
        requested | {"at": "2026-11-25T08:00:00+00:00", "data": {"trigger": "manual", "cities": ["Paris"]}},
        notified | {"at": "2026-11-25T08:01:00+00:00", "data": data},
    ]


def test_the_notified_step_records_how_many_lines_the_run_set_aside() -> None:
    world = make_world()
    ledger = RecordingLedger(world.notifier.ledger)
    world.notifier.ledger = ledger
    event = transform("passed")
    source = event.sources[0].model_copy(update={"lines": 25, "quarantined_lines": 3})

    world.notifier.notify(event.model_copy(update={"sources": [source], "quarantined_lines": 3}))

    assert ledger.data[("NOTIFIED", "passed")]["quarantined_lines"] == 3


def test_runs_shows_a_passed_run_with_quarantined_lines_as_such() -> None:
    [run] = summarise_runs(steps(3))

    assert run["status"] == "notified: passed, 3 lines quarantined"
    assert run["quarantined_lines"] == 3
    assert summarise_runs(steps(1))[0]["status"] == "notified: passed, 1 line quarantined"
    # none set aside, or an older notifier that did not record the count: as before
    assert summarise_runs(steps(0))[0]["status"] == "notified: passed"
    assert summarise_runs(steps(None))[0]["status"] == "notified: passed"


def test_the_report_timeline_shows_the_run_and_its_email_as_quarantined() -> None:
    [timeline] = run_timelines(steps(12), last=1)

    assert timeline["status"] == "notified: passed, 12 lines quarantined"
    [email] = [s for s in timeline["segments"] if s["step"] == "email"]
    assert email["outcome"] == "quarantined" and email["level"] == "warn"
