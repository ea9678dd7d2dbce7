"""The one HTTP layer for every call to a platform: a pooled session, a timeout on each
request, and retries with exponential back-off and jitter where a retry can help.

Retried: connection errors and timeouts, 5xx, 429 (honouring Retry-After) and Canvas'
`403 Rate Limit Exceeded` (urllib3's Retry cannot look at a body, hence this loop; see
docs/decisions.md). Never retried: answers that are final (400, 401, 404, 409, 422 and every
other 4xx), which the caller interprets.

Threads share one client: each platform host gets a pool of at most `pool_size` kept-alive
connections (a thread waits for a free one), and a rate-limit answer pauses every request
to that host until the platform's wait is over, not only the one that was refused.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

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


# Canvas' quota (X-Rate-Limit-Remaining, of 700 by default, refilled about 10 units a second;
# a request in flight holds 50 more until it ends): below three requests' worth of it, every
# thread waits up to a second before its next request to that host, rather than be refused.
QUOTA_LOW = 150.0
QUOTA_PAUSE = 1.0


def quota_pause(resp: requests.Response) -> float:
    """Seconds to hold a host back after this answer: none while its quota is ample."""
    value = resp.headers.get("X-Rate-Limit-Remaining")
    if value is None:
        return 0.0
    try:
        left = float(value)
    except ValueError:
        return 0.0
    if left != left or left >= QUOTA_LOW:  # NaN, or plenty left
        return 0.0
    return QUOTA_PAUSE * (1.0 - max(0.0, left) / QUOTA_LOW)


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


@lru_cache(maxsize=512)
def _normalised(url: str) -> str:
    """The URL as requests would send it (IDNA host, quoting), worked out once per URL: a
    course's scores all go to a few column URLs."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return str(prepared.url)


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
        clock: Callable[[], float] = time.monotonic,
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
        # pool_block: at most pool_size requests in flight per host, however many threads ask
        adapter = HTTPAdapter(
            pool_connections=20, pool_maxsize=pool_size, pool_block=True, max_retries=0
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "lti-tool/0.1"
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._lock = threading.Lock()
        # host -> the clock time before which nothing is sent to it (a rate-limit answer)
        self._paused: dict[str, float] = {}
        self.stats = CallStats()

    def _count(self, retry: bool = False) -> None:
        with self._lock:
            if retry:
                self.stats.retries += 1
            else:
                self.stats.requests += 1

    def pause(self, host: str, seconds: float) -> float:
        """Hold every request to `host` back for `seconds` (a later end already set wins);
        returns the clock time the pause ends."""
        until = self._clock() + seconds
        with self._lock:
            until = self._paused[host] = max(until, self._paused.get(host, 0.0))
        return until

    def _wait_turn(self, host: str, slept_until: float | None) -> None:
        """Wait out a pause of the host that this thread has not already slept through."""
        with self._lock:
            until = self._paused.get(host)
        if until is not None and until != slept_until:
            wait = until - self._clock()
            if wait > 0:
                self._sleep(wait)

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
        host = urlsplit(url).netloc
        slept_until: float | None = None
        for attempt in range(1, self.max_attempts + 1):
            self._wait_turn(host, slept_until)
            start = time.perf_counter()
            self._count()
            throttled = False
            try:
                # bytes only: a str's Content-Length would count characters, not bytes
                if json is None and params is None and (data is None or isinstance(data, bytes)):
                    resp = self._send(method, url, headers, data)
                else:
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
                throttled = resp.status_code == 429 or _is_canvas_throttle(resp)
                if resp.status_code not in RETRY_STATUSES and not throttled:
                    slow = quota_pause(resp)
                    if slow > 0:
                        # nearly out of quota: slow down before the platform refuses
                        self.pause(host, slow)
                    return resp
                last_error = f"{resp.status_code} {resp.text[:200]!r}"
            if attempt == self.max_attempts:
                break
            self._count(retry=True)
            delay = self._delay(attempt, resp)
            log.warning("retrying %s %s in %.2f s (%s)", method, url, delay, last_error)
            if throttled:
                # The platform said "slow down" to this process: every thread waits it out.
                slept_until = self.pause(host, delay)
            self._sleep(delay)
        status = resp.status_code if resp is not None else None
        raise PlatformUnavailable(
            f"{method} {url} failed {self.max_attempts} times; last: {last_error}", url, status
        )

    def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> requests.Response:
        """A service call (bearer token, body already bytes) handed straight to the pool's
        adapter: Session.request's per-call merging of settings, cookies and hooks cost a
        third of a score post's client CPU, and an API call with a token uses none of them.
        A redirect (which no LTI service answers) is followed by Session.request as before."""
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = _normalised(url)
        merged = CaseInsensitiveDict(self.session.headers)
        if headers:
            merged.update(headers)
        if body is not None:
            merged["Content-Length"] = str(len(body))
        elif method not in ("GET", "HEAD"):
            merged["Content-Length"] = "0"
        prepared.headers = merged
        prepared.body = body
        prepared.hooks = {"response": []}
        adapter = self.session.get_adapter(prepared.url)
        resp = adapter.send(
            prepared,
            timeout=self.timeout,
            verify=self.session.verify,
            cert=self.session.cert,
            proxies=self.session.proxies,
        )
        resp.content  # noqa: B018 - read it all: the connection goes back to the pool
        if resp.is_redirect:
            resp.close()
            return self.session.request(
                method, url, headers=dict(headers or {}), data=body, timeout=self.timeout
            )
        return resp
