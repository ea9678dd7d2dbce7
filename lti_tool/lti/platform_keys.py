"""Platform public keys: the JWKS cached with a TTL, refetched once on an unknown `kid`.

Platforms rotate keys (Canvas publishes past, present and future ones), so an unknown kid
triggers one refetch; refetches for unknown kids of one URL are spaced by a minimum interval
(counted from the last such refetch, not from the scheduled download) so a flood of forged
kids cannot turn the tool into a hammer on the platform.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from jwt.algorithms import RSAAlgorithm

from lti_tool.clients.http import HttpClient, HttpError

log = logging.getLogger(__name__)


class PlatformKeyError(RuntimeError):
    """The platform's keys cannot be had, or none matches."""


class PlatformKeys:
    """Per-process cache in front of the platform's JWKS URL.

    The cache only saves work: every process fetches for itself, nothing here is state
    another process needs.
    """

    def __init__(
        self,
        http: HttpClient,
        ttl: float,
        refetch_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        # url -> (fetched_at, {kid: key object})
        self._sets: dict[str, tuple[float, dict[str, Any]]] = {}
        self._parsed: dict[str, Any] = {}
        # url -> when an unknown kid last caused a refetch
        self._refetched: dict[str, float] = {}

    def key_for(self, url: str, kid: str) -> Any | None:
        """The public key for `kid`, or None when the platform does not publish it."""
        now = self._clock()
        entry = self._sets.get(url)
        downloaded_now = entry is None or now - entry[0] > self._ttl
        if downloaded_now:
            entry = self._fetch(url)
        assert entry is not None
        key = entry[1].get(kid)
        if key is not None:
            return key
        if downloaded_now:
            log.warning("kid %r is not in the key set of %s, downloaded just now", kid, url)
            return None
        # The spacing counts from the last refetch an unknown kid caused, not from any
        # download: a platform that rotates just after our first download is not refused.
        with self._lock:
            last = self._refetched.get(url)
            if last is not None and now - last < self._refetch_interval:
                log.warning(
                    "unknown kid %r for %s: not refetched, the key set was refetched for an "
                    "unknown kid %.1f s ago (at most once every %s s)",
                    kid,
                    url,
                    now - last,
                    self._refetch_interval,
                )
                return None
            self._refetched[url] = now
        key = self._fetch(url)[1].get(kid)
        if key is None:
            log.warning("unknown kid %r for %s: refetched the key set, still not in it", kid, url)
        else:
            log.info("unknown kid %r for %s: refetched the key set, the kid is now known", kid, url)
        return key

    def forget(self, url: str) -> None:
        with self._lock:
            self._sets.pop(url, None)

    def _fetch(self, url: str) -> tuple[float, dict[str, Any]]:
        try:
            data = self._http.get_json(url)
        except HttpError as exc:
            raise PlatformKeyError(f"the platform's key set could not be fetched: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise PlatformKeyError(f"{url} did not answer a JWKS (a JSON object with 'keys')")
        keys: dict[str, Any] = {}
        for jwk in data["keys"]:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
                continue
            if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
                continue
            keys[str(jwk["kid"])] = self._parse(jwk)
        entry = (self._clock(), keys)
        with self._lock:
            self._sets[url] = entry
        return entry

    def _parse(self, jwk: dict[str, Any]) -> Any:
        # Parsing an RSA key costs ~100 us; the same key is parsed once per process.
        digest = hashlib.sha256(json.dumps(jwk, sort_keys=True).encode()).hexdigest()
        key = self._parsed.get(digest)
        if key is None:
            key = RSAAlgorithm.from_jwk(jwk)
            self._parsed[digest] = key
        return key
