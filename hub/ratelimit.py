"""In-process rate limits: a sliding window of failures (login) and a token bucket
(Socket.IO events). Pure data structures; time is passed in so tests need no sleep."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["FailureWindow", "TokenBucket"]


class FailureWindow:
    """At most `limit` failures per key within `window` seconds."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._hits: dict[str, deque[float]] = {}

    def _live(self, key: str, at: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:  # bounded memory: forget the oldest key
                self._hits.pop(next(iter(self._hits)))
            hits = self._hits[key] = deque()
        while hits and hits[0] <= at - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str, at: float | None = None) -> bool:
        return len(self._live(key, time.monotonic() if at is None else at)) >= self.limit

    def fail(self, key: str, at: float | None = None) -> None:
        at = time.monotonic() if at is None else at
        self._live(key, at).append(at)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def forgive(self, key: str, at: float) -> None:
        """Take back one failure recorded at `at` (an attempt counted up front that succeeded)."""
        hits = self._hits.get(key)
        if hits is not None:
            try:
                hits.remove(at)
            except ValueError:
                pass


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def take(self, at: float | None = None) -> bool:
        at = time.monotonic() if at is None else at
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (at - self.stamp) * self.rate)
        self.stamp = at
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
