"""The request pacer shared by every Places request of an invocation.

Guarantee: at most `rate` acquisitions in ANY window of `period` seconds (sliding, not fixed minutes), so
the API's per-minute quota is never exceeded however requests are scheduled. The API counts a request where it
arrives, somewhere between its grant and its answer: a request whose answer came (`done`) leaves the window
`period` after that answer, not after its grant, so a request held up between the two (a busy machine's event loop,
a slow connection) can never bring `rate` + 1 arrivals into one window. Acquisitions are also spaced
`period / rate` apart, so the rate is steady rather than a burst of `rate` followed by a stall.
A token bucket that starts full would allow up to twice the rate in the first window; this does not.

The clock and the sleep are parameters, so a test can run "20 per 1 s" in real time or a whole hour of
"600 per minute" in milliseconds with a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class SlidingWindowLimiter:
    def __init__(
        self,
        rate: int,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate < 1:
            raise ValueError(f"rate must be at least 1 request per period, got {rate}")
        if period <= 0:
            raise ValueError(f"period must be positive, got {period}")
        self.rate = rate
        self.period = period
        self.interval = period / rate
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[Grant] = deque(maxlen=rate)  # the last `rate` grants
        self._next = float("-inf")  # the next slot on the ideal timeline
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting for a slot (for metrics)

    def _wait(self, now: float) -> float:
        """Seconds until a grant is allowed at all (0: now)."""
        wait = self._next - now
        # the grant `rate` places back must have left the window, written exactly as a window counter
        # tests it (oldest <= now - period), so that float rounding cannot put rate + 1 in one window
        if len(self._granted) == self.rate and not self._granted[0].at <= now - self.period:
            wait = max(wait, self._granted[0].at + self.period - now, 1e-6)
        return max(0.0, wait)

    def _grant(self, now: float) -> Grant:
        grant = Grant(now)
        self._granted.append(grant)
        # Slots follow an ideal timeline, one every `interval`: a grant that comes a little late (the event
        # loop woke up late) does not push every later slot back, or the pace would drift under the rate.
        # After an idle spell the timeline restarts from now; the window rule above still bounds any burst.
        on_time = now - self._next < self.interval
        self._next = (self._next if on_time else now) + self.interval
        return grant

    async def acquire(self) -> Grant:
        """Wait for a slot. Callers are served in arrival order (the lock is FIFO). Give the grant back to `done`
        once the request is answered."""
        async with self._lock:
            while True:
                now = self._clock()
                wait = self._wait(now)
                if wait <= 0:
                    return self._grant(now)
                self.waited += wait
                await self._sleep(wait)

    def done(self, grant: Grant) -> None:
        """The request of `grant` was answered (or failed): it arrived by now, so it counts in the window from now."""
        grant.at = max(grant.at, self._clock())


@dataclass
class Grant:
    """One acquisition: when its request may last have arrived where the quota is counted (its grant, then its
    answer)."""

    at: float
