"""The session without cookies: a signed, short-lived launch token in the path (`/c/<token>/`).

A launch proven by platform storage (the browser kept no cookie) gets its binding signed into
the launch id itself, so every `url_for(..., launch_id=...)` carries it. The token names the
registration, deployment, course and user and expires with the session; forms' CSRF token is
derived from it. It never reaches a log line (redacted by a filter on every handler and by the
gunicorn logger class below) nor another site (`Referrer-Policy: no-referrer`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any

from flask import Flask, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

PREFIX = "t."
SALT = "lti-tool-launch-token"
CSRF_FIELD = "csrf_token"  # Flask-WTF's session key
# "t." + itsdangerous' payload (a leading "." when compressed), timestamp and signature.
_TOKEN = re.compile(r"t\.\.?[A-Za-z0-9_\-]{16,}(?:\.[A-Za-z0-9_\-]+){2}")


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(secret: str, entry: dict[str, Any]) -> str:
    return PREFIX + _serializer(secret).dumps(entry)


def is_token(launch_id: str) -> bool:
    return launch_id.startswith(PREFIX)


def read(secret: str, launch_id: str, max_age: int) -> dict[str, Any] | None:
    """The binding a token carries, or None when it is forged, altered or expired."""
    if not is_token(launch_id):
        return None
    try:
        entry = _serializer(secret).loads(launch_id[len(PREFIX) :], max_age=max_age)
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(entry, dict) or entry.get("exp", 0) <= time.time():
        return None
    return entry


def store_key(launch_id: str) -> str:
    """The shared store's key for a launch's data: a token is too long for the key column."""
    if is_token(launch_id):
        launch_id = PREFIX + hashlib.sha256(launch_id.encode()).hexdigest()
    return "launch:" + launch_id


def csrf_seed(secret: str, launch_id: str) -> str:
    """The CSRF secret of a cookie-less launch: bound to its token, kept nowhere."""
    return hmac.new(secret.encode(), b"csrf:" + launch_id.encode(), hashlib.sha256).hexdigest()


def redact(text: str) -> str:
    """A log line with each launch token replaced by a short, unusable fingerprint."""
    return _TOKEN.sub(
        lambda m: "t.<" + hashlib.sha256(m.group(0).encode()).hexdigest()[:8] + ">", text
    )


class RedactTokens(logging.Filter):
    """Rewrites a record's message so no handler writes a launch token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if PREFIX in message:
            record.msg, record.args = redact(message), None
        return True


# Loggers whose records can carry a launch path: request lines, the app's own warnings.
LOGGERS = ("werkzeug", "lti_tool", "lti_tool.launch", "gunicorn.error")


def install_log_filter() -> None:
    """On the loggers that write request paths (before any handler sees the record) and on
    every handler of the root logger (for the records of any other logger)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())


try:  # gunicorn is the production server; its access log has its own formatter
    from gunicorn.glogging import Logger as _GunicornLogger

    class GunicornLogger(_GunicornLogger):
        """`--logger-class lti_tool.web.launch_token.GunicornLogger`: every access-log atom
        (request line, path, referrer, headers, environ) without launch tokens."""

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
            found = super().atoms(resp, req, environ, request_time)
            return {k: redact(v) if isinstance(v, str) else v for k, v in found.items()}

except ImportError:  # pragma: no cover - gunicorn is in the prod extra only
    pass


def init_app(app: Flask) -> None:
    """Seed Flask-WTF's CSRF secret from the token before its check, and keep tokens out of
    referrers; call after CSRFProtect.init_app."""
    secret = app.config["SECRET_KEY"]

    def seed_csrf() -> None:
        launch_id = (request.view_args or {}).get("launch_id")
        if isinstance(launch_id, str) and is_token(launch_id):
            session[CSRF_FIELD] = csrf_seed(secret, launch_id)
            session.modified = False  # no cookie is written for a cookie-less launch

    def no_referrer(response: Response) -> Response:
        launch_id = (request.view_args or {}).get("launch_id")
        if isinstance(launch_id, str) and is_token(launch_id):
            response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # Before CSRFProtect's own check, which reads the session's secret.
    app.before_request_funcs.setdefault(None, []).insert(0, seed_csrf)
    app.after_request(no_referrer)
    install_log_filter()
