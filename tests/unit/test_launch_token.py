"""The cookie-less session's launch token: only the tool's secret makes one, it expires, and
no log line (the app's, werkzeug's or gunicorn's access log) ever carries it."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from lti_tool.web import launch_token

SECRET = "s" * 32
ENTRY = {"r": 1, "d": 2, "c": 3, "u": 4, "role": "student", "mt": "x", "fa": [], "m": None}


def _token(**change: object) -> str:
    return launch_token.issue(SECRET, {**ENTRY, "exp": int(time.time()) + 600, **change})


def test_a_token_carries_its_binding_back() -> None:
    token = _token()
    entry = launch_token.read(SECRET, token, 600)
    assert entry is not None and (entry["r"], entry["c"], entry["u"]) == (1, 3, 4)


def test_forged_altered_and_expired_tokens_are_refused() -> None:
    token = _token()
    assert launch_token.read("another secret of the same length!!", token, 600) is None
    assert (
        launch_token.read(SECRET, token[:-2] + ("xy" if token[-2:] != "xy" else "zz"), 600) is None
    )
    assert launch_token.read(SECRET, _token(exp=int(time.time()) - 1), 600) is None
    assert launch_token.read(SECRET, "abcdefghijklmnop", 600) is None  # a cookie launch id


def test_csrf_secret_is_bound_to_the_token() -> None:
    a, b = _token(u=4), _token(u=5)
    assert launch_token.csrf_seed(SECRET, a) == launch_token.csrf_seed(SECRET, a)
    assert launch_token.csrf_seed(SECRET, a) != launch_token.csrf_seed(SECRET, b)


def test_log_records_lose_the_token() -> None:
    token = _token()
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '"GET /c/%s/path HTTP/1.1" 200 -', (token,), None
    )
    assert launch_token.RedactTokens().filter(record)
    message = record.getMessage()
    assert (
        token not in message and "/c/t.<" in message and message.endswith('/path HTTP/1.1" 200 -')
    )


def test_gunicorn_access_log_atoms_lose_the_token() -> None:
    token = _token()
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/c/{token}/path",
        "PATH_INFO": f"/c/{token}/path",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://tool.example/c/{token}/home",
    }
    resp = SimpleNamespace(status="200 OK", sent=10, headers=[])
    req = [("Referer", f"https://tool.example/c/{token}/home")]
    atoms = launch_token.GunicornLogger(Config()).atoms(resp, req, environ, timedelta(seconds=1))
    assert not [k for k, v in atoms.items() if isinstance(v, str) and token in v]
    assert atoms["r"].startswith("GET /c/t.<") and atoms["f"].endswith("/home")
