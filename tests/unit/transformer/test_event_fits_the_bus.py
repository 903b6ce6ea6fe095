"""A Transform Completed always fits one EventBridge event: what grows with a run's cities is trimmed, in order,
and the event says what went (domain/transform.py fit_for_bus). The notifier then says only what it still has."""

from __future__ import annotations

from contracts.envelope import EVENT_MAX_BYTES, PUT_EVENTS_MAX_BYTES
from contracts.events import SourceObject, TestCounts, TestFailure, TransformCompleted
from services.notifier.domain.body import render_success_section
from services.transformer.domain.transform import fit_for_bus
from tests.support.fifty_cities import DAY, RUN_ID, city_names, failing_rows, maximal_summary


def outcome(cities: list[str], failures: int = 0, sources: int | None = None) -> TransformCompleted:
    count = len(cities) if sources is None else sources
    return TransformCompleted(
        metadata=TransformCompleted.make_metadata(RUN_ID),
        run_id=RUN_ID,
        run_cities=cities,
        cities=cities,
        collection_dates=[DAY],
        outcome="tests_failed" if failures else "passed",
        sources=[
            SourceObject(bucket="b", key=f"raw/places/dt={DAY}/{RUN_ID}__c{i}.jsonl.gz", city=cities[i % len(cities)])
            for i in range(count)
        ],
        tests=TestCounts(total=10, passed=10 - failures, failed=failures),
        failures=[
            TestFailure(name=f"test_{i}", failing_rows=9, samples=failing_rows(), message="x" * 2000)
            for i in range(failures)
        ],
        city_summaries=[maximal_summary(city) for city in cities],
    )


def test_an_event_that_fits_is_left_as_it_is() -> None:
    event = outcome(city_names(3))
    assert event.bus_size() <= EVENT_MAX_BYTES
    assert fit_for_bus(event) is event


def test_the_last_cities_lose_their_lists_first_and_keep_their_counts() -> None:
    cities = city_names(10)
    event = outcome(cities)
    limit = event.bus_size() - 15_000  # a bit more than one city's lists must go

    fitted = fit_for_bus(event, limit)

    assert fitted.bus_size() <= limit
    kept = [s for s in fitted.city_summaries if not s.details_trimmed]
    trimmed = [s for s in fitted.city_summaries if s.details_trimmed]
    assert [s.city for s in kept] == cities[: len(kept)] and 6 <= len(kept) < 10  # the first cities keep theirs
    assert all(s == maximal_summary(s.city) for s in kept)
    for summary in trimmed:
        assert summary.top_rated == summary.new_places == summary.rating_movers == summary.trend == []
        assert summary.sentiment_movers == [] and summary.top_themes == [] and summary.price_level_mix == {}
        assert (summary.restaurants_seen, summary.new_restaurants, summary.weighted_rating) == (9_999, 1_234, 4.27)
    assert [s.city for s in fitted.city_summaries] == cities  # every city still has its numbers
    [note] = fitted.trimmed
    assert note.startswith(f"city_summaries: the lists of {len(trimmed)} of 10 cities' summaries left out")
    assert f"{event.bus_size():,} bytes" in note
    # everything else is untouched
    assert fitted.model_dump(exclude={"city_summaries", "trimmed"}) == event.model_dump(
        exclude={"city_summaries", "trimmed"}
    )


def test_failing_row_samples_go_next_then_whole_summaries_from_the_last() -> None:
    cities = city_names(50)
    event = outcome(cities, failures=10)
    bare_size = fit_for_bus(event, 1).bus_size()  # as small as it gets: no lists, no samples, no summaries

    limit = bare_size + 10_000  # room for some cities' numbers, not for 50
    with_samples_gone = fit_for_bus(event, limit)
    assert with_samples_gone.bus_size() <= limit
    assert all(s.details_trimmed for s in with_samples_gone.city_summaries)
    assert all(f.samples == [] and f.failing_rows == 9 and f.message for f in with_samples_gone.failures)
    assert 0 < len(with_samples_gone.city_summaries) < 50
    assert [s.city for s in with_samples_gone.city_summaries] == cities[: len(with_samples_gone.city_summaries)]
    lists, samples, summaries = with_samples_gone.trimmed
    assert lists.startswith("city_summaries: the lists of 50 of 50 cities' summaries left out")
    assert samples.startswith("failures: the sample rows of 10 failing test(s) left out")
    assert summaries.startswith(f"city_summaries: the summaries of {50 - len(with_samples_gone.city_summaries)} of 50")

    assert bare_size > 1  # what cannot go (sources, tests, errors) stays: the publisher refuses it by its size
    assert fit_for_bus(event, 1).sources == event.sources and fit_for_bus(event, 1).tests == event.tests


def test_a_maximal_50_city_outcome_fits_with_room_for_the_envelope() -> None:
    event = outcome(city_names(50), failures=10)
    assert event.entry_size() > PUT_EVENTS_MAX_BYTES  # without trimming it could not be sent at all

    fitted = fit_for_bus(event)

    assert fitted.entry_size() <= fitted.bus_size() <= EVENT_MAX_BYTES < PUT_EVENTS_MAX_BYTES
    assert len(fitted.city_summaries) == 50 and any(not s.details_trimmed for s in fitted.city_summaries)
    assert TransformCompleted.parse_detail(fitted.detail_json()) == fitted  # still a valid contract event


def test_the_email_shows_what_a_trimmed_summary_still_holds_and_invents_nothing() -> None:
    cities = city_names(2)
    fitted = fit_for_bus(outcome(cities), outcome(cities).bus_size() - 5_000)
    whole, trimmed = fitted.city_summaries
    assert not whole.details_trimmed and trimmed.details_trimmed

    text = "\n".join(render_success_section(fitted, cities))
    first, second = text.split(cities[1][:20], 1)
    assert "Best rated" in first and "New today" in first and "Rating moved most" in first
    assert "Restaurants collected" in second and "Average rating: 4.31" in second
    assert "Best rated" not in second and "New today" not in second and "Rating moved most" not in second
