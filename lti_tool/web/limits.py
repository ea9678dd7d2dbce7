"""Per-client rate limits on the endpoints anyone may call without logging in (the LTI login
and launch), so one client cannot flood the store or the platform key fetches.

Counts live in Redis when the tool has one (every process shares them), otherwise in the
process's memory (each process counts for itself). The client is `request.remote_addr`, which
is the browser's address once ProxyFix has read the trusted proxies' headers.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from lti_tool.settings import Settings

log = logging.getLogger("lti_tool.limits")

# endpoint -> the setting that limits it
LIMITED = {"lti.login": "rate_limit_login", "lti.launch": "rate_limit_launch"}


def client_address() -> str:
    return request.remote_addr or "unknown"


def init_limits(app: Flask, settings: Settings) -> Limiter | None:
    """Wrap the limited views of this app; call after the blueprints are registered."""
    limits = {endpoint: getattr(settings, name) for endpoint, name in LIMITED.items()}
    if not any(limits.values()):
        return None
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        key_prefix=f"{settings.redis_prefix}:limits",
        strategy="fixed-window",
        headers_enabled=False,  # the 429 page sets Retry-After itself, to match its words
        # A broken Redis must not turn every launch away: the limit is skipped and logged.
        swallow_errors=True,
    )
    for endpoint, limit in limits.items():
        if limit:
            app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
        current = limiter.current_limit
        wait = max(1, math.ceil(current.reset_at - time.time())) if current else 60
        log.warning(
            "rate limit %s reached by %s at %s: retry in %s s",
            exc.description,
            client_address(),
            request.path,
            wait,
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

    return limiter
