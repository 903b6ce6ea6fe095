"""The Lambda Runtime API, served on loopback for one sandboxed function (restaurant_pipeline/local/sandbox.py).

The runtime inside the sandbox (awslambdaric, the client AWS's Python base images run) polls it as it polls Lambda:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html (API version 2018-06-01):
- GET  /2018-06-01/runtime/invocation/next          -> the event; headers Lambda-Runtime-Aws-Request-Id,
                                                       Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn,
                                                       Lambda-Runtime-Trace-Id; blocks until there is one
- POST /2018-06-01/runtime/invocation/{id}/response -> the handler's return value
- POST /2018-06-01/runtime/invocation/{id}/error    -> {errorMessage, errorType, stackTrace}
- POST /2018-06-01/runtime/init/error               -> the function could not initialize (import failed, ...)
The worker side calls `invoke(event, deadline)` and gets what the function answered, as the Lambda service would.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

API_PREFIX = "/2018-06-01/runtime"

Status = Literal["response", "error", "init_error", "timeout", "exited"]


@dataclass
class InvocationResult:
    """What came back: a response, a function error, an init error, or nothing (timeout, runtime gone)."""

    status: Status
    payload: Any = None  # the response (decoded JSON), or the error document
    request_id: str = ""

    @property
    def error_message(self) -> str:
        if self.status == "response":
            return ""
        if not isinstance(self.payload, dict):
            return f"{self.status}: {self.payload or ''}".strip()
        kind = self.payload.get("errorType") or self.status
        return f"{kind}: {self.payload.get('errorMessage') or ''}".strip(": ")


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    deadline_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    result: InvocationResult | None = None


class RuntimeApi:
    """One function's Runtime API. Start it, give the runtime its `address`, then `invoke`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()
        self._inflight: dict[str, _Invocation] = {}
        self._lock = threading.Lock()
        self.init_error: dict[str, Any] | None = None
        self._init_failed = threading.Event()
        self.polled = threading.Event()  # the runtime asked for work: its INIT phase is over
        self.first_poll_at = 0.0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the runtime's own log says enough
                return

            def do_GET(self) -> None:
                if self.path != f"{API_PREFIX}/invocation/next":
                    self._send(404, {"errorMessage": f"unknown path {self.path}"})
                    return
                invocation = api._next()
                if invocation is None:  # shutting down
                    self._send(410, {"errorMessage": "the execution environment is shutting down"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(invocation.body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}")
                self.end_headers()
                self.wfile.write(invocation.body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == f"{API_PREFIX}/init/error":
                    api._fail_init(_decode(body))
                    self._send(202, {"status": "OK"})
                    return
                parts = self.path.removeprefix(f"{API_PREFIX}/invocation/").split("/")
                if len(parts) != 2 or parts[1] not in ("response", "error"):
                    self._send(404, {"errorMessage": f"unknown path {self.path}"})
                    return
                status: Status = "response" if parts[1] == "response" else "error"
                if not api._complete(parts[0], InvocationResult(status, _decode(body), parts[0])):
                    self._send(400, {"errorMessage": f"unknown or finished request {parts[0]}"})
                    return
                self._send(202, {"status": "OK"})

            def _send(self, code: int, document: dict[str, Any]) -> None:
                data = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> RuntimeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._pending.put(None)
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """A new execution environment: forget an init error and whatever the previous runtime left pending."""
        with self._lock:
            self.init_error = None
            self._init_failed.clear()
            self.polled.clear()
            for invocation in self._inflight.values():
                invocation.done.set()
            self._inflight.clear()
        while True:
            try:
                self._pending.get_nowait()
            except queue.Empty:
                break

    def invoke(
        self, event: dict[str, Any], timeout_seconds: float, function_arn: str, runtime_alive: Any = None
    ) -> InvocationResult:
        """Hand `event` to the runtime and wait for its answer, at most `timeout_seconds` (the function timeout).

        `runtime_alive()` is polled while waiting: a runtime that exits ends the wait at once ("exited").
        """
        request_id = str(uuid.uuid4())
        deadline = time.monotonic() + timeout_seconds
        invocation = _Invocation(
            request_id, json.dumps(event).encode(), int((time.time() + timeout_seconds) * 1000), function_arn
        )
        with self._lock:
            self._inflight[request_id] = invocation
        self._pending.put(invocation)
        try:
            while not invocation.done.wait(0.05):
                if self._init_failed.is_set():
                    return InvocationResult("init_error", self.init_error, request_id)
                if runtime_alive is not None and not runtime_alive():
                    return InvocationResult("exited", {"errorType": "Runtime.ExitError"}, request_id)
                if time.monotonic() >= deadline:
                    message = f"Task timed out after {timeout_seconds:.2f} seconds"
                    return InvocationResult("timeout", {"errorMessage": message}, request_id)
            return invocation.result or InvocationResult("exited", {"errorType": "Runtime.ExitError"}, request_id)
        finally:
            with self._lock:
                self._inflight.pop(request_id, None)

    # -- the runtime's side -------------------------------------------------------------------------------------
    def _next(self) -> _Invocation | None:
        if not self.polled.is_set():
            self.first_poll_at = time.monotonic()
            self.polled.set()
        while True:
            invocation = self._pending.get()
            if invocation is None:
                self._pending.put(None)  # wake any other waiting poller too
                return None
            with self._lock:
                if invocation.request_id in self._inflight:  # not given up on (timed out) meanwhile
                    return invocation

    def _complete(self, request_id: str, result: InvocationResult) -> bool:
        with self._lock:
            invocation = self._inflight.get(request_id)
            if invocation is None or invocation.done.is_set():
                return False
            invocation.result = result
            invocation.done.set()
            return True

    def _fail_init(self, document: Any) -> None:
        with self._lock:
            self.init_error = document if isinstance(document, dict) else {"errorMessage": str(document)}
            self._init_failed.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime killed mid-request (a timeout ends its environment) drops its connection: not an error here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")
