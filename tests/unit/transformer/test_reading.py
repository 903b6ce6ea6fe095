import gzip
import json
from datetime import UTC, datetime

import pytest

from contracts.layout import ObjectLayoutError, raw_day
from services.transformer.domain.reading import (
    ObjectRef,
    ReadLimits,
    RunIdentity,
    infer_city,
    quarantine_key,
    read_object,
    read_places,
    safe_name,
    validated_key,
)

COLLECTION = {
    "run_id": "r1",
    "city": "Paris",
    "run_cities": ["Paris"],
    "trigger_source": "schedule",
    "query": "q",
    "rectangle": None,
    "page": 1,
    "collected_at": "2026-01-01T08:00:00Z",
}
REF = ObjectRef("b", "raw/places/dt=2026-01-01/x.jsonl", None, "etag", 10, datetime(2026, 1, 1, 8, tzinfo=UTC), "e1")


def line(**fields):
    return json.dumps({"id": "p1", "_collection": COLLECTION, **fields})


def rows(result):
    return [json.loads(row) for row in gzip.decompress(result.validated).splitlines()]


def test_structurally_valid_places_pass_even_with_out_of_range_business_values():
    body = line(rating=9.5, userRatingCount=-3, priceLevel="PRICE_LEVEL_WHATEVER").encode()

    result = read_places("raw/places/dt=2026-01-01/x.jsonl", body)

    assert [row["_source"]["line"] for row in rows(result)] == [1] and result.rejections == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": 12}', "id: Input should be a valid string"),
        ('{"id": "p", "rating": "4.5"}', "rating"),
        ('{"id": "p", "_collection": {"run_id": "r"}}', "_collection.city: Field required"),
        (line(_collection={**COLLECTION, "collected_at": "yesterday"}), "not an ISO 8601 time"),
        (line(_collection={**COLLECTION, "extra": 1}), "_collection.extra"),
        ("{nope", "invalid JSON"),
        ("42", "not a JSON object"),
    ],
)
def test_each_structural_problem_is_rejected_with_a_reason_naming_it(bad, reason):
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", f"{line()}\n{bad}\n".encode())

    assert result.valid_lines == 1
    [rejection] = result.rejections
    assert rejection.line == 2 and reason in rejection.reason and rejection.content == bad


def test_a_response_body_json_file_yields_its_places_by_position():
    body = json.dumps({"places": [{"id": "a"}, {"nope": 1}, {"id": "c"}]}).encode()

    result = read_places("raw/places/dt=2026-01-01/body.json", body)

    assert [row["_source"]["line"] for row in rows(result)] == [1, 3] and [r.line for r in result.rejections] == [2]


def test_a_broken_gzip_is_one_rejection_keeping_the_bytes():
    result = read_places("raw/places/dt=2026-01-01/x.jsonl.gz", b"plain text")

    assert result.valid_lines == 0 and "gzip" in (result.problem or "")
    assert result.rejections[0].line is None and result.rejections[0].content == "plain text"


def test_empty_object_is_a_problem_not_a_crash():
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", b"\n\n")

    assert result.problem == "the object is empty: no place to transform"


@pytest.mark.parametrize(
    "key",
    ["raw/places/x.jsonl", "raw/places/dt=2026-13-45/x.jsonl", "raw/places/dt=2026-01-01/x.csv"],
)
def test_keys_outside_the_layout_are_refused_with_the_expected_layout(key):
    with pytest.raises(ObjectLayoutError):
        raw_day(key)


def test_dropped_file_gets_a_stable_run_id_and_the_city_of_a_collector_style_name():
    place = json.dumps({"id": "p1"}).encode()
    ref = ObjectRef("b", "raw/places/dt=2026-01-01/run-1__saint-etienne.jsonl", None, "e", 1, REF.event_time)
    identity = RunIdentity("drop-0123", collected=False)

    [row] = rows(read_object(ref, "run-1__saint-etienne.jsonl", place, identity))

    assert row["_collection"]["city"] == "Saint-Etienne" and row["_collection"]["run_id"] == "drop-0123"
    assert row["_collection"]["run_cities"] == [] and row["_collection"]["trigger_source"] == "manual"
    assert row["_source"] == {"key": ref.key, "version": "e", "line": 1, "loaded_at": "2026-01-01 08:00:00.000000"}
    assert infer_city("whatever.jsonl") == "unknown"


