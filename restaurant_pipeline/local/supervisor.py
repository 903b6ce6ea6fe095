"""The local stack: moto's server, the Places stub, one worker per route, the scheduler, the alarms and the outbox.

`restaurant-pipeline local up` runs `LocalStack.run()` in the foreground, or in a detached process
(`python -m restaurant_pipeline.local.supervisor ...`) with --detach. It writes .pipeline/stack.json once
everything is ready and removes it when stopped; `local down` sends it SIGTERM.

On SIGTERM each worker stops receiving and finishes the invocation it runs, for up to the stop grace
(`--stop-grace-seconds`, or PIPELINE_LOCAL_STOP_GRACE_SECONDS; 30 s by default); a worker still invoking after it is
killed, and the messages its invocation held (its `inflight_file`) are made visible again at once
(ChangeMessageVisibility, VisibilityTimeout 0: "the minimum is 0 seconds",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html) before the
queues are saved: the snapshot holds them, `local up` delivers them again, and `local down` says how many.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from contracts.events import SCHEDULER_SOURCE, CollectionRequested
from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local import call_recorder, persistence
from restaurant_pipeline.local.alarms import (
    DEFAULT_LOCAL_PERIOD_SECONDS,
    DISK_FULL_ALARM,
    EVALUATION_INTERVAL_SECONDS,
    SIGNALS_QUEUE,
    LocalAlarms,
    free_space,
    queued_signals,
    sns_publisher,
    with_local_alarms,
)
from restaurant_pipeline.local.emf import lambda_metrics_line
from restaurant_pipeline.local.esm import MappingSettings
from restaurant_pipeline.local.processes import (
    die_with_parent,
    free_port,
    start_moto,
    stop_process,
    wait_for_http,
)
from restaurant_pipeline.local.sandbox import SandboxSpec, constraints
from restaurant_pipeline.local.stack import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LOCAL_CREDENTIALS,
    StackInfo,
    StatePaths,
    enable_bucket_events,
    function_environment,
    new_stack_info,
    provision,
)
from restaurant_pipeline.model.alarms import pipeline_alarms
from restaurant_pipeline.model.config import PipelineConfig, load_config
from restaurant_pipeline.model.topology import Route, Topology

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

log = logging.getLogger("restaurant_pipeline.local")

STUB_KEY = "local-places-stub-key"  # not a secret: the stub accepts any key but its "invalid" switch
MAX_RESTARTS_PER_MINUTE = 5
STOP_GRACE_ENV = "PIPELINE_LOCAL_STOP_GRACE_SECONDS"
DEFAULT_STOP_GRACE_SECONDS = 30.0


def stop_grace_seconds(default: float = DEFAULT_STOP_GRACE_SECONDS, environ: dict[str, str] | None = None) -> float:
    """How long `local down` lets each worker finish the invocation it runs: PIPELINE_LOCAL_STOP_GRACE_SECONDS when
    set, else `default`. ValueError, naming the variable and the fix, for anything but 0 to 3600 seconds."""
    raw = (os.environ if environ is None else environ).get(STOP_GRACE_ENV, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ValueError(
            f"{STOP_GRACE_ENV}={raw!r} is not a number of seconds from 0 to 3600: set it to one, or unset it"
        )
    return seconds


@dataclass(frozen=True)
class StackOptions:
    state_dir: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    config_path: str | None = None
    places_stub_port: int | None = None  # None: a free port
    scheduler: bool = True
    retry_delay_seconds: int = 3
    # Run each service from its host artifact in a Lambda sandbox (sandbox.py) instead of importing its handler.
    artifacts: bool = False
    # The local alarms' period for alarms that watch events (AWS: 5 minutes): see restaurant_pipeline/local/alarms.py.
    alarm_period_seconds: int = DEFAULT_LOCAL_PERIOD_SECONDS
    # How long `local down` lets a worker finish its invocation before it is killed and its messages released.
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS


class _Worker:
    def __init__(
        self,
        route: Route,
        env: dict[str, str],
        mapping: MappingSettings,
        log_file: Path,
        sandbox: SandboxSpec | None = None,
    ) -> None:
        self.route = route
        self.env = env
        self.mapping = mapping
        self.log_file = log_file
        self.sandbox = sandbox
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts: list[float] = []

    def start(self) -> None:
        output = open(self.log_file, "ab")  # noqa: SIM115 (owned by the child)
        function = ["--sandbox", self.sandbox.to_json()] if self.sandbox else ["--handler", self.route.handler]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "restaurant_pipeline.local.worker",
                *function,
                "--mapping",
                json.dumps(asdict(self.mapping)),
            ],
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        output.close()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalStack:
    def __init__(self, options: StackOptions, config: PipelineConfig | None = None) -> None:
        self.options = options
        self.config = config or load_config(Path(options.config_path) if options.config_path else None)
        self.state = StatePaths(Path(options.state_dir).resolve())
        self.endpoint_url = f"http://{options.host}:{options.port}"
        self._stop = threading.Event()
        self._retry_save = threading.Event()  # another stop request while a failed save holds the state
        self._discard = threading.Event()  # `local down --no-save`: stop without saving
        self._moto: subprocess.Popen[bytes] | None = None
        self._stub: subprocess.Popen[bytes] | None = None
        self._workers: dict[str, _Worker] = {}
        self._threads: list[threading.Thread] = []
        self._signals_url = ""
        self.info: StackInfo | None = None
        self.topology: Topology | None = None
        self.clients = AwsClients(
            region=self.config.aws.region, endpoint_url=self.endpoint_url, credentials=LOCAL_CREDENTIALS
        )

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> StackInfo:
        self.state.make()
        self._moto = start_moto(self.options.host, self.options.port, self.state.logs / "moto.log")
        info = new_stack_info(self.endpoint_url, self.state)
        info.region = self.config.aws.region
        info.schedule = self.config.schedule.expression
        self.topology = provision(self.clients, self.config, info)
        restored = persistence.restore(self.clients, self.state, info.bucket, _queue_urls(info))
        enable_bucket_events(self.clients.s3, info.bucket)
        log.info("restored %(objects)d objects, %(items)d table items and %(messages)d messages", restored)
        api_key = os.environ.get("GOOGLE_PLACES_API_KEY", "")
        if api_key:
            info.places_api_base_url = os.environ.get("PLACES_API_BASE_URL", "https://places.googleapis.com")
        else:
            info.places_api_base_url = self._start_places_stub()
            info.places_stub = True
            api_key = STUB_KEY
        environments = function_environment(self.config, self.topology, info, api_key)
        if call_recorder.requested():
            # The IAM proof (docs/iam.md; set by its tests only): each function records its AWS calls in its log.
            environments = {name: {**env, call_recorder.RECORD_ENV: "1"} for name, env in environments.items()}
        sandboxes = self._sandboxes(info, environments) if self.options.artifacts else {}
        self._signals_url = str(self.clients.sqs.create_queue(QueueName=SIGNALS_QUEUE)["QueueUrl"])
        for route in self.topology.routes:
            queue = info.queues[route.service]
            mapping = MappingSettings(
                function_name=route.function_name,
                queue_url=queue.url,
                queue_arn=queue.arn,
                timeout_seconds=route.timeout_seconds,
                batch_size=route.batch_size,
                batching_window_seconds=route.batching_window_seconds,
                memory_mb=route.memory_mb,
                region=info.region,
                fifo=route.fifo,
                retry_delay_seconds=self.options.retry_delay_seconds,
                inflight_file=str(self.state.logs / f"{route.service}.inflight.json"),
                signals_queue_url=self._signals_url,
            )
            Path(mapping.inflight_file).unlink(missing_ok=True)  # left by a stack that died hard: stale
            # unbuffered: a log line is in the file when it happens (`logs --follow`, the drills), as on Lambda.
            # In the sandbox the function's environment is the sandbox's; the worker only needs to reach SQS.
            function_env = environments[route.service] if route.service not in sandboxes else self._poller_env(info)
            env = {**_base_environment(), **function_env, "PYTHONUNBUFFERED": "1"}
            log_file = self.state.logs / f"{route.service}.log"
            worker = _Worker(route, env, mapping, log_file, sandboxes.get(route.service))
            worker.start()
            self._workers[route.service] = worker
        self.info = info  # before the threads that read it (the outbox, the scheduler)
        self._spawn(self._deliver_email, "outbox")
        alarms = self._alarms(info)
        self._spawn(lambda: self._evaluate_alarms(alarms), "alarms")
        if self.options.scheduler:
            self._spawn(self._schedule, "scheduler")
        info.pids = {"supervisor": os.getpid(), **{name: w.pid for name, w in self._workers.items()}}
        if self._moto:
            info.pids["moto"] = self._moto.pid
        if self._stub:
            info.pids["places_stub"] = self._stub.pid
        self._write_stack_file(info)
        return info

    def _sandboxes(self, info: StackInfo, environments: dict[str, dict[str, str]]) -> dict[str, SandboxSpec]:
        """Each service's Lambda sandbox: its host artifact (built or reused), its route's limits, its environment."""
        from restaurant_pipeline.artifacts.host import ensure_host_artifacts

        assert self.topology is not None
        artifacts = ensure_host_artifacts(self.config.nlp.enabled, progress=log.info)
        log.info(artifacts.summary())
        specs: dict[str, SandboxSpec] = {}
        for route in self.topology.routes:
            specs[route.service] = SandboxSpec(
                function_name=route.function_name,
                handler=route.lambda_handler,
                task_root=str(artifacts.task_roots[route.service]),
                runtime_dir=str(artifacts.runtime_dir),
                python=artifacts.python.executable,
                python_version=artifacts.python.version,
                memory_mb=route.memory_mb,
                ephemeral_storage_mb=route.ephemeral_storage_mb,
                region=info.region,
                # as on Lambda, dbt's state goes under the sandbox's own /tmp (services/transformer/settings.py)
                environment={k: v for k, v in environments[route.service].items() if k != "DBT_STATE_DIR"},
                # the DuckDB warehouse stands in for Athena: the transformer writes there, outside /tmp
                writable=(str(self.state.warehouse.parent),) if route.service == "transformer" else (),
                preload=(call_recorder.__file__,) if call_recorder.requested() else (),
            )
        info.sandbox = [constraint.line() for constraint in constraints(next(iter(specs.values())))]
        return specs

    def _poller_env(self, info: StackInfo) -> dict[str, str]:
        return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": info.endpoint_url, "AWS_DEFAULT_REGION": info.region}

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers.values():
            if worker.process:
                worker.process.terminate()  # the worker stops receiving and finishes its invocation
        grace_ends = time.monotonic() + self.options.stop_grace_seconds
        for worker in self._workers.values():
            if worker.process:
                stop_process(worker.process, timeout=max(0.0, grace_ends - time.monotonic()))
        for thread in self._threads:
            thread.join(timeout=10)
        if self.info and self._moto and self._moto.poll() is None:
            released = self._release_in_flight_at_stop()
            try:
                self._drain_outbox_once()
            except Exception:
                log.exception("could not deliver the last emails to the outbox; they are lost with moto")
            self._save_until_done(self.info, released)
        if self._stub:
            stop_process(self._stub)
        if self._moto:
            stop_process(self._moto)
        self.state.stack_file.unlink(missing_ok=True)

    def _release_in_flight_at_stop(self) -> int:
        """The messages of the invocations still running when the grace ended (their workers were killed): visible
        again at once, so that the snapshot holds them. How many were released."""
        released = 0
        for worker in self._workers.values():
            count = self._release_inflight(worker, visibility_seconds=0)
            if count > 0:
                log.warning(
                    "worker %s was still invoking %s after the %.0fs stop grace: %d message(s) released, saved with "
                    "the queues and delivered again after `local up`",
                    worker.route.service,
                    worker.route.function_name,
                    self.options.stop_grace_seconds,
                    count,
                )
                released += count
        return released

    def _save_until_done(self, info: StackInfo, released: int = 0) -> None:
        """Save the state before moto (which holds it in memory) stops. A save that fails keeps moto running with
        the state, workers stopped, and reports why in .pipeline/last-save.json: the next stop request (`local
        down` again, Ctrl-C again) retries, `local down --no-save` (SIGUSR1) gives up. `local down` reads the
        report and tells the truth; the previous snapshot stays current meanwhile."""
        while not self._discard.is_set():
            try:
                counts = persistence.snapshot(
                    self.clients,
                    self.state,
                    info.bucket,
                    [info.idempotency_table, info.ledger_table],
                    _queue_urls(info),
                )
            except persistence.SaveFailed as exc:
                log.error(
                    "the local state was NOT saved: %s. moto keeps it on %s until `local down` succeeds "
                    "(run it again once fixed) or `local down --no-save`",
                    exc,
                    info.endpoint_url,
                )
                self._retry_save.clear()  # before the report: `local down` may ask again as soon as it reads it
                self._write_save_report({"saved": False, "error": str(exc), "holding": True, "released": released})
                while not self._retry_save.wait(0.5):
                    pass
                continue
            log.info("saved %(objects)d objects, %(items)d table items and %(messages)d messages", counts)
            self._write_save_report({"saved": True, "counts": counts, "released": released})
            return
        log.warning("stopped without saving (--no-save): `local up` restores the previous snapshot")
        self._write_save_report({"saved": False, "discarded": True, "released": released})

    def _write_save_report(self, report: dict[str, object]) -> None:
        temporary = self.state.save_report.with_suffix(".tmp")
        temporary.write_text(json.dumps({**report, "at": datetime.now(UTC).isoformat(timespec="seconds")}), "utf-8")
        temporary.replace(self.state.save_report)

    def run(self) -> None:
        """Start, then watch the workers until stopped (SIGTERM/SIGINT; SIGUSR1: stop without saving),
        restarting any that died."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGUSR1, self._on_signal)
        try:
            self.start()
            while not self._stop.wait(0.5):
                self._restart_dead_workers()
        finally:
            self.stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            self._discard.set()
        if self._stop.is_set():
            self._retry_save.set()  # stopping already: a failed save waits for this to retry (or give up)
        self._stop.set()

    # -- pieces ---------------------------------------------------------------------------------------------
    def _start_places_stub(self) -> str:
        port = self.options.places_stub_port or free_port(self.options.host)
        output = open(self.state.logs / "places-stub.log", "ab")  # noqa: SIM115 (owned by the child)
        self._stub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "restaurant_pipeline.local.places_stub",
                "--host",
                self.options.host,
                "--port",
                str(port),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        output.close()
        url = f"http://{self.options.host}:{port}"
        wait_for_http(url + "/", self._stub)
        return url

    def _restart_dead_workers(self) -> None:
        for name, worker in self._workers.items():
            if worker.alive() or self._stop.is_set():
                continue
            now = time.monotonic()
            worker.restarts = [t for t in worker.restarts if now - t < 60]
            if len(worker.restarts) >= MAX_RESTARTS_PER_MINUTE:
                continue  # crash loop: leave it down; `local status` shows it
            code = worker.process.returncode if worker.process else None
            log.warning("worker %s exited (%s); restarting it like Lambda would", name, code)
            if self._release_inflight(worker) != 0:  # it died mid-invocation: Lambda counts that as an error
                with open(worker.log_file, "a", encoding="utf-8") as output:
                    output.write(lambda_metrics_line(worker.route.function_name, failed=True) + "\n")
            worker.restarts.append(now)
            worker.start()
            if self.info:
                self.info.pids[name] = worker.pid
                self._write_stack_file(self.info)

    def _release_inflight(self, worker: _Worker, visibility_seconds: int | None = None) -> int:
        """The messages a dead worker held come back after the function's timeout, not the queue's visibility
        timeout (6 x as long). Not sooner: by then Lambda would have ended the invocation, and an in-progress
        idempotency claim (the transformer's, which expires with the invocation's remaining time) has lapsed,
        so the redelivery runs the work instead of finding it "busy" until its receives are spent.
        At `local down` (visibility_seconds=0) they come back at once, to be saved with the queues.
        Returns how many messages were made visible (0: the worker held no batch; -1: it held one, which could
        not be released and comes back after the queue's visibility timeout)."""
        path = Path(worker.mapping.inflight_file) if worker.mapping.inflight_file else None
        if path is None or not path.exists():
            return 0
        seconds = worker.mapping.timeout_seconds if visibility_seconds is None else visibility_seconds
        released = -1
        try:
            handles = json.loads(path.read_text(encoding="utf-8"))
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, handle in enumerate(handles)
            ]
            released = 0
            for start in range(0, len(entries), 10):
                answer = self.clients.sqs.change_message_visibility_batch(
                    QueueUrl=worker.mapping.queue_url, Entries=entries[start : start + 10]
                )
                released += len(answer.get("Successful", []))  # a handle already deleted is no message held
            log.warning(
                "worker %s died holding %d message(s): visible again in %ds", worker.route.service, released, seconds
            )
        except Exception:  # the messages still come back, after the queue's visibility timeout
            log.exception("could not release the messages held by worker %s", worker.route.service)
        path.unlink(missing_ok=True)
        return released

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _deliver_email(self) -> None:
        while not self._stop.is_set():
            try:
                if self._drain_outbox_once() == 0:
                    self._stop.wait(0.5)
            except Exception:
                log.exception("outbox delivery failed; retrying")
                self._stop.wait(2)

    def _drain_outbox_once(self) -> int:
        from restaurant_pipeline.local.outbox import drain_sns_capture

        assert self.info is not None
        return drain_sns_capture(self.clients.sqs, self.info.email_capture_queue_url, self.state.outbox)

    def _alarms(self, info: StackInfo) -> LocalAlarms:
        """The alarms the CDK stack deploys, evaluated against the local signals (local/alarms.py)."""
        assert self.topology is not None
        alarms = LocalAlarms(
            alarms=with_local_alarms(pipeline_alarms(self.topology), self.state.root),
            sqs=self.clients.sqs,
            logs=[self.state.logs / f"{route.service}.log" for route in self.topology.routes],
            state_file=self.state.alarms,
            publish=sns_publisher(self.clients.sns, info.topic_arn),
            region=info.region,
            local_period_seconds=self.options.alarm_period_seconds,
            signals=queued_signals(self.clients.sqs, self._signals_url),
            details={DISK_FULL_ALARM: free_space(self.state.root)},
        )
        alarms.save()
        log.info(
            "alarms: %d evaluated every %.0fs (event alarms over %ds periods); not here: %s",
            sum(s.evaluated_locally for s in alarms.statuses.values()),
            EVALUATION_INTERVAL_SECONDS,
            self.options.alarm_period_seconds,
            ", ".join(name for name, s in alarms.statuses.items() if not s.evaluated_locally) or "none",
        )
        return alarms

    def _evaluate_alarms(self, alarms: LocalAlarms) -> None:
        while not self._stop.wait(EVALUATION_INTERVAL_SECONDS):
            try:
                alarms.tick()
            except Exception:
                log.exception("alarms: evaluation failed; evaluating again")
                self._stop.wait(2)

    def _schedule(self) -> None:
        expression = self.config.schedule.parsed
        next_fire = expression.next_after(datetime.now(UTC))
        log.info("scheduler: %s, next run at %s", self.config.schedule.expression, next_fire.isoformat())
        while not self._stop.wait(max(0.0, min(30.0, (next_fire - datetime.now(UTC)).total_seconds()))):
            if datetime.now(UTC) < next_fire:
                continue
            request = CollectionRequested(cities=self.config.collection.city_names, trigger_source="schedule")
            assert self.info is not None
            entry = request.to_entry(self.info.event_bus, source=SCHEDULER_SOURCE)
            try:
                self.clients.events.put_events(Entries=[entry])
                log.info("scheduler: Collection Requested for %s", ", ".join(request.cities))
            except Exception:
                log.exception("scheduler: could not publish Collection Requested")
            next_fire = expression.next_after(datetime.now(UTC))

    def _write_stack_file(self, info: StackInfo) -> None:
        temporary = self.state.stack_file.with_suffix(".tmp")
        temporary.write_text(info.to_json(), encoding="utf-8")
        temporary.replace(self.state.stack_file)


