"""The transformer end to end on moto + DuckDB: from an S3 upload to the published "Transform Completed"."""

from __future__ import annotations

import json

import boto3
import pytest

from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.domain.model import InfrastructureError
from tests.conftest import load_event
from tests.support.transformer_stack import BUCKET, DAY, FIXTURES, Stack

pytestmark = pytest.mark.integration


def test_clean_file_passes_with_the_right_mart_row_counts_and_city_summary(stack: Stack):
    key = stack.drop_fixture("clean_paris.jsonl", key=f"raw/places/dt={DAY}/run-2026-01-01-a__paris.jsonl.gz", gz=True)

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.response == {"batchItemFailures": []}
    [event] = stack.published(1)
    assert event.outcome == "passed", event.error
    assert event.run_id == "run-2026-01-01-a"
    assert event.run_cities == ["Paris", "Lyon"]
    assert event.cities == ["Paris"]
    assert [s.key for s in event.sources] == [key]
    assert event.sources[0].valid_lines == 4 and event.quarantined_lines == 0
    assert event.row_counts == {
        "restaurants": 4,
        "restaurant_daily_snapshots": 4,
        "city_daily_summary": 1,
        "city_cuisine_daily_summary": 3,  # French, Cafe, Unspecified (primary type "restaurant")
    }
    assert event.tests.failed == 0 and event.tests.passed > 10
    assert {m.name for m in event.models} == {
        "stg_places__places",
        "restaurant_daily_snapshots",
        "restaurants",
        "city_daily_summary",
        "city_cuisine_daily_summary",
    }
    [summary] = event.city_summaries
    assert (summary.city, str(summary.day)) == ("Paris", DAY)
    assert (summary.restaurants_seen, summary.new_restaurants, summary.closed_restaurants) == (4, 4, 1)
    assert summary.average_rating == pytest.approx((4.6 + 4.2 + 4.9 + 3.1) / 4, abs=1e-3)
    weighted = (4.6 * 812 + 4.2 * 120 + 4.9 * 45 + 3.1 * 9) / (812 + 120 + 45 + 9)
    assert summary.weighted_rating == pytest.approx(weighted, abs=1e-3)
    assert summary.price_level_mix == {"inexpensive": 1, "moderate": 1, "expensive": 1, "unknown": 1}
    # "Ancien Café" is CLOSED_PERMANENTLY: counted as closed, never recommended
    assert [r.name for r in summary.top_rated] == ["La Table d'Or", "Le Petit Bistro", "Chez Marcel"]
    assert stack.query("select first_seen_date::varchar, count(*) from restaurants group by 1") == [(DAY, 4)]
    steps = stack.deps.ledger.steps("run-2026-01-01-a")
    assert [(s["step"], s["subject"]) for s in steps] == [("TRANSFORMED", key)]


def test_duplicate_ids_and_out_of_range_ratings_fail_the_named_tests_with_samples(stack: Stack):
    stack.drop_fixture("bad_quality.jsonl")

    stack.run(stack.s3_messages(1))

    [event] = stack.published(1)
    assert event.outcome == "tests_failed"
    failed = {f.name: f for f in event.failures}
    unique = next(f for name, f in failed.items() if name.startswith("unique_combination_stg_places__places"))
    assert unique.failing_rows == 1 and unique.model == "stg_places__places"
    assert unique.samples[0]["place_id"] == "ChIJ-dup" and unique.samples[0]["occurrences"] == 2
    rating = next(f for name, f in failed.items() if name.startswith("accepted_range_stg_places__places_rating"))
    assert rating.failing_rows == 1 and rating.samples[0]["place_id"] == "ChIJ-high"
    # the quality gate: marts are not built from data that failed its tests
    assert "restaurants" not in {m.name for m in event.models if m.status == "success"}


def test_malformed_lines_go_to_quarantine_with_reasons_and_the_rest_is_transformed(stack: Stack):
    key = stack.drop_fixture("malformed_lines.jsonl")
    original = stack.get_text(key)

    stack.run(stack.s3_messages(1))

    [event] = stack.published(1)
    assert event.outcome == "passed"
    assert event.quarantined_lines == 4
    [source] = event.sources
    assert (source.lines, source.valid_lines, source.quarantined_lines) == (6, 2, 4)
    assert source.quarantine_key == f"quarantine/{key}~v{source.version_id or source.etag}.rejected.jsonl"
    records = [json.loads(line) for line in stack.get_text(source.quarantine_key).splitlines()]
    reasons = {r["line"]: r["reason"] for r in records}
    assert set(reasons) == {2, 3, 4, 5}
    assert reasons[2].startswith("invalid JSON")
    assert "id: Field required" in reasons[3]
    assert "userRatingCount" in reasons[4]
    assert "not a JSON object" in reasons[5]
    assert records[0]["content"].startswith('{"id": "ChIJ-broken"')
    assert stack.get_text(key) == original  # raw stays untouched
    assert stack.query("select place_id from restaurants order by 1") == [("ChIJ-ok-1",), ("ChIJ-ok-3",)]


@pytest.mark.parametrize(
    ("fixture", "problem"),
    [("empty.jsonl", "the object is empty"), ("not_json.json", "not JSON")],
)
def test_empty_or_non_json_file_is_a_clear_error_and_nothing_is_lost(stack: Stack, fixture: str, problem: str):
    key = stack.drop_fixture(fixture)

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.response == {"batchItemFailures": []}  # acknowledged: retrying cannot help
    [event] = stack.published(1)
    assert event.outcome == "error" and event.error is not None
    assert event.error.phase == "validate" and problem in event.error.message and key in event.error.message
    assert event.run_id.startswith("drop-") and event.cities == ["unknown"]
    assert stack.deps.builder.builds == 0  # type: ignore[attr-defined]
    if fixture == "not_json.json":
        [source] = event.sources
        assert source.quarantine_key == f"quarantine/{key}~v{source.version_id or source.etag}.rejected.jsonl"
        [record] = [json.loads(x) for x in stack.get_text(source.quarantine_key).splitlines()]
        assert record["content"] == "name;rating\nLe Bistro;4.5\n"


