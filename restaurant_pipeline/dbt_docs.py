"""`restaurant-pipeline docs`: generate the dbt docs (lineage, models, columns, tests) for the local warehouse
and serve the static site on loopback."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from services.transformer.spec import DbtBuilder, dbt_environment, default_project_dir

DEFAULT_BUCKET = "restaurant-pipeline-local"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


class DocsError(RuntimeError):
    """dbt docs generate failed; the message says why and what to do."""


def generate_docs(
    warehouse_path: str | Path,
    *,
    bucket: str = DEFAULT_BUCKET,
    endpoint_url: str = DEFAULT_ENDPOINT,
    state_dir: Path | None = None,
) -> Path:
    """Run `dbt docs generate --target local` on the warehouse; returns the folder holding index.html. dbt's
    target/ and logs/ go beside the warehouse (the stack's own state folder), never a folder other stacks or users
    share."""
    state = Path(state_dir or Path(warehouse_path).resolve().parent / "dbt-docs")
    environment = dbt_environment(
        target="local", bucket=bucket, warehouse_path=str(warehouse_path), endpoint_url=endpoint_url
    )
    builder = DbtBuilder(default_project_dir(), "local", environment, state_dir=state)
    result = builder.invoke(["docs", "generate"])
    if not result.success:
        raise DocsError(
            f"dbt docs generate failed: {result.exception or 'see the dbt log in ' + str(state / 'logs')}. "
            "Is the warehouse free (stop anything holding it, e.g. a DuckDB shell) and the local stack up?"
        )
    site = state / "target"
    if not (site / "index.html").exists():
        raise DocsError(f"dbt docs generate wrote no index.html in {site}")
    return site


def docs_server(site: Path, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_QuietHandler, directory=str(site))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve_docs(warehouse_path: str | Path, port: int, **options: str) -> None:
    """Generate, then serve until interrupted (Ctrl-C). Options: bucket, endpoint_url."""
    site = generate_docs(warehouse_path, **options)  # type: ignore[arg-type]
    server = docs_server(site, port)
    print(f"dbt docs for {warehouse_path}: http://127.0.0.1:{port}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return
