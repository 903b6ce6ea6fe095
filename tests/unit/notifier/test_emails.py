"""Rendering: each outcome's email says what matters, subjects obey SNS's rules, secrets never leak."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.events import ErrorCategory, ModelRun, TestCounts, TestFailure, TransformError
from services.notifier.domain.body import render_repeat_email, render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import Repeat, settled_outcomes
from services.notifier.domain.runbook import log_link
from services.notifier.domain.subject import SUBJECT_MAX, ascii_subject
from tests.unit.notifier.builders import FAKE_KEY, RUN_ID, collection_failed, transform

CONTEXT = EmailContext(
    log_location=".pipeline/logs",
    max_receive_count=3,
    requested_at=datetime(2026, 11, 25, 8, 0, 1, tzinfo=UTC),
    now=datetime(2026, 11, 25, 8, 3, 0, tzinfo=UTC),
)


def assert_sns_subject(subject: str) -> None:
    assert subject.isascii(), subject
    assert len(subject) <= SUBJECT_MAX, subject
    assert "\n" not in subject and "\r" not in subject, subject
    assert all(" " <= char <= "~" for char in subject), subject


def email_for(event, context: EmailContext = CONTEXT):
    return render_run_email(event.run_id, settled_outcomes(event), context)


def test_success_email_reports_the_city_day_counts_ratings_top_five_tests_duration_and_run():
    email = email_for(transform("passed"))

    assert email.subject == "[restaurant-pipeline] OK Paris 2026-11-25: 20 restaurants, 31/31 tests passed"
    body = email.body
    assert "Paris · 2026-11-25" in body
    assert "Restaurants collected: 20 by this run (new 3, closed 1)" in body
    assert "Average rating: 4.41" in body
    for rank, line in enumerate(
        [
            "Le Comptoir du Relais (4.8, 5,123 ratings)",
            "Chez Janou (4.7, 3,890 ratings)",
            "Septime (4.7, 1,502 ratings)",
            "Bouillon Chartier (4.6, 41,200 ratings)",
            "L'Ami Jean (4.6, 2,210 ratings)",
        ],
        start=1,
    ):
        assert f"{rank}. {line}" in body
    assert "Data tests: 31/31 passed" in body
    assert "Transform took 10.4 s" in body
    assert "done 2 min 59 s later" in body
    assert RUN_ID in body
    assert ".pipeline/logs/transformer.log" in body
    assert "What to do" not in body  # nothing to fix


def test_tests_failed_email_names_each_test_its_failing_rows_samples_and_where_to_look():
    email = email_for(transform("tests_failed"))

    assert email.subject == "[restaurant-pipeline] TESTS FAILED Paris 2026-11-25: 2/31 tests failed"
    body = email.body
    assert "2 of 31 tests failed" in body
    assert "unique_restaurants_place_id (model restaurants): 2 failing row(s)" in body
    assert "place_id=ChIJ0AbCdEfGh, n_records=2" in body
    assert "value_field=CLOSED_FOR_RENOVATION" in body
    assert "the same key appears more than once in restaurants" in body
    assert "outside the accepted list" in body
    assert (
        "restaurant-pipeline reprocess "
        "s3://restaurant-pipeline-data/raw/places/dt=2026-11-25/paris-20261125T080000Z-sched.jsonl.gz"
    ) in body
    assert "restaurant-pipeline dlq replay transformer" in body


def test_dbt_error_email_gives_the_model_and_the_error_text_and_how_to_reprocess():
    email = email_for(transform("error"))

    assert email.subject == "[restaurant-pipeline] ERROR Paris 2026-11-25: dbt failed in restaurants"
    body = email.body
    assert "Failed in: dbt, model restaurants" in body
    assert 'Binder Error: Referenced column "user_rating_count" not found in FROM clause!' in body
    assert "restaurant-pipeline reprocess s3://restaurant-pipeline-data/raw/places/dt=2026-11-25/" in body
    assert "restaurant-pipeline dlq replay transformer" in body


EXPECTED_CATEGORY_WORDS = {
    "api_auth": ("API key rejected", ["Places API (New) is enabled", "restaurant-pipeline run --city Paris"]),
    "api_quota_daily": ("daily quota reached", ["resumes tomorrow", "raise the quota"]),
    "api_quota_minute": (
        "per-minute quota exceeded",
        ["retried automatically", "restaurant-pipeline dlq replay collector"],
    ),
    "api_unavailable": (
        "Places API unavailable",
        ["retried automatically", "restaurant-pipeline dlq replay collector"],
    ),
    "api_bad_request": ("request refused", ["field mask", "restaurant-pipeline run --city Paris"]),
    "internal": ("internal error", ["collector's logs", "restaurant-pipeline dlq replay collector"]),
}


@pytest.mark.parametrize("category", get_args(ErrorCategory))
def test_collection_failure_email_explains_each_category_in_plain_words_with_its_fix(category):
    short, phrases = EXPECTED_CATEGORY_WORDS[category]
    email = email_for(collection_failed(category, attempt=3))

    assert email.subject == f"[restaurant-pipeline] NOT COLLECTED Paris 2026-11-25: {short}"
    assert "Attempt 3 of 3" in email.body
    for phrase in phrases:
        assert phrase in email.body, (category, phrase)
    assert ".pipeline/logs/collector.log" in email.body


def test_every_failure_email_says_how_to_replay_or_reprocess():
    failures = [transform("tests_failed"), transform("error")] + [
        collection_failed(category) for category in get_args(ErrorCategory)
    ]
    for event in failures:
        body = email_for(event).body
        assert re.search(r"restaurant-pipeline (dlq replay \w+|reprocess s3://\S+|run --city \S+)", body), body


def test_a_run_of_two_cities_is_one_email_covering_both():
    paris = transform("passed", city="Paris", run_cities=["Paris", "Lyon"])
    lyon = collection_failed("api_quota_daily", city="Lyon", run_cities=["Paris", "Lyon"])
    outcomes = settled_outcomes(paris) + settled_outcomes(lyon)

    email = render_run_email(RUN_ID, outcomes, CONTEXT)

    assert email.subject == ("[restaurant-pipeline] PARTIAL 2026-11-25: 1/2 cities OK; NOT COLLECTED: Lyon")
    assert "✅ Paris · 2026-11-25" in email.body
    assert "❌ Not collected · Lyon · 2026-11-25" in email.body
    assert "resumes tomorrow" in email.body


def test_a_transform_covering_two_cities_reports_each_city_and_counts_tests_once():
    event = transform("passed", city="Paris", run_cities=["Paris", "Lyon"])
    lyon_summary = event.city_summaries[0].model_copy(update={"city": "Lyon", "restaurants_seen": 15})
    lyon_source = event.sources[0].model_copy(update={"city": "Lyon", "key": "lyon.jsonl", "valid_lines": 15})
    both = event.model_copy(
        update={
            "cities": ["Paris", "Lyon"],
            "city_summaries": [event.city_summaries[0], lyon_summary],
            "sources": [event.sources[0], lyon_source],
        }
    )

    email = email_for(both)

    assert email.subject == "[restaurant-pipeline] OK Paris, Lyon 2026-11-25: 35 restaurants, 31/31 tests passed"
    assert email.body.count("Data tests: 31/31 passed") == 1
    assert "✅ Lyon · 2026-11-25" in email.body


def test_a_key_like_string_in_any_input_is_never_echoed():
    leaky_error = TransformError(phase="dbt", model="restaurants", message=f"GET ?key={FAKE_KEY} failed")
    leaky_failure = TestFailure(
        name=f"not_null_{FAKE_KEY}", model="restaurants", failing_rows=1, samples=[{"url": f"x?key={FAKE_KEY}"}]
    )
    events = [
        collection_failed("api_auth", message=f"API key not valid: {FAKE_KEY}"),
        transform("error", error=leaky_error),
        transform("tests_failed", failures=[leaky_failure], tests=TestCounts(total=3, passed=2, failed=1)),
        transform("passed", city=f"Paris {FAKE_KEY}"),
    ]
    for event in events:
        email = email_for(event)
        assert "AIza" not in email.subject and "AIza" not in email.body
        assert FAKE_KEY[10:30] not in email.body
        assert "[redacted]" in email.subject + email.body


def test_repeat_email_is_short_and_points_to_the_first_full_email():
    event = collection_failed("api_quota_daily", run_id="run-2")
    first = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    repeat = Repeat(first_run_id="run-1", first_sent_at=first, occurrences=3)
    context = EmailContext(log_location="", repeat_window=timedelta(hours=6))

    email = render_repeat_email("run-2", settled_outcomes(event), repeat, context)

    assert_sns_subject(email.subject)
    assert email.subject == "[restaurant-pipeline] REPEAT NOT COLLECTED Paris 2026-11-25: 3x since 11-25 08:00 UTC"
    assert "same failure as run run-1" in email.body
    assert "3 times since then" in email.body
    assert "restaurant-pipeline run --city Paris" in email.body  # still says what to do
    assert "`restaurant-pipeline logs collector`" in email.body  # no log location: the CLI command
    assert len(email.body) < len(render_run_email("run-2", settled_outcomes(event), context).body) + 400


def test_logs_link_to_the_cloudwatch_console_on_aws_and_to_the_file_locally():
    prefix = "https://eu-west-3.console.aws.amazon.com/cloudwatch/home?region=eu-west-3#logsV2:log-groups/log-group/"
    assert log_link(prefix, "collector") == prefix + "$252Faws$252Flambda$252Frestaurant-pipeline-collector"
    cdk_prefix = prefix + "$252Faws$252Flambda$252F"  # what the CDK stack sets
    assert log_link(cdk_prefix, "collector") == prefix + "$252Faws$252Flambda$252Frestaurant-pipeline-collector"
    assert log_link(".pipeline/logs/", "notifier") == ".pipeline/logs/notifier.log"
    assert log_link("", "notifier") == "`restaurant-pipeline logs notifier`"


def test_subject_of_a_non_ascii_city_is_transliterated_and_the_body_keeps_the_real_name():
    email = email_for(transform("passed", city="Saint-Étienne"))
    assert "Saint-Etienne" in email.subject
    assert "Saint-Étienne · 2026-11-25" in email.body


def test_ascii_subject_truncates_with_an_ellipsis_and_never_returns_an_empty_subject():
    assert ascii_subject("x" * 300) == "x" * 97 + "..."
    assert ascii_subject("\n\t 東京 \r\n") == "??"
    assert ascii_subject("") == "[restaurant-pipeline] notification"


city_names = st.text(min_size=1, max_size=100).filter(lambda s: s.strip())
test_names = st.text(min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(
    city=city_names,
    test_name=test_names,
    model=st.one_of(st.none(), st.text(max_size=200)),
    category=st.sampled_from(get_args(ErrorCategory)),
)
def test_every_subject_is_ascii_single_line_and_at_most_100_characters(city, test_name, model, category):
    failure = TestFailure(name=test_name, model=model, failing_rows=1)
    error = TransformError(phase="dbt", model=model, message=test_name or "x")
    events = [
        transform("passed", city=city),
        transform("tests_failed", city=city, failures=[failure]),
        transform("error", city=city, error=error),
        collection_failed(category, city=city),
    ]
    outcomes = []
    for event in events:
        settled = settled_outcomes(event)
        outcomes.extend(settled)
        assert_sns_subject(email_for(event).subject)
    assert_sns_subject(render_run_email(RUN_ID, outcomes, CONTEXT).subject)
    repeat = Repeat("run-0", datetime(2026, 11, 25, tzinfo=UTC), 2)
    assert_sns_subject(render_repeat_email(RUN_ID, outcomes, repeat, CONTEXT).subject)


# -- what a sender chose is shown as data, never as the email's own links or commands ------------------------------
def test_a_city_name_holding_shell_syntax_is_one_quoted_word_of_the_command_to_paste():
    email = email_for(collection_failed("api_auth", city="$(touch pwned)", run_cities=["$(touch pwned)"]))

    assert "restaurant-pipeline run --city '$(touch pwned)'" in email.body
    assert '"$(touch pwned)"' not in email.body


def test_an_object_key_holding_shell_syntax_is_quoted_in_the_reprocess_command():
    event = transform("error", error=TransformError(phase="dbt", message="boom"))
    key = event.sources[0].key.replace(".jsonl", "; curl x | sh #.jsonl")
    event = event.model_copy(update={"sources": [event.sources[0].model_copy(update={"key": key})]})

    email = email_for(event)

    assert f"restaurant-pipeline reprocess 's3://{event.sources[0].bucket}/{key}'" in email.body


def test_error_text_from_an_event_is_shortened_its_links_disarmed_and_its_control_characters_shown():
    message = "Click https://evil.example/fix now \x1b[2J\u202e" + "x" * 3000
    email = email_for(transform("error", error=TransformError(phase="dbt", message=message)))

    assert "https://evil.example" not in email.body and "https[:]//evil.example/fix" in email.body
    assert "\x1b" not in email.body and "\u202e" not in email.body and "\\u202e" in email.body
    assert "x" * 1600 not in email.body and "more characters in the logs" in email.body


def test_the_email_s_only_links_are_its_own_log_links():
    context = EmailContext(log_location="https://console.aws.amazon.com/cloudwatch/home#logsV2:log-groups/")
    event = collection_failed("api_unavailable", message="retry at http://phish.example/login")

    email = email_for(event, context)

    links = re.findall(r"https?://\S+", email.body)
    assert links and all(link.startswith("https://console.aws.amazon.com/") for link in links)


# -- messages that tell the truth ----------------------------------------------------------------------------------
def test_a_second_run_the_same_day_reports_what_it_collected_with_the_day_s_total_beside():
    event = transform("passed")
    summary = event.city_summaries[0].model_copy(update={"restaurants_seen": 157})
    source = event.sources[0].model_copy(update={"lines": 137, "valid_lines": 137})
    email = email_for(event.model_copy(update={"city_summaries": [summary], "sources": [source]}))

    assert "137 restaurants" in email.subject and "157" not in email.subject
    assert "Restaurants collected: 137 by this run; 157 seen that day in all" in email.body


def test_an_outcome_with_quarantined_lines_says_so_in_the_subject_with_counts_never_ok():
    event = transform("passed")
    source = event.sources[0].model_copy(
        update={"lines": 10_001, "valid_lines": 1, "quarantined_lines": 10_000, "quarantine_key": "quarantine/x"}
    )
    email = email_for(event.model_copy(update={"sources": [source], "quarantined_lines": 10_000}))

    assert email.subject.startswith(
        "[restaurant-pipeline] QUARANTINED Paris 2026-11-25: 10,000/10,001 lines quarantined"
    )
    assert " OK " not in email.subject and "All good" not in email.body
    assert email.body.startswith("⚠️ Built, but lines were set aside: Paris, 2026-11-25. 10,000 of 10,001 lines")
    assert_sns_subject(email.subject)


def test_a_failed_outcome_with_quarantined_lines_counts_them_in_the_subject():
    event = transform("tests_failed")
    source = event.sources[0].model_copy(update={"lines": 25, "quarantined_lines": 5})

    email = email_for(event.model_copy(update={"sources": [source]}))

    assert (
        email.subject
        == "[restaurant-pipeline] TESTS FAILED Paris 2026-11-25: 2/31 tests failed; 5/25 lines quarantined"
    )


def test_tables_dbt_skipped_after_failed_tests_are_named_not_said_to_be_built():
    event = transform("tests_failed")
    models = [
        {"name": "stg_places__places", "status": "success"},
        {"name": "restaurants", "status": "skipped"},
        {"name": "city_daily_summary", "status": "skipped"},
    ]

    email = email_for(event.model_copy(update={"models": [ModelRun(**m) for m in models]}))

    assert "tables were still built" not in email.body
    assert "Not built: restaurants, city_daily_summary (dbt skips what depends on a failed test)" in email.body


def test_tables_are_said_to_be_built_when_dbt_built_every_model():
    assert "The tables were still built" in email_for(transform("tests_failed")).body


def test_s3_locations_stay_readable_only_web_links_are_disarmed():
    event = transform(
        "error", error=TransformError(phase="read", message="s3://data/raw/x.jsonl: see http://x.example")
    )

    body = email_for(event).body

    assert f"Object: s3://{event.sources[0].bucket}/{event.sources[0].key}" in body
    assert "s3://data/raw/x.jsonl: see http[:]//x.example" in body
