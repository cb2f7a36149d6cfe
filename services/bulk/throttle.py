"""A rate limit on gateway calls shared by every bulk job: at most N calls in any 60 seconds.

A moving window (the ``limits`` library) never lets more than N calls start within any
60-second span, however Capillary aligns its own per-minute window. With ``REDIS_URL`` set
the window and the 429 pause live in Redis, so the limit holds across every worker process;
without it they live in this process, in :class:`LocalWindow` (the same moving window, kept in
a deque: ``limits``' memory storage starts a timer thread on almost every permit, ~20 ms each
on a loaded machine, which bulk and multi-decision jobs paid per call).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from flask import Flask, current_app
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

KEY = "gateway-create"
# Longest single sleep, so a stop request or a new pause is noticed promptly.
MAX_NAP = 0.5


class WindowStats(NamedTuple):
    """When the oldest permit in the window leaves it, and how many permits are free now."""

    reset_time: float
    remaining: int


class LocalWindow:
    """A moving window for one process: at most ``item``'s amount of hits in any ``expiry`` seconds.

    Answers as ``limits``' MovingWindowRateLimiter does (``hit``, ``get_window_stats``), with no
    background thread: expired hits are dropped when the window is next asked.
    """

    def __init__(self) -> None:
        self._hits: deque[float] = deque()  # start times, oldest first
        self._lock = threading.Lock()

    def _expire(self, now: float, expiry: int) -> None:
        while self._hits and self._hits[0] <= now - expiry:
            self._hits.popleft()

    def hit(self, item: RateLimitItem, *_identifiers: str) -> bool:
        """Take one permit if the window has room; never wait."""
        now = time.time()
        with self._lock:
            self._expire(now, item.get_expiry())
            if len(self._hits) >= item.amount:
                return False
            self._hits.append(now)
            return True

    def get_window_stats(self, item: RateLimitItem, *_identifiers: str) -> WindowStats:
        """Return when the window next has room and how many permits are free."""
        now = time.time()
        expiry = item.get_expiry()
        with self._lock:
            self._expire(now, expiry)
            oldest = self._hits[0] if self._hits else now
            return WindowStats(oldest + expiry, max(item.amount - len(self._hits), 0))


class Throttle:
    """Hand out permits to call the gateway; pause everyone after a 429."""

    def __init__(self, per_minute: int, redis_url: str = "", prefix: str = "capreq"):
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute)
        if redis_url:
            from redis import Redis

            storage = storage_from_string(redis_url, key_prefix=f"{prefix}:limits")
            self._redis: Redis | None = Redis.from_url(redis_url)
            self._limiter: MovingWindowRateLimiter | LocalWindow = MovingWindowRateLimiter(storage)
        else:
            self._redis = None
            self._limiter = LocalWindow()
        self._pause_key = f"{prefix}:bulk:pause-until"
        self._local_pause_until = 0.0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take a permit if one is free right now (and no 429 pause holds); never wait."""
        return self._paused_for() <= 0 and self._limiter.hit(self._item, KEY)

    def has_room(self, count: int) -> bool:
        """Whether ``count`` permits are free right now (none is taken)."""
        if self._paused_for() > 0:
            return False
        return self._limiter.get_window_stats(self._item, KEY).remaining >= count

    def acquire(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until a call may start; return False if ``should_stop()`` turned true meanwhile."""
        while not self.try_acquire():
            if should_stop():
                return False
            wait = self._paused_for()
            if wait <= 0:
                reset_at, _remaining = self._limiter.get_window_stats(self._item, KEY)
                wait = max(reset_at - time.time(), 0.01)
            time.sleep(min(wait, MAX_NAP))
        return True

    def pause(self, seconds: float) -> None:
        """Hold every permit for ``seconds`` (Capillary said 429, with this Retry-After)."""
        until = time.time() + max(seconds, 0.0)
        if self._redis is not None:
            self._redis.set(self._pause_key, repr(until), px=max(int(seconds * 1000), 1))
        with self._lock:
            self._local_pause_until = max(self._local_pause_until, until)

    def _paused_for(self) -> float:
        until = self._local_pause_until
        if self._redis is not None:
            shared = self._redis.get(self._pause_key)
            until = max(until, float(shared)) if shared else until
        return until - time.time()


def app_throttle(app: Flask | None = None) -> Throttle:
    """Return the app's throttle, made once per app (so every job in this process shares it)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    throttle = app.extensions.get("bulk_throttle")
    if throttle is None:
        config = app.config
        made = Throttle(config["CAP_BULK_RATE_PER_MINUTE"], config["REDIS_URL"], config["REDIS_KEY_PREFIX"])
        throttle = app.extensions.setdefault("bulk_throttle", made)  # the first of two racing threads wins
    return throttle
