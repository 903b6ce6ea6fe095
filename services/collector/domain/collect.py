"""Domain: collect the restaurants of a run's cities. No boto3, no environment: collaborators come in.

Per city:
1. Search the configured query ("restaurants in Paris"), page by page (pageSize 20, nextPageToken, every other
   parameter unchanged), keeping places not seen before, until max_restaurants or the results run out.
2. If that query came back full (60, the API's cap per query) and more are wanted: search the city itself
   ("Paris") to learn its viewport and tile it with locationRestriction rectangles, counting before paying
   (tiling.py): each rectangle is first paged with an ids-only mask, which Google does not bill, and split into
   quadrants while it reaches the cap; the complete ones are then fetched with the configured mask, merged with a
   neighbour when their places together stay under the cap, skipped when all their places are collected already.
   Rectangles are taken breadth first and round-robin across their parents, fetches before counts.
3. Places go to a spool (gzip NDJSON temp file) as they arrive; when the city is complete the spool is
   written in one conditional put. A failure before that writes nothing.
Queries run concurrently up to a bound shared by the whole invocation; pages within a query are sequential.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts.records import Collection
from contracts.records import Rectangle as RecordRectangle
from services.collector.domain.model import (
    PAGE_SIZE,
    RESULT_CAP,
    CityCollected,
    CityFailed,
    CityPlan,
    CollectionError,
    Counters,
    Failure,
    Rectangle,
    RunOutcome,
    RunPlan,
)
from services.collector.domain.tiling import Fetch, plan_fetches
from services.collector.ports import PlacesApi, RawObjects, Spool, SpoolFactory

log = logging.getLogger(__name__)

VIEWPORT_FIELD_MASK = "places.id,places.displayName,places.types,places.viewport"
# Counting a rectangle: place ids only, the Text Search Essentials IDs Only SKU, which Google does not bill: "SKU: Text
# Search (ID Only)", $0.00 per 1,000 in every volume band, triggered only when the mask asks for places.id and/or
# places.name (https://developers.google.com/maps/documentation/places/web-service/preview-billing). Free of charge,
# not of quota: each one counts against the per-minute quota like a billed request (docs/collector.md, "What it
# costs"). The request is otherwise the same as the billed one, so the same places.
COUNT_FIELD_MASK = "places.id,nextPageToken"
AREA_TYPES = ("locality", "postal_town", "administrative_area_level_3", "administrative_area_level_2", "political")


# A searchText answer takes ~0.3 s from Google; sizing for 1 s keeps the pipe full when answers are slow, or when
# the process is busy (measured: 6 in flight left ~5 % of a time-scaled 600/min unused, benchmarks/collector_bench).
ASSUMED_LATENCY_SECONDS = 1.0
MAX_QUERIES_IN_FLIGHT = 16


@dataclass(frozen=True)
class CollectorLimits:
    queries_in_flight: int = 8  # across the invocation: every city's queries share this bound
    cities_in_flight: int = 4
    min_tile_degrees: float = 0.0005  # about 50 m: a full rectangle smaller than this is not split again
    requests_per_place: float = 0.2  # billed request budget per city: 10 + this x max_restaurants (runaway guard)
    counts_per_place: float = 0.5  # the same for the free ids-only requests that count rectangles

    def request_budget(self, max_restaurants: int) -> int:
        return 10 + int(self.requests_per_place * max_restaurants)

    def count_budget(self, max_restaurants: int) -> int:
        return 10 + int(self.counts_per_place * max_restaurants)

    @classmethod
    def for_rate(cls, requests_per_minute: int) -> CollectorLimits:
        """As many queries in flight as the pace can use. Billed requests do not depend on it (fetches are planned
        on disjoint, counted rectangles: 29 billed requests for 500 places of a 3,000-place city with 1, 4, 8 or
        16 in flight); a partial collection counts a few more rectangles with more in flight (56 to 75 free
        requests there)."""
        needed = math.ceil(requests_per_minute / 60 * ASSUMED_LATENCY_SECONDS)
        return cls(queries_in_flight=min(MAX_QUERIES_IN_FLIGHT, max(2, needed)))


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class Cell:
    """A rectangle of the tiling: counted (`ids`: every place in it, fewer than the cap unless it could not be
    split further), or split into its four quadrants (`children`)."""

    rectangle: Rectangle
    depth: int
    parent: Cell | None = None
    ids: frozenset[str] | None = None
    children: list[Cell] | None = None

    @property
    def resolved(self) -> bool:
        return self.ids is not None or self.children is not None


@dataclass(frozen=True, eq=False)
class Job:
    """One query of the tiling: count a cell (ids-only, free) or fetch a planned rectangle (billed)."""

    depth: int
    cell: Cell | None = None
    fetch: Fetch | None = None


class CityCollection:
    """The places of one city, de-duplicated by id, streamed into a spool."""

    def __init__(
        self,
        api: PlacesApi,
        plan: CityPlan,
        run: RunPlan,
        field_mask: str,
        spool: Spool,
        gate: asyncio.Semaphore,
        limits: CollectorLimits,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.api = api
        self.plan = plan
        self.run = run
        self.field_mask = field_mask
        self.spool = spool
        self.gate = gate
        self.limits = limits
        self.now = now
        self.counters = Counters()  # billed requests
        self.counting = Counters()  # the free ids-only requests that count rectangles
        self.seen: set[str] = set()
        self.duplicates = 0
        self.unsplittable = 0
        self.budget_exhausted = False
        self.viewport_missing = False

    @property
    def kept(self) -> int:
        return len(self.seen)

    @property
    def totals(self) -> Counters:
        """Every request of the city, billed or not, with the free ones also counted apart."""
        billed, free = self.counters, self.counting
        return Counters(
            requests=billed.requests + free.requests,
            pages=billed.pages,
            retries=billed.retries + free.retries,
            throttled=billed.throttled + free.throttled,
            rectangles=billed.rectangles,
            free_requests=free.requests,
            counted=free.counted,
        )

    @property
    def enough(self) -> bool:
        return len(self.seen) >= self.plan.max_restaurants or self.budget_exhausted

    def _body(self, text_query: str, rectangle: Rectangle | None, page_size: int = PAGE_SIZE) -> dict[str, Any]:
        body: dict[str, Any] = {"textQuery": text_query, "languageCode": self.plan.language, "pageSize": page_size}
        if rectangle is not None:
            body["locationRestriction"] = {"rectangle": rectangle.to_api()}
        return body

    def _keep(self, place: dict[str, Any], rectangle: Rectangle | None, page: int) -> None:
        place_id = place["id"]
        if place_id in self.seen:
            self.duplicates += 1
            return
        if len(self.seen) >= self.plan.max_restaurants:
            return
        self.seen.add(place_id)
        self.spool.write({**place, "_collection": self._collection_block(rectangle, page)})

    def _collection_block(self, rectangle: Rectangle | None, page: int) -> dict[str, Any]:
        """`_collection`, built with the model the transformer validates it with (contracts/records.py), so the
        block and the record cannot drift apart: a key the model lacks, or one it requires and this leaves out,
        fails here, in the collector's own tests."""
        return Collection(
            run_id=self.run.run_id,
            city=self.plan.city,
            run_cities=list(self.run.run_cities),
            trigger_source=self.run.trigger_source,
            query=self.plan.query,
            rectangle=RecordRectangle.model_validate(rectangle.to_api()) if rectangle is not None else None,
            page=page,
            collected_at=self.now().astimezone(UTC).isoformat(timespec="milliseconds"),
        ).model_dump(mode="json", by_alias=True)

    async def _search(self, body: dict[str, Any], mask: str, counters: Counters | None = None) -> dict[str, Any] | None:
        """One page, or None once the city's request budget (billed, or free for counting) is spent."""
        counters = counters or self.counters
        free = counters is self.counting
        budget = (self.limits.count_budget if free else self.limits.request_budget)(self.plan.max_restaurants)
        if counters.requests >= budget:
            if not self.budget_exhausted:
                log.warning(
                    "city %s: %s request budget of %d spent with %d places; stopping here",
                    self.plan.city,
                    "counting" if free else "billed",
                    counters.requests,
                    len(self.seen),
                )
            self.budget_exhausted = True
            return None
        return await self.api.search_text(body, mask, counters)

    async def query(self, rectangle: Rectangle | None) -> bool:
        """Page through one query; True when it came back full (the API's 60 cap: there may be more)."""
        body = self._body(self.plan.query, rectangle)
        if rectangle is not None:
            self.counters.rectangles += 1
        results = 0
        page = 0
        token: str | None = None
        async with self.gate:
            while not self.enough:
                answer = await self._search({**body, "pageToken": token} if token else body, self.field_mask)
                if answer is None:
                    break
                page += 1
                self.counters.pages += 1
                places = answer.get("places", [])
                results += len(places)
                for place in places:
                    self._keep(place, rectangle, page)
                token = answer.get("nextPageToken")
                if not token:
                    break
        return results >= RESULT_CAP

    async def count(self, rectangle: Rectangle) -> list[str] | None:
        """The ids of the places in a rectangle, up to the cap: the same request as query() but for the ids-only
        mask, so not billed. None once the counting budget is spent."""
        body = self._body(self.plan.query, rectangle)
        self.counting.counted += 1
        ids: list[str] = []
        token: str | None = None
        async with self.gate:
            while len(ids) < RESULT_CAP:
                answer = await self._search(
                    {**body, "pageToken": token} if token else body, COUNT_FIELD_MASK, self.counting
                )
                if answer is None:
                    return None
                self.counting.pages += 1
                ids.extend(place["id"] for place in answer.get("places", []))
                token = answer.get("nextPageToken")
                if not token:
                    break
        return ids

    async def viewport(self) -> Rectangle | None:
        """The city's own viewport: the first area-like result of a search for the city's name."""
        async with self.gate:
            answer = await self._search(self._body(self.plan.city, None, page_size=5), VIEWPORT_FIELD_MASK)
        if answer is None:
            return None
        candidates = [p for p in answer.get("places", []) if Rectangle.from_api(p.get("viewport")) is not None]
        for place in candidates:
            if any(kind in place.get("types", []) for kind in AREA_TYPES):
                return Rectangle.from_api(place["viewport"])
        return Rectangle.from_api(candidates[0]["viewport"]) if candidates else None

    def _splittable(self, rectangle: Rectangle) -> bool:
        return max(rectangle.lat_span, rectangle.lng_span) > self.limits.min_tile_degrees

    def _expected(self, jobs: Iterable[Job]) -> int:
        """Places not collected yet that these fetches will bring (their ids are known from counting)."""
        return sum(len(job.fetch.ids - self.seen) for job in jobs if job.fetch is not None)

    def _room_for(self, job: Job, running: Iterable[Job], pending: Iterable[Job]) -> bool:
        """Start a query only if what is running (and, for a count, what is planned) may not be enough: this keeps
        concurrency from paying for places that would be thrown away."""
        if self.enough:
            return False
        coming = self._expected(running) + (self._expected(pending) if job.cell is not None else 0)
        return len(self.seen) + coming < self.plan.max_restaurants

    async def tile(self, area: Rectangle) -> None:
        """Count, split and fetch until the area is covered or enough places are kept (module docstring, tiling.py)."""
        pending: list[tuple[int, int, int, Job]] = []  # (fetch before count, depth, sequence): breadth first
        sequence = itertools.count()

        def push(job: Job) -> None:
            heapq.heappush(pending, (0 if job.fetch is not None else 1, job.depth, next(sequence), job))

        def split(cell: Cell) -> None:
            cell.children = [Cell(quadrant, cell.depth + 1, cell) for quadrant in cell.rectangle.quadrants()]
            for child in cell.children:
                push(Job(child.depth, cell=child))

        def counted(cell: Cell, ids: list[str]) -> None:
            unique = frozenset(ids)
            if len(unique) < RESULT_CAP or not self._splittable(cell.rectangle):
                if len(unique) >= RESULT_CAP:
                    self.unsplittable += 1  # fetched as it is: its first 60 places, no more
                cell.ids = unique
            else:  # it may hold more than the API returns
                split(cell)
            parent = cell.parent
            if parent is not None and parent.children is not None and all(c.resolved for c in parent.children):
                quadrant_ids = [child.ids if child.children is None else None for child in parent.children]
                for fetch in plan_fetches(parent.rectangle, quadrant_ids, self.seen):
                    push(Job(cell.depth, fetch=fetch))

        async def run(job: Job) -> list[str] | bool | None:
            if job.fetch is not None:
                return await self.query(job.fetch.rectangle)
            assert job.cell is not None
            return await self.count(job.cell.rectangle)

        split(Cell(area, 0))
        running: dict[asyncio.Task[list[str] | bool | None], Job] = {}
        try:
            while (pending or running) and not self.enough:
                while pending and len(running) < self.limits.queries_in_flight:
                    job = pending[0][3]
                    if job.fetch is not None and job.fetch.pages(self.seen) == 0:
                        heapq.heappop(pending)  # every place it holds came in another query meanwhile
                        continue
                    if not self._room_for(job, running.values(), (item[3] for item in pending[1:])):
                        break
                    heapq.heappop(pending)
                    running[asyncio.ensure_future(run(job))] = job
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    job = running.pop(task)
                    result = task.result()  # a failure propagates; the finally cancels the rest
                    if job.cell is not None:
                        if isinstance(result, list):
                            counted(job.cell, result)
                    elif result is True and job.fetch is not None and self._splittable(job.fetch.rectangle):
                        # a fetched rectangle came back full: places appeared since it was counted; split it
                        split(Cell(job.fetch.rectangle, job.depth))
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def collect(self) -> None:
        full = await self.query(None)
        if self.enough or not full:
            return
        area = await self.viewport()
        if area is None:
            if self.budget_exhausted:
                return
            self.viewport_missing = True
            log.warning(
                "city %s: no viewport found; keeping the %d places of the plain query", self.plan.city, len(self.seen)
            )
            return
        await self.tile(area)


