"""The NLP stage's domain: between dbt staging and the marts, score the reviews never scored before, and
describe review sentiment in the run's summaries. Talks to the world only through ports (no boto3, no env).

Order inside one transformer batch (ScoringBuilder.build):
  1. staging: `stg_places__reviews` for the batch's days (ReviewStaging),
  2. the reviews in it that were never processed: not in the `review_sentiments` mart, not in an enriched object
     of those days (a previous attempt whose marts did not build),
  3. score them (SentimentAnalyzer), write one enriched object per collection day (ScoreStore),
  4. the usual `dbt build` (the inner Builder), whose marts read the enriched objects.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from contracts.events import CitySummary, ReviewCounts, SentimentMove, TransformCompleted
from services.common.names import ENRICHED_PREFIX
from services.transformer.domain import Builder, BuildReport, Warehouse
from services.transformer.sentiment.port import Analysis, Document, SentimentAnalyzer
from services.transformer.sentiment.themes import extract_themes

Status = Literal["scored", "empty_text", "unsupported_language"]
MOVERS = 5
_MISSING_RELATION = re.compile(r"does not exist|TABLE_NOT_FOUND|not found", re.IGNORECASE)


class ReviewStaging(Protocol):
    def stage_reviews(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        """Build stg_places__reviews (and its tests) for those days only (and only those objects, if any)."""
        ...


class ScoreStore(Protocol):
    def processed_ids(self, days: Sequence[str]) -> set[str]:
        """Review ids already in an enriched object of those days."""
        ...

    def put(self, key: str, body: bytes) -> None: ...


@dataclass(frozen=True)
class StagedReview:
    review_id: str
    place_id: str
    collection_date: str
    review_text: str | None
    review_language: str | None
    original_text: str | None
    original_language: str | None


@dataclass(frozen=True)
class Choice:
    status: Status
    document: Document | None = None
    source: Literal["original", "text"] | None = None


def choose_text(review: StagedReview, analyzer: SentimentAnalyzer) -> Choice:
    """Which text of a review the analyzer scores (docs/nlp.md, "Which text is scored").

    The reviewer's own words (originalText) when the analyzer supports their language, else the text Google
    returned in the requested language (possibly a machine translation) when it supports that one. No non-blank
    text: empty_text. Texts only in languages it does not support: unsupported_language. Both are kept, counted,
    and never sent to the analyzer.
    """
    candidates = [
        ("original", review.original_text, review.original_language),
        ("text", review.review_text, review.review_language),
    ]
    present = [(source, text, language) for source, text, language in candidates if text and text.strip()]
    if not present:
        return Choice("empty_text")
    for source, text, language in present:
        code = analyzer.language_for(language)
        if code is not None and text is not None:
            return Choice("scored", Document(review.review_id, text.strip(), code), source)  # type: ignore[arg-type]
    return Choice("unsupported_language")


@dataclass
class NlpReport:
    analyzer: str
    days: list[str] = field(default_factory=list)
    staged: int = 0
    already_scored: int = 0
    scored: int = 0
    empty_text: int = 0
    unsupported_language: int = 0
    failed: int = 0  # the analyzer returned an error for these: not recorded, retried on the next run
    keys: list[str] = field(default_factory=list)
    skipped_reason: str | None = None  # staging did not pass: nothing scored, the full build reports why
    duration_ms: int = 0

    def counts(self) -> ReviewCounts:
        return ReviewCounts(
            analyzer=self.analyzer,
            staged=self.staged,
            already_scored=self.already_scored,
            scored=self.scored,
            empty_text=self.empty_text,
            unsupported_language=self.unsupported_language,
            failed=self.failed,
        )


def score_new_reviews(
    days: Sequence[str],
    *,
    staging: ReviewStaging,
    warehouse: Warehouse,
    store: ScoreStore,
    analyzer: SentimentAnalyzer,
    objects: Sequence[str] = (),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
) -> NlpReport:
    started = clock()
    report = NlpReport(analyzer=analyzer.name, days=list(days))
    staged = staging.stage_reviews(days, objects)
    if staged.outcome != "passed":
        report.skipped_reason = staged.error_message or f"review staging {staged.outcome}"
        report.duration_ms = _ms(clock() - started)
        return report
    reviews, already_in_mart = new_reviews(warehouse)
    report.staged = len(reviews) + already_in_mart
    processed = store.processed_ids(days)
    fresh = [r for r in reviews if r.review_id not in processed]
    report.already_scored = report.staged - len(fresh)

    choices = {r.review_id: choose_text(r, analyzer) for r in fresh}
    documents = [c.document for c in choices.values() if c.document is not None]
    results: dict[str, Analysis] = {}
    failures: dict[str, str] = {}
    if documents:
        batch = analyzer.analyze(documents)
        results = {a.key: a for a in batch.analyses}
        failures = dict(batch.failures)
    scored_at = now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    by_day: dict[str, list[dict[str, Any]]] = {}
    for review in fresh:
        choice = choices[review.review_id]
        analysis = results.get(review.review_id)
        if choice.status == "scored" and analysis is None:
            report.failed += 1
            if review.review_id not in failures:
                failures[review.review_id] = "no result returned"
            continue
        setattr(report, choice.status, getattr(report, choice.status) + 1)
        by_day.setdefault(review.collection_date, []).append(_record(review, choice, analysis, analyzer, scored_at))
    for day, records in sorted(by_day.items()):
        key = enriched_key(day, [r["review_id"] for r in records])
        store.put(key, render_records(records))
        report.keys.append(key)
    report.duration_ms = _ms(clock() - started)
    return report


def new_reviews(warehouse: Warehouse) -> tuple[list[StagedReview], int]:
    """The staged reviews not already scored in the review_sentiments mart, and how many were."""
    staged = warehouse.relation("stg_places__reviews")
    columns = (
        "r.review_id, r.place_id, cast(r.collection_date as varchar) as collection_date, r.review_text, "
        "r.review_language, r.original_text, r.original_language"
    )
    try:
        rows = warehouse.query(
            f"select {columns}, case when m.review_id is null then 0 else 1 end as in_mart"
            f" from {staged} as r left join {warehouse.relation('review_sentiments')} as m"
            " on m.review_id = r.review_id and m.score_status <> 'pending'"
        )
    except Exception as exc:
        if not _MISSING_RELATION.search(str(exc)):
            raise
        rows = [{**row, "in_mart": 0} for row in warehouse.query(f"select {columns} from {staged} as r")]
    reviews = [
        StagedReview(
            review_id=str(row["review_id"]),
            place_id=str(row["place_id"]),
            collection_date=str(row["collection_date"])[:10],
            review_text=row["review_text"],
            review_language=row["review_language"],
            original_text=row["original_text"],
            original_language=row["original_language"],
        )
        for row in rows
        if not int(row["in_mart"])
    ]
    return sorted(reviews, key=lambda r: r.review_id), sum(1 for row in rows if int(row["in_mart"]))


def _record(
    review: StagedReview, choice: Choice, analysis: Analysis | None, analyzer: SentimentAnalyzer, scored_at: str
) -> dict[str, Any]:
    themes = extract_themes(
        [(review.original_text, review.original_language), (review.review_text, review.review_language)]
    )
    scored = choice.status == "scored" and analysis is not None
    return {
        "review_id": review.review_id,
        "place_id": review.place_id,
        "status": choice.status,
        "analyzer": analyzer.name if scored else None,
        "analyzed_language": choice.document.language if scored and choice.document else None,
        "analyzed_text_source": choice.source if scored else None,
        "sentiment_label": analysis.label if analysis else None,
        "sentiment_score": round(analysis.score, 6) if analysis else None,
        "positive": round(analysis.positive, 6) if analysis else None,
        "negative": round(analysis.negative, 6) if analysis else None,
        "neutral": round(analysis.neutral, 6) if analysis else None,
        "mixed": round(analysis.mixed, 6) if analysis else None,
        "key_phrases": list(analysis.key_phrases) if analysis else [],
        "themes": themes,
        "scored_at": scored_at,
    }


def enriched_key(day: str, review_ids: Sequence[str]) -> str:
    """Deterministic: a retry that scores the same reviews rewrites the same object."""
    digest = hashlib.sha256("\n".join(sorted(review_ids)).encode()).hexdigest()[:20]
    return f"{ENRICHED_PREFIX}dt={day}/{digest}.jsonl.gz"


def render_records(records: Sequence[dict[str, Any]]) -> bytes:
    import gzip

    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return gzip.compress(text.encode("utf-8"), mtime=0)


class ScoringBuilder:
    """A Builder that runs the NLP stage before the wrapped build (same `build(days)` port as DbtBuilder)."""

    def __init__(
        self,
        inner: Builder,
        *,
        staging: ReviewStaging,
        warehouse: Warehouse,
        store: ScoreStore,
        analyzer: SentimentAnalyzer,
    ) -> None:
        self._inner = inner
        self._staging = staging
        self._warehouse = warehouse
        self._store = store
        self._analyzer = analyzer
        self.last_report: NlpReport | None = None  # of the latest build (one build per batch)

    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        self.last_report = None
        self.last_report = score_new_reviews(
            days,
            staging=self._staging,
            warehouse=self._warehouse,
            store=self._store,
            analyzer=self._analyzer,
            objects=objects,
        )
        return self._inner.build(days, objects)


def describe_sentiment(
    events: list[TransformCompleted], warehouse: Warehouse, report: NlpReport | None
) -> list[TransformCompleted]:
    """Add review sentiment (city averages, shares, themes, the biggest movers) and the run's review counts."""
    described = []
    for event in events:
        summaries = [_with_sentiment(s, warehouse) for s in event.city_summaries] if event.city_summaries else []
        update: dict[str, Any] = {"city_summaries": summaries}
        if report is not None:
            update["reviews"] = report.counts()
        described.append(event.model_copy(update=update))
    return described


