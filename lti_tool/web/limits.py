"""Per-client rate limits on the endpoints anyone may call without logging in (the LTI login
and launch), so one client cannot flood the store or the platform key fetches.

Only those views count (with the second half of a launch by platform storage): the check wraps
them and nothing else, so every other page pays nothing. Counts are fixed windows kept in Redis
when the tool has one (one round trip, every process shares them), otherwise in the process's
memory (each process counts for itself). The client is `request.remote_addr`, which is the
browser's address once ProxyFix has read the trusted proxies' headers.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, render_template, request
from limits import parse_many

from lti_tool.settings import Settings

log = logging.getLogger("lti_tool.limits")

# endpoint -> the setting that limits it
LIMITED = {
    "lti.login": "rate_limit_login",
    "lti.launch": "rate_limit_launch",
    # the second half of a launch without cookies (platform storage)
    "lti.launch_by_storage": "rate_limit_launch",
}

Clock = Callable[[], float]


@dataclass(frozen=True)
class Window:
    """`amount` requests per `seconds`, as one item of a setting like "300/minute"."""

    amount: int
    seconds: int


def windows(limit: str) -> list[Window]:
    return [Window(item.amount, item.get_expiry()) for item in parse_many(limit)]


class Counter(Protocol):
    def hit(self, key: str, seconds: int, now: float) -> int:
        """Count one request under `key` in the window of `seconds` holding `now`; return
        the count so far in that window."""
        ...


class MemoryCounter:
    """This process's counts; a window's counts are dropped when the next window starts."""

    def __init__(self) -> None:
        # window length -> (the window now counted, client key -> count)
        self._windows: dict[int, tuple[int, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, seconds: int, now: float) -> int:
        window = int(now // seconds)
        with self._lock:
            current = self._windows.get(seconds)
            if current is None or current[0] < window:
                current = (window, {})
                self._windows[seconds] = current
            counts = current[1]
            count = counts[key] = counts.get(key, 0) + 1
        return count


class RedisCounter:
    """Counts shared by every process: INCR and EXPIRE in one round trip."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def hit(self, key: str, seconds: int, now: float) -> int:
        name = f"{self._prefix}:{key}:{seconds}:{int(now // seconds)}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, seconds + 1)
        count, _ = pipe.execute()
        return int(count)


class TooMany(Exception):
    """The client spent its budget; `wait` seconds until the window ends."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


def client_address() -> str:
    return request.remote_addr or "unknown"


def limited(
    view: Callable[..., Any],
    endpoint: str,
    limit: list[Window],
    counter: Counter,
    clock: Clock = time.time,
) -> Callable[..., Any]:
    """`view`, refusing a client past `limit` before it runs."""

    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        now = clock()
        for window in limit:
            try:
                count = counter.hit(f"{endpoint}:{client_address()}", window.seconds, now)
            except Exception:  # noqa: BLE001 - a broken Redis must not turn every launch away
                log.exception("rate limit not checked: the counter failed")
                return view(*args, **kwargs)
            if count > window.amount:
                raise TooMany(max(1, math.ceil(window.seconds - now % window.seconds)))
        return view(*args, **kwargs)

    return check


def init_limits(app: Flask, settings: Settings, redis: Any | None = None) -> Counter | None:
    """Wrap the limited views of this app; call after the blueprints are registered."""
    limits = {endpoint: getattr(settings, name) for endpoint, name in LIMITED.items()}
    if not any(limits.values()):
        return None
    counter: Counter = (
        RedisCounter(redis, f"{settings.redis_prefix}:limits")
        if redis is not None
        else MemoryCounter()
    )
    for endpoint, limit in limits.items():
        if limit:
            app.view_functions[endpoint] = limited(
                app.view_functions[endpoint], endpoint, windows(limit), counter
            )

    @app.errorhandler(TooMany)
    def too_many(exc: TooMany) -> tuple[str, int, dict[str, str]]:
        wait = exc.wait
        log.warning(
            "rate limit reached by %s at %s: retry in %s s", client_address(), request.path, wait
        )
        seconds = "second" if wait == 1 else "seconds"
        page = render_template(
            "error.html",
            title="Too many requests",
            explanation=(
                "The tool received too many sign-ins from your network in a short time, "
                f"so it paused them. Try again in {wait} {seconds}, by opening the tool "
                "again from your course."
            ),
            status=429,
        )
        return page, 429, {"Retry-After": str(wait)}

    return counter
