"""One local "function": a process that feeds a function from its queue, like Lambda's event source mapping.

    python -m restaurant_pipeline.local.worker --handler services.collector.handler:lambda_handler \
        --mapping '{"function_name": ..., "queue_url": ..., ...}'
    python -m restaurant_pipeline.local.worker --sandbox '{SandboxSpec as JSON}' --mapping '{...}'

With --handler the handler is imported into this process, which the supervisor starts with the function's
environment (the same variables the CDK stack sets). With --sandbox the function is its deployed artifact, run in a
Lambda sandbox (sandbox.py) behind the Runtime API: this process only polls the queue and invokes it.
SIGTERM finishes the current batch, then exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from restaurant_pipeline.local import call_recorder
from restaurant_pipeline.local.emf import lambda_metrics_line
from restaurant_pipeline.local.esm import (
    EventSourceMapping,
    Invocation,
    Invoke,
    MappingSettings,
    in_process,
    load_handler,
)
from restaurant_pipeline.local.sandbox import ExecutionEnvironment, SandboxSpec, constraints


class JsonLines(logging.Formatter):
    """One JSON object per line, like the functions' own (Powertools) records beside it in the service's log."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    function = parser.add_mutually_exclusive_group(required=True)
    function.add_argument("--handler", help="module:function to import into this process")
    function.add_argument("--sandbox", help="SandboxSpec as JSON: run the artifact in a Lambda sandbox")
    parser.add_argument("--mapping", required=True, help="MappingSettings as JSON")
    args = parser.parse_args(argv)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[stream])
    logging.getLogger("botocore").setLevel(logging.WARNING)  # endpoint discovery chatter
    settings = MappingSettings(**json.loads(args.mapping))

    import boto3  # after the environment is in place: AWS_ENDPOINT_URL points at the local stack

    sqs = boto3.client("sqs")
    environment = None
    if args.sandbox:
        environment = ExecutionEnvironment(SandboxSpec.from_json(args.sandbox), output=sys.stdout.buffer)
        _report_sandbox(environment)
        environment.start()  # the INIT phase now, as the in-process worker imports its handler now
        mapping = EventSourceMapping(sqs, in_sandbox(environment), settings, report=lambda_metrics(settings))
    else:
        if call_recorder.install_if_requested():  # the IAM proof (docs/iam.md): the function's calls, not the poller's
            call_recorder.ignore(sqs)
        handler = load_handler(args.handler)  # cold start: module-level code of the service runs here
        mapping = EventSourceMapping(sqs, in_process(handler), settings, report=lambda_metrics(settings))

    def stop(signum: int, frame: FrameType | None) -> None:
        mapping.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger(__name__).info("%s polling %s", settings.function_name, settings.queue_url)
    try:
        mapping.run_forever()
    finally:
        if environment is not None:
            environment.close()
    return 0


def lambda_metrics(settings: MappingSettings) -> Callable[[bool], None]:
    """Lambda's Invocations and Errors of each invocation, as an EMF line in the service's log (the local alarms read
    it: restaurant_pipeline/local/emf.py)."""

    def report(failed: bool) -> None:
        print(lambda_metrics_line(settings.function_name, failed), flush=True)

    return report


def in_sandbox(environment: ExecutionEnvironment) -> Invoke:
    """Invoke the sandboxed artifact through its Runtime API; log each cold start's INIT time once it is known."""
    logged = {"cold_starts": 0}

    def invoke(event: dict[str, Any], settings: MappingSettings) -> Invocation:
        result = environment.invoke(event, settings.timeout_seconds)
        stats = environment.stats
        if stats.cold_starts > logged["cold_starts"] and stats.last_init_seconds is not None:
            logged["cold_starts"] = stats.cold_starts
            logging.getLogger(__name__).info(
                "%s cold start %d: INIT %.2fs",
                environment.spec.function_name,
                stats.cold_starts,
                stats.last_init_seconds,
            )
        if result.status == "response":
            return Invocation(response=result.payload)
        return Invocation(error=result.error_message)

    return invoke


def _report_sandbox(environment: ExecutionEnvironment) -> None:
    spec = environment.spec
    report = constraints(spec)
    logging.getLogger(__name__).info(
        "%s runs in a Lambda sandbox: %s",
        spec.function_name,
        json.dumps(
            {
                "task_root": spec.task_root,
                "memory_mb": spec.memory_mb,
                "ephemeral_storage_mb": spec.ephemeral_storage_mb,
                "enforced": [c.name for c in report if c.enforced],
                "not_enforced": [f"{c.name}: {c.how}" for c in report if not c.enforced],
            }
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
