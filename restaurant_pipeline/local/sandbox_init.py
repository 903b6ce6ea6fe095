"""The Lambda sandbox's init: set up the constraints, then become the runtime. Standard library only.

Run by restaurant_pipeline/local/sandbox.py as `python -S -I sandbox_init.py CONFIG_JSON`, inside a private mount
namespace (`unshare --mount --propagation private`) when the machine allows one; it never imports project code.
With `isolate` it makes, in that namespace only:
- /tmp a fresh tmpfs of the function's ephemeral storage size, the only writable place (besides `writable`: what
  stands in on this machine for an AWS service the function writes to, e.g. the transformer's DuckDB folder);
- every other mount read-only (the code directory, the interpreter, the repository, HOME), /proc, /sys and /dev
  aside, as on Lambda where only /tmp is writable
  (https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html);
- /dev/shm an empty read-only tmpfs: POSIX semaphores cannot be created, as on Lambda, which has no /dev/shm
  (https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/). Lambda answers
  Errno 38 (ENOSYS); here it is Errno 30 (EROFS): the same failure for the same calls.
Then, isolated or not: the function's memory size as the address-space limit (RLIMIT_AS), the working directory
the code directory, and exec into the interpreter running the runtime interface client with only Lambda's
environment: `python -S -m awslambdaric HANDLER` (-S: no site-packages; sys.path is the code directory, the
runtime folder from PYTHONPATH, and the standard library). With `preload` files (SandboxSpec.preload, like a
Lambda internal extension) it is `python -S -c BOOTSTRAP HANDLER` instead: the bootstrap loads each file by its
path, calls its `preload()`, then runs awslambdaric as `python -m` would (same sys.argv, same sys.path).
Any step that fails ends the process with the reason on stderr: a constraint is never claimed and not enforced.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

MIB = 1024 * 1024
# Left as they are: the kernel's and the devices' file systems (Lambda's /proc and /dev are there too).
UNTOUCHED = ("/proc", "/sys", "/dev")


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"lambda sandbox: mount {' '.join(args)} failed: {result.stderr.strip()}")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _mount_points() -> list[tuple[str, bool]]:
    """(mount point, read-only already) of this namespace, from /proc/self/mountinfo."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            point = fields[4].encode("latin-1").decode("unicode_escape")  # \040 and friends
            points.append((point, "ro" in fields[5].split(",")))
    return points


# Runs the preload files, then the runtime interface client as `python -m awslambdaric HANDLER` would: run_module
# with alter_sys sets sys.argv[0] to the module's file and keeps argv[1], the handler, which awslambdaric reads.
# `-c` puts "" first on sys.path where `-m` puts the working directory (the task root): made the same.
BOOTSTRAP = """
import importlib.util, os, runpy, sys
if sys.path and sys.path[0] == "":
    sys.path[0] = os.getcwd()
for path in {preload!r}:
    name = path.rsplit("/", 1)[-1].removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.preload()
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def runtime_command(config: dict) -> list[str]:
    """The runtime process's command line: awslambdaric hosting the handler, after the preload files if any."""
    python, handler = config["python"], config["handler"]
    preload = [os.path.realpath(path) for path in config.get("preload", ())]
    if not preload:
        return [python, "-S", "-m", "awslambdaric", handler]
    return [python, "-S", "-c", BOOTSTRAP.format(preload=preload), handler]


def isolate(config: dict) -> None:
    tmp = "/tmp"
    writable = [os.path.realpath(path) for path in config["writable"]]
    kept = [os.path.realpath(path) for path in (config["task_root"], config["runtime_dir"], config["python_prefix"])]
    kept += [os.path.dirname(os.path.realpath(path)) for path in config.get("preload", ())]
    # Folders under /tmp the new /tmp would hide: held open, then bound again at the same place.
    held = {path: os.open(path, os.O_PATH) for path in [*kept, *writable] if _under(path, tmp)}
    for path in writable:
        if not _under(path, tmp):
            _mount("--bind", path, path)  # a mount of its own, left writable by the read-only pass
    _mount("-t", "tmpfs", "-o", f"size={int(config['tmp_size_mb'])}m,mode=1777", "tmpfs", tmp)
    for path, descriptor in held.items():
        os.makedirs(path, exist_ok=True)
        # --no-canonicalize: mount would resolve the fd's link to the path string, the new empty folder
        _mount("--no-canonicalize", "--bind", f"/proc/{os.getpid()}/fd/{descriptor}", path)
        os.close(descriptor)
    _mount("-t", "tmpfs", "-o", "ro,size=4k,mode=755", "tmpfs", "/dev/shm")
    for point, read_only in _mount_points():
        if read_only or point == tmp or point in writable or any(_under(point, top) for top in UNTOUCHED):
            continue
        _mount("-o", "remount,bind,ro", point)


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    if config["isolate"]:
        isolate(config)
    if config.get("memory_mb"):
        limit = int(config["memory_mb"]) * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.chdir(config["task_root"])
    command = runtime_command(config)
    os.execve(command[0], command, config["environment"])


if __name__ == "__main__":
    main(sys.argv)
