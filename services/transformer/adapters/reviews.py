"""Adapters of the NLP stage: review staging through dbt, the enriched objects in S3."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.common.names import ENRICHED_PREFIX
from services.transformer.adapters.dbt_build import DbtBuilder, interpret
from services.transformer.domain.model import BuildReport, InfrastructureError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STAGING_MODEL = "stg_places__reviews"


class DbtReviewStaging:
    """`dbt build --select stg_places__reviews` for the batch's days (and objects), on the parsed manifest."""

    def __init__(self, builder: DbtBuilder) -> None:
        self._builder = builder

    def stage_reviews(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        variables: dict[str, Any] = {"dts": list(days)}
        if objects:
            variables["objects"] = list(objects)
        result = self._builder.invoke(
            [
                "build",
                "--select",
                STAGING_MODEL,
                "--vars",
                json.dumps(variables),
                "--exclude-resource-type",
                "unit_test",
            ]
        )
        report = interpret(result)
        if not any(m.name == STAGING_MODEL for m in report.models):
            raise InfrastructureError(
                f"dbt built no {STAGING_MODEL}: the NLP stage is on but dbt did not see NLP_ENABLED=true at parse time"
            )
        return report


class S3ScoreStore:
    """enriched/reviews/dt=<day>/*.jsonl.gz: what the NLP stage wrote, and where it writes."""

    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def processed_ids(self, days: Sequence[str]) -> set[str]:
        ids: set[str] = set()
        try:
            for day in days:
                paginator = self._s3.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=self._bucket, Prefix=f"{ENRICHED_PREFIX}dt={day}/"):
                    for item in page.get("Contents", []):
                        body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read()
                        ids.update(_review_ids(item["Key"], body))
        except InfrastructureError:
            raise
        except Exception as exc:
            raise InfrastructureError(
                f"cannot read s3://{self._bucket}/{ENRICHED_PREFIX}: {exc.__class__.__name__}"
            ) from exc
        return ids

    def put(self, key: str, body: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/gzip")
        except Exception as exc:
            raise InfrastructureError(f"cannot write s3://{self._bucket}/{key}: {exc.__class__.__name__}") from exc


def _review_ids(key: str, body: bytes) -> set[str]:
    try:
        text = gzip.decompress(body).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise InfrastructureError(
            f"{key} is not a gzip JSON lines file ({exc.__class__.__name__}); delete it to score its reviews again"
        ) from exc
    ids = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["review_id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InfrastructureError(f"{key} line {number} has no review_id ({exc.__class__.__name__})") from exc
    return ids
