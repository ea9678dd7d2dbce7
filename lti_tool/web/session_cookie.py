"""Flask's signed session cookie, made cheaper for a launch: the serializer is built once per
secret key instead of per request (the sandbox's too), and the tool's payload is plain JSON.

The session holds only JSON values (the launch bindings, the CSRF token), for which Flask's
tagged JSON writes the very same text, so cookies from before stay readable.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class PlainJson:
    """Compact, key-sorted JSON: the bytes Flask's tagged serializer writes for plain values."""

    @staticmethod
    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)


class CachedSigningInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session with its serializer built once per secret key: Flask
    builds one per request, even for a request that carries no session cookie at all."""

    def __init__(self) -> None:
        self._built: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built = self._built
        if built is None or built[0] != keys:
            built = (keys, super().get_signing_serializer(app))
            self._built = built
        return built[1]


class LaunchSessionInterface(CachedSigningInterface):
    serializer = PlainJson()  # type: ignore[assignment]
