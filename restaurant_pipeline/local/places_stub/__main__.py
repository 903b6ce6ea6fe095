"""`python -m restaurant_pipeline.local.places_stub [--host H] [--port N] [switches]`: serve the stub."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from restaurant_pipeline.local.places_stub.server import run_stub
from restaurant_pipeline.local.places_stub.settings import StubSettings


def parse_args(argv: list[str] | None = None) -> tuple[str, int, StubSettings]:
    parser = argparse.ArgumentParser(
        prog="python -m restaurant_pipeline.local.places_stub",
        description="A local stand-in for Places API (New) searchText, with quota and failure switches.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--invalid-key", action="store_true", help="reject every key (400 API_KEY_INVALID)")
    parser.add_argument("--api-key", default=None, help="accept only this key")
    parser.add_argument("--api-disabled", action="store_true", help="403 PERMISSION_DENIED (API not enabled)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 500/503 answers, 0..1")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every answer")
    parser.add_argument("--per-minute-quota", type=int, default=None, help="sliding-window quota")
    parser.add_argument("--per-day-quota", type=int, default=None)
    parser.add_argument("--quota-window-seconds", type=float, default=60.0)
    parser.add_argument("--retry-after-seconds", type=int, default=None, help="Retry-After on per-minute 429s")
    parser.add_argument("--places-per-city", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    values = {key: value for key, value in vars(args).items() if key not in ("host", "port")}
    try:
        settings = StubSettings.model_validate(values)
    except ValidationError as exc:
        parser.error(str(exc))
    return args.host, args.port, settings


def main(argv: list[str] | None = None) -> int:
    host, port, settings = parse_args(argv)
    run_stub(host, port, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