def test_a_duplicated_event_runs_dbt_once_and_publishes_once(stack: Stack):
    stack.drop_fixture("clean_paris.jsonl")
    [message] = stack.s3_messages(1)

    stack.run([message])
    second = stack.run([dict(message, MessageId="another-delivery")])

    assert stack.deps.builder.builds == 1  # type: ignore[attr-defined]
    assert second.duplicates == 1 and second.response == {"batchItemFailures": []}
    assert len(stack.published(1)) == 1
    assert stack.no_more_published()


def test_redropping_the_same_file_runs_again_and_leaves_the_marts_unchanged(stack: Stack):
    marts = (
        "select * exclude (dbt_invocation_id) from restaurants order by place_id",
        # loaded_at records when the object landed: the re-upload is the day's latest object; a dropped file's
        # run is its own (drop-<version>), so the re-upload is another run
        "select * exclude (dbt_invocation_id, loaded_at, run_id) from restaurant_daily_snapshots order by place_id",
        "select * exclude (dbt_invocation_id) from city_daily_summary order by city",
    )
    loaded = "select distinct loaded_at from restaurant_daily_snapshots"
    # Versioned, as the real bucket: the re-upload is a version of its own, and each run is handed the message of
    # its own upload. (Unversioned, moto's two events would differ only by their time, to the second.)
    stack.version_objects()
    key, body = f"raw/places/dt={DAY}/clean_paris.jsonl", (FIXTURES / "clean_paris.jsonl").read_bytes()
    first = stack.drop(key, body)
    assert first is not None
    stack.run([stack.s3_message_of(key, first)])
    before = [stack.query(sql) for sql in marts]
    [(first_loaded,)] = stack.query(loaded)

    second = stack.drop(key, body)
    assert second is not None and second != first
    stack.run([stack.s3_message_of(key, second)])

    assert stack.deps.builder.builds == 2  # type: ignore[attr-defined]
    assert [e.outcome for e in stack.published(2)] == ["passed", "passed"]
    assert [stack.query(sql) for sql in marts] == before
    [(second_loaded,)] = stack.query(loaded)
    assert second_loaded >= first_loaded  # replaced by the re-upload, not kept as an older row


def test_objects_of_one_batch_are_validated_one_by_one_and_built_in_one_dbt_run(stack: Stack):
    stack.drop_fixture("clean_paris.jsonl")
    stack.drop_fixture("malformed_lines.jsonl")
    tags_and_created = stack.s3_messages(2)

    outcome = stack.run(tags_and_created)

    assert outcome.response == {"batchItemFailures": []}
    assert stack.deps.builder.builds == 1  # type: ignore[attr-defined]
    events = {e.sources[0].key.rsplit("/", 1)[-1]: e for e in stack.published(2)}
    assert set(events) == {"clean_paris.jsonl", "malformed_lines.jsonl"}
    assert all(e.run_id.startswith("drop-") for e in events.values())  # dropped files: a run each
    assert events["clean_paris.jsonl"].row_counts["restaurants"] == 6


def test_object_tags_added_and_keys_outside_raw_are_acknowledged_without_work(stack: Stack):
    tags = load_event("transformer_s3_object_tags_added_moto.json")
    elsewhere = load_event("transformer_s3_object_created_moto.json")
    elsewhere["detail"]["object"]["key"] = "quarantine/elsewhere.jsonl"

    outcome = stack.run([{"Body": json.dumps(tags)}, {"Body": json.dumps(elsewhere)}])

    assert outcome.ignored == 2 and outcome.response == {"batchItemFailures": []}
    assert stack.deps.builder.builds == 0  # type: ignore[attr-defined]
    assert stack.no_more_published()


def test_an_unreachable_bucket_fails_the_whole_batch_for_retry_and_releases_the_claims(stack: Stack):
    stack.drop_fixture("clean_paris.jsonl")
    [message] = stack.s3_messages(1)
    reachable = stack.deps.store
    stack.deps.store = S3ObjectStore(boto3.client("s3", endpoint_url="http://127.0.0.1:9"), BUCKET)

    failed = stack.run([message])

    assert isinstance(failed.error, InfrastructureError)
    assert failed.response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert stack.deps.builder.builds == 0  # type: ignore[attr-defined]
    stack.deps.store = reachable  # S3 is back: the retry of the same message is not taken for a duplicate
    retried = stack.run([message])
    assert retried.error is None and retried.duplicates == 0
    assert stack.published(1)[0].outcome == "passed"


def test_broken_sql_is_an_error_outcome_naming_the_model_and_is_not_retried(stack: Stack, tmp_path):
    import shutil

    from services.transformer.adapters.dbt_build import DbtBuilder, default_project_dir

    project = tmp_path / "dbt"
    shutil.copytree(default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "restaurants.sql"
    sql = model.read_text()
    assert "    c.first_seen_date,\n" in sql
    model.write_text(sql.replace("    c.first_seen_date,\n", "    c.first_seen_date,,\n", 1))
    stack.deps.builder = DbtBuilder(project, "local", stack.builder._environment, state_dir=tmp_path / "state")
    stack.drop_fixture("clean_paris.jsonl")

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.response == {"batchItemFailures": []}
    [event] = stack.published(1)
    assert event.outcome == "error" and event.error is not None
    assert event.error.phase == "dbt" and event.error.model == "restaurants"
    assert "syntax error" in event.error.message.lower()
