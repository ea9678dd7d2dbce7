"""The faster session cookie reads what Flask's own wrote and writes what it reads: a deploy
does not end the launches open in students' browsers."""

from __future__ import annotations

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from lti_tool.web.session_cookie import LaunchSessionInterface

SECRET = "k" * 40
BINDING = {
    "launches": {
        "abc": {"r": 1, "d": 2, "c": 3, "u": 4, "role": "student", "fa": ["https://lms.x"]}
    },
    "csrf_token": "f00d",
}


def _app(interface: SecureCookieSessionInterface) -> Flask:
    app = Flask("t")
    app.secret_key = SECRET
    app.session_interface = interface

    @app.post("/write")
    def write() -> str:
        session.update(BINDING)
        return "ok"

    @app.get("/read")
    def read() -> dict:
        return {k: session.get(k) for k in BINDING}

    return app


def _cookie(app: Flask) -> str:
    resp = app.test_client().post("/write")
    return resp.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]


def _read(app: Flask, cookie: str) -> dict:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/read").get_json()


def test_cookies_pass_both_ways_between_flasks_interface_and_ours() -> None:
    stock, ours = _app(SecureCookieSessionInterface()), _app(LaunchSessionInterface())
    assert _read(ours, _cookie(stock)) == BINDING
    assert _read(stock, _cookie(ours)) == BINDING


def test_a_rotated_key_keeps_open_launches_and_refuses_a_foreign_one() -> None:
    """SECRET_KEY_FALLBACKS: a cookie signed with the old key still opens after rotation, with
    the signer kept between requests; a cookie signed with a key never configured does not."""
    old = _app(LaunchSessionInterface())
    cookie = _cookie(old)
    rotated = _app(LaunchSessionInterface())
    rotated.secret_key = "n" * 40
    rotated.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    assert _read(rotated, cookie) == BINDING
    assert _read(rotated, cookie) == BINDING  # the kept signer, a second time
    stranger = _app(LaunchSessionInterface())
    stranger.secret_key = "z" * 40
    assert _read(stranger, cookie) == {k: None for k in BINDING}
    assert _read(rotated, _cookie(rotated)) == BINDING
