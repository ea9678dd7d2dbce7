"""OAuth2 client-credentials tokens for LTI Advantage services, with a signed JWT client
assertion (1EdTech Security Framework §4.1), cached in the shared store."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
import requests
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from lti_tool import keys
from lti_tool.clients.http import HttpError, _snippet
from lti_tool.clients.platform_http import PlatformHttp, PlatformUnavailable
from lti_tool.models.platform import Registration
from lti_tool.store import StoreOpener

log = logging.getLogger(__name__)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AccessToken:
    token: str
    scopes: tuple[str, ...]
    expires_at: float


def client_assertion(
    session: Session, reg: Registration, kek: str, now: float | None = None
) -> str:
    """A short-lived JWT signed with the tool's current key, as the token endpoint expects."""
    now = time.time() if now is None else now
    kid, private = keys.signing_key(session, kek)
    claims = {
        "iss": reg.client_id,
        "sub": reg.client_id,
        "aud": reg.token_audience or reg.auth_token_url,
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": secrets.token_urlsafe(24),
    }
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def request_token(
    http: PlatformHttp | requests.Session,
    session: Session,
    reg: Registration,
    scopes: list[str],
    kek: str,
    timeout: float,
) -> AccessToken:
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(session, reg, kek),
        "scope": " ".join(scopes),
    }
    url = reg.auth_token_url
    headers = {"Accept": "application/json"}
    try:
        if isinstance(http, PlatformHttp):
            resp = http.request("POST", url, data=data, headers=headers)
        else:
            resp = http.post(url, data=data, timeout=timeout, headers=headers)
    except requests.RequestException as exc:
        raise HttpError(f"could not reach the token endpoint {url}: {exc}", url) from exc
    except PlatformUnavailable as exc:
        raise HttpError(f"the token endpoint {url} is unavailable: {exc}", url, exc.status) from exc
    body: Any = None
    try:
        body = resp.json()
    except ValueError:
        pass
    if resp.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        hint = ""
        if body is None:
            hint = (
                " The platform answered HTML, not JSON: Moodle does this when it cannot fetch "
                "the tool's JWKS (its cURL blocked hosts or allowed ports refuse the tool's "
                "address)."
            )
        elif isinstance(body, dict) and body.get("error") == "invalid_scope":
            hint = " The platform has not granted these services to the tool."
        raise HttpError(
            f"token endpoint {url} answered {resp.status_code}: {_snippet(resp.text)}.{hint}",
            url,
            resp.status_code,
        )
    granted = tuple(str(body.get("scope", " ".join(scopes))).split())
    return AccessToken(
        token=str(body["access_token"]),
        scopes=granted,
        expires_at=time.time() + float(body.get("expires_in", 3600)),
    )


@lru_cache(maxsize=64)
def _scopes_digest(scopes: tuple[str, ...]) -> str:
    return hashlib.sha256(" ".join(sorted(set(scopes))).encode()).hexdigest()[:24]


class AccessTokens:
    """Service tokens per registration and scope set, kept in the shared store until shortly
    before they expire, so every process reuses one token instead of asking for its own.

    The store is opened for each read or write and committed at once: a cached token must
    never wait on (or hold) the transaction of the work that uses it."""

    def __init__(self, http: PlatformHttp, kek: str, stores: StoreOpener, margin: int = 60) -> None:
        self._http = http
        self._kek = kek
        self._stores = stores
        self._margin = margin
        self.requested = 0
        # In-process memo in front of the shared store: saves a read per call. Every
        # process still shares the one token through the store.
        self._memo: dict[str, tuple[str, float]] = {}
        # one lock per token: a drain's posting threads that miss together ask once
        self._locks: dict[str, threading.Lock] = {}

    @staticmethod
    def _key(reg: Registration, scopes: list[str]) -> str:
        # The id from the instance's identity key: reading reg.id from an instance that a
        # commit expired loads it again (a drain's posting threads did: a SELECT per post, on
        # the drain's own session from other threads).
        identity = inspect(reg).identity
        return f"svc_token:{identity[0] if identity else reg.id}:{_scopes_digest(tuple(scopes))}"

    def token(self, session: Session, reg: Registration, scopes: list[str]) -> str:
        key = self._key(reg, scopes)
        memo = self._memo.get(key)
        if memo is not None and memo[1] > time.time():
            return memo[0]
        with self._locks.setdefault(key, threading.Lock()):
            memo = self._memo.get(key)
            if memo is not None and memo[1] > time.time():
                return memo[0]
            return self._fetch(session, reg, scopes, key)

    def _fetch(self, session: Session, reg: Registration, scopes: list[str], key: str) -> str:
        with self._stores() as store:
            cached = store.get(key)
        if cached is not None:
            token, expires = cached
            self._memo[key] = (str(token), float(expires))
            return str(token)
        fresh = request_token(self._http, session, reg, scopes, self._kek, self._http.timeout)
        self.requested += 1
        ttl = int(fresh.expires_at - time.time()) - self._margin
        if ttl > 0:
            keep_until = time.time() + ttl
            with self._stores() as store:
                store.put(key, [fresh.token, keep_until], ttl)
            self._memo[key] = (fresh.token, keep_until)
        return fresh.token

    def forget(self, reg: Registration, scopes: list[str]) -> None:
        key = self._key(reg, scopes)
        self._memo.pop(key, None)
        with self._stores() as store:
            store.delete(key)
