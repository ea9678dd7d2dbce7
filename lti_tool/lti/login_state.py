"""The login's state and nonce: carried by the browser, signed, and spent once in the shared store.

A login writes nothing. The state names its own expiry and is signed, so a launch can tell a
state the tool issued from a made-up one without a read. What the launch needs before it can
trust the token (registration, nonce, target) is sealed, bound to that state, in the state
cookie; a cookie-less launch (LTI platform storage) can keep the same sealed text in the
platform's storage instead. The launch spends the state in the shared store (database or
Redis) once the token is proven genuine: of two posts of one state, on any processes, exactly
one passes, and that is what makes the nonce single-use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from lti_tool.store import SharedStore

STATE_COOKIE_PREFIX = "lti_tool_state_"
SPENT_KEY = "lti_spent:"


@dataclass(frozen=True)
class LoginRecord:
    """What a launch needs of its login before it reads any row."""

    registration: int
    issuer: str
    client_id: str
    key_set_url: str
    nonce: str
    target_link_uri: str
    deployment_id: str | None


@dataclass(frozen=True)
class Begun:
    """A new login's state, its nonce and the sealed record to keep beside it."""

    state: str
    nonce: str
    sealed: str
    max_age: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _same(given: str, expected: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, which anyone can send.
    return hmac.compare_digest(_bytes(given), _bytes(expected))


class LoginStates:
    """Issues and checks login states with a key derived from the secret key (HMAC-SHA256)."""

    def __init__(self, secret_key: str, ttl: int, clock: Callable[[], float] = time.time) -> None:
        # A key of its own: a state's MAC can never pass for a session cookie's or the reverse.
        self._key = hmac.new(secret_key.encode(), b"lti_tool login state", hashlib.sha256).digest()
        self._ttl = ttl
        self._clock = clock

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, _bytes(text), hashlib.sha256).digest()[:18])

    def begin(
        self,
        registration: int,
        issuer: str,
        client_id: str,
        key_set_url: str,
        target_link_uri: str,
        deployment_id: str | None,
    ) -> Begun:
        """A fresh state and nonce, and the record sealed to that state."""
        expires = int(self._clock()) + self._ttl
        unsigned = f"{expires:x}.{secrets.token_urlsafe(18)}"
        state = f"{unsigned}.{self._mac(unsigned)}"
        nonce = secrets.token_urlsafe(32)
        body = _b64(
            json.dumps(
                [
                    state,
                    registration,
                    issuer,
                    client_id,
                    key_set_url,
                    nonce,
                    target_link_uri,
                    deployment_id,
                ],
                separators=(",", ":"),
            ).encode()
        )
        return Begun(state, nonce, f"{body}.{self._mac(body)}", self._ttl)

    def expires(self, state: str) -> int | None:
        """When a state the tool issued expires, or None for one it did not issue or that
        has expired."""
        unsigned, _, mac = state.rpartition(".")
        if not unsigned or not _same(mac, self._mac(unsigned)):
            return None
        try:
            expires = int(unsigned.split(".", 1)[0], 16)
        except ValueError:
            return None
        return expires if expires > self._clock() else None

    def open(self, state: str, sealed: str | None) -> LoginRecord | None:
        """The record sealed to this very state, or None (absent, altered, another state's)."""
        if not sealed:
            return None
        body, _, mac = sealed.rpartition(".")
        if not body or not _same(mac, self._mac(body)):
            return None
        try:
            fields = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(fields, list) or len(fields) != 8 or fields[0] != state:
            return None
        return LoginRecord(*fields[1:])

    def _spent_ttl(self, expires: int) -> int:
        # The mark outlives the state by a second: whichever process still takes the state
        # as unexpired finds the mark live too, and then it is gone with the state.
        return max(0, expires - int(self._clock())) + 1

    def spend(self, store: SharedStore, state: str, expires: int) -> bool:
        """Mark the state used; False when it already was (a replay, here or elsewhere)."""
        return store.add(SPENT_KEY + state, 1, self._spent_ttl(expires))

    def spend_params(self, store: SharedStore, state: str, expires: int) -> dict | None:
        """The parameters for spending the state with the launch's lookup (`lti/launch.py`:
        in its statement on PostgreSQL, its transaction on SQLite), or None where the store
        is not the database: then call `spend`."""
        carried = getattr(store, "add_params", None)
        if carried is None:
            return None
        params: dict | None = carried(SPENT_KEY + state, 1, self._spent_ttl(expires))
        return params

    @staticmethod
    def spent(store: SharedStore, state: str) -> bool:
        return store.get(SPENT_KEY + state) is not None
