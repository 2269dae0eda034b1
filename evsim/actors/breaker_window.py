"""The sliding windows of :mod:`evsim.actors.breaker`, as Resilience4j aggregates outcomes.

Both keep running sums (calls, failed, slow) updated as outcomes come and go, so a rate is
O(1) to read (Resilience4j's "subtract-on-evict"): :class:`CountWindow` (its
``FixedSizeSlidingWindowMetrics``) holds the last ``size`` outcomes; :class:`TimeWindow`
(its ``SlidingTimeWindowMetrics``) one bucket per epoch second, the current second and the
``seconds - 1`` before it (a call recorded in second ``s`` is forgotten once the clock
reaches second ``s + seconds``). Times are seconds of the simulated clock.
"""

from __future__ import annotations

import math
from collections import deque


class CountWindow:
    """The outcomes of the last ``size`` calls (bit 0: failed, bit 1: slow) and their sums."""

    __slots__ = ("calls", "failed", "outcomes", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self.outcomes: deque[int] = deque(maxlen=size)
        self.calls = self.failed = self.slow = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:
        """Record an outcome (``now`` is unused: a count window has no clock)."""
        if len(self.outcomes) == self.size:  # the oldest outcome is evicted
            oldest = self.outcomes[0]
            self.calls -= 1
            self.failed -= oldest & 1
            self.slow -= oldest >> 1
        self.outcomes.append(failed | slow << 1)
        self.calls += 1
        self.failed += failed
        self.slow += slow


class TimeWindow:
    """Outcomes of the last ``seconds`` epoch seconds, one bucket ``[second, calls, failed,
    slow]`` per second that had any, and their sums."""

    __slots__ = ("buckets", "calls", "failed", "seconds", "slow")

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.buckets: deque[list[int]] = deque()
        self.calls = self.failed = self.slow = 0

    def add(self, now: float, failed: bool, slow: bool) -> None:
        """Record an outcome at ``now`` (seconds), first dropping the seconds now outside."""
        second = math.floor(now)
        buckets = self.buckets
        oldest_kept = second - self.seconds + 1
        while buckets and buckets[0][0] < oldest_kept:
            _, calls, failures, slows = buckets.popleft()
            self.calls -= calls
            self.failed -= failures
            self.slow -= slows
        if buckets and buckets[-1][0] >= second:
            bucket = buckets[-1]
        else:
            bucket = [second, 0, 0, 0]
            buckets.append(bucket)
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        self.calls += 1
        self.failed += failed
        self.slow += slow
