"""A queued S3 event restored after `local up` names the restored object's version, not the lost one."""

from __future__ import annotations

import json

from restaurant_pipeline.local.persistence import _current_version
from tests.conftest import load_event


def test_a_restored_s3_event_points_at_the_restored_version() -> None:
    event = load_event("transformer_s3_object_created_moto.json")
    event["detail"]["object"]["version-id"] = "lost-with-the-old-moto"
    key = event["detail"]["object"]["key"]

    restored = json.loads(_current_version(json.dumps(event), {(key, None): "v-restored"}))

    assert restored["detail"]["object"]["version-id"] == "v-restored"
    assert restored["detail"]["object"]["key"] == key


def test_an_event_for_an_older_version_points_at_that_version_restored() -> None:
    event = load_event("transformer_s3_object_created_moto.json")
    event["detail"]["object"]["version-id"] = "v-old"
    key = event["detail"]["object"]["key"]
    versions = {(key, "v-old"): "v-old-restored", (key, "v-new"): "v-new-restored", (key, None): "v-new-restored"}

    restored = json.loads(_current_version(json.dumps(event), versions))

    assert restored["detail"]["object"]["version-id"] == "v-old-restored"


def test_other_messages_and_other_objects_are_restored_unchanged() -> None:
    event = json.dumps(load_event("transformer_s3_object_created_moto.json"))
    collector_request = json.dumps({"source": "restaurant-pipeline.cli", "detail": {"cities": ["Paris"]}})

    assert _current_version(event, {("raw/places/dt=2026-01-01/another.jsonl", None): "v2"}) == event
    assert _current_version(collector_request, {("raw/places/x", None): "v2"}) == collector_request
    assert _current_version('not json, mentions "aws.s3"', {("k", None): "v"}) == 'not json, mentions "aws.s3"'
