"""The success email draws each city's last 14 days (restaurants seen, weighted rating) as Unicode sparklines."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.events import DayPoint, TransformCompleted
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from services.notifier.domain.sparklines import BARS, GAP, sparkline
from tests.unit.notifier.builders import transform


def email_body(event: TransformCompleted) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), EmailContext()).body


def with_trend(points: list[DayPoint]) -> TransformCompleted:
    base = transform("passed")
    return base.model_copy(update={"city_summaries": [base.city_summaries[0].model_copy(update={"trend": points})]})


def test_sparkline_scales_from_the_lowest_to_the_highest_value_and_marks_missing_days():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == BARS
    assert sparkline([10, None, 20]) == f"▁{GAP}█"
    assert sparkline([4.1, 4.1, 4.1]) == "▄▄▄"  # flat: mid-height, not a full bar
    assert sparkline([None, None]) == GAP * 2


def test_success_email_shows_fourteen_days_of_restaurants_and_weighted_rating():
    day = date(2026, 11, 25)  # the fixture's collection day
    points = [
        DayPoint(
            day=day - timedelta(days=13 - offset), restaurants_seen=10 + offset, weighted_rating=4.0 + offset / 100
        )
        for offset in range(14)
        if offset != 5  # no collection that day
    ]
    body = email_body(with_trend(points))

    assert f"Last 14 days (11-12 to 11-25; {GAP} no collection):" in body
    lines = body.splitlines()
    seen = next(line for line in lines if "Restaurants seen  " in line)
    rating = next(line for line in lines if "Weighted rating  " in line)
    assert seen.split()[2] == "▁▂▂▃▃·▄▅▅▆▆▇▇█" and seen.endswith("now 23 · 10 to 23")
    assert rating.split()[2] == "▁▂▂▃▃·▄▅▅▆▆▇▇█" and rating.endswith("now 4.13 · 4.00 to 4.13")


def test_a_citys_first_collection_day_draws_one_bar_after_thirteen_gaps():
    day = date(2026, 11, 25)
    body = email_body(with_trend([DayPoint(day=day, restaurants_seen=20, weighted_rating=4.07)]))

    assert f"Restaurants seen  {GAP * 13}▄  now 20 · 20 to 20" in body


def test_an_event_without_a_trend_draws_none():
    body = email_body(transform("passed"))

    assert "Last 14 days" not in body and "Restaurants seen  " not in body
