"""One local "function": a process that imports a handler and feeds it from its queue.

    python -m restaurant_pipeline.local.worker --handler services.collector.handler:lambda_handler \
        --mapping '{"function_name": ..., "queue_url": ..., ...}'

The supervisor starts one per route with the function's environment (the same variables the CDK stack
sets), so the handler cannot tell this process from Lambda. SIGTERM finishes the current batch, then exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from types import FrameType

from restaurant_pipeline.local.esm import EventSourceMapping, MappingSettings, load_handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--mapping", required=True, help="MappingSettings as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format='{"level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}',
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)  # endpoint discovery chatter
    settings = MappingSettings(**json.loads(args.mapping))

    import boto3  # after the environment is in place: AWS_ENDPOINT_URL points at the local stack

    sqs = boto3.client("sqs")
    handler = load_handler(args.handler)  # cold start: module-level code of the service runs here
    mapping = EventSourceMapping(sqs, handler, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        mapping.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger(__name__).info("%s polling %s", settings.function_name, settings.queue_url)
    mapping.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
