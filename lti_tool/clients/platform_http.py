"""The one HTTP layer for every call to a platform: a pooled session, a timeout on each
request, and retries with exponential back-off and jitter where a retry can help.

Retried: connection errors and timeouts, 5xx, 429 (honouring Retry-After) and Canvas'
`403 Rate Limit Exceeded` (urllib3's Retry cannot look at a body, hence this loop; see
docs/decisions.md). Never retried: answers that are final (400, 401, 404, 409, 422 and every
other 4xx), which the caller interprets.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from lti_tool.clients.errors import PlatformError

log = logging.getLogger("lti_tool.platform_http")

RETRY_STATUSES = {500, 502, 503, 504, 429}


class PlatformUnavailable(PlatformError):
    """The platform did not answer usefully after every attempt; the call may be retried later."""


@dataclass
class CallStats:
    """Counts for benchmarks and logs: requests sent, retries made."""

    requests: int = 0
    retries: int = 0


def _is_canvas_throttle(resp: requests.Response) -> bool:
    return resp.status_code == 403 and (
        "rate limit exceeded" in resp.text.lower() or "X-Rate-Limit-Remaining" in resp.headers
    )


def _retry_after(resp: requests.Response | None) -> float | None:
    if resp is None:
        return None
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


class PlatformHttp:
    def __init__(
        self,
        timeout: float,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        pool_size: int = 20,
    ) -> None:
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.session = session or requests.Session()
        # Proxy and CA settings from the environment, read once: requests would rescan the
        # whole environment on every call (a fifth of a score post's client time).
        self.session.proxies.update(requests.utils.get_environ_proxies("https://x.invalid"))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "lti-tool/0.1"
        self._sleep = sleep
        self._rng = rng
        self.stats = CallStats()

    def _delay(self, attempt: int, resp: requests.Response | None) -> float:
        told = _retry_after(resp)
        if told is not None:
            # The platform said when: wait that long (plus a little jitter), within reason.
            return min(told, max(self.max_delay, 120.0)) + self._rng() * 0.1
        # Full jitter: spread retries of many workers over the whole window.
        return self._rng() * min(self.max_delay, self.base_delay * 2 ** (attempt - 1))

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send, retrying what can be retried; returns the first final answer."""
        last_error = ""
        resp: requests.Response | None = None
        for attempt in range(1, self.max_attempts + 1):
            start = time.perf_counter()
            self.stats.requests += 1
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    json=json,
                    data=data,
                    params=params,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                resp = None
                last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "%s %s failed after %.0f ms (attempt %d/%d): %s",
                    method,
                    url,
                    (time.perf_counter() - start) * 1000,
                    attempt,
                    self.max_attempts,
                    last_error,
                )
            else:
                log.info(
                    "%s %s -> %s in %.0f ms",
                    method,
                    url,
                    resp.status_code,
                    (time.perf_counter() - start) * 1000,
                )
                if resp.status_code not in RETRY_STATUSES and not _is_canvas_throttle(resp):
                    return resp
                last_error = f"{resp.status_code} {resp.text[:200]!r}"
            if attempt == self.max_attempts:
                break
            self.stats.retries += 1
            delay = self._delay(attempt, resp)
            log.warning("retrying %s %s in %.2f s (%s)", method, url, delay, last_error)
            self._sleep(delay)
        status = resp.status_code if resp is not None else None
        raise PlatformUnavailable(
            f"{method} {url} failed {self.max_attempts} times; last: {last_error}", url, status
        )
