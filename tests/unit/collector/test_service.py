"""From an SQS body to a plan, and from an outcome to the facts published: pure steps, no AWS."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import CollectionCompleted, CollectionFailed, ContractError
from contracts.cities import city_slug
from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment
from services.collector.adapters.secrets import read_secret_value
from services.collector.domain.events import outcome_events
from services.collector.domain.model import CityCollected, CityFailed, Counters, Failure, RunOutcome, RunPlan
from services.collector.domain.plan import collection_date, derive_run_id, object_key, plan_run
from services.collector.ports import KeyUnavailable
from services.collector.service import parse_request
from services.collector.settings import CollectorSettings
from services.common.settings import SettingsError
from tests.conftest import load_event
from tests.unit.collector.fakes import run_plan


def collector_environment(**config: Any) -> dict[str, str]:
    parsed = parse_config(config)
    topology = build_topology(parsed, "bucket")
    resources = StackResources("bucket", "restaurant-pipeline", "arn:topic", "idem", "ledger")
    return service_environment(parsed, topology, resources)["collector"]


def plan_of(body: str, settings: CollectorSettings, attempt: int) -> RunPlan:
    envelope, request = parse_request(body)
    return plan_run(request, envelope.time, envelope.id, settings, attempt)


def sqs_body(**detail: Any) -> str:
    body = json.loads(load_event("collector_sqs_collection_requested.json")["Records"][0]["body"])
    body["detail"] = {**body["detail"], **detail} if detail else body["detail"]
    return json.dumps(body)


def test_the_topology_environment_is_a_valid_collector_environment() -> None:
    settings = CollectorSettings.from_env(collector_environment())
    assert settings.requests_per_minute == 300  # 600 shared by 2 concurrent collectors
    assert settings.field_mask.startswith("places.id,")
    assert settings.google_places_api_key is None


def test_missing_settings_name_the_variable() -> None:
    environment = collector_environment()
    del environment["PLACES_FIELD_MASK"]
    with pytest.raises(SettingsError, match="PLACES_FIELD_MASK"):
        CollectorSettings.from_env(environment)


def test_a_mask_without_next_page_token_is_refused() -> None:
    environment = {**collector_environment(), "PLACES_FIELD_MASK": "places.id,places.displayName"}
    with pytest.raises(SettingsError, match="PLACES_FIELD_MASK"):
        CollectorSettings.from_env(environment)


def test_the_key_is_never_shown_in_settings_repr() -> None:
    settings = CollectorSettings.from_env({**collector_environment(), "GOOGLE_PLACES_API_KEY": "AIza-secret"})
    assert "AIza-secret" not in repr(settings) and "AIza-secret" not in str(settings.model_dump())


def test_parse_request_reads_the_canonical_event() -> None:
    envelope, request = parse_request(sqs_body())
    assert request.cities == ["Paris"] and request.max_restaurants == 50
    assert envelope.time == datetime(2026, 3, 14, 8, 0, tzinfo=UTC)


def test_an_invalid_request_is_a_contract_error_naming_the_field() -> None:
    with pytest.raises(ContractError, match="cities"):
        parse_request(sqs_body(cities=[]))
    with pytest.raises(ContractError, match="EventBridge event"):
        parse_request("not json")
    other = json.loads(sqs_body())
    other["detail-type"] = "Transform Completed"
    with pytest.raises(ContractError, match="Transform Completed"):
        parse_request(json.dumps(other))


def test_plan_derives_run_id_date_and_keys_from_the_event_not_the_clock() -> None:
    settings = CollectorSettings.from_env(collector_environment())
    plan = plan_of(sqs_body(), settings, attempt=2)
    again = plan_of(sqs_body(), settings, attempt=3)
    assert (
        plan.run_id
        == again.run_id
        == derive_run_id(datetime(2026, 3, 14, 8, tzinfo=UTC), "6a7e8feb-b491-4cf7-a9f1-bf3703467718")
    )
    assert plan.collection_date == date(2026, 3, 14)
    [city] = plan.cities
    assert city.object_key == f"raw/places/dt=2026-03-14/{plan.run_id}__paris.jsonl.gz"
    assert (city.query, city.language, city.max_restaurants) == ("restaurants in Paris", "fr", 50)


def test_plan_uses_the_request_run_id_when_given() -> None:
    settings = CollectorSettings.from_env(collector_environment())
    plan = plan_of(sqs_body(run_id="cli-42"), settings, attempt=1)
    assert plan.run_id == "cli-42"


def test_city_overrides_apply_unless_the_request_says_otherwise() -> None:
    settings = CollectorSettings.from_env(
        collector_environment(
            collection={
                "cities": [
                    "Paris",
                    {"name": "Lyon", "max_restaurants": 80, "query": "bouchons à {city}", "language": "en"},
                ],
                "max_restaurants": 25,
            }
        )
    )
    plan = plan_of(sqs_body(cities=["Paris", "lyon"], max_restaurants=None), settings, 1)
    paris, lyon = plan.cities
    assert (paris.query, paris.max_restaurants, paris.language) == ("restaurants in Paris", 25, "fr")
    assert (lyon.query, lyon.max_restaurants, lyon.language) == ("bouchons à lyon", 80, "en")
    explicit = plan_of(sqs_body(cities=["Lyon"], max_restaurants=7), settings, 1)
    assert explicit.cities[0].max_restaurants == 7


def test_two_spellings_of_one_city_are_collected_once_and_awaited_once() -> None:
    settings = CollectorSettings.from_env(collector_environment())
    plan = plan_of(sqs_body(cities=["Saint-Étienne", "saint etienne", "Lyon"]), settings, 1)
    assert [c.city for c in plan.cities] == ["Saint-Étienne", "Lyon"]
    assert plan.run_cities == ("Saint-Étienne", "Lyon")  # what the ledger, the transformer and the notifier await


def test_names_alike_for_their_first_60_characters_are_one_city_awaited_once() -> None:
    settings = CollectorSettings.from_env(collector_environment())
    long_name = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch Abbey Nord"
    plan = plan_of(sqs_body(cities=[long_name, long_name[:-4] + "Sud"]), settings, 1)
    assert plan.run_cities == (long_name,) and len(plan.cities) == 1


def test_a_city_override_applies_to_any_spelling_of_its_city() -> None:
    environment = collector_environment(collection={"cities": [{"name": "Saint-Étienne", "max_restaurants": 33}]})
    settings = CollectorSettings.from_env(environment)
    [city] = plan_of(sqs_body(cities=["saint etienne"], max_restaurants=None), settings, 1).cities
    assert city.max_restaurants == 33


@pytest.mark.parametrize(
    ("city", "slug"),
    [
        ("Paris", "paris"),
        ("Saint-Étienne", "saint-etienne"),
        ("  New  York ", "new-york"),
        ("L'Haÿ-les-Roses", "l-hay-les-roses"),
    ],
)
def test_city_slugs_are_ascii(city: str, slug: str) -> None:
    assert city_slug(city) == slug


def test_a_name_without_ascii_letters_gets_a_stable_slug() -> None:
    assert city_slug("北京") == city_slug("北京") != city_slug("東京")
    assert city_slug("北京").startswith("city-")


def test_a_city_lands_under_raw_in_its_collection_day() -> None:
    assert object_key("r1", date(2026, 1, 2), "Lyon") == "raw/places/dt=2026-01-02/r1__lyon.jsonl.gz"


def test_collection_date_is_the_utc_date_of_the_event() -> None:
    late_in_paris = datetime.fromisoformat("2026-03-15T00:30:00+01:00")
    assert collection_date(late_in_paris) == date(2026, 3, 14)


def collected(city: str = "Paris") -> CityCollected:
    return CityCollected(city, f"raw/{city}", 42, Counters(requests=4, pages=3, retries=1, throttled=1), 1200)


def test_completed_is_published_per_city() -> None:
    outcome = RunOutcome(run_plan("Paris", "Lyon"), collected=[collected("Paris"), collected("Lyon")])
    events = outcome_events(outcome, "bucket")
    assert [type(e) for e in events] == [CollectionCompleted, CollectionCompleted]
    first = events[0]
    assert isinstance(first, CollectionCompleted)
    assert (first.places, first.requests, first.retries, first.throttled, first.bucket) == (42, 4, 1, 1, "bucket")
    assert first.metadata.correlation_id == "run-1" and first.run_cities == ["Paris", "Lyon"]


@pytest.mark.parametrize(
    ("retryable", "attempt", "published", "final"),
    [(False, 1, True, True), (True, 1, False, None), (True, 2, False, None), (True, 3, True, True)],
)
def test_failed_is_published_only_when_no_retry_follows(
    retryable: bool, attempt: int, published: bool, final: bool | None
) -> None:
    failure = Failure("api_unavailable" if retryable else "api_bad_request", "boom", retryable, 503)
    outcome = RunOutcome(
        run_plan("Paris", attempt=attempt), failed=[CityFailed("Paris", failure, Counters(requests=3))]
    )
    events = outcome_events(outcome, "bucket")
    assert bool(events) is published
    assert outcome.needs_retry is retryable
    if events:
        [event] = events
        assert isinstance(event, CollectionFailed)
        assert (event.attempt, event.final_attempt, event.retryable, event.requests) == (attempt, final, retryable, 3)


def test_a_request_level_failure_names_the_cities_left_out_and_never_the_key() -> None:
    failure = Failure("api_auth", "refused key AIza-secret", False, 400)
    outcome = RunOutcome(run_plan("Paris", "Lyon"), failed=[CityFailed(None, failure, Counters(), ("Paris", "Lyon"))])
    [event] = outcome_events(outcome, "bucket", secret="AIza-secret")
    assert isinstance(event, CollectionFailed)
    assert event.city is None and event.category == "api_auth"
    assert "Paris, Lyon" in event.message and "AIza-secret" not in event.detail_json()


@pytest.mark.parametrize(("raw", "key"), [("AIza-plain\n", "AIza-plain"), ('{"api_key": "AIza-json"}', "AIza-json")])
def test_the_secret_may_hold_the_key_as_text_or_json(raw: str, key: str) -> None:
    assert read_secret_value(raw) == key


@pytest.mark.parametrize("raw", ["", "   ", '{"other": "x"}', "{broken"])
def test_an_unusable_secret_says_what_is_wrong(raw: str) -> None:
    with pytest.raises(KeyUnavailable, match="secret"):
        read_secret_value(raw)
