"""Every consumer, fed generated bodies: each one ends as a typed error (a batch item failure naming the problem),
an acknowledged "not for me", or a clear outcome. Never an unhandled crash, never a silent drop."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contracts.envelope import ContractError
from services.collector import handler as collector_handler
from services.collector.service import parse_request
from services.notifier import handler as notifier_handler
from services.notifier.service import parse_notifier_event
from services.transformer.domain.model import Claim
from services.transformer.domain.reading import read_places, render_quarantine
from services.transformer.handler import process_batch
from services.transformer.service import TransformerDeps, object_ref_from_body
from tests.conftest import load_event
from tests.e2e.reliability_report import record
from tests.fuzz.bodies import JSON_VALUES, WEIRD_TEXT, sqs_bodies

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Powertools: "no metrics to publish"

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COLLECTOR_REQUEST = json.loads(load_event("collector_sqs_collection_requested.json")["Records"][0]["body"])
S3_CREATED = load_event("transformer_s3_object_created_moto.json")
TRANSFORM_PASSED = load_event("notifier_transform_passed.json")
COLLECTION_FAILED = load_event("notifier_collection_failed.json")
THIS = "tests/fuzz/test_consumers.py"
SEEN: dict[str, int] = {}


class LambdaContext:
    function_name = "fuzz"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:fuzz"
    aws_request_id = "fuzz"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    template = load_event("collector_sqs_collection_requested.json")["Records"][0]
    records = []
    for body in bodies:
        record_ = json.loads(json.dumps(template))
        record_["messageId"] = str(uuid.uuid4())
        record_["body"] = body
        records.append(record_)
    return {"Records": records}


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}


def is_contract_error(parse: Any, body: str) -> bool:
    try:
        parse(body)
    except ContractError as exc:
        assert str(exc).strip(), "a contract error must say what is wrong"
        return True
    return False


@FUZZ
@given(st.lists(sqs_bodies(COLLECTOR_REQUEST), min_size=1, max_size=5))
def test_collector_bad_requests_fail_alone_as_batch_item_failures(bodies):
    # any error other than ContractError escapes here: a crash. A valid request would go on to the Places API
    # (tests/integration/collector covers that), so only the bad ones are sent to the handler
    bad = [body for body in bodies if is_contract_error(parse_request, body)]
    assume(bad)
    event = sqs_event(bad)

    response = collector_handler.lambda_handler(event, LambdaContext())

    assert failed_ids(response) == {r["messageId"] for r in event["Records"]}
    SEEN["collector"] = SEEN.get("collector", 0) + len(bodies)


@FUZZ
@given(st.lists(sqs_bodies(COLLECTION_FAILED) | sqs_bodies(TRANSFORM_PASSED), min_size=1, max_size=5))
def test_notifier_bad_events_fail_alone_as_batch_item_failures(bodies):
    bad = [body for body in bodies if is_contract_error(parse_notifier_event, body)]
    assume(bad)
    event = sqs_event(bad)

    response = process_partial_response(
        event=event,
        record_handler=notifier_handler.record_handler,
        processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
    )

    assert failed_ids(response) == {r["messageId"] for r in event["Records"]}
    SEEN["notifier"] = SEEN.get("notifier", 0) + len(bodies)


class DoneClaims:
    """Every object already transformed: the fuzzed batch never reaches dbt; claims are what a good event costs."""

    def __init__(self) -> None:
        self.claimed: list[str] = []

    def claim(self, idempotency_key: str, remaining_ms: int | None) -> Claim:
        self.claimed.append(idempotency_key)
        return Claim("done", {})


class NothingWaiting:
    """A bucket whose days hold nothing waiting (a batch of already-done events still asks, to coalesce)."""

    def waiting_versions(self, prefix: str, since: Any) -> list[Any]:
        return []

    def locate(self, key: str, version_id: str | None) -> str:
        return key  # every object is held under the key its event names (a HeadObject for an unusual key)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the transformer reached {name} for a batch of already-done or bad events")


class Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the transformer reached {name} for a batch of already-done or bad events")


@FUZZ
@given(st.lists(sqs_bodies(S3_CREATED), min_size=1, max_size=5))
def test_transformer_bad_s3_events_fail_as_batch_item_failures_and_others_are_acknowledged(bodies):
    verdicts = []
    for body in bodies:
        try:
            object_ref_from_body(body)  # an S3 event under raw/ (claimed), or not for the transformer (ignored)
            verdicts.append("ok")
        except ContractError as exc:
            assert str(exc).strip()
            verdicts.append("bad")
    claims = DoneClaims()
    deps = TransformerDeps(NothingWaiting(), Untouchable(), Untouchable(), claims, Untouchable(), Untouchable())  # type: ignore[arg-type]
    event = sqs_event(bodies)

    outcome = process_batch(event, deps, remaining_ms=lambda: 60_000)

    ids = [r["messageId"] for r in event["Records"]]
    failed = failed_ids(outcome.response)
    # a bad record fails alone (the plain processor, see handler.process_batch); every other is acknowledged
    assert failed == {i for i, verdict in zip(ids, verdicts, strict=True) if verdict == "bad"}
    assert outcome.ignored + outcome.duplicates == verdicts.count("ok")
    assert outcome.error is None
    SEEN["transformer events"] = SEEN.get("transformer events", 0) + len(bodies)


LINES = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.builds(
        lambda mutation: json.dumps({"id": "ChIJ-x", "displayName": {"text": "A"}, **mutation}),
        st.dictionaries(st.sampled_from(["id", "displayName", "rating", "location", "types"]), JSON_VALUES),
    ),
    WEIRD_TEXT.map(lambda text: text.replace("\n", " ").replace("\r", " ")),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"])


@FUZZ
@given(st.lists(LINES, min_size=1, max_size=8), ENCODINGS, st.sampled_from([".jsonl", ".jsonl.gz", ".json"]))
def test_every_line_of_a_dropped_file_is_a_place_or_a_quarantined_line_with_its_reason(lines, encoding, suffix):
    text = "\n".join(lines) + "\n"
    body = text.encode(encoding, errors="replace")
    if suffix == ".jsonl.gz":
        body = gzip.compress(body)
    key = f"raw/places/dt=2026-01-01/fuzz{suffix}"

    result = read_places(key, body)

    assert all(rejection.reason.strip() for rejection in result.rejections)
    if suffix == ".json" or (result.problem and not result.lines):
        assert result.valid_lines or result.problem  # a whole-object verdict, never silence
    else:
        assert result.valid_lines + len(result.rejections) == result.lines  # nothing dropped silently
        assert len({r.line for r in result.rejections}) == len(result.rejections)
    validated = gzip.decompress(result.validated).splitlines() if result.validated else []
    assert len(validated) == result.valid_lines  # every valid line is in the validated copy, once
    for line in validated:  # and is strict JSON: Python's json accepts NaN and Infinity, Athena and DuckDB do not
        json.loads(line, parse_constant=lambda constant: pytest.fail(f"{constant} in the validated copy"))
    if result.rejections:
        ref = object_ref_from_body(json.dumps(S3_CREATED))
        assert ref is not None
        assert render_quarantine(ref, result.rejections)  # the quarantine file can always be written
    SEEN["dropped files"] = SEEN.get("dropped files", 0) + 1


def test_zz_record_the_fuzz_counts():
    assert SEEN, "run with the fuzz tests above"
    record(
        "fuzz",
        "Generated bad input for every consumer (hypothesis)",
        "Each bad message becomes a typed error ending as a batch item failure, a quarantined line or a clear "
        "outcome; never an unhandled crash, never a silent drop",
        "; ".join(f"{name}: {count} generated inputs" for name, count in sorted(SEEN.items()))
        + " (missing fields, wrong types, non-JSON, truncated, 300 kB values, UTF-16/Latin-1/BOM, unicode): "
        "0 crashes, 0 silent drops",
        THIS,
        order=85,
    )
