"""dbt's locks and thread pool on threading primitives, so dbt runs where POSIX semaphores cannot be created.

Why: AWS Lambda has no /dev/shm, so every `multiprocessing` lock, semaphore or queue fails to be created with
`OSError: [Errno 38] Function not implemented` ("Parallel Processing in Python with AWS Lambda",
https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/; dbt-core issue #2992,
https://github.com/dbt-labs/dbt-core/issues/2992). dbt creates three such objects, all in one process, guarding
threads only (dbt runs its nodes on threads, never on processes):
- the manifest's lock (`Manifest._lock`, a `get_mp_context().Lock()` bound when dbt.contracts.graph.manifest is
  imported, and again when a manifest is deserialized: the shipped one is);
- each adapter connection manager's lock (`mp_context.RLock()` in dbt.adapters.base.connections);
- the "change notifier" queue every `multiprocessing.pool.ThreadPool` creates (`Pool.__init__` calls
  `context.SimpleQueue()`, whose locks are semaphores): dbt's DbtThreadPool runs the nodes.
The fix gives dbt a spawn context whose Lock and RLock are threading locks, and gives thread pools that context.
Nothing else changes: a thread pool's work queues are already `queue.SimpleQueue`.

Not covered, on purpose: semantic models and metrics (dbt_semantic_interfaces validates them with a
ProcessPoolExecutor). This project has none; tests/integration/transformer/test_without_shared_memory.py fails if
one appears.

`install()` must run before dbt.contracts.graph.manifest is imported (the manifest class binds its lock factory
then). Where that module came first and semaphores cannot be created, it raises, naming the fix; where they can (a
developer's machine, a tool that imported dbt first) the early lock works and install() goes on. It is idempotent.
The transformer's dbt adapter (dbt_build.py) calls it when it is imported, before its first dbt import.
"""

from __future__ import annotations

import sys
import threading
from multiprocessing import context as mp_context
from multiprocessing import pool as mp_pool
from typing import Any


class ThreadLockContext(mp_context.SpawnContext):
    """A multiprocessing context whose locks are threading locks: all a thread-only user of it needs."""

    def Lock(self) -> Any:
        return threading.Lock()

    def RLock(self) -> Any:
        return threading.RLock()


THREAD_LOCK_CONTEXT = ThreadLockContext()


def _thread_pool_init(
    self: mp_pool.ThreadPool, processes: int | None = None, initializer: Any = None, initargs: tuple[Any, ...] = ()
) -> None:
    # ThreadPool.__init__ is exactly this call, without the context (CPython 3.11-3.13, Lib/multiprocessing/pool.py).
    mp_pool.Pool.__init__(self, processes, initializer, initargs, context=THREAD_LOCK_CONTEXT)


class DbtImportedTooEarly(RuntimeError):
    """dbt's manifest module was imported before install(): its lock factory is already a semaphore's."""


def install() -> None:
    """Make dbt's locks and thread pools threading ones in this process (before dbt's manifest module loads)."""
    import dbt.mp_context

    if dbt.mp_context._MP_CONTEXT is THREAD_LOCK_CONTEXT:
        return
    if "dbt.contracts.graph.manifest" in sys.modules and not _semaphores_work():
        raise DbtImportedTooEarly(
            "dbt.contracts.graph.manifest was imported before services.transformer.adapters.threads_for_dbt."
            "install(): dbt would create multiprocessing locks, which fail on AWS Lambda (no /dev/shm). "
            "Import services.transformer.adapters.dbt_build before anything that imports dbt."
        )
    dbt.mp_context._MP_CONTEXT = THREAD_LOCK_CONTEXT
    mp_pool.ThreadPool.__init__ = _thread_pool_init  # type: ignore[method-assign,assignment]


def _semaphores_work() -> bool:
    try:
        mp_context.SpawnContext().Lock()
    except OSError:
        return False
    return True