@dataclass
class CollectionPorts:
    """Everything collect_cities needs besides the plan (injected: fakes in unit tests, real adapters in Lambda)."""

    api: PlacesApi
    store: RawObjects
    spool: SpoolFactory
    field_mask: str
    limits: CollectorLimits = field(default_factory=CollectorLimits)
    now: Callable[[], datetime] = _utc_now
    clock: Callable[[], float] = time.monotonic


def _internal(exc: Exception) -> Failure:
    return Failure(
        "internal",
        f"The collector failed unexpectedly ({exc.__class__.__name__}: {str(exc)[:300]}). SQS will redeliver the "
        "request; if this repeats, the message will reach the collector's DLQ: see the collector's logs.",
        retryable=True,
    )


async def collect_city(plan: CityPlan, run: RunPlan, deps: CollectionPorts, gate: asyncio.Semaphore) -> CityCollected:
    """One city: skip it if its object exists, else collect it fully and write it once. Raises CollectionError."""
    started = deps.clock()
    existing = await asyncio.to_thread(deps.store.find, plan.object_key)
    if existing is not None:
        return CityCollected(
            plan.city, plan.object_key, existing.places or 0, Counters(), 0, already_collected=True, etag=existing.etag
        )
    with deps.spool() as spool:
        collection = CityCollection(deps.api, plan, run, deps.field_mask, spool, gate, deps.limits, deps.now)
        try:
            await collection.collect()
        except CollectionError as error:
            raise CityError(error.failure, collection.totals) from None
        except Exception as exc:
            raise CityError(_internal(exc), collection.totals) from exc
        spool.close()
        counters = collection.totals
        metadata = {
            "run-id": run.run_id,
            "places": str(collection.kept),
            "requests": str(counters.requests),
            "pages": str(counters.pages),
        }
        try:
            etag = await asyncio.to_thread(deps.store.put_once, plan.object_key, spool.path, metadata)
            written = etag is not None
            if not written:  # a concurrent delivery of this run wrote it first: its ETag is the one to record
                there = await asyncio.to_thread(deps.store.find, plan.object_key)
                etag = there.etag if there is not None else None
        except Exception as exc:
            raise CityError(_internal(exc), counters) from exc
    log.info(
        "city %s: %d places, %d requests (%d of them free, counting %d rectangles), %d billed pages, "
        "%d rectangles fetched, %d duplicates, %d rectangles at the cap that could not be split%s",
        plan.city,
        collection.kept,
        counters.requests,
        counters.free_requests,
        counters.counted,
        counters.pages,
        counters.rectangles,
        collection.duplicates,
        collection.unsplittable,
        "" if written else " (object already there: nothing written)",
    )
    return CityCollected(
        plan.city,
        plan.object_key,
        collection.kept,
        counters,
        int((deps.clock() - started) * 1000),
        already_collected=not written,
        etag=etag,
    )