def _with_sentiment(summary: CitySummary, warehouse: Warehouse) -> CitySummary:
    day = summary.day.isoformat()
    city = _literal(summary.city)
    rows = warehouse.query(
        f"select * from {warehouse.relation('city_daily_summary')} where city = {city} and summary_date = date '{day}'"
    )
    if not rows or rows[0].get("scored_reviews") is None:  # the NLP columns are null when the stage was off
        return summary
    row = rows[0]
    themes = sorted(
        ((name[len("theme_") :], int(value or 0)) for name, value in row.items() if name.startswith("theme_")),
        key=lambda item: -item[1],
    )
    movers = warehouse.query(
        "select place_id, name, previous_average_sentiment as previous, average_sentiment as current"
        f" from {warehouse.relation('restaurants')}"
        f" where city = {city} and last_seen_date = date '{day}'"
        " and average_sentiment is not null and previous_average_sentiment is not null"
        " and average_sentiment <> previous_average_sentiment"
        " order by abs(average_sentiment - previous_average_sentiment) desc, place_id"
        f" limit {MOVERS}"
    )
    return summary.model_copy(
        update={
            "average_sentiment": _round(row.get("average_sentiment")),
            "positive_share": _round(row.get("positive_share")),
            "negative_share": _round(row.get("negative_share")),
            "scored_reviews": _int(row.get("scored_reviews")),
            "unscored_reviews": _int(row.get("unscored_reviews")),
            "top_themes": [name for name, count in themes if count > 0][:3],
            "sentiment_movers": [
                SentimentMove(
                    place_id=str(m["place_id"]),
                    name=str(m["name"] or m["place_id"]),
                    previous=_round(m["previous"]),
                    current=float(_round(m["current"]) or 0.0),
                    change=round(float(m["current"]) - float(m["previous"]), 3),
                )
                for m in movers
            ],
        }
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))
