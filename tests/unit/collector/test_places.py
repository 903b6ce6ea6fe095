"""Classifying the Places API's answers, and the client's retry decisions (fake session, fake clock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from restaurant_pipeline.local.places_stub import protocol as google
from services.collector.adapters.places_http import PlacesClient, RetryPolicy, classify
from services.collector.domain.model import CollectionError, Counters

KEY = "AIzaSyTEST-0123456789-secret-key"


def body_of(error: google.ApiError) -> tuple[int, str]:
    return error.code, json.dumps(error.body)


@pytest.mark.parametrize(
    ("answer", "category", "retryable"),
    [
        (body_of(google.invalid_key()), "api_auth", False),
        (body_of(google.service_disabled()), "api_auth", False),
        (body_of(google.missing_key()), "api_auth", False),
        (body_of(google.quota_exceeded("day", 1000)), "api_quota_daily", False),
        (body_of(google.quota_exceeded("minute", 600)), "api_quota_minute", True),
        (body_of(google.unavailable()), "api_unavailable", True),
        (body_of(google.internal()), "api_unavailable", True),
        (body_of(google.invalid_argument(google.FIELD_MASK_MISSING)), "api_bad_request", False),
        ((200, "<html>Bad gateway</html>"), "api_unavailable", True),
        ((200, '{"places": [{"displayName": {"text": "no id"}}]}'), "api_unavailable", True),
        ((200, '["a list"]'), "api_unavailable", True),
        ((502, "<html>502 Bad Gateway</html>"), "api_unavailable", True),
        ((404, "Not Found"), "api_unavailable", True),  # not the documented JSON, whatever the status
    ],
)
def test_answers_are_classified_from_status_and_body(answer: tuple[int, str], category: str, retryable: bool) -> None:
    status, text = answer
    result = classify(status, text)
    assert result.body is None and result.failure is not None
    assert (result.failure.category, result.failure.retryable, result.failure.http_status) == (
        category,
        retryable,
        status,
    )


def test_messages_say_what_happened_and_what_to_do() -> None:
    failure = classify(*body_of(google.invalid_key())).failure
    assert failure is not None
    assert "API_KEY_INVALID" in failure.message and "GOOGLE_PLACES_API_KEY" in failure.message
    daily = classify(*body_of(google.quota_exceeded("day", 1000))).failure
    assert daily is not None and "daily" in daily.message and "Not retried" in daily.message


def test_a_documented_body_is_returned_as_is() -> None:
    body = {"places": [{"id": "ChIJ1", "displayName": {"text": "Chez Marcel"}}], "nextPageToken": "AUac"}
    assert classify(200, json.dumps(body)).body == body
    assert classify(200, "{}").body == {}  # what the API answers when nothing matches


def test_retry_after_is_read_from_a_per_minute_429() -> None:
    assert classify(*body_of(google.quota_exceeded("minute", 600)), retry_after="7").retry_after == 7.0


# --- the client's retry loop --------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    text: str = "{}"
    headers: dict[str, str] = field(default_factory=dict)
    raises: Exception | None = None


class FakeResponse:
    def __init__(self, reply: Reply) -> None:
        self.status = reply.status
        self.headers = reply.headers
        self._text = reply.text

    async def text(self) -> str:
        return self._text


class FakeSession:
    def __init__(self, replies: list[Reply]) -> None:
        self._replies: Iterator[Reply] = iter(replies)
        self.requests: list[dict[str, Any]] = []

    @asynccontextmanager
    async def post(self, url: str, json: Any, headers: dict[str, str], timeout: Any) -> Any:
        self.requests.append({"url": url, "json": json, "headers": headers})
        reply = next(self._replies)
        if reply.raises is not None:
            raise reply.raises
        yield FakeResponse(reply)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NoLimit:
    async def acquire(self) -> None:
        return None

    def done(self, grant: None) -> None:
        return None


def search(replies: list[Reply], deadline: float = 300.0, policy: RetryPolicy | None = None) -> tuple[Any, ...]:
    session, fake = FakeSession(replies), FakeTime()
    client = PlacesClient(
        session,  # type: ignore[arg-type]
        "https://places.example/",
        KEY,
        NoLimit(),
        deadline,
        policy or RetryPolicy(),
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=lambda: 0.5,
    )
    counters = Counters()
    try:
        result: Any = asyncio.run(client.search_text({"textQuery": "q"}, "places.id,nextPageToken", counters))
    except CollectionError as error:
        result = error
    return result, counters, fake, session, client


def test_sends_the_key_and_mask_in_headers_to_search_text() -> None:
    result, counters, _, session, _ = search([Reply(200, '{"places": []}')])
    assert result == {"places": []} and counters.requests == 1
    [request] = session.requests
    assert request["url"] == "https://places.example/v1/places:searchText"
    assert request["headers"]["X-Goog-Api-Key"] == KEY
    assert request["headers"]["X-Goog-FieldMask"] == "places.id,nextPageToken"
    assert KEY not in json.dumps(request["json"])


def test_5xx_then_success_is_retried_with_backoff() -> None:
    result, counters, fake, _, _ = search([Reply(*body_of(google.unavailable())), Reply(200, "{}")])
    assert result == {}
    assert (counters.requests, counters.retries) == (2, 1)
    assert fake.sleeps == [0.25]  # full jitter of base 0.5 s


def test_5xx_that_persists_gives_up_after_max_attempts_as_retryable() -> None:
    replies = [Reply(*body_of(google.internal())) for _ in range(5)]
    error, counters, fake, _, _ = search(replies)
    assert isinstance(error, CollectionError)
    assert error.failure.category == "api_unavailable" and error.failure.retryable
    assert "after 5 attempts" in error.failure.message
    assert counters.requests == 5 and len(fake.sleeps) == 4


def test_timeouts_and_resets_are_retried() -> None:
    replies = [
        Reply(raises=TimeoutError()),
        Reply(raises=aiohttp.ServerDisconnectedError()),
        Reply(raises=ConnectionResetError("reset by peer")),
        Reply(200, '{"places": [{"id": "x"}]}'),
    ]
    result, counters, _, _, _ = search(replies)
    assert result == {"places": [{"id": "x"}]} and counters.retries == 3


def test_a_per_minute_429_honours_retry_after() -> None:
    replies = [Reply(*body_of(google.quota_exceeded("minute", 600)), headers={"Retry-After": "12"}), Reply()]
    result, counters, fake, _, _ = search(replies)
    assert result == {} and counters.throttled == 1
    assert fake.sleeps == [12.25]


def test_a_per_minute_429_backs_off_until_the_deadline_then_fails_retryable() -> None:
    replies = [Reply(*body_of(google.quota_exceeded("minute", 600))) for _ in range(50)]
    error, counters, fake, _, _ = search(replies, deadline=60.0)
    assert isinstance(error, CollectionError)
    assert error.failure.category == "api_quota_minute" and error.failure.retryable
    assert "remaining time" in error.failure.message
    assert fake.now < 60.0
    assert fake.sleeps == sorted(fake.sleeps), "the backoff grows"
    assert counters.throttled == counters.requests


@pytest.mark.parametrize(
    "error", [google.invalid_key(), google.quota_exceeded("day", 5), google.invalid_argument("bad")]
)
def test_non_retryable_answers_are_not_retried(error: google.ApiError) -> None:
    failure, counters, fake, _, _ = search([Reply(*body_of(error))])
    assert isinstance(failure, CollectionError) and not failure.failure.retryable
    assert counters.requests == 1 and fake.sleeps == []


def test_after_an_invalid_key_the_client_refuses_further_calls() -> None:
    _, _, _, session, client = search([Reply(*body_of(google.invalid_key()))])
    with pytest.raises(CollectionError) as raised:
        asyncio.run(client.search_text({"textQuery": "other"}, "places.id", Counters()))
    assert raised.value.failure.category == "api_auth"
    assert len(session.requests) == 1


def test_the_key_never_appears_in_a_failure_even_if_the_server_echoes_it() -> None:
    echo = json.dumps({"error": {"code": 400, "message": f"bad key {KEY}", "status": "INVALID_ARGUMENT"}})
    failure, *_ = search([Reply(400, echo)])
    assert isinstance(failure, CollectionError)
    assert KEY not in failure.failure.message and KEY not in str(failure)
    assert "[redacted]" in failure.failure.message


def test_time_running_out_after_api_failures_reports_the_failure_met_not_internal() -> None:
    """A later query (another city, the next page) that would start past the deadline."""
    replies = [Reply(*body_of(google.unavailable())) for _ in range(4)]
    error, _, fake, _, client = search(replies, deadline=3.0)
    assert isinstance(error, CollectionError) and error.failure.category == "api_unavailable"
    fake.now = 3.5  # the other queries' work took the rest of the time

    with pytest.raises(CollectionError) as later:
        asyncio.run(client.search_text({"textQuery": "q"}, "places.id,nextPageToken", Counters()))

    failure = later.value.failure
    assert (failure.category, failure.retryable, failure.http_status) == ("api_unavailable", True, 503)
    assert "time ran out after this failure" in failure.message and "raise timeouts.collector" in failure.message


def test_time_running_out_without_any_api_failure_is_internal() -> None:
    _, _, fake, _, client = search([Reply(200, "{}")], deadline=3.0)
    fake.now = 3.5

    with pytest.raises(CollectionError) as later:
        asyncio.run(client.search_text({"textQuery": "q"}, "places.id,nextPageToken", Counters()))

    assert (
        later.value.failure.category == "internal" and "ran out of the function's time" in later.value.failure.message
    )
