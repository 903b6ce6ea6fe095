"""Adapter: Places API (New) Text Search over aiohttp, paced, retried and classified.

Every HTTP attempt (retries included) takes a slot from the shared limiter first, so the quota holds
whatever happens. Answers are classified from status and body (see `classify`):

  400 + API_KEY_INVALID, 401, 403   -> api_auth          not retried
  429 naming "per day"              -> api_quota_daily   not retried at all
  429 (per minute)                  -> api_quota_minute  retried with jittered backoff, honouring Retry-After
  5xx, timeouts, resets, a body that is not the documented JSON
                                    -> api_unavailable   bounded exponential backoff
  any other 4xx                     -> api_bad_request   not retried

Retries stop at the deadline (the function's remaining time, less a reserve to write and publish): the
failure then goes up as retryable and SQS redelivers the request. A request that would start past the deadline fails
with the last classified failure this invocation met (say api_unavailable: the API's failures are what used the time),
and as `internal` ("ran out of time") only when the API never failed. The API key travels only in the
X-Goog-Api-Key header; every message that leaves this module is scrubbed of it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.collector.domain.model import CollectionError, Counters, Failure
from services.collector.ports import Limiter
from services.common.redaction import redact_secrets

SEARCH_TEXT_PATH = "/v1/places:searchText"
MAX_DETAIL = 300  # characters of an error body quoted in a message


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # per request, for api_unavailable (5xx, timeouts, resets, bad bodies)
    base_delay: float = 0.5  # seconds; doubles each attempt, full jitter
    max_delay: float = 8.0
    quota_base_delay: float = 2.0  # per-minute 429 without Retry-After
    quota_max_delay: float = 30.0
    request_timeout: float = 30.0


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: the parsed body when it is the documented JSON, or the failure it amounts to."""

    body: dict[str, Any] | None
    failure: Failure | None
    retry_after: float | None = None


def _error_fields(payload: Any) -> tuple[str, str, set[str], str] | None:
    """(status, message, reasons, joined metadata) of a google.rpc.Status body, None if it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    error = payload["error"]
    status = error.get("status")
    message = error.get("message")
    if not isinstance(status, str) or not isinstance(message, str):
        return None
    reasons: set[str] = set()
    metadata: list[str] = []
    for detail in error.get("details") or []:
        if isinstance(detail, dict):
            if isinstance(detail.get("reason"), str):
                reasons.add(detail["reason"])
            if isinstance(detail.get("metadata"), dict):
                metadata.extend(str(value) for value in detail["metadata"].values())
    return status, message, reasons, " ".join(metadata)


def _valid_search_body(payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    places = payload.get("places", [])
    if not isinstance(places, list) or not all(isinstance(p, dict) and isinstance(p.get("id"), str) for p in places):
        return False
    token = payload.get("nextPageToken")
    return token is None or isinstance(token, str)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def classify(status: int, text: str, retry_after: str | None = None) -> Answer:
    """Turn one HTTP answer into a body or a classified failure. Pure: unit-tested on Google's own bodies."""
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if status == 200:
        if _valid_search_body(payload):
            return Answer(payload, None)
        return Answer(
            None,
            Failure(
                "api_unavailable",
                f"HTTP 200 with a body that is not the documented searchText JSON: {_shorten(text)!r}",
                retryable=True,
                http_status=status,
            ),
        )
    fields = _error_fields(payload)
    if fields is None:
        return Answer(
            None,
            Failure(
                "api_unavailable",
                f"HTTP {status} with a body that is not the documented error JSON: {_shorten(text)!r}",
                retryable=True,
                http_status=status,
            ),
        )
    rpc_status, message, reasons, metadata = fields
    reason = f" {'/'.join(sorted(reasons))}" if reasons else ""
    said = f"HTTP {status} {rpc_status}{reason}: {_shorten(message)}"
    if "API_KEY_INVALID" in reasons or status in (401, 403):
        if "API_KEY_INVALID" in reasons:
            fix = (
                "Fix: put a valid key in the Places API key secret (AWS) or GOOGLE_PLACES_API_KEY (local). "
                "Not retried: the same key cannot succeed."
            )
        else:
            fix = (
                "Fix: enable Places API (New) in the key's Google Cloud project and check the key's API "
                "restrictions. Not retried until then."
            )
        return Answer(None, Failure("api_auth", f"The Places API refused the key ({said}). {fix}", False, status))
    if status == 429:
        daily = "per day" in message.lower() or "perday" in metadata.lower().replace("_", "")
        if daily:
            return Answer(
                None,
                Failure(
                    "api_quota_daily",
                    f"The project's daily Places API quota is used up ({said}). Not retried today: the next "
                    "scheduled run tries again; raise the daily quota in the Google Cloud console if this recurs.",
                    False,
                    status,
                ),
            )
        return Answer(
            None,
            Failure(
                "api_quota_minute",
                f"The per-minute Places API quota was exceeded ({said}). Fix if it recurs: lower "
                "places.requests_per_minute in pipeline.toml to the project's quota, or raise the quota.",
                True,
                status,
            ),
            _retry_after_seconds(retry_after),
        )
    if status >= 500:
        return Answer(None, Failure("api_unavailable", f"The Places API failed ({said}).", True, status))
    return Answer(
        None,
        Failure(
            "api_bad_request",
            f"The Places API refused the request ({said}). Fix the query, language or field mask in "
            "pipeline.toml. Not retried: the same request cannot succeed.",
            False,
            status,
        ),
    )


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for Google; fall back to backoff


