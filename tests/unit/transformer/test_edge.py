import json

import pytest

from contracts.envelope import ContractError
from services.transformer.service import object_ref_from_body
from tests.conftest import load_event


def test_moto_event_spells_etag_eTag_and_version_null():
    ref = object_ref_from_body(json.dumps(load_event("transformer_s3_object_created_moto.json")))

    assert ref is not None
    assert ref.key == "raw/places/dt=2026-01-01/r1__paris.jsonl.gz"
    assert ref.etag == "9d0738cc177af13102419a0383618482" and ref.version_id is None


def test_aws_event_carries_the_version_id():
    ref = object_ref_from_body(load_event("transformer_s3_object_created_aws.json"))

    assert ref is not None and ref.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert ref.idempotency_key.endswith("#IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")


def test_tags_added_and_keys_outside_raw_are_ignored():
    tags = load_event("transformer_s3_object_tags_added_moto.json")
    elsewhere = load_event("transformer_s3_object_created_moto.json")
    elsewhere["detail"]["object"]["key"] = "quarantine/x.jsonl"

    assert object_ref_from_body(tags) is None and object_ref_from_body(elsewhere) is None


def test_a_body_that_is_not_an_s3_event_is_a_contract_error_naming_the_field():
    broken = load_event("transformer_s3_object_created_moto.json")
    del broken["detail"]["bucket"]

    with pytest.raises(ContractError, match="bucket"):
        object_ref_from_body(broken)
