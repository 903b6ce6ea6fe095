"""Adapter: Amazon Comprehend's batch APIs (BatchDetectSentiment, BatchDetectKeyPhrases).

- at most 25 documents per call, one language per call (the APIs take one LanguageCode);
- each document cut to 5,000 bytes of UTF-8 (the batch APIs' limit per document), on a character boundary;
- throttling (ThrottlingException, TooManyRequestsException) retried with exponential backoff and jitter, then
  InfrastructureError (the SQS record is retried later, and already written scores are not redone);
- per-document errors (the ErrorList) leave that document unscored: it is retried on the next run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Literal, TypeGuard, TypeVar, get_args

from services.transformer.domain.model import Analysis, AnalysisBatch, Document, InfrastructureError, SentimentLabel
from services.transformer.domain.themes import base_language

if TYPE_CHECKING:
    from mypy_boto3_comprehend import ComprehendClient
    from mypy_boto3_comprehend.type_defs import KeyPhraseTypeDef

BATCH_SIZE = 25
MAX_DOCUMENT_BYTES = 5000
# The languages of DetectSentiment and DetectKeyPhrases (Comprehend developer guide, "Supported languages":
# https://docs.aws.amazon.com/comprehend/latest/dg/supported-languages.html). mypy holds them to the LanguageCode values
# the batch APIs' model allows (the type stubs' LanguageCodeType): a code the API would refuse does not type-check.
Language = Literal["ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"]
SUPPORTED_LANGUAGES: frozenset[str] = frozenset(get_args(Language))
_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "ProvisionedThroughputExceededException"}
_LABELS: dict[str, SentimentLabel] = {
    "POSITIVE": "POSITIVE",
    "NEGATIVE": "NEGATIVE",
    "NEUTRAL": "NEUTRAL",
    "MIXED": "MIXED",
}
MAX_KEY_PHRASES = 10


def truncate_utf8(text: str, limit: int = MAX_DOCUMENT_BYTES) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def _supported(language: str) -> TypeGuard[Language]:
    return language in SUPPORTED_LANGUAGES


Response = TypeVar("Response")


class ComprehendAnalyzer:
    name = "comprehend"

    def __init__(
        self,
        comprehend_client: ComprehendClient,
        *,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = comprehend_client
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._jitter = jitter
        self.calls = 0  # API calls made (for logs and tests)
        self.throttled = 0

    def language_for(self, language_code: str | None) -> str | None:
        code = (language_code or "").strip()
        if code.lower() in ("zh-tw", "zh-hant", "zh-hant-tw"):
            return "zh-TW"
        base = base_language(code)
        return base if base in SUPPORTED_LANGUAGES else None

    def analyze(self, documents: Sequence[Document]) -> AnalysisBatch:
        batch = AnalysisBatch()
        ordered = sorted(documents, key=lambda d: d.language)
        for language, group in groupby(ordered, key=lambda d: d.language):
            if not _supported(language):
                raise ValueError(f"Comprehend cannot score language {language!r}; ask language_for() first")
            items = list(group)
            for start in range(0, len(items), BATCH_SIZE):
                self._analyze_chunk(items[start : start + BATCH_SIZE], language, batch)
        return batch

    def _analyze_chunk(self, chunk: list[Document], language: Language, batch: AnalysisBatch) -> None:
        texts = [truncate_utf8(d.text) for d in chunk]
        client = self._client
        sentiment = self._call(
            "batch_detect_sentiment", lambda: client.batch_detect_sentiment(TextList=texts, LanguageCode=language)
        )
        phrases = self._call(
            "batch_detect_key_phrases", lambda: client.batch_detect_key_phrases(TextList=texts, LanguageCode=language)
        )
        failed: dict[int, str] = {}
        for response in (sentiment, phrases):
            for error in response.get("ErrorList", []):
                failed.setdefault(int(error["Index"]), f"{error.get('ErrorCode')}: {error.get('ErrorMessage', '')}")
        key_phrases = {
            int(item["Index"]): tuple(_top_phrases(item.get("KeyPhrases", [])))
            for item in phrases.get("ResultList", [])
        }
        scored = set()
        for item in sentiment.get("ResultList", []):
            index = int(item["Index"])
            if index in failed:
                continue
            scores = item.get("SentimentScore", {})
            positive = float(scores.get("Positive", 0.0))
            negative = float(scores.get("Negative", 0.0))
            label = _LABELS.get(str(item.get("Sentiment", "")).upper())
            if label is None:
                failed[index] = f"unknown sentiment {item.get('Sentiment')!r}"
                continue
            batch.analyses.append(
                Analysis(
                    key=chunk[index].key,
                    label=label,
                    score=max(-1.0, min(1.0, positive - negative)),
                    positive=positive,
                    negative=negative,
                    neutral=float(scores.get("Neutral", 0.0)),
                    mixed=float(scores.get("Mixed", 0.0)),
                    key_phrases=key_phrases.get(index, ()),
                )
            )
            scored.add(index)
        for index, document in enumerate(chunk):
            if index not in scored:
                batch.failures[document.key] = failed.get(index, "no result returned")

    def _call(self, operation: str, request: Callable[[], Response]) -> Response:
        """`request()`, the call named `operation`, retried while Comprehend throttles it."""
        for attempt in range(1, self._max_attempts + 1):
            self.calls += 1
            try:
                return request()
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code not in _THROTTLED:
                    raise InfrastructureError(
                        f"Comprehend {operation} failed: {code or exc.__class__.__name__}"
                    ) from exc
                self.throttled += 1
                if attempt == self._max_attempts:
                    raise InfrastructureError(
                        f"Comprehend {operation} still throttled after {attempt} attempts; the batch is retried later"
                    ) from exc
                delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
                self._sleep(delay * (0.5 + self._jitter() / 2))
        raise AssertionError("unreachable")


def _top_phrases(phrases: Sequence[KeyPhraseTypeDef]) -> list[str]:
    ranked = sorted(phrases, key=lambda p: -float(p.get("Score", 0.0)))
    unique: list[str] = []
    for phrase in ranked:
        text = str(phrase.get("Text", "")).strip()
        if text and text.lower() not in (u.lower() for u in unique):
            unique.append(text)
        if len(unique) == MAX_KEY_PHRASES:
            break
    return unique