class CityError(Exception):
    def __init__(self, failure: Failure, counters: Counters) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.counters = counters


async def collect_cities(run: RunPlan, deps: CollectionPorts) -> RunOutcome:
    """Every city of the run. Never raises for a city's failure: it is in the outcome."""
    gate = asyncio.Semaphore(deps.limits.queries_in_flight)
    cities = asyncio.Semaphore(deps.limits.cities_in_flight)

    async def one(plan: CityPlan) -> CityCollected | CityFailed:
        async with cities:
            if deps.api.fatal is not None:  # the key or the daily quota already failed for another city
                return CityFailed(plan.city, deps.api.fatal, Counters())
            try:
                return await collect_city(plan, run, deps, gate)
            except CityError as error:
                return CityFailed(plan.city, error.failure, error.counters)
            except Exception as exc:  # e.g. the HEAD on S3 failed
                return CityFailed(plan.city, _internal(exc), Counters())

    results = await asyncio.gather(*(one(plan) for plan in run.cities))
    outcome = RunOutcome(run)
    request_wide: list[CityFailed] = []
    for result in results:
        if isinstance(result, CityCollected):
            outcome.collected.append(result)
        elif result.failure.request_wide:
            request_wide.append(result)
        else:
            outcome.failed.append(result)
    if request_wide:
        counters = Counters(requests=sum(item.counters.requests for item in request_wide))
        outcome.failed.append(
            CityFailed(None, request_wide[0].failure, counters, tuple(item.city or "" for item in request_wide))
        )
    return outcome
