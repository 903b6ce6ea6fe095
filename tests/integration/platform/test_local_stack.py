"""`local up --detach` / `status` / `down` through the real CLI, on a free port and a temporary state folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from restaurant_pipeline.local.processes import pid_alive
from tests.integration.platform.conftest import CLI, REPO_ROOT, stack_client


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

    s3 = stack_client(stack_env, "s3")
    dynamodb = stack_client(stack_env, "dynamodb")
    s3.put_object(Bucket=status["bucket"], Key="notes/kept.txt", Body=b"still here")
    dynamodb.put_item(TableName=status["tables"]["ledger"], Item={"pk": {"S": "RUN#x"}, "sk": {"S": "REQUESTED#-"}})
    sqs = stack_client(stack_env, "sqs")
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


def test_a_failed_save_exits_non_zero_says_why_and_keeps_the_state_until_down_succeeds(stack_env):
    cli(stack_env, "local", "up", "--detach", "--no-scheduler")
    status = json.loads(cli(stack_env, "local", "status", "--json").stdout)
    state = Path(status["state_dir"])
    s3, sqs = stack_client(stack_env, "s3"), stack_client(stack_env, "sqs")
    keys = ["notes/../../../../escaped.txt", "notes/" + "k" * 1018, "notes/[bold]*?[]"]
    for key in keys:
        s3.put_object(Bucket=status["bucket"], Key=key, Body=key.encode())
    dlq = status["queues"]["transformer"]["dlq_url"]
    for i in range(15):  # more than one receive's worth, in one message group
        sqs.send_message(QueueUrl=dlq, MessageBody=f"poison {i}", MessageGroupId="transformer")
    (state / "snapshot.json.tmp").mkdir()  # the save's last step cannot happen

    failed = cli(stack_env, "local", "down", check=False)

    assert failed.returncode == 1
    assert "NOT saved" in failed.stderr and "IsADirectoryError" in failed.stderr
    assert "saved " not in failed.stdout
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=status["bucket"])["Contents"]) == sorted(keys)
    (state / "snapshot.json.tmp").rmdir()

    stopped = cli(stack_env, "local", "down")
    assert "saved 3 object versions" in stopped.stdout and "15 queued messages" in stopped.stdout
    assert not any(pid_alive(p["pid"]) for p in status["processes"].values())
    cli(stack_env, "local", "up", "--detach", "--no-scheduler")

    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=status["bucket"])["Contents"]) == sorted(keys)
    assert all(s3.get_object(Bucket=status["bucket"], Key=key)["Body"].read() == key.encode() for key in keys)
    received = []
    while batch := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
        received += [m["Body"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=dlq, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    assert received == [f"poison {i}" for i in range(15)]
    assert not (state.parent / "escaped.txt").exists() and not (state.parent.parent / "escaped.txt").exists()


def test_down_without_a_live_supervisor_says_nothing_was_saved(stack_env):
    cli(stack_env, "local", "up", "--detach", "--no-scheduler")
    status = json.loads(cli(stack_env, "local", "status", "--json").stdout)
    import os
    import signal

    os.kill(status["processes"]["supervisor"]["pid"], signal.SIGKILL)

    result = cli(stack_env, "local", "down", check=False)

    assert result.returncode == 1
    assert "nothing could be saved" in result.stderr and "there is no earlier snapshot" in result.stderr
