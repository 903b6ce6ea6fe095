"""Which run an object belongs to: decided from where the object came from and what the ledger says, never from
what the file claims (docs/transformer.md, "Which run a file belongs to").

An object is a run's collection when its key is the collector's (raw/places/dt=<day>/<run>__<city>.jsonl.gz), the
ledger knows the run was requested, and either the run has not been emailed yet or the object is the very one its
collection wrote (same key, same ETag: a replay or a `reprocess` of it). Anything else is a dropped file with a run
of its own, whatever its `_collection` lines say: a file cannot claim a run that was not requested, nor reopen a run
already emailed, and its places never outrank what a collection recorded for the same day (the staging model
ranks collected rows first).
"""

from __future__ import annotations

from collections.abc import Callable

from services.common.ports import RunFacts
from services.transformer.domain.reading import ObjectRef, RunIdentity, collector_run, dropped_run_id


def identify(ref: ObjectRef, name: str, facts: Callable[[str], RunFacts | None]) -> RunIdentity:
    """The run of the object `ref` (its name under raw/places/dt=<day>/), asking `facts` about the run its key
    names (None from `facts`: no ledger to ask, the key is trusted as before the ledger existed)."""
    dropped = dropped_run_id(ref)
    run_id = collector_run(name)
    if run_id is None:
        return RunIdentity(dropped, collected=False)
    known = facts(run_id)
    if known is None:
        return RunIdentity(run_id, collected=True)
    if not known.requested:
        return RunIdentity(dropped, collected=False, note=f"run {run_id} was never requested: transformed as {dropped}")
    if known.notified and not _written_by_collection(ref, known):
        return RunIdentity(
            dropped,
            collected=False,
            note=f"run {run_id} was already emailed and this is not the object its collection wrote: "
            f"transformed as {dropped}",
        )
    return RunIdentity(run_id, collected=True, run_cities=known.cities)


def _written_by_collection(ref: ObjectRef, known: RunFacts) -> bool:
    if ref.key not in known.collected:
        return False
    recorded = known.collected[ref.key].strip('"')
    # An S3-managed-encryption object's ETag is the MD5 of its content for PutObject and CopyObject alike, so a
    # `reprocess` (a copy onto itself) keeps it: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html
    return not recorded or recorded == (ref.etag or "").strip('"')
