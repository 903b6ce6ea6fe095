"""Running the stub: blocking (`run_stub`, for the CLI) or in a background thread (`StubServer`, for tests)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from aiohttp import web

from restaurant_pipeline.local.places_stub.app import StubState, create_app
from restaurant_pipeline.local.places_stub.settings import StubSettings


def run_stub(host: str, port: int, settings: StubSettings) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM). Used by `restaurant-pipeline places-stub`."""
    print(f"Places stub listening on http://{host}:{port} (POST /v1/places:searchText, GET /_stub/stats)", flush=True)
    web.run_app(create_app(settings), host=host, port=port, print=None, access_log=None)


@contextlib.asynccontextmanager
async def serve_stub(
    settings: StubSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[str, StubState]]:
    """Serve in the current event loop; yields (base URL, state). Port 0 picks a free port."""
    state = StubState(settings or StubSettings())
    runner = web.AppRunner(create_app(state=state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield f"http://{host}:{bound}", state
    finally:
        await runner.cleanup()


class StubServer:
    """The stub in a background thread with its own event loop, so synchronous code (a Lambda handler that
    calls asyncio.run) can talk to it. Use as a context manager; `url` is known once started."""

    def __init__(self, settings: StubSettings | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._settings = settings or StubSettings()
        self._host = host
        self._port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""
        self.state: StubState | None = None

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name="places-stub", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the Places stub did not start within {timeout:.0f}s")
        if self._error is not None:
            raise RuntimeError(f"the Places stub failed to start: {self._error}") from self._error
        return self.url

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            async with serve_stub(self._settings, self._host, self._port) as (url, state):
                self.url, self.state = url, state
                self._ready.set()
                await self._stopped.wait()
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopped is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the Places stub thread did not stop")
            self._thread = None

    # conveniences for tests and benchmarks (same process, no HTTP needed)
    def stats(self) -> dict[str, Any]:
        assert self.state is not None, "start() the stub first"
        return self.state.stats()

    def reset(self, **changes: Any) -> None:
        """Clear counters and quota windows; apply setting changes if given."""
        assert self.state is not None, "start() the stub first"
        if changes:
            self.state.update(changes)
        self.state.reset()

    def update(self, **changes: Any) -> StubSettings:
        assert self.state is not None, "start() the stub first"
        return self.state.update(changes)

    def __enter__(self) -> StubServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