class PlacesClient:
    """searchText for one invocation. Shared by every city of the run (one limiter, one deadline)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        limiter: Limiter,
        deadline: float,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + SEARCH_TEXT_PATH
        self._key = api_key
        self._limiter = limiter
        self._deadline = deadline
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self.fatal: Failure | None = None  # a request-wide failure: every later call fails the same way
        self.last_failure: Failure | None = None  # the last classified failure met, for when time runs out

    def _delay(self, failure: Failure, attempt: int, retry_after: float | None) -> float:
        policy = self._policy
        if failure.category == "api_quota_minute":
            if retry_after is not None:
                return retry_after + self._jitter() * 0.5
            ceiling = min(policy.quota_max_delay, policy.quota_base_delay * 2 ** (attempt - 1))
            return ceiling / 2 + self._jitter() * ceiling / 2  # "equal jitter": never retries immediately
        return self._jitter() * min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))

    async def search_text(self, body: dict[str, Any], field_mask: str, counters: Counters) -> dict[str, Any]:
        """One page. Raises CollectionError with the classified failure when it cannot get one."""
        if self.fatal is not None:
            raise CollectionError(self.fatal)
        attempt = 0
        unavailable_attempts = 0
        while True:
            attempt += 1
            answer = await self._exchange(body, field_mask, counters)
            if answer.body is not None:
                return answer.body
            failure = answer.failure
            assert failure is not None
            if failure.category == "api_quota_minute":
                counters.throttled += 1
            if not failure.retryable:
                if failure.request_wide:
                    self.fatal = failure
                raise CollectionError(failure)
            if failure.category == "api_unavailable":
                unavailable_attempts += 1
                if unavailable_attempts >= self._policy.max_attempts:
                    raise CollectionError(self._gave_up(failure, f"after {unavailable_attempts} attempts"))
            delay = self._delay(failure, attempt, answer.retry_after)
            if self._clock() + delay >= self._deadline:
                raise CollectionError(self._gave_up(failure, "within this invocation's remaining time"))
            counters.retries += 1
            await self._sleep(delay)

    def _gave_up(self, failure: Failure, how: str) -> Failure:
        return Failure(
            failure.category,
            f"{failure.message} Still failing {how}; SQS will redeliver the request.",
            retryable=True,
            http_status=failure.http_status,
        )

    def _out_of_time(self) -> Failure:
        """Why a request cannot start: the function's time is up. Reported as the last failure the API gave, when
        it gave one (a city started after another's retries used the time), else as `internal`."""
        last = self.last_failure
        if last is not None:
            return Failure(
                last.category,
                f"{last.message} The function's time ran out after this failure; SQS will redeliver the request "
                "and cities already written are skipped. If the API recovered meanwhile, raise timeouts.collector or "
                "lower max_restaurants in pipeline.toml.",
                retryable=True,
                http_status=last.http_status,
            )
        return Failure(
            "internal",
            "The collection ran out of the function's time before finishing. Fix: raise "
            "timeouts.collector or lower max_restaurants in pipeline.toml; SQS will redeliver the "
            "request and cities already written are skipped.",
            retryable=True,
        )

    async def _exchange(self, body: dict[str, Any], field_mask: str, counters: Counters) -> Answer:
        remaining = self._deadline - self._clock()
        if remaining <= 0:
            raise CollectionError(self._out_of_time())
        grant = await self._limiter.acquire()
        counters.requests += 1
        headers = {
            "Content-Type": "application/json",
            "X-Goog-Api-Key": self._key,
            "X-Goog-FieldMask": field_mask,
        }
        timeout = aiohttp.ClientTimeout(total=max(0.1, min(self._policy.request_timeout, remaining)))
        try:
            async with self._session.post(self._url, json=body, headers=headers, timeout=timeout) as response:
                text = await response.text()
                answer = classify(response.status, text, response.headers.get("Retry-After"))
        except TimeoutError:
            answer = Answer(None, Failure("api_unavailable", "The Places API did not answer in time (timeout).", True))
        except (aiohttp.ClientError, ConnectionError) as exc:
            reason = redact_secrets(f"{exc.__class__.__name__}: {exc}", self._key)
            answer = Answer(
                None,
                Failure("api_unavailable", f"The connection to the Places API failed ({_shorten(reason)}).", True),
            )
        finally:
            self._limiter.done(grant)  # it arrived by its answer: it counts against the quota from now
        if answer.failure is not None:
            answer = Answer(
                None,
                Failure(
                    answer.failure.category,
                    redact_secrets(answer.failure.message, self._key),
                    answer.failure.retryable,
                    answer.failure.http_status,
                ),
                answer.retry_after,
            )
            self.last_failure = answer.failure
        return answer
