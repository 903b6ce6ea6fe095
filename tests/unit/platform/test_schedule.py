from datetime import UTC, datetime

from restaurant_pipeline.model.schedule import parse_schedule


def test_daily_cron_fires_at_eight_utc_next():
    schedule = parse_schedule("cron(0 8 * * ? *)")

    assert schedule.next_after(datetime(2026, 11, 25, 7, 59, tzinfo=UTC)) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert schedule.next_after(datetime(2026, 11, 25, 8, 0, tzinfo=UTC)) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_aws_day_of_week_numbers_count_from_sunday():
    # AWS: 2 = Monday. 2026-11-25 is a Wednesday; the next Monday is 2026-11-30.
    schedule = parse_schedule("cron(30 6 ? * 2 *)")

    assert schedule.next_after(datetime(2026, 11, 25, tzinfo=UTC)) == datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


def test_named_weekdays_and_ranges_work():
    schedule = parse_schedule("cron(0 8 ? * MON-FRI *)")

    assert schedule.next_after(datetime(2026, 11, 28, 9, tzinfo=UTC)) == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_rate_adds_its_period():
    schedule = parse_schedule("rate(12 hours)")

    assert schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_year_field_limits_the_fire_times():
    schedule = parse_schedule("cron(0 8 1 1 ? 2028)")

    assert schedule.next_after(datetime(2026, 11, 25, tzinfo=UTC)) == datetime(2028, 1, 1, 8, tzinfo=UTC)
