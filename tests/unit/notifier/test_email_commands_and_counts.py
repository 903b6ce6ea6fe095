"""Issue 26, items 5 and 6: what the emails tell a person to paste works as printed, and their words are true.

- "run again" names the run's own cities (a bare `restaurant-pipeline run` collects the configured cities instead);
- the tests-failed email's dbt commands are `restaurant-pipeline dbt …` (which gives dbt the stack's environment);
- "the city's first collection" only when the city has no earlier collection day;
- the test counts add up to the total and say what was skipped.
"""

from __future__ import annotations

from datetime import date

from contracts.events import DayPoint, RatedRestaurant, TestCounts, TransformCompleted
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from tests.unit.notifier.builders import collection_failed, transform

LOCAL = EmailContext(log_location=".pipeline/logs")
AWS = EmailContext(log_location="https://eu-west-3.console.aws.amazon.com/cloudwatch/home#logsV2:log-groups/")


def body_of(event, context: EmailContext = LOCAL) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), context).body


def test_a_request_level_collection_failure_says_run_again_with_the_runs_own_cities_quoted():
    event = collection_failed("api_auth", city=None, run_cities=["Lyon", "Nice", "Le Havre"])

    body = body_of(event)

    assert "restaurant-pipeline run --city Lyon --city Nice --city 'Le Havre'\n" in body
    assert "restaurant-pipeline run\n" not in body


def test_a_collection_failure_of_unknown_cities_says_they_are_unknown_instead_of_a_bare_run():
    body = body_of(collection_failed("api_bad_request", city=None, run_cities=[]))

    assert "restaurant-pipeline run\n" not in body
    assert "the failed run's cities are unknown: name each one with --city" in body


def test_the_tests_failed_email_prints_dbt_commands_that_set_the_stacks_environment_themselves():
    local = body_of(transform("tests_failed"))
    aws = body_of(transform("tests_failed"), AWS)

    assert "its failing rows: restaurant-pipeline dbt show --select unique_restaurants_place_id" in local
    assert "rows of restaurants: restaurant-pipeline dbt show --select restaurants" in local
    assert "its failing rows: restaurant-pipeline dbt --aws show --select unique_restaurants_place_id" in aws
    assert "`dbt " not in local and "in dbt/" not in local  # no bare dbt: it lacks the profile's environment


def with_new_places(trend: list[DayPoint]) -> TransformCompleted:
    base = transform("passed")
    summary = base.city_summaries[0]
    summary = summary.model_copy(
        update={
            "restaurants_seen": 4,
            "new_restaurants": 4,
            "new_places": [RatedRestaurant(place_id="n1", name="Tokyo Table", rating=4.8, user_rating_count=25)],
            "trend": trend,
        }
    )
    return base.model_copy(update={"city_summaries": [summary]})


def test_all_places_new_on_a_later_collection_day_is_not_called_the_citys_first_collection():
    day = transform("passed").city_summaries[0].day
    earlier = DayPoint(day=date(day.year, day.month, day.day - 1), restaurants_seen=20)
    today = DayPoint(day=day, restaurants_seen=4)

    later = body_of(with_new_places([earlier, today]))
    first = body_of(with_new_places([today]))

    assert "first collection" not in later and "New today (1 of 4, best rated first):" in later
    assert "New today: the city's first collection, so all 4 places are new" in first


def test_test_counts_add_up_to_the_total_and_name_the_skipped():
    counts = TestCounts(total=37, passed=6, failed=2, skipped=29)
    body = body_of(transform("tests_failed", tests=counts))

    assert "2 of 37 tests failed, 6 passed, 29 skipped" in body
    assert "Data tests: 6/37 passed, 2 failed, 29 skipped" in body
