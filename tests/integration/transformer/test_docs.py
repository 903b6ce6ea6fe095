import gzip
import json
import threading
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from restaurant_pipeline.dbt_docs import docs_server, generate_docs
from restaurant_pipeline.local.processes import free_port
from tests.support.transformer_stack import BUCKET, Stack, places_lines

pytestmark = pytest.mark.integration


def test_docs_are_generated_for_the_local_warehouse_and_served_on_loopback(stack: Stack):
    stack.drop(
        "validated/places/dt=2026-01-01/x.jsonl.gz", gzip.compress(places_lines(date(2026, 1, 1), 3, validated=True))
    )
    assert stack.deps.builder.build(["2026-01-01"]).outcome == "passed"

    site = generate_docs(stack.warehouse_path, bucket=BUCKET, endpoint_url=stack.endpoint)

    # dbt's target/ and logs/ beside the warehouse (the stack's state folder), never a folder other stacks share
    assert site == Path(stack.warehouse_path).resolve().parent / "dbt-docs" / "target"

    catalog = json.loads((site / "catalog.json").read_text())
    assert {"model.restaurant_pipeline.restaurants", "model.restaurant_pipeline.city_daily_summary"} <= set(
        catalog["nodes"]
    )
    assert "source.restaurant_pipeline.raw.places" in catalog["sources"]
    port = free_port()
    server = docs_server(site, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200 and b"dbt" in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json", timeout=10) as response:
            assert "model.restaurant_pipeline.stg_places__places" in json.loads(response.read())["nodes"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
