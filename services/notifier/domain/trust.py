"""Whether an event speaks for what the pipeline did. Pure: it reads what the ledger holds (RunRecords).

Anyone who can put an event on the bus (locally, anyone on the machine) or a message on the notifier's queue could
otherwise have a "Transform Completed" or a "Collection Failed" of their own mailed to the people who care, and worse,
a forged "passed" sent first would settle the run: its real failure would then find the run already notified. The
ledger is written only by the pipeline's services, and each writes its step before it announces it:
- the collector records REQUESTED before it publishes anything about the run;
- the transformer records, for each object version it built, TRANSFORMED {"outcome": …} (or TRANSFORM_FAILED, an
  error, when it gives up and dead-letters the object) under the run it derived (a requested run's, or a dropped
  file's own `drop-…` run), with the object's version (version id, else ETag), before it publishes the outcome.
So a "Transform Completed" is mailed only when, for every object it names, the ledger holds the transformer's step
under the event's run for that key and version, with the event's outcome. Nothing less will do: an event naming no
object, an object of another run, another version of the key, or another outcome is refused.
A "Collection Failed" is trusted when its run was requested: the collector publishes it before it records
COLLECTION_FAILED (services/collector/service.py), so the notifier may well read the ledger before that step is there.
Anything refused is logged, counted, recorded for `audit` (REFUSED), never mailed, and settles nothing.
"""

from __future__ import annotations

from contracts.events import CollectionFailed, SourceObject, TransformCompleted
from services.notifier.domain.outcomes import NotifierEvent, RunRecords


def refusal(event: NotifierEvent, records: RunRecords) -> str | None:
    """Why the event must not be mailed (None: the ledger vouches for it)."""
    if isinstance(event, CollectionFailed):
        if records.requested:
            return None
        return f"run {event.run_id} was never requested (no REQUESTED step in the ledger)"
    return _unverified(event, records)


def version_label(source: SourceObject) -> str | None:
    """The version the transformer records an object under: its version id, else its ETag (ObjectRef.version_label)."""
    return source.version_id or source.etag


def _unverified(event: TransformCompleted, records: RunRecords) -> str | None:
    if not event.sources:
        return f"the {event.outcome!r} outcome of run {event.run_id} names no object the transformer could have built"
    for source in event.sources:
        label = version_label(source)
        if label is None:
            return f"object {source.key} has neither a version id nor an ETag: no step of the ledger can vouch for it"
        outcomes = records.transformed.get((source.key, label))
        if not outcomes:
            return f"the transformer recorded no step for {source.key} (version {label}) under run {event.run_id}"
        if event.outcome not in outcomes:
            return (
                f"the transformer recorded {', '.join(sorted(outcomes))} for {source.key} (version {label}) under "
                f"run {event.run_id}, not {event.outcome!r}"
            )
    return None
