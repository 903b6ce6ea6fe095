"""The scoring port: what the NLP stage needs from an analyzer (Amazon Comprehend on AWS, VADER offline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]


@dataclass(frozen=True)
class Document:
    """One text to score, in a language the analyzer said it supports."""

    key: str  # the review id: results are matched on it
    text: str
    language: str  # as accepted by the analyzer (e.g. "en", "fr", "zh-TW")


@dataclass(frozen=True)
class Analysis:
    key: str
    label: SentimentLabel
    score: float  # -1 (negative) .. 1 (positive): Comprehend positive - negative; VADER its compound score
    positive: float
    negative: float
    neutral: float
    mixed: float = 0.0
    key_phrases: tuple[str, ...] = ()


@dataclass
class AnalysisBatch:
    analyses: list[Analysis] = field(default_factory=list)
    # Documents the analyzer could not score this time (key -> reason): not recorded, so the next run retries them.
    failures: dict[str, str] = field(default_factory=dict)


class SentimentAnalyzer(Protocol):
    name: str

    def language_for(self, language_code: str | None) -> str | None:
        """The analyzer's code for a review language ('en-US' -> 'en'), or None when it cannot score it."""
        ...

    def analyze(self, documents: Sequence[Document]) -> AnalysisBatch: ...
