"""The hostile-input tier: what an attacker or a careless user can put in raw/ or on the bus, on a running local
stack, and what each must cost — one line or one object, quarantined with its reason, and one email; never a file
outside its place, never a lost object, never poison in a DLQ without an email, never an email a sender wrote.

Each class of issue 19 has its own test here; the last one records the tier's numbers in docs/reliability.md
("Hostile input"). Finer cases of each class live beside the code (tests/unit/transformer/test_reading.py,
tests/fuzz/), this tier proves them end to end through S3 events, SQS, the transformer, dbt and the notifier.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.local import control
from tests.e2e.drills import (
    EventCapture,
    cli,
    completed_for,
    delivered_emails,
    depth,
    drop_file,
    emails,
    place_line,
    query,
    wait_until,
)
from tests.e2e.reliability_report import record
from tests.support.local_stack import RunningStack, running_stack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

THIS = "tests/e2e/test_hostile_input.py"
DAY = "2026-05-01"
TALLY: dict[str, int] = {
    "inputs": 0,
    "objects_lost": 0,
    "places_lost": 0,
    "stale_wins": 0,
    "poison_without_email": 0,
    "forged_emails": 0,
}


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack("hostile") as running:
        yield running


@pytest.fixture(scope="module")
def capture(stack: RunningStack) -> EventCapture:
    return EventCapture(stack)


def _outcome(capture: EventCapture, key: str, timeout: float = 180) -> dict[str, Any]:
    [event] = wait_until(lambda: completed_for(capture, key), timeout=timeout, what=f"the outcome of {key!r}")
    return dict(event["detail"])


def _source(detail: dict[str, Any], key: str) -> dict[str, Any]:
    [source] = [s for s in detail["sources"] if s["key"] == key]
    return dict(source)


def _mailed(stack: RunningStack, detail: dict[str, Any]) -> bool:
    """One email for the outcome's run, counted: a hostile input that was not mailed is poison without an email."""
    found = delivered_emails(stack, str(detail["run_id"]))
    if len(found) != 1:
        TALLY["poison_without_email"] += 1
    return len(found) == 1


def _exists(stack: RunningStack, key: str) -> bool:
    listed = stack.target.clients.s3.list_objects_v2(Bucket=stack.info.bucket, Prefix=key).get("Contents", [])
    return any(item["Key"] == key for item in listed)


def _names(stack: RunningStack, place_ids: list[str]) -> dict[str, str]:
    rows = query(stack, "select place_id, name from restaurants where place_id in (select unnest(?))", [place_ids])
    return {str(row[0]): str(row[1]) for row in rows if row}


def test_keys_are_data_never_paths_or_patterns(stack, capture):
    """Glob characters, `..` and a 1,000-byte key: each file is built alone, from its own lines only."""
    run = uuid.uuid4().hex[:6]
    names = {
        f"star-{run}-*.jsonl": "Étoile",
        f"question-{run}-?.jsonl": "Question",
        f"bracket-{run}-[ab].jsonl": "Crochet",
        f"dots-{run}/../../../escape.jsonl": "Évasion",
        f"long-{run}-" + "n" * 900 + ".jsonl": "Très Long",
    }
    keys = {
        f"raw/places/dt={DAY}/{name}": (f"ChIJ-key-{run}-{i}", place) for i, (name, place) in enumerate(names.items())
    }
    for key, (place_id, place) in keys.items():
        drop_file(stack, key, [place_line(place_id, place)])
    TALLY["inputs"] += len(keys)

    for key in keys:
        detail = _outcome(capture, key)
        source = _source(detail, key)
        assert detail["outcome"] == "passed", (key[:80], detail.get("error"))
        assert (source["lines"], source["valid_lines"], source["quarantined_lines"]) == (1, 1, 0), key[:80]
        assert _mailed(stack, detail)
        TALLY["objects_lost"] += 0 if _exists(stack, key) else 1
    assert _names(stack, [place_id for place_id, _ in keys.values()]) == {
        place_id: place for place_id, place in keys.values()
    }


def _with(line: str, **fields: Any) -> str:
    return json.dumps(json.loads(line) | fields)


def _deep(levels: int) -> str:
    """A place whose `extra` nests `levels` arrays deep (built as text: Python's own json would recurse)."""
    return place_line("ChIJ-deep", "Profond")[:-1] + ', "extra": ' + "[" * levels + "]" * levels + "}"


