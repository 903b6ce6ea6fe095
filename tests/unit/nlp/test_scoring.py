"""score_new_reviews with hand-written fakes: only new reviews are scored, unscorable ones are kept and counted,
analyzer errors are retried later, and a failing staging build scores nothing. The marts are read through the real
WarehouseMarts over a fake SQL runner (a missing review_sentiments mart means nothing was scored yet)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.vader import VaderAnalyzer
from services.transformer.domain.model import AnalysisBatch, BuildReport, Document
from services.transformer.domain.sentiment import ScoringBuilder, enriched_key, score_new_reviews


class FakeStaging:
    def __init__(self, outcome: str = "passed") -> None:
        self.outcome = outcome
        self.days: list[list[str]] = []

    def stage_reviews(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        self.days.append(list(days))
        return BuildReport(outcome=self.outcome, error_message=None if self.outcome == "passed" else "bad SQL")  # type: ignore[arg-type]


class FakeWarehouse:
    """stg_places__reviews rows; review_sentiments holds `in_mart` ids (or does not exist yet)."""

    def __init__(self, rows: list[dict[str, Any]], in_mart: set[str] | None) -> None:
        self.rows = rows
        self.in_mart = in_mart
        self.queries: list[str] = []

    def relation(self, model: str) -> str:
        return f'"main"."{model}"'

    def query(self, sql: str) -> list[dict[str, Any]]:
        self.queries.append(sql)
        if "review_sentiments" in sql:
            if self.in_mart is None:
                raise RuntimeError("Catalog Error: Table with name review_sentiments does not exist!")
            return [{**r, "in_mart": int(r["review_id"] in self.in_mart)} for r in self.rows]
        return list(self.rows)


class FakeStore:
    def __init__(self, processed: set[str] | None = None) -> None:
        self.processed = processed or set()
        self.objects: dict[str, bytes] = {}

    def processed_ids(self, days: Sequence[str]) -> set[str]:
        return set(self.processed)

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for body in self.objects.values() for line in gzip.decompress(body).splitlines()]


class CountingAnalyzer(VaderAnalyzer):
    def __init__(self, fail: set[str] | None = None) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.fail = fail or set()

    def analyze(self, documents: Sequence[Document]) -> AnalysisBatch:
        self.seen += [d.key for d in documents]
        batch = super().analyze([d for d in documents if d.key not in self.fail])
        batch.failures.update({k: "THROTTLED: try later" for k in self.fail})
        return batch


def row(review_id: str, text: str | None, language: str | None = "en", day: str = "2026-01-02") -> dict[str, Any]:
    return {
        "review_id": review_id,
        "place_id": "p1",
        "collection_date": day,
        "review_text": text,
        "review_language": language,
        "original_text": None,
        "original_language": None,
    }


def run(warehouse: FakeWarehouse, store: FakeStore, analyzer: CountingAnalyzer, staging: FakeStaging | None = None):
    return score_new_reviews(
        ["2026-01-02"],
        staging=staging or FakeStaging(),
        marts=WarehouseMarts(warehouse),
        store=store,
        analyzer=analyzer,
        now=lambda: datetime(2026, 1, 2, 9, tzinfo=UTC),
    )


def test_reviews_already_in_the_mart_or_in_an_enriched_object_are_never_sent_again():
    warehouse = FakeWarehouse([row("a", "Great food"), row("b", "Awful"), row("c", "Nice staff")], in_mart={"a"})
    store = FakeStore(processed={"b"})
    analyzer = CountingAnalyzer()

    report = run(warehouse, store, analyzer)

    assert analyzer.seen == ["c"]
    assert (report.staged, report.already_scored, report.scored) == (3, 2, 1)
    assert [r["review_id"] for r in store.records()] == ["c"]
    assert list(store.objects) == [enriched_key("2026-01-02", ["c"])]


def test_empty_and_unsupported_language_reviews_are_recorded_unscored_and_counted():
    warehouse = FakeWarehouse(
        [row("e", "   "), row("n", None, None), row("f", "Très bon service", "fr"), row("g", "Lovely")], in_mart=None
    )
    store = FakeStore()
    analyzer = CountingAnalyzer()

    report = run(warehouse, store, analyzer)

    assert analyzer.seen == ["g"]
    assert (report.scored, report.empty_text, report.unsupported_language, report.failed) == (1, 2, 1, 0)
    records = {r["review_id"]: r for r in store.records()}
    assert {k: r["status"] for k, r in records.items()} == {
        "e": "empty_text",
        "n": "empty_text",
        "f": "unsupported_language",
        "g": "scored",
    }
    assert records["f"]["sentiment_score"] is None and records["f"]["themes"] == ["service"]
    assert records["g"]["analyzer"] == "vader" and records["g"]["scored_at"] == "2026-01-02 09:00:00.000000"


def test_documents_the_analyzer_failed_on_are_not_recorded_so_the_next_run_retries_them():
    warehouse = FakeWarehouse([row("ok", "Good"), row("ko", "Bad")], in_mart=set())
    store = FakeStore()

    report = run(warehouse, store, CountingAnalyzer(fail={"ko"}))

    assert (report.scored, report.failed) == (1, 1)
    assert [r["review_id"] for r in store.records()] == ["ok"]


def test_a_failing_staging_build_scores_nothing_and_says_why():
    warehouse = FakeWarehouse([row("a", "Good")], in_mart=set())
    store = FakeStore()
    analyzer = CountingAnalyzer()

    report = run(warehouse, store, analyzer, FakeStaging(outcome="error"))

    assert report.skipped_reason == "bad SQL" and analyzer.seen == [] and store.objects == {}
    assert warehouse.queries == []


def test_other_warehouse_errors_are_not_mistaken_for_a_missing_mart():
    class Broken(FakeWarehouse):
        def query(self, sql: str) -> list[dict[str, Any]]:
            raise RuntimeError("IO Error: connection refused")

    try:
        run(Broken([], in_mart=set()), FakeStore(), CountingAnalyzer())
    except RuntimeError as exc:
        assert "connection refused" in str(exc)
    else:
        raise AssertionError("a warehouse failure must propagate (the batch is retried)")


def test_the_scoring_builder_scores_before_the_inner_build_on_the_same_days_and_objects():
    calls: list[str] = []

    class Inner:
        def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
            calls.append(f"build {list(days)} {list(objects)}")
            return BuildReport(outcome="passed")

    class Staging(FakeStaging):
        def stage_reviews(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
            calls.append(f"stage {list(days)} {list(objects)}")
            return super().stage_reviews(days, objects)

    builder = ScoringBuilder(
        Inner(),
        staging=Staging(),
        marts=WarehouseMarts(FakeWarehouse([row("a", "Good")], in_mart=set())),
        store=FakeStore(),
        analyzer=CountingAnalyzer(),
    )

    key = "validated/places/dt=2026-01-02/a.jsonl.gz"
    report = builder.build(["2026-01-02"], [key])
    assert report.outcome == "passed"
    assert calls == [f"stage ['2026-01-02'] ['{key}']", f"build ['2026-01-02'] ['{key}']"]
    assert report.reviews is not None and report.reviews.scored == 1  # the stage's counts ride on the report
