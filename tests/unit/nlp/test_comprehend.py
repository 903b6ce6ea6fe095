"""The Comprehend adapter against botocore's Stubber (moto implements neither BatchDetectSentiment nor
BatchDetectKeyPhrases): batch sizes, one language per call, throttling backoff, per-document errors."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from services.transformer.adapters.comprehend import BATCH_SIZE, ComprehendAnalyzer, truncate_utf8
from services.transformer.domain.model import Document, InfrastructureError


@pytest.fixture
def client() -> Any:
    return boto3.client("comprehend", region_name="eu-west-3", aws_access_key_id="x", aws_secret_access_key="x")


def sentiment_response(count: int, label: str = "POSITIVE", errors: tuple[int, ...] = ()) -> dict[str, Any]:
    return {
        "ResultList": [
            {
                "Index": i,
                "Sentiment": label,
                "SentimentScore": {"Positive": 0.9, "Negative": 0.05, "Neutral": 0.04, "Mixed": 0.01},
            }
            for i in range(count)
            if i not in errors
        ],
        "ErrorList": [{"Index": i, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "boom"} for i in errors],
    }


def phrases_response(count: int) -> dict[str, Any]:
    return {
        "ResultList": [
            {"Index": i, "KeyPhrases": [{"Text": "the food", "Score": 0.99, "BeginOffset": 0, "EndOffset": 8}]}
            for i in range(count)
        ],
        "ErrorList": [],
    }


def test_sixty_documents_in_two_languages_go_in_batches_of_at_most_25_per_language(client: Any):
    docs = [Document(f"en{i}", f"great food {i}", "en") for i in range(30)]
    docs += [Document(f"fr{i}", f"très bon {i}", "fr") for i in range(30)]
    stub = Stubber(client)
    for language, size in (("en", 25), ("en", 5), ("fr", 25), ("fr", 5)):
        texts = [d.text for d in docs if d.language == language][: size if size == 25 else None][-size:]
        stub.add_response(
            "batch_detect_sentiment", sentiment_response(size), {"TextList": texts, "LanguageCode": language}
        )
        stub.add_response(
            "batch_detect_key_phrases", phrases_response(size), {"TextList": texts, "LanguageCode": language}
        )

    with stub:
        batch = ComprehendAnalyzer(client).analyze(docs)

    stub.assert_no_pending_responses()
    assert BATCH_SIZE == 25
    assert len(batch.analyses) == 60 and batch.failures == {}
    first = next(a for a in batch.analyses if a.key == "en0")
    assert first.label == "POSITIVE" and first.score == pytest.approx(0.85) and first.key_phrases == ("the food",)


def test_throttling_is_retried_with_growing_backoff_then_succeeds(client: Any):
    stub = Stubber(client)
    for _ in range(2):
        stub.add_client_error("batch_detect_sentiment", service_error_code="ThrottlingException", http_status_code=400)
    stub.add_response("batch_detect_sentiment", sentiment_response(1))
    stub.add_response("batch_detect_key_phrases", phrases_response(1))
    slept: list[float] = []

    with stub:
        analyzer = ComprehendAnalyzer(client, base_delay=1.0, sleep=slept.append, jitter=lambda: 1.0)
        batch = analyzer.analyze([Document("r1", "nice", "en")])

    assert [a.key for a in batch.analyses] == ["r1"]
    assert slept == [1.0, 2.0] and analyzer.throttled == 2


def test_throttling_that_never_ends_is_an_infrastructure_error_so_the_batch_is_retried(client: Any):
    stub = Stubber(client)
    for _ in range(3):
        stub.add_client_error("batch_detect_sentiment", service_error_code="ThrottlingException", http_status_code=400)

    with stub, pytest.raises(InfrastructureError, match="still throttled after 3 attempts"):
        ComprehendAnalyzer(client, max_attempts=3, sleep=lambda _: None).analyze([Document("r1", "nice", "en")])


def test_access_denied_is_not_retried_and_names_the_operation(client: Any):
    stub = Stubber(client)
    stub.add_client_error("batch_detect_sentiment", service_error_code="AccessDeniedException", http_status_code=403)
    slept: list[float] = []

    with stub, pytest.raises(InfrastructureError, match="batch_detect_sentiment failed: AccessDeniedException"):
        ComprehendAnalyzer(client, sleep=slept.append).analyze([Document("r1", "nice", "en")])
    assert slept == []


def test_a_document_in_the_error_list_is_reported_as_failed_not_scored(client: Any):
    stub = Stubber(client)
    stub.add_response("batch_detect_sentiment", sentiment_response(2, errors=(1,)))
    stub.add_response("batch_detect_key_phrases", phrases_response(2))

    with stub:
        batch = ComprehendAnalyzer(client).analyze([Document("ok", "good", "en"), Document("bad", "bad", "en")])

    assert [a.key for a in batch.analyses] == ["ok"]
    assert batch.failures == {"bad": "INTERNAL_SERVER_ERROR: boom"}


def test_long_texts_are_cut_to_5000_bytes_on_a_character_boundary(client: Any):
    text = "é" * 3000  # 6000 bytes
    cut = truncate_utf8(text)
    assert len(cut.encode()) <= 5000 and cut == "é" * 2500
    stub = Stubber(client)
    stub.add_response("batch_detect_sentiment", sentiment_response(1), {"TextList": [cut], "LanguageCode": "fr"})
    stub.add_response("batch_detect_key_phrases", phrases_response(1), {"TextList": [cut], "LanguageCode": "fr"})
    with stub:
        ComprehendAnalyzer(client).analyze([Document("r", text, "fr")])
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "expected"),
    [("en-US", "en"), ("fr", "fr"), ("zh-TW", "zh-TW"), ("zh-CN", "zh"), ("nl", None), ("", None), (None, None)],
)
def test_only_languages_comprehend_supports_are_sent(client: Any, code: str | None, expected: str | None):
    assert ComprehendAnalyzer(client).language_for(code) == expected