def test_small_poison_costs_its_line_and_the_good_lines_of_its_file_are_built(stack, capture):
    run = uuid.uuid4().hex[:6]
    good = place_line(f"ChIJ-good-{run}", "Bonne Table")
    poison = {
        "nesting 5,000 deep": _deep(5000),
        "an integer of 5,000 digits": place_line(f"ChIJ-bigint-{run}", "Gros").replace(
            '"userRatingCount": 10', '"userRatingCount": ' + "9" * 5000
        ),
        "an integer past 64 bits": place_line(f"ChIJ-int65-{run}", "Trop").replace(
            '"userRatingCount": 10', '"userRatingCount": 18446744073709551616'
        ),
        "a bare NaN": place_line(f"ChIJ-nan-{run}", "Pas un nombre").replace('"rating": 4.0', '"rating": NaN'),
        "a bare Infinity": place_line(f"ChIJ-inf-{run}", "Infini").replace('"rating": 4.0', '"rating": Infinity'),
        "a run id the event contract rejects": _with(
            place_line(f"ChIJ-runid-{run}", "Faux Run"), _collection={"run_id": "x" * 300 + "\n"}
        ),
    }
    key = f"raw/places/dt={DAY}/poison-{run}.jsonl"
    drop_file(stack, key, [good, *poison.values()])
    TALLY["inputs"] += len(poison)

    detail = _outcome(capture, key)
    source = _source(detail, key)

    assert (source["lines"], source["valid_lines"], source["quarantined_lines"]) == (1 + len(poison), 1, len(poison))
    assert detail["outcome"] in ("passed", "tests_failed")
    assert source["quarantine_key"] and _exists(stack, source["quarantine_key"])
    body = stack.target.clients.s3.get_object(Bucket=stack.info.bucket, Key=source["quarantine_key"])["Body"].read()
    reasons = [json.loads(line)["reason"] for line in body.splitlines()]
    assert len(reasons) == len(poison) and all(reason.strip() for reason in reasons)
    assert _names(stack, [f"ChIJ-good-{run}"]) == {f"ChIJ-good-{run}": "Bonne Table"}
    assert _mailed(stack, detail)
    [email] = delivered_emails(stack, str(detail["run_id"]))
    assert "quarantin" in email.body.lower()
    TALLY["objects_lost"] += 0 if _exists(stack, key) else 1


def test_a_compression_bomb_is_a_quarantined_object_not_a_dead_letter(stack, capture):
    """1 GiB of newlines in a 1 MB gzip: streamed until the line cap, the object quarantined whole, an email, no
    DLQ (the transformer once reached 2.3 GB resident on this file and died three times)."""
    run = uuid.uuid4().hex[:6]
    bomb = gzip.compress(b"\n" * (64 * 1024 * 1024), compresslevel=9) * 16  # concatenated members: 1 GiB expanded
    key = f"raw/places/dt={DAY}/bomb-{run}.jsonl.gz"
    good_key = f"raw/places/dt={DAY}/beside-the-bomb-{run}.jsonl"
    stack.target.clients.s3.put_object(Bucket=stack.info.bucket, Key=key, Body=bomb)
    drop_file(stack, good_key, [place_line(f"ChIJ-beside-{run}", "À Côté")])
    TALLY["inputs"] += 1

    detail = _outcome(capture, key)
    source = _source(detail, key)
    good = _outcome(capture, good_key)

    assert len(bomb) < 2 * 1024 * 1024
    assert source["valid_lines"] == 0 and source["problem"], source
    assert _mailed(stack, detail)
    assert good["outcome"] == "passed" and _source(good, good_key)["valid_lines"] == 1
    assert depth(stack, stack.info.queues["transformer"].dlq_url) == 0
    TALLY["objects_lost"] += 0 if _exists(stack, key) else 1


def _collected(stack: RunningStack, run_id: str) -> tuple[str, str]:
    """(key, a place id) of the run's collection."""
    [step] = [
        s
        for s in stack.target.ledger.all_steps()
        if s["step"] == "COLLECTED" and s["run_id"] == run_id and s["data"].get("object_key")
    ]
    key = str(step["data"]["object_key"])
    body = stack.target.clients.s3.get_object(Bucket=stack.info.bucket, Key=key)["Body"].read()
    first = json.loads(gzip.decompress(body).splitlines()[0])
    return key, str(first["id"])


def _emails_of(stack: RunningStack, run_id: str) -> list[Any]:
    """The emails about this run (every email's footer names its run; another run's email may quote this id)."""
    return [email for email in emails(stack, run_id) if email.body.rstrip().endswith(f"run {run_id}")]


