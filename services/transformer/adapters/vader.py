"""Adapter: the offline analyzer. VADER (vaderSentiment: an English lexicon shipped inside the package, no
download, no network) for the sentiment; the FR/EN theme lexicon's terms as key phrases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.transformer.domain.model import Analysis, AnalysisBatch, Document, SentimentLabel
from services.transformer.domain.themes import base_language, find_terms

# VADER's own documented thresholds on the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05


class VaderAnalyzer:
    name = "vader"

    def __init__(self, analyzer: Any = None) -> None:
        if analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            analyzer = SentimentIntensityAnalyzer()
        self._vader = analyzer

    def language_for(self, language_code: str | None) -> str | None:
        return "en" if base_language(language_code) == "en" else None

    def analyze(self, documents: Sequence[Document]) -> AnalysisBatch:
        batch = AnalysisBatch()
        for document in documents:
            scores = self._vader.polarity_scores(document.text)
            compound = float(scores["compound"])
            label: SentimentLabel
            if compound >= POSITIVE_THRESHOLD:
                label = "POSITIVE"
            elif compound <= NEGATIVE_THRESHOLD:
                label = "NEGATIVE"
            else:
                label = "NEUTRAL"
            terms = []
            for _, term in find_terms(document.text, document.language):
                if term not in terms:
                    terms.append(term)
            batch.analyses.append(
                Analysis(
                    key=document.key,
                    label=label,
                    score=max(-1.0, min(1.0, compound)),
                    positive=float(scores["pos"]),
                    negative=float(scores["neg"]),
                    neutral=float(scores["neu"]),
                    mixed=0.0,
                    key_phrases=tuple(terms),
                )
            )
        return batch
