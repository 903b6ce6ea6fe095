"""`local up --detach` / `status` / `down` through the real CLI, on a free port and a temporary state folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3

from restaurant_pipeline.local.processes import pid_alive
from tests.integration.platform.conftest import CLI, REPO_ROOT


def cli(env, *args, check=True):
    result = subprocess.run([*CLI, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def aws_cli(env, *args):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "aws"),
            *args,
            "--endpoint-url",
            env["AWS_ENDPOINT_URL"],
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_up_status_down_up_keeps_objects_and_tables_and_leaves_no_process(stack_env):
    cli(stack_env, "local", "up", "--detach", "--no-scheduler")
    status = json.loads(cli(stack_env, "local", "status", "--json").stdout)

    for key in ("endpoint_url", "region", "bucket", "event_bus", "queues", "topic_arn", "outbox_dir", "warehouse_path"):
        assert key in status
    assert status["endpoint_url"] == stack_env["AWS_ENDPOINT_URL"]
    assert set(status["queues"]) == {"collector", "transformer", "notifier"}
    assert all(q["url"] and q["dlq_url"] for q in status["queues"].values())

    s3 = boto3.client(
        "s3",
        endpoint_url=stack_env["AWS_ENDPOINT_URL"],
        region_name="eu-west-3",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack_env["AWS_ENDPOINT_URL"],
        region_name="eu-west-3",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.put_object(Bucket=status["bucket"], Key="notes/kept.txt", Body=b"still here")
    dynamodb.put_item(TableName=status["tables"]["ledger"], Item={"pk": {"S": "RUN#x"}, "sk": {"S": "REQUESTED#-"}})
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack_env["AWS_ENDPOINT_URL"],
        region_name="eu-west-3",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    sqs.send_message(QueueUrl=status["queues"]["notifier"]["dlq_url"], MessageBody="waiting for a replay")
    pids = status["processes"]

    cli(stack_env, "local", "down")
    assert not any(pid_alive(p["pid"]) for p in pids.values())
    assert cli(stack_env, "local", "status", "--json", check=False).returncode == 1

    cli(stack_env, "local", "up", "--detach", "--no-scheduler")
    body = s3.get_object(Bucket=status["bucket"], Key="notes/kept.txt")["Body"].read()
    items = dynamodb.scan(TableName=status["tables"]["ledger"])["Items"]

    waiting = sqs.receive_message(
        QueueUrl=status["queues"]["notifier"]["dlq_url"], WaitTimeSeconds=1, VisibilityTimeout=0
    )["Messages"]

    assert body == b"still here"
    assert [m["Body"] for m in waiting] == ["waiting for a replay"]
    assert {"pk": {"S": "RUN#x"}, "sk": {"S": "REQUESTED#-"}} in items


def test_the_aws_cli_sees_queues_with_redrive_policies_the_bus_and_its_rules(stack_env):
    cli(stack_env, "local", "up", "--detach", "--no-scheduler")

    urls = aws_cli(stack_env, "sqs", "list-queues")["QueueUrls"]
    names = sorted(url.rsplit("/", 1)[1] for url in urls)
    rules = aws_cli(stack_env, "events", "list-rules", "--event-bus-name", "restaurant-pipeline")["Rules"]
    default_rules = aws_cli(stack_env, "events", "list-rules")["Rules"]
    buses = [bus["Name"] for bus in aws_cli(stack_env, "events", "list-event-buses")["EventBuses"]]

    for service in ("collector", "notifier"):
        assert f"restaurant-pipeline-{service}" in names and f"restaurant-pipeline-{service}-dlq" in names
    assert "restaurant-pipeline-transformer.fifo" in names and "restaurant-pipeline-transformer-dlq.fifo" in names
    for url in urls:
        if url.endswith(("-collector", "-notifier", "-transformer.fifo")):
            attributes = aws_cli(
                stack_env, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All"
            )
            redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
            assert redrive["maxReceiveCount"] == 3 and redrive["deadLetterTargetArn"].endswith(
                "-dlq" + (".fifo" if url.endswith(".fifo") else "")
            )
    assert "restaurant-pipeline" in buses
    assert {r["Name"] for r in rules} == {"restaurant-pipeline-to-collector", "restaurant-pipeline-to-notifier"}
    assert "restaurant-pipeline-to-transformer" in {r["Name"] for r in default_rules}


def test_up_refuses_a_port_taken_by_something_else(stack_env, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", int(stack_env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])))
        sock.listen()
        result = cli(stack_env, "local", "up", "--detach", check=False)

    assert result.returncode == 1
    assert "is taken by another process" in result.stderr
