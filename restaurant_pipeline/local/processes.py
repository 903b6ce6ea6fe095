"""Starting and stopping the local stack's server processes (moto, the Places stub), and free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil


class ProcessStartError(RuntimeError):
    pass


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when its parent dies (Linux), so no server outlives its owner."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:  # not Linux: the owner's own shutdown still stops it
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_http(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """Poll `url` until it answers (any HTTP status) or the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ProcessStartError(f"the process serving {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.05)
    raise ProcessStartError(f"{url} did not answer within {timeout:.0f}s")


def start_moto(host: str, port: int, log_file: Path | None = None) -> subprocess.Popen[bytes]:
    """moto's server as its own process: the AWS APIs on loopback (and the restored-version request of
    local/moto_server.py, which `local up` needs)."""
    if port_in_use(host, port):
        raise ProcessStartError(
            f"{host}:{port} is already in use. Stop what listens there (`restaurant-pipeline local down`) "
            "or choose another port."
        )
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "restaurant_pipeline.local.moto_server", "-H", host, "-p", str(port)],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    wait_for_http(f"http://{host}:{port}/moto-api/", process)
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM a process group we started, then SIGKILL. True if something was running."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def pid_alive(pid: int) -> bool:
    """True while process `pid` runs (not a zombie), on Linux and macOS, whoever started it.

    The stack's pids are read back by other CLI processes (the supervisor is nobody's child after `make run`), so
    the check cannot rely on being the parent. In order:
    1. the kernel: signal 0 reaches no process -> gone (POSIX; no /proc needed);
    2. our own child: reap it if it has exited (a zombie still answers signal 0) -> gone;
    3. anyone else's: psutil reads its state (Linux: /proc; macOS: the kernel's process table) -> gone if a zombie.
    Where psutil cannot see a process the kernel has just confirmed (Linux with no readable /proc: a container, a
    hidepid mount), it counts as running: only a zombie, which its own parent reaps, is then misread.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        pass
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.AccessDenied:
        return True
    except psutil.NoSuchProcess:
        return _kernel_knows(pid)


def _kernel_knows(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
