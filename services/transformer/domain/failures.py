"""Which failures a retry can cure, and how long a retried message waits (issue 23, item 5).

The transformer's queue is FIFO with one message group: a failed message left to the queue's visibility timeout
(6 x the function timeout, an hour by default) holds back every later message of the group for that hour
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/interleaving-multiple-ordered-message-groups.html).
So a failure is classified here, by exception type and AWS error code only, never by message text:

- final: no retry can succeed until a person acts (a denied permission, a missing bucket, a disabled key, a request
  AWS refuses as invalid; a FinalError, such as dbt's state folder found to be a symbolic link). It is announced at
  once and its message leaves the queue (service.TransformBatch).
- transient: everything else (throttling, 5xx, timeouts, lost connections, a dbt or warehouse error the adapters
  could not attribute to a final AWS error). Its message comes back after `retry_delay_seconds`, not the hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

FailureKind = Literal["final", "transient"]

# AWS error codes (botocore ClientError.response["Error"]["Code"]) that no retry cures.
FINAL_ERROR_CODES = frozenset(
    {
        # permissions and credentials
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AllAccessDisabled",
        "AccountProblem",
        # KMS keys (S3 and SQS name the KMS failure with a KMS. prefix; KMS itself without it)
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
        "KMS.NotFoundException",
        "KMS.InvalidStateException",
        "KMS.KMSInvalidStateException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
        "DisabledException",
        "NotFoundException",
        # resources that are not there
        "NoSuchBucket",
        "ResourceNotFoundException",
        "EntityNotFoundException",
        "InvalidRequestException",  # Athena: a query it refuses (a missing table, bad SQL)
        # requests AWS refuses as they are
        "ValidationException",
        "ValidationError",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidArgument",
    }
)

# The backoff of a transient failure, by receive: 30 s, 60 s, 120 s, ... at most 15 minutes.
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 900


class FinalError(RuntimeError):
    """An error whose type says no retry can cure it (dbt's state folder is a symbolic link: adapters/dbt_build.py)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes (raise ... from ..., then the implicit context)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def error_codes(exc: BaseException) -> Iterator[str]:
    """The AWS error codes along the exception's chain."""
    for current in _chain(exc):
        response = getattr(current, "response", None)  # botocore.exceptions.ClientError
        if isinstance(response, dict):
            error = response.get("Error")
            if isinstance(error, dict) and isinstance(error.get("Code"), str):
                yield error["Code"]


def classify(exc: BaseException) -> FailureKind:
    """final when a FinalError or an AWS error code along the chain says no retry can succeed; transient otherwise."""
    if any(isinstance(current, FinalError) for current in _chain(exc)):
        return "final"
    return "final" if any(code in FINAL_ERROR_CODES for code in error_codes(exc)) else "transient"


def final_cause(exc: Exception) -> Exception:
    """The exception an announcement names for a final failure: its own words plus the AWS error code that made it
    final (the adapters' messages name only the exception class), and that the cause must be fixed first."""
    code = next((code for code in error_codes(exc) if code in FINAL_ERROR_CODES), None)
    if code is None:
        return exc
    return FinalFailure(f"{exc} (AWS error {code}: retrying cannot help until it is fixed)")


class FinalFailure(RuntimeError):
    """The words of a final failure, as announced."""


def retry_delay_seconds(receives: int, max_receive_count: int, first: int = FIRST_RETRY_SECONDS) -> int:
    """How long a message that failed transiently on its `receives`-th receive stays invisible: a short backoff
    (`first` seconds, then twice as long each time: 30 s, 60 s, 120 s, ...), and 0 after its last receive, whose
    failure was announced: SQS then moves it to the dead-letter queue on the next receive instead of holding the
    message group an hour."""
    if receives >= max_receive_count:
        return 0
    return min(MAX_RETRY_SECONDS, first * 2 ** max(0, receives - 1))