def test_a_dropped_file_keeps_its_places_but_not_the_run_its_lines_claim():
    identity = RunIdentity("drop-0123", collected=False)

    [row] = rows(read_object(REF, "x.jsonl", line().encode(), identity))

    assert row["_collection"]["run_id"] == "drop-0123" and row["_collection"]["run_cities"] == []
    assert row["_collection"]["city"] == "Paris" and row["_collection"]["trigger_source"] == "manual"


def test_a_collection_object_carries_its_run_and_the_cities_the_ledger_recorded():
    claims_another = line(_collection={**COLLECTION, "run_id": "someone-else", "run_cities": ["Nowhere"]})
    identity = RunIdentity("r1", collected=True, run_cities=("Paris", "Lyon"))

    [row] = rows(read_object(REF, "x.jsonl", claims_another.encode(), identity))

    assert row["_collection"]["run_id"] == "r1" and row["_collection"]["run_cities"] == ["Paris", "Lyon"]
    assert row["_collection"]["trigger_source"] == "schedule"


def test_derived_keys():
    assert validated_key("2026-01-01", "x.json", "v1") == "validated/places/dt=2026-01-01/x.json~vv1.jsonl.gz"
    assert (
        validated_key("2026-01-01", "r__paris.jsonl.gz", None)
        == "validated/places/dt=2026-01-01/r__paris.jsonl.gz~v.jsonl.gz"
    )
    assert quarantine_key(REF.key, "etag") == "quarantine/raw/places/dt=2026-01-01/x.jsonl~vetag.rejected.jsonl"


@pytest.mark.parametrize(
    "derive", [validated_key, lambda day, name, version: quarantine_key(f"raw/places/dt={day}/{name}", version)]
)
def test_derived_keys_are_one_to_one_over_name_and_version(derive):
    """Two different raw object versions never share a validated or quarantine key (issue 24: `menu.jsonl` and
    `menu.jsonl.jsonl.gz` shared one, and two versions of one key overwrote each other's copy)."""
    names = ["menu.jsonl", "menu.jsonl.jsonl.gz", "menu.jsonl.gz", "menu.json", "menu~vx.jsonl", "a~v.json", "~v.json"]
    versions = [None, "v1", "v2", "x.jsonl", "~v", "", "unversioned", "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"]

    keys = {(name, version): derive("2026-01-01", name, version) for name in names for version in versions}

    distinct = {key for (name, version), key in keys.items() if version != ""}  # "" and None both mean no version
    assert len(distinct) == len(names) * (len(versions) - 1)


def test_the_same_event_maps_to_one_key_and_a_new_upload_to_another():
    again = ObjectRef(**{**REF.__dict__})
    later = ObjectRef(**{**REF.__dict__, "event_time": datetime(2026, 1, 1, 9, tzinfo=UTC)})
    versioned = ObjectRef(**{**REF.__dict__, "version_id": "v2"})

    assert again.idempotency_key == REF.idempotency_key != later.idempotency_key
    assert versioned.idempotency_key == "b/raw/places/dt=2026-01-01/x.jsonl#v2"


# -- keys are data, never paths or patterns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a*.jsonl",
        "b?.jsonl",
        "[c].jsonl",
        "{d,e}.jsonl",
        "../../etc/x.jsonl",
        "sub/dir/x.jsonl",
        "100%.jsonl",
        "é ~.jsonl",
    ],
)
def test_a_name_becomes_a_key_part_without_glob_or_path_characters(name):
    key = validated_key("2026-01-01", name, "v1")
    part = key.removeprefix("validated/places/dt=2026-01-01/")

    assert set(part) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~")
    assert key.endswith(".jsonl.gz")


def test_safe_names_are_one_to_one_and_bounded():
    names = ["a/b.jsonl", "a__b.jsonl", "a~2Fb.jsonl", "a~b.jsonl", "x" * 900 + ".jsonl", "x" * 901 + ".jsonl"]

    encoded = [safe_name(name) for name in names]

    assert len(set(encoded)) == len(names)
    assert all(len(part) <= 200 for part in encoded)
    assert safe_name("run-1__paris.jsonl.gz") == "run-1__paris.jsonl.gz"  # the collector's names are unchanged


