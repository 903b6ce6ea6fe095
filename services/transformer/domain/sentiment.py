"""The NLP stage's domain: between dbt staging and the marts, score the reviews never scored before.

Order inside one transformer batch (ScoringBuilder.build):
  1. staging: `stg_places__reviews` for the batch's days (ReviewStaging),
  2. the reviews in it that were never processed: not in the `review_sentiments` mart (MartReader), not in an
     enriched object of those days (a previous attempt whose marts did not build: ScoreStore),
  3. score them (SentimentAnalyzer), write one enriched object per collection day (ScoreStore),
  4. the usual `dbt build` (the inner Builder), whose marts read the enriched objects; its report carries the
     stage's review counts.
The sentiment the marts then hold reaches the outcome through MartReader.city_summaries.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from contracts.events import ReviewCounts
from contracts.records import EnrichedReview
from services.common.names import ENRICHED_PREFIX
from services.transformer.domain.model import Analysis, BuildReport, Document, StagedReview
from services.transformer.domain.themes import extract_themes
from services.transformer.ports import Builder, MartReader, ReviewStaging, ScoreStore, SentimentAnalyzer

Status = Literal["scored", "empty_text", "unsupported_language"]


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
    marts: MartReader,
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
    reviews, already_in_mart = marts.staged_reviews()
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
    by_day: dict[str, list[EnrichedReview]] = {}
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
        key = enriched_key(day, [r.review_id for r in records])
        store.put(key, render_records(records))
        report.keys.append(key)
    report.duration_ms = _ms(clock() - started)
    return report


def _record(
    review: StagedReview, choice: Choice, analysis: Analysis | None, analyzer: SentimentAnalyzer, scored_at: str
) -> EnrichedReview:
    themes = extract_themes(
        [(review.original_text, review.original_language), (review.review_text, review.review_language)]
    )
    scored = choice.status == "scored" and analysis is not None
    return EnrichedReview(
        review_id=review.review_id,
        place_id=review.place_id,
        status=choice.status,
        analyzer=analyzer.name if scored else None,
        analyzed_language=choice.document.language if scored and choice.document else None,
        analyzed_text_source=choice.source if scored else None,
        sentiment_label=analysis.label if analysis else None,
        sentiment_score=round(analysis.score, 6) if analysis else None,
        positive=round(analysis.positive, 6) if analysis else None,
        negative=round(analysis.negative, 6) if analysis else None,
        neutral=round(analysis.neutral, 6) if analysis else None,
        mixed=round(analysis.mixed, 6) if analysis else None,
        key_phrases=list(analysis.key_phrases) if analysis else [],
        themes=themes,
        scored_at=scored_at,
    )


def enriched_key(day: str, review_ids: Sequence[str]) -> str:
    """Deterministic: a retry that scores the same reviews rewrites the same object."""
    digest = hashlib.sha256("\n".join(sorted(review_ids)).encode()).hexdigest()[:20]
    return f"{ENRICHED_PREFIX}dt={day}/{digest}.jsonl.gz"


def render_records(records: Sequence[EnrichedReview]) -> bytes:
    lines = (json.dumps(r.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")) for r in records)
    text = "".join(line + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=0)


class ScoringBuilder:
    """A Builder that runs the NLP stage before the wrapped build (same `build(days)` port as DbtBuilder); the
    report it returns carries the stage's review counts."""

    def __init__(
        self,
        inner: Builder,
        *,
        staging: ReviewStaging,
        marts: MartReader,
        store: ScoreStore,
        analyzer: SentimentAnalyzer,
    ) -> None:
        self._inner = inner
        self._staging = staging
        self._marts = marts
        self._store = store
        self._analyzer = analyzer

    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        scoring = score_new_reviews(
            days, staging=self._staging, marts=self._marts, store=self._store, analyzer=self._analyzer, objects=objects
        )
        return replace(self._inner.build(days, objects), reviews=scoring.counts())


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))
