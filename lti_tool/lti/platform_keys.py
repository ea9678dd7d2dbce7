"""Platform public keys: the JWKS cached with a TTL, refetched once on an unknown `kid`.

Platforms rotate keys (Canvas publishes past, present and future ones), so an unknown kid
triggers one refetch; refetches of one URL are spaced by a minimum interval so a flood of
forged kids cannot turn the tool into a hammer on the platform.
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

    def key_for(self, url: str, kid: str) -> Any | None:
        """The public key for `kid`, or None when the platform does not publish it."""
        now = self._clock()
        entry = self._sets.get(url)
        if entry is None or now - entry[0] > self._ttl:
            entry = self._fetch(url)
        key = entry[1].get(kid)
        if key is not None:
            return key
        if now - entry[0] < self._refetch_interval:
            log.warning("unknown kid %r for %s; refetched too recently to try again", kid, url)
            return None
        log.info("unknown kid %r for %s: refetching the platform's keys", kid, url)
        return self._fetch(url)[1].get(kid)

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