def test_the_quarantine_key_of_a_long_or_hostile_name_stays_a_valid_key():
    key = "raw/places/dt=2026-01-01/" + "../" * 300 + "*.jsonl"

    quarantined = quarantine_key(key, "v" * 32)

    assert len(quarantined.encode()) < 1024 and quarantined.startswith("quarantine/raw/places/dt=2026-01-01/")
    assert "/../" not in quarantined and "*" not in quarantined


# -- limits: each breach costs a line or the object, with its reason -------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": "p", "rating": NaN}', "NaN is not a JSON number"),
        ('{"id": "p", "rating": Infinity}', "Infinity is not a JSON number"),
        ('{"id": "p", "rating": 1e400}', "too large for a double"),
        ('{"id": "p", "userRatingCount": 9223372036854775808}', "does not fit in 64 bits"),
        ('{"id": "p", "userRatingCount": ' + "9" * 5000 + "}", "does not fit in 64 bits"),
        ('{"id": "p", "x": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32 levels"),
        ('{"id": "p", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 32 levels"),
    ],
)
def test_values_no_warehouse_can_hold_are_rejected_lines_not_crashes(bad, reason):
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", f"{line()}\n{bad}\n".encode())

    assert result.valid_lines == 1
    [rejection] = result.rejections
    assert rejection.line == 2 and reason in rejection.reason


def test_the_largest_64_bit_integer_still_passes_in_a_field_no_column_reads():
    # In a declared column it must fit that column (userRatingCount: a 32-bit int, tests/.../test_warehouse_columns.py)
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", line(somethingNew=2**63 - 1).encode())

    assert result.valid_lines == 1 and rows(result)[0]["somethingNew"] == 2**63 - 1


def test_a_line_longer_than_the_limit_is_quarantined_with_a_preview_and_its_length():
    limits = ReadLimits(line_bytes=10_000)
    long_line = line(note="x" * 50_000)

    result = read_places("raw/places/dt=2026-01-01/x.jsonl", f"{line()}\n{long_line}\n{line()}\n".encode(), limits)

    assert result.valid_lines == 2
    [rejection] = result.rejections
    assert rejection.line == 2 and f"line of {len(long_line):,} bytes" in rejection.reason
    assert len(rejection.content) < 5_000 and rejection.content.endswith("[...]")


def test_a_decompression_bomb_stops_at_the_expanded_limit_and_the_object_is_quarantined():
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))  # 8 MiB in ~8 KB
    limits = ReadLimits(expanded_bytes=4 * 1024 * 1024)

    result = read_places("raw/places/dt=2026-01-01/x.jsonl.gz", bomb, limits)

    assert result.valid_lines == 0 and "expands to more than 4 MiB" in (result.problem or "")
    assert [r.line for r in result.rejections] == [None]


def test_a_file_of_more_lines_than_the_limit_is_refused_whole():
    result = read_places("raw/places/dt=2026-01-01/x.jsonl", (line() + "\n").encode() * 11, ReadLimits(lines=10))

    assert result.valid_lines == 0 and "more than 10 lines" in (result.problem or "")
    assert result.validated == b"" or rows(result) == []


def test_the_quarantine_file_stops_copying_content_past_its_budget_but_keeps_every_reason():
    body = ("{nope " + "y" * 1000 + "\n").encode() * 20

    result = read_places("raw/places/dt=2026-01-01/x.jsonl", body, ReadLimits(quarantine_bytes=5_000))

    assert len(result.rejections) == 20 and all("invalid JSON" in r.reason for r in result.rejections)
    assert "read line 20 of the raw object" in result.rejections[-1].content


def test_no_validated_line_is_invalid_json():
    body = f"{line()}\n" + '{"id": "p2", "rating": NaN}\n'

    result = read_places("raw/places/dt=2026-01-01/x.jsonl", body.encode())

    assert [row["id"] for row in rows(result)] == ["p1"]  # json.loads would accept NaN: it never got written
