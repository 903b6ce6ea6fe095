"""Whether an event speaks for a run the pipeline knows. Pure: it reads what the ledger holds (RunRecords).

Anyone who can put an event on the bus (locally, anyone on the machine) could otherwise have a "Transform Completed"
or a "Collection Failed" of their own mailed to the people who care. The ledger is written only by the pipeline's
services, and each writes its step before it announces it:
- the collector records REQUESTED before it publishes anything about the run;
- the transformer records TRANSFORMED (or TRANSFORM_FAILED) for each object before it publishes the object's
  outcome, under the run it derived (a requested run's, or a dropped file's own `drop-…` run).
So an event is trusted when the ledger knows its run: requested, or (a transform) one of the objects it names was
recorded by the transformer under that run. Anything else is refused: logged, counted, recorded for `audit`.
"""

from __future__ import annotations

from contracts.events import CollectionFailed
from services.notifier.domain.outcomes import NotifierEvent, RunRecords


def refusal(event: NotifierEvent, records: RunRecords) -> str | None:
    """Why the event must not be mailed (None: its run is known to the ledger)."""
    if records.requested:
        return None
    if isinstance(event, CollectionFailed):
        return f"run {event.run_id} was never requested (no REQUESTED step in the ledger)"
    if any(source.key in records.transformed_keys for source in event.sources):
        return None
    return (
        f"run {event.run_id} was never requested and the transformer recorded none of the objects the event names "
        "under it"
    )
