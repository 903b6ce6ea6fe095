"""What the three composition roots (services/<name>/bootstrap.py) share: where their boto3 clients come from.

Each service has one function, `bootstrap(settings=None, clients=None, metric=None) -> <Service>App`, that builds
every adapter of the service. Its handler calls it once per execution environment (cached at the handler edge, on
the first call, never at import); tests and benchmarks call it with their own settings and clients (moto's, or a
fake's), so what runs in a test is wired exactly as what runs on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import boto3

from services.common.names import Metric

# Clients by service name ("s3", "dynamodb", ...): the ones a test hands in. A name left out is a new boto3 client
# from the environment (region, credentials, and AWS_ENDPOINT_URL, the local stack's moto).
Clients = Mapping[str, Any]
# A count to report: the handler passes one that adds a Powertools metric; None counts nothing (tests, tools).
MetricSink = Callable[[Metric, float], None]


def client_source(clients: Clients | None) -> Callable[[str], Any]:
    """`client("s3")`: the given client of that name, else a new one per call, as each adapter had its own before
    (boto3 clients are thread-safe, but one each keeps every adapter's connection pool to itself)."""
    given = dict(clients or {})
    new_client = cast(Callable[[str], Any], boto3.client)  # the adapters that take a client type it by service

    def client(name: str) -> Any:
        return given[name] if name in given else new_client(name)

    return client


def counting(metric: MetricSink | None) -> MetricSink:
    return metric if metric is not None else (lambda name, value: None)
