"""A faithful local stand-in for the Places API (New) searchText, for tests, benchmarks and `local up`.

    from restaurant_pipeline.local.places_stub import StubServer, StubSettings
    with StubServer(StubSettings(latency_ms=100)) as stub:
        ...  # point PLACES_API_BASE_URL at stub.url; stub.stats() counts requests and 429s

`run_stub(host, port, settings)` serves in the foreground (the CLI `restaurant-pipeline places-stub`);
`python -m restaurant_pipeline.local.places_stub --port 8765` does the same.
"""

from restaurant_pipeline.local.places_stub.app import SEARCH_PATH, StubState, create_app, max_in_window
from restaurant_pipeline.local.places_stub.server import StubServer, run_stub, serve_stub
from restaurant_pipeline.local.places_stub.settings import Fault, FaultKind, StubSettings

__all__ = [
    "SEARCH_PATH",
    "Fault",
    "FaultKind",
    "StubServer",
    "StubSettings",
    "StubState",
    "create_app",
    "max_in_window",
    "run_stub",
    "serve_stub",
]
