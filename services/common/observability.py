"""Powertools Logger, Metrics and Tracer, created the same way for every service.

Namespace, service name and log level come from the function's environment (POWERTOOLS_*), which
restaurant_pipeline.model.topology.service_environment sets identically on AWS and locally.
Decorate every handler in this order:

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event, context): ...

and call `logger.set_correlation_id(run_id)` as soon as the run id is known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics, Tracer

from services.common.names import METRICS_NAMESPACE


@dataclass(frozen=True)
class Observability:
    logger: Logger
    metrics: Metrics
    tracer: Tracer


def observability(service: str) -> Observability:
    return Observability(
        logger=Logger(service=service),
        # explicit namespace: importing a handler before its environment is set must not break metrics
        metrics=Metrics(service=service, namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE)),
        tracer=Tracer(service=service),
    )