def test_a_file_cannot_claim_a_run_nor_overwrite_what_a_collection_recorded(stack, capture):
    started = cli(stack, "run", "--city", "Hostileville", "--max-restaurants", "5", "--wait", "--json")
    run_id = str(json.loads(started.stdout[started.stdout.index("{") :])["run_id"])
    key, place_id = _collected(stack, run_id)
    [collected_name] = _names(stack, [place_id]).values()
    # `run --wait` returns on the notifier's ledger step; the outbox writes the email from SNS a moment later
    delivered_emails(stack, run_id)
    assert len(_emails_of(stack, run_id)) == 1
    day = key.split("dt=")[1].split("/")[0]

    # the run's own key, written again by someone else after the run was emailed: not the run's any more
    forged = _with(place_line(place_id, "Pwned", 1.0), _collection={"run_id": run_id, "city": "Hostileville"})
    drop_file(stack, key.removesuffix(".gz"), [forged])
    # a file without collection metadata reusing the collected place's id, the same day
    squatter = f"raw/places/dt={day}/squatter-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, squatter, [place_line(place_id, "Pwned Too", 1.0)])
    TALLY["inputs"] += 2

    claimed = _outcome(capture, key.removesuffix(".gz"))
    squatted = _outcome(capture, squatter)

    assert claimed["run_id"] != run_id and squatted["run_id"] != run_id
    assert _mailed(stack, claimed) and _mailed(stack, squatted)
    assert len(_emails_of(stack, run_id)) == 1  # the real run was mailed once, and stays so
    assert _names(stack, [place_id]) == {place_id: collected_name}  # what the collection recorded stands


def _forged(event: dict[str, Any], run_id: str, **detail: Any) -> dict[str, Any]:
    """A bus entry copied from a real event: the same source and shape, another run, text the sender chose."""
    body = dict(event["detail"]) | {"run_id": run_id} | detail
    body["metadata"] = dict(body["metadata"]) | {"event_id": str(uuid.uuid4())}
    return {
        "EventBusName": "restaurant-pipeline",
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(body),
    }


def _refusals(stack: RunningStack, run_ids: list[str]) -> list[dict[str, Any]] | None:
    found = [s for s in stack.target.ledger.all_steps() if s["step"] == "REFUSED" and s["run_id"] in run_ids]
    return found if len(found) == len(run_ids) else None


def test_forged_events_are_refused_not_mailed_and_audit_lists_them(stack, capture):
    """Anyone who can put events locally (on AWS the bus policy stops them first): two "Transform Completed" copied
    from a real one, for runs nobody requested, one with an error text carrying a link the sender chose."""
    [real] = capture.of("Transform Completed")[:1]
    run_ids = [f"forged-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    entries = [
        _forged(real, run_ids[0], outcome="error", error={"phase": "dbt", "message": "see https://evil.example/fix"}),
        _forged(real, run_ids[1]),
    ]
    stack.target.clients.events.put_events(Entries=entries)
    TALLY["inputs"] += len(entries)

    refused = wait_until(lambda: _refusals(stack, run_ids), timeout=120, what="the notifier's refusals")
    sent = [email for run_id in run_ids for email in emails(stack, run_id)] + emails(stack, "evil.example")
    TALLY["forged_emails"] += len(sent)
    audit = cli(stack, "audit", "--json", check=False)

    assert {s["run_id"] for s in refused} == set(run_ids)
    assert sent == []
    assert audit.returncode == 1 and all(run_id in audit.stdout for run_id in run_ids)


def _outcomes_naming(capture: EventCapture, key: str, versions: set[str]) -> list[dict[str, Any]] | None:
    """Every Transform Completed naming `key`, once those name each of `versions` (one event may hold both)."""
    found = [event["detail"] for event in completed_for(capture, key)]
    named = {s["version_id"] for detail in found for s in detail["sources"] if s["key"] == key}
    return found if versions <= named else None


def test_names_that_differ_by_a_suffix_keep_every_place(stack, capture):
    """`menu.jsonl` and `menu.jsonl.jsonl.gz` on one day once shared one validated copy: 7 of 8 places were lost
    with an OK email and a clean audit."""
    run = uuid.uuid4().hex[:6]
    plain, doubled = f"raw/places/dt={DAY}/menu-{run}.jsonl", f"raw/places/dt={DAY}/menu-{run}.jsonl.jsonl.gz"
    ids = {plain: [f"ChIJ-menu-{run}-a{i}" for i in range(4)], doubled: [f"ChIJ-menu-{run}-b{i}" for i in range(4)]}
    body = gzip.compress(("\n".join(place_line(place_id, "Menu") for place_id in ids[doubled]) + "\n").encode())
    drop_file(stack, plain, [place_line(place_id, "Menu") for place_id in ids[plain]])
    stack.target.clients.s3.put_object(Bucket=stack.info.bucket, Key=doubled, Body=body)
    TALLY["inputs"] += 2

    for key in (plain, doubled):
        detail = _outcome(capture, key)
        assert detail["outcome"] == "passed", detail.get("error")
        assert _mailed(stack, detail)
    built = _names(stack, ids[plain] + ids[doubled])
    TALLY["places_lost"] += 8 - len(built)

    assert sorted(built) == sorted(ids[plain] + ids[doubled])


