"""The text of an error never decides whether it is retried (issue 24, item 1c).

A model or test that ends in error is an error of the build, whatever its message says (a raw file named
"...Connection..." once made a data error look like a lost connection: retried for ever). An exception of the dbt
runner itself is InfrastructureError chained to its cause, classified by the AWS error codes along that chain
(domain/failures.classify), never by its words."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from dbt_common.exceptions import DbtRuntimeError

from services.transformer.adapters.dbt_build import interpret
from services.transformer.domain.failures import classify
from services.transformer.domain.model import InfrastructureError


def node_result(name: str, resource: str, status: str, message: str = "") -> Any:
    node = SimpleNamespace(
        name=name,
        resource_type=resource,
        unique_id=f"{resource}.restaurant_pipeline.{name}",
        attached_node="model.restaurant_pipeline.stg_places__places" if resource == "test" else None,
        relation_name=None,
    )
    return SimpleNamespace(
        node=node, status=status, message=message, adapter_response={}, execution_time=0.1, failures=None
    )


def runner_result(*results: Any, exception: BaseException | None = None) -> Any:
    return SimpleNamespace(
        success=False, exception=exception, result=None if exception else SimpleNamespace(results=list(results))
    )


WORDS_OF_THE_WORLD = [
    "Conversion Error: Could not convert string 'Connection' to INT32 in s3://b/validated/Connection.jsonl.gz",
    "Runtime Error: the query timed out reading a value",
    "Invalid Input Error: HTTP 503 in a string of the data",
    "IO Error: HTTP Error in the file name",
    "AccessDenied ThrottlingException ServiceUnavailable",
]


@pytest.mark.parametrize("message", WORDS_OF_THE_WORLD)
def test_a_model_in_error_is_an_error_of_the_build_whatever_its_message_says(message):
    report = interpret(
        runner_result(
            node_result("stg_places__places", "model", "error", message),
            node_result("restaurants", "model", "skipped"),
        )
    )

    assert report.outcome == "error"
    assert report.error_model == "stg_places__places"
    assert report.error_message == f"model stg_places__places: {message}"


@pytest.mark.parametrize("message", WORDS_OF_THE_WORLD)
def test_a_test_in_error_is_an_error_of_the_build_whatever_its_message_says(message):
    report = interpret(
        runner_result(
            node_result("stg_places__places", "model", "success"),
            node_result("not_null_stg_places__places_place_id", "test", "error", message),
        )
    )

    assert report.outcome == "error" and report.tests.errored == 1
    assert report.error_model == "stg_places__places"
    assert report.error_message == f"test not_null_stg_places__places_place_id: {message}"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "StartQueryExecution",
    )


def dbt_error_from(cause: Exception) -> DbtRuntimeError:
    """As dbt-athena's exception_handler raises it: DbtRuntimeError(str(e)) from the botocore error."""
    try:
        try:
            raise cause
        except ClientError as exc:
            raise DbtRuntimeError(str(exc)) from exc
    except DbtRuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 400, "transient"),
        ("TooManyRequestsException", 429, "transient"),
        ("AccessDenied", 403, "final"),
        ("AccessDeniedException", 400, "final"),
    ],
)
def test_a_runner_exception_is_classified_by_the_aws_error_code_along_its_chain(code, status, kind):
    with pytest.raises(InfrastructureError) as raised:
        interpret(runner_result(exception=dbt_error_from(client_error(code, status))))

    assert classify(raised.value) == kind
    assert "dbt could not run: DbtRuntimeError" in str(raised.value)


def test_a_runner_exception_whose_words_say_access_denied_but_carries_no_code_is_transient():
    with pytest.raises(InfrastructureError) as raised:
        interpret(runner_result(exception=DbtRuntimeError("AccessDenied: Connection refused")))

    assert classify(raised.value) == "transient"