def _queue_urls(info: StackInfo) -> list[str]:
    """Every queue whose messages `local down` saves: each route's queue, its DLQ and its rule's DLQ; the schedule's."""
    urls = [url for queue in info.queues.values() for url in (queue.url, queue.dlq_url, queue.rule_dlq_url) if url]
    return urls + ([info.schedule_dlq_url] if info.schedule_dlq_url else [])


def _base_environment() -> dict[str, str]:
    """The parent's environment minus anything that would point the functions elsewhere. DBT_PROJECT_DIR passes:
    `DBT_PROJECT_DIR=~/my-models restaurant-pipeline local up` runs the local transformer on another dbt project."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "TZ", "DBT_PROJECT_DIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local stack in the foreground.")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--config")
    parser.add_argument("--places-stub-port", type=int)
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument("--retry-delay-seconds", type=int, default=3)
    parser.add_argument("--artifacts", action="store_true", help="run the host artifacts in Lambda sandboxes")
    parser.add_argument("--alarm-period-seconds", type=int, default=DEFAULT_LOCAL_PERIOD_SECONDS)
    parser.add_argument("--stop-grace-seconds", type=float, default=DEFAULT_STOP_GRACE_SECONDS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = StackOptions(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        config_path=args.config,
        places_stub_port=args.places_stub_port,
        scheduler=not args.no_scheduler,
        retry_delay_seconds=args.retry_delay_seconds,
        artifacts=args.artifacts,
        alarm_period_seconds=args.alarm_period_seconds,
        stop_grace_seconds=args.stop_grace_seconds,
    )
    LocalStack(options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
