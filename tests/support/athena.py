"""The athena dbt target against moto: the Glue tables the CDK stack declares, and a builder pointed at them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import boto3

from contracts.records import PARTITION_KEYS
from services.common.names import GLUE_AUDIT_DATABASE
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir

BUCKET = "restaurant-pipeline-data"
DATABASE = "restaurant_pipeline"


def athena_builder(
    tables: Sequence[tuple[str, Sequence[tuple[str, str]], str]],
    state_dir: Path,
    nlp: bool = False,
    project_dir: Path | None = None,
    bucket: str = BUCKET,
    workgroup: str = "primary",
) -> DbtBuilder:
    """Create the bucket, the Glue databases (the pipeline's and dbt's test audit one) and each (table name,
    columns, S3 prefix) JSON table, as the CDK stack declares them from the same column lists; then a DbtBuilder for
    the athena target, with the environment the deployed function has (NLP_ENABLED always set, as the topology
    does). A `workgroup` other than Athena's default is created, with its results under athena-results/ as the
    stack's."""
    glue = boto3.client("glue")
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    results = f"s3://{bucket}/athena-results/"
    if workgroup != "primary":
        boto3.client("athena").create_work_group(
            Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": results}}
        )
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_database(DatabaseInput={"Name": GLUE_AUDIT_DATABASE})  # as the stack does: dbt never creates it
    for name, columns, prefix in tables:
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "PartitionKeys": [{"Name": n, "Type": t} for n, t in PARTITION_KEYS],
                "StorageDescriptor": {
                    "Columns": [{"Name": n, "Type": t} for n, t in columns],
                    "Location": f"s3://{bucket}/{prefix}",
                    "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
                },
            },
        )
    env = dbt_environment(
        target="athena",
        bucket=bucket,
        athena_workgroup=workgroup,
        athena_results_s3=results,
        glue_database=DATABASE,
        nlp_enabled=nlp,
    )
    return DbtBuilder(project_dir or default_project_dir(), "athena", env, state_dir=state_dir)