def test_two_versions_of_one_key_end_with_the_newest_in_the_marts(stack, capture):
    """Two uploads of one key back to back (the older content once won 4 times in 5, and one genuine outcome was
    refused as forged): whatever batches they land in, the marts hold the newest, and each version is accounted."""
    run = uuid.uuid4().hex[:6]
    key, place_id = f"raw/places/dt={DAY}/fixed-{run}.jsonl", f"ChIJ-versions-{run}"
    s3 = stack.target.clients.s3
    older = s3.put_object(Bucket=stack.info.bucket, Key=key, Body=(place_line(place_id, "Avant", 2.0) + "\n").encode())
    newer = s3.put_object(Bucket=stack.info.bucket, Key=key, Body=(place_line(place_id, "Après", 4.5) + "\n").encode())
    versions = {older["VersionId"], newer["VersionId"]}
    TALLY["inputs"] += 2

    details = wait_until(
        lambda: _outcomes_naming(capture, key, versions), timeout=180, what="an outcome for each version of the key"
    )
    rows = query(stack, "select name, rating from restaurants where place_id = ?", [place_id])
    TALLY["stale_wins"] += 0 if rows == [("Après", 4.5)] else 1

    assert rows == [("Après", 4.5)]
    assert {detail["outcome"] for detail in details} == {"passed"}
    sources = {s["version_id"]: s for detail in details for s in detail["sources"] if s["key"] == key}
    assert sources[newer["VersionId"]]["superseded_by"] is None
    for detail in details:
        assert _mailed(stack, detail)


def _bucket(stack: RunningStack) -> dict[str, str]:
    """Every object of the bucket: key -> ETag (the content's digest)."""
    pages = stack.target.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=stack.info.bucket)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def test_z_local_down_and_up_keep_every_object_and_write_nothing_outside_the_state_folder(stack):
    """The keys above (`..`, globs, 1,000 bytes) saved by `local down` and put back by `local up`, byte for byte."""
    before = _bucket(stack)
    control.down(stack.state_dir)
    after = _bucket(start_stack(stack.state_dir))  # the fixture's teardown stops this one
    lost = sorted(key for key, etag in before.items() if after.get(key) != etag)
    TALLY["objects_lost"] += len(lost)

    assert any("/../" in key for key in before) and any(len(key.encode()) > 900 for key in before)
    assert lost == []
    assert _files_outside(stack.state_dir) == []


def test_zz_record_the_hostile_input_tier(stack):
    assert TALLY["inputs"], "run with the tests above"
    outside = _files_outside(stack.state_dir)
    record(
        "hostile-input",
        "Hostile input: glob and `..` keys, 1,000-byte keys, deep nesting, huge and 65-bit integers, NaN, a forged "
        "run id, a 1 GiB gzip bomb, a file claiming an emailed run, a file overwriting a collected place, names "
        "differing by a suffix, two versions of one key back to back, forged bus events; then `local down` and "
        "`local up`",
        "Each costs its line or its object, quarantined with its reason, and one email; the good lines beside it "
        "are built; nothing is written outside its place, nothing lost, no poison without an email, no forged email",
        f"{TALLY['inputs']} hostile inputs: files written outside the state folder {len(outside)}, objects lost "
        f"{TALLY['objects_lost']}, places lost {TALLY['places_lost']}, stale versions winning {TALLY['stale_wins']}, "
        f"poison without an email {TALLY['poison_without_email']}, forged emails sent "
        f"{TALLY['forged_emails']}",
        THIS,
        order=86,
        **TALLY,
        outside=len(outside),
    )
    lost_or_stale = (TALLY["objects_lost"], TALLY["places_lost"], TALLY["stale_wins"])
    assert lost_or_stale == (0, 0, 0) and (TALLY["poison_without_email"], TALLY["forged_emails"], outside) == (0, 0, [])


def _files_outside(state_dir: Path) -> list[str]:
    """Whatever the stack wrote beside its state folder (their parent is a fresh folder holding nothing else)."""
    return [str(path) for path in state_dir.parent.rglob("*") if state_dir not in (path, *path.parents)]
