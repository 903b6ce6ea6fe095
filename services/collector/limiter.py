"""The request pacer shared by every Places request of an invocation.

Guarantee: at most `rate` acquisitions in ANY window of `period` seconds (sliding, not fixed minutes), so
the API's per-minute quota is never exceeded however requests are scheduled. Acquisitions are also spaced
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
        self._granted: deque[float] = deque(maxlen=rate)  # the last `rate` grant times
        self._lock = asyncio.Lock()
        self.waited = 0.0  # total seconds spent waiting for a slot (for metrics)

    def _earliest(self) -> float:
        if not self._granted:
            return float("-inf")
        spaced = self._granted[-1] + self.interval
        if len(self._granted) < self.rate:
            return spaced
        # the grant `rate` places back must have left the window: strictly older than now - period
        return max(spaced, self._granted[0] + self.period)

    async def acquire(self) -> None:
        """Wait for a slot. Callers are served in arrival order (the lock is FIFO)."""
        async with self._lock:
            while True:
                now = self._clock()
                earliest = self._earliest()
                if now >= earliest:
                    self._granted.append(now)
                    return
                self.waited += earliest - now
                await self._sleep(earliest - now)
