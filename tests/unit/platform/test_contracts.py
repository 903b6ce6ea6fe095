import json

import pytest

from contracts import CollectionRequested, ContractError, TransformCompleted, parse_eventbridge_event
from contracts.generate import SCHEMA_DIR, expected_schemas


def test_committed_json_schemas_match_the_models():
    expected = expected_schemas()
    committed = {path.name: path.read_text(encoding="utf-8") for path in SCHEMA_DIR.glob("*.json")}

    assert sorted(committed) == sorted(expected), "run `make schemas` and commit contracts/schemas/"
    for name, text in expected.items():
        assert committed[name] == text, f"{name} drifted from its model: run `make schemas`"


def test_a_minimal_collection_request_from_a_person_is_valid():
    request = CollectionRequested.parse_detail({"cities": ["Paris"]})

    assert request.trigger_source == "schedule" and request.run_id is None


def test_a_misspelled_field_is_named_in_the_error():
    with pytest.raises(ContractError, match="city"):
        CollectionRequested.parse_detail({"city": "Paris"})


def test_a_wrong_trigger_source_names_the_allowed_values():
    with pytest.raises(ContractError, match="trigger_source"):
        CollectionRequested.parse_detail({"cities": ["Paris"], "trigger_source": "cron"})


def test_entry_uses_the_public_detail_type_and_source():
    entry = CollectionRequested(cities=["Paris"], trigger_source="manual").to_entry(
        "bus", source="restaurant-pipeline.cli"
    )

    assert entry["DetailType"] == "Collection Requested"
    assert entry["Source"] == "restaurant-pipeline.cli"
    assert json.loads(entry["Detail"])["cities"] == ["Paris"]


def test_an_event_cannot_claim_a_foreign_source():
    with pytest.raises(ContractError, match="cannot come from"):
        CollectionRequested(cities=["Paris"]).to_entry("bus", source="restaurant-pipeline.collector")


def test_a_body_that_is_not_json_is_a_contract_error_not_a_crash():
    with pytest.raises(ContractError, match="EventBridge event"):
        parse_eventbridge_event("not json at all")


def test_transform_completed_needs_an_outcome_from_the_closed_list():
    with pytest.raises(ContractError, match="outcome"):
        TransformCompleted.parse_detail(
            {
                "metadata": TransformCompleted.make_metadata("run-1").model_dump(mode="json"),
                "run_id": "run-1",
                "run_cities": [],
                "cities": [],
                "outcome": "maybe",
                "sources": [],
            }
        )
