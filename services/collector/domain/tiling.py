"""Past the 60-result cap: which rectangles to fetch with the billed field mask, once their places are counted.

Google returns at most 60 places per query (3 pages of 20) and bills every request at the most expensive field of
its mask, except a mask of place ids only, which it does not bill (docs/collector.md, "What it costs"). So the
collector counts before it pays: each locationRestriction rectangle is first paged with an ids-only mask; one whose
ids reach the cap may hold more and is split into its four quadrants, counted in turn; one under the cap is
complete, and its ids are known. Once the four quadrants of a rectangle are counted, plan_fetches picks how to fetch
the complete ones with the billed mask in the fewest pages: each alone, or merged with a neighbour (a half, or all
four) when their places together stay under the cap, and not at all when every one of their places was collected
already. A billed request is then never spent on a rectangle that has to be split.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from services.collector.domain.model import PAGE_SIZE, RESULT_CAP, Rectangle

# Quadrants as Rectangle.quadrants() orders them: south-west, south-east, north-west, north-east. Ways to group
# them into rectangles: all four, the south and north halves, the west and east halves, each alone.
GROUPINGS: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((0, 1, 2, 3),),
    ((0, 1), (2, 3)),
    ((0, 2), (1, 3)),
    ((0,), (1,), (2,), (3,)),
)


@dataclass(frozen=True)
class Fetch:
    """A rectangle to page with the billed mask, and the place ids counting found in it."""

    rectangle: Rectangle
    ids: frozenset[str]

    def pages(self, seen: Collection[str]) -> int:
        """Billed pages it costs: none when every place in it is already collected."""
        if self.ids.issubset(seen):
            return 0
        return math.ceil(len(self.ids) / PAGE_SIZE)


def plan_fetches(parent: Rectangle, counted: Sequence[frozenset[str] | None], seen: Collection[str]) -> list[Fetch]:
    """The fetches for the four quadrants of `parent` (`counted[i]`: the ids of quadrant i, or None when it reached
    the cap and is split instead) that cost the fewest billed pages; a merged rectangle must hold fewer places than
    the cap, so that its answer proves it complete."""
    if len(counted) != 4:
        raise ValueError(f"expected the counts of 4 quadrants, got {len(counted)}")
    quadrants = parent.quadrants()
    best: tuple[int, int, list[Fetch]] | None = None
    for grouping in GROUPINGS:
        fetches: list[Fetch] = []
        for group in grouping:
            members = [index for index in group if counted[index] is not None]
            together = frozenset().union(*(counted[index] or frozenset() for index in members))
            if len(members) == len(group) and len(group) > 1 and len(together) < RESULT_CAP:
                box = quadrants[group[0]]
                for index in group[1:]:
                    box = box.union(quadrants[index])
                fetches.append(Fetch(box, together))
            else:
                fetches.extend(Fetch(quadrants[index], counted[index] or frozenset()) for index in members)
        needed = [fetch for fetch in fetches if fetch.pages(seen) > 0]
        cost = sum(fetch.pages(seen) for fetch in needed)
        if best is None or (cost, len(needed)) < best[:2]:
            best = (cost, len(needed), needed)
    assert best is not None
    return best[2]
