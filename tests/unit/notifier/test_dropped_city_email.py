"""When a dropped file's city is unknown, the email says how to name it: `reprocess … --city`, or the aws CLI's
`--metadata city=…`."""

from __future__ import annotations

from contracts.events import SourceObject, TransformCompleted
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from tests.unit.notifier.builders import transform

KEY = "raw/places/dt=2026-11-25/my-export.jsonl"


def dropped(city: str, outcome: str = "passed") -> TransformCompleted:
    source = SourceObject(bucket="bucket", key=KEY, city=city, lines=3, valid_lines=3)
    return transform(outcome, city=city, run_cities=[]).model_copy(update={"sources": [source]})


def body(event: TransformCompleted) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), EmailContext()).body


def test_an_unknown_city_email_says_how_to_set_it_with_the_cli_or_the_aws_cli():
    for outcome in ("passed", "tests_failed"):
        text = body(dropped("unknown", outcome))

        assert 'under city "unknown"' in text, outcome
        assert f"restaurant-pipeline reprocess s3://bucket/{KEY} --city CITY" in text
        assert f"aws s3 cp my-export.jsonl s3://bucket/{KEY} --metadata city=CITY" in text


def test_a_known_city_email_says_nothing_about_it():
    assert "--city CITY" not in body(dropped("Lyon"))
