"""The Runtime API the sandbox serves, spoken to as a runtime speaks it (plain HTTP, the documented paths)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from restaurant_pipeline.local.runtime_api import API_PREFIX, RuntimeApi

pytestmark = pytest.mark.integration

ARN = "arn:aws:lambda:eu-west-3:123456789012:function:probe"


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    server = RuntimeApi().start()
    yield server
    server.stop()


def call(api: RuntimeApi, method: str, path: str, body: object | None = None) -> tuple[int, dict, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{api.address}{API_PREFIX}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def runtime(api: RuntimeApi, answer) -> threading.Thread:
    """A runtime: take the next invocation, answer it with `answer(request_id, event, headers)`."""

    def run() -> None:
        status, headers, event = call(api, "GET", "/invocation/next")
        assert status == 200
        answer(headers["Lambda-Runtime-Aws-Request-Id"], event, headers)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_invocation_is_handed_to_the_runtime_and_its_response_returned(api):
    seen: dict = {}

    def answer(request_id, event, headers):
        seen.update(headers)
        call(api, "POST", f"/invocation/{request_id}/response", {"echo": event})

    runtime(api, answer)
    result = api.invoke({"Records": [1]}, timeout_seconds=10, function_arn=ARN)

    assert result.status == "response" and result.payload == {"echo": {"Records": [1]}}
    assert seen["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert int(seen["Lambda-Runtime-Deadline-Ms"]) > 0 and seen["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    assert api.polled.is_set()


def test_a_function_error_comes_back_in_lambdas_format(api):
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    runtime(api, lambda request_id, event, headers: call(api, "POST", f"/invocation/{request_id}/error", error))

    result = api.invoke({}, timeout_seconds=10, function_arn=ARN)

    assert result.status == "error" and result.error_message == "ValueError: boom"


def test_an_init_error_fails_the_waiting_invocation(api):
    def fail_init() -> None:
        call(api, "POST", "/init/error", {"errorMessage": "no module", "errorType": "Runtime.ImportModuleError"})

    threading.Thread(target=fail_init, daemon=True).start()
    result = api.invoke({}, timeout_seconds=10, function_arn=ARN)

    assert result.status == "init_error" and result.error_message == "Runtime.ImportModuleError: no module"


def test_no_answer_within_the_timeout_is_a_timeout_and_a_late_answer_is_refused(api):
    taken: dict = {}
    runtime(api, lambda request_id, event, headers: taken.setdefault("request_id", request_id))  # never answers

    result = api.invoke({}, timeout_seconds=0.5, function_arn=ARN)

    assert result.status == "timeout" and "Task timed out after 0.50 seconds" in result.error_message
    status, _, _ = call(api, "POST", f"/invocation/{taken['request_id']}/response", {"too": "late"})
    assert status == 400


def test_a_runtime_that_exits_ends_the_wait_at_once(api):
    result = api.invoke({}, timeout_seconds=30, function_arn=ARN, runtime_alive=lambda: False)

    assert result.status == "exited"
