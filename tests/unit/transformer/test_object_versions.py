"""Per object version (issue 24, items 2 and 3): every derived key, claim and ledger step names one raw object
version, so two versions of one key, or two names that differ by a suffix, never overwrite or hide each other, and
the marts hold the newest version of each key."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from services.transformer.domain.model import RawObject
from services.transformer.domain.reading import validated_key
from services.transformer.handler import process_batch
from services.transformer.service import Coalescing, TransformerDeps
from tests.unit.transformer.fakes import (
    BUCKET,
    DAY,
    FakeBuilder,
    FakeClaims,
    FakeLedger,
    FakeMarts,
    FakePublisher,
    FakeStore,
    lines,
    place,
    s3_event,
    sqs_batch,
)

KEY = f"raw/places/dt={DAY}/run-1__paris.jsonl"
NAME = "run-1__paris.jsonl"


class VersionedStore(FakeStore):
    """A versioned bucket: each version of a key holds its own bytes; `current` names the one the key names now."""

    def __init__(self, versions: dict[tuple[str, str], bytes], current: dict[str, str]) -> None:
        super().__init__({key: body for (key, _), body in versions.items()})
        self.by_version = versions
        self.current = dict(current)

    def get(self, key: str, version_id: str | None, max_bytes: int) -> RawObject:
        return RawObject(self.by_version[(key, version_id or "")], {})


def wired(store: FakeStore, builder: FakeBuilder, ledger: FakeLedger, claims: FakeClaims) -> TransformerDeps:
    return TransformerDeps(
        store=store,
        builder=builder,
        marts=FakeMarts(),
        claims=claims,
        publisher=FakePublisher(),
        ledger=ledger,
        runs=None,
        coalescing=Coalescing(max_objects=0),
        clock=lambda: datetime(2026, 1, 1, 9, tzinfo=UTC),
    )


def validated_ids(store: FakeStore, key: str) -> list[str]:
    return [json.loads(row)["id"] for row in gzip.decompress(store.written[key][0]).splitlines()]


def test_two_versions_of_one_key_in_one_batch_build_the_newest_and_account_for_both():
    store = VersionedStore({(KEY, "v1"): lines(place("old")), (KEY, "v2"): lines(place("new"))}, current={KEY: "v2"})
    builder, ledger, claims = FakeBuilder(), FakeLedger(), FakeClaims()

    # the newer version's message first: the order of events says nothing of which version is newer
    batch = sqs_batch(s3_event(KEY, version="v2"), s3_event(KEY, version="v1"))
    result = process_batch(batch, wired(store, builder, ledger, claims), remaining_ms=lambda: 60_000)

    assert result.response == {"batchItemFailures": []}
    newest = validated_key(DAY, NAME, "v2")
    assert builder.calls == [([DAY], [newest])]  # only the newest version is built
    assert validated_ids(store, newest) == ["new"]
    assert not any(key.startswith("validated/") and key != newest for key in store.written)
    [event] = result.events  # one run, both versions accounted in it
    by_version = {source.version_id: source for source in event.sources}
    assert set(by_version) == {"v1", "v2"} and event.outcome == "passed"
    assert by_version["v1"].superseded_by == "v2" and by_version["v2"].superseded_by is None
    assert sorted(ledger.versions) == [(KEY, "v1"), (KEY, "v2")]  # one ledger step per version
    assert set(claims.completed) == {f"{BUCKET}/{KEY}#v1", f"{BUCKET}/{KEY}#v2"}


def test_an_older_version_whose_event_comes_after_the_newer_was_built_is_accounted_not_built():
    store = VersionedStore({(KEY, "v1"): lines(place("old"))}, current={KEY: "v2"})
    builder = FakeBuilder()

    result = process_batch(
        sqs_batch(s3_event(KEY, version="v1")),
        wired(store, builder, FakeLedger(), FakeClaims()),
        remaining_ms=lambda: 60_000,
    )

    assert builder.calls == []  # the marts keep v2
    [event] = result.events
    assert event.outcome == "passed" and event.error is None
    [source] = event.sources
    assert source.superseded_by == "v2" and source.valid_lines == 0


def test_names_that_differ_by_a_suffix_keep_their_own_validated_copies_and_every_place():
    """`menu.jsonl` and `menu.jsonl.jsonl.gz` on one day mapped to one validated key: 7 of 8 places were lost."""
    plain, doubled = f"raw/places/dt={DAY}/menu.jsonl", f"raw/places/dt={DAY}/menu.jsonl.jsonl.gz"
    store = FakeStore(
        {
            plain: lines(*(place(f"a{index}") for index in range(4))),
            doubled: gzip.compress(lines(*(place(f"b{index}") for index in range(4)))),
        }
    )
    builder = FakeBuilder()

    batch = sqs_batch(s3_event(plain), s3_event(doubled))
    process_batch(batch, wired(store, builder, FakeLedger(), FakeClaims()), remaining_ms=lambda: 60_000)

    [(_, objects)] = builder.calls
    assert len(set(objects)) == 2
    built = sorted(place_id for key in objects for place_id in validated_ids(store, key))
    assert built == [f"a{index}" for index in range(4)] + [f"b{index}" for index in range(4)]


def test_the_email_of_a_superseded_version_says_it_was_not_built_and_why():
    from services.notifier.domain.body import render_run_email
    from services.notifier.domain.message import EmailContext
    from services.notifier.domain.outcomes import settled_outcomes

    store = VersionedStore({(KEY, "v1"): lines(place("old"))}, current={KEY: "v2"})
    result = process_batch(
        sqs_batch(s3_event(KEY, version="v1")),
        wired(store, FakeBuilder(), FakeLedger(), FakeClaims()),
        remaining_ms=lambda: 60_000,
    )
    [event] = result.events

    body = render_run_email(event.run_id, settled_outcomes(event), EmailContext()).body

    assert "not built; a newer version (v2) replaced it first and the marts hold that one" in " ".join(body.split())
