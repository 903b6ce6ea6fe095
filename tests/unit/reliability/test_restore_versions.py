"""A queued S3 event restored after `local up` names the restored object's version, not the lost one."""

from __future__ import annotations

import json

from restaurant_pipeline.local.persistence import _current_version
from tests.conftest import load_event


def test_a_restored_s3_event_points_at_the_restored_version() -> None:
    event = load_event("transformer_s3_object_created_moto.json")
    event["detail"]["object"]["version-id"] = "lost-with-the-old-moto"
    key = event["detail"]["object"]["key"]

    restored = json.loads(_current_version(json.dumps(event), {key: "v-restored"}))

    assert restored["detail"]["object"]["version-id"] == "v-restored"
    assert restored["detail"]["object"]["key"] == key


def test_other_messages_and_other_objects_are_restored_unchanged() -> None:
    event = json.dumps(load_event("transformer_s3_object_created_moto.json"))
    collector_request = json.dumps({"source": "restaurant-pipeline.cli", "detail": {"cities": ["Paris"]}})

    assert _current_version(event, {"raw/places/dt=2026-01-01/another.jsonl": "v2"}) == event
    assert _current_version(collector_request, {"raw/places/x": "v2"}) == collector_request
    assert _current_version('not json, mentions "aws.s3"', {"k": "v"}) == 'not json, mentions "aws.s3"'
