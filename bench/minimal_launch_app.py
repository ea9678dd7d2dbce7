"""The least a Flask LTI 1.3 login + launch can do on this stack, beside which `bench/launch.py`
sets the tool's launch: what no launch can skip and nothing more.

Login: check the issuer and client, make a state and a nonce, keep the nonce in a signed
cookie named by the state, redirect to the platform. Launch: read that cookie back, verify the
id_token (RS256, issuer, audience, expiry, the nonce), spend the state (a unique key: a replay
fails) and read the person's row in one transaction, keep who launched in Flask's signed
session cookie, 303 to a landing page and drop the state cookie. No deployment or role checks,
no claim parsing, no error pages, no logging, no rate limit, no security headers: a floor, not
a tool.

Its configuration is the JSON file the stock baseline reads (bench/launch.py stock_config),
named by BENCH_MINIMAL_CONFIG for `gunicorn minimal_launch_app:app`; `create(config)` builds
it in-process. `prepare(url)` makes its two tables, once, before any server starts.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Flask, redirect, request, session
from itsdangerous import URLSafeSerializer
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool.db import make_engine  # noqa: E402  (the tool's engine settings: WAL on SQLite)

SECRET = "bench-minimal-" + "m" * 40
TABLES = (
    "CREATE TABLE IF NOT EXISTS bench_minimal_states (state VARCHAR(100) PRIMARY KEY, "
    "expires INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bench_minimal_users (iss VARCHAR(255), sub VARCHAR(255), "
    "id INTEGER NOT NULL, PRIMARY KEY (iss, sub))",
)
SPEND = text("INSERT INTO bench_minimal_states (state, expires) VALUES (:state, :expires)")
FIND = text("SELECT id FROM bench_minimal_users WHERE iss = :iss AND sub = :sub")
CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"


def prepare(url: str, issuer: str, sub: str) -> None:
    """The tables, emptied, and the launching student's row (a repeat launch finds it)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in TABLES:
            conn.execute(text(statement))
        conn.execute(text("DELETE FROM bench_minimal_states"))
        conn.execute(text("DELETE FROM bench_minimal_users"))
        conn.execute(
            text("INSERT INTO bench_minimal_users (iss, sub, id) VALUES (:iss, :sub, 1)"),
            {"iss": issuer, "sub": sub},
        )
    engine.dispose()


def create(config: dict[str, Any]) -> Flask:
    app = Flask("minimal")
    app.secret_key = SECRET
    engine = make_engine(config["database_url"])
    states = URLSafeSerializer(SECRET, salt="lti-state")
    issuer, client_id = config["issuer"], config["client_id"]
    public = RSAAlgorithm.from_jwk(json.dumps(config["jwks"]["keys"][0]))

    @app.post("/lti/login")
    def login() -> Any:
        form = request.form
        if form.get("iss") != issuer or form.get("client_id") != client_id:
            return "unknown platform", 400
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        query = urlencode(
            {
                "scope": "openid",
                "response_type": "id_token",
                "response_mode": "form_post",
                "prompt": "none",
                "client_id": client_id,
                "redirect_uri": config["launch_url"],
                "login_hint": form["login_hint"],
                "state": state,
                "nonce": nonce,
                "lti_message_hint": form.get("lti_message_hint", ""),
            }
        )
        response = redirect(f"{config['auth_login_url']}?{query}", 302)
        response.set_cookie(
            f"state_{state}",
            states.dumps(nonce),
            max_age=600,
            path="/lti/",
            secure=True,
            httponly=True,
            samesite="None",
        )
        return response

    @app.post("/lti/launch")
    def launch() -> Any:
        state = request.form["state"]
        cookie = request.cookies.get(f"state_{state}")
        if cookie is None:
            return "no state cookie", 400
        claims = jwt.decode(
            request.form["id_token"],
            public,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
        if claims["nonce"] != states.loads(cookie):
            return "nonce", 401
        with engine.begin() as conn:
            conn.execute(SPEND, {"state": state, "expires": int(time.time()) + 600})
            user = conn.execute(FIND, {"iss": issuer, "sub": claims["sub"]}).first()
        session["launch"] = {
            "u": user[0] if user else None,
            "c": claims[CONTEXT]["id"],
            "r": claims[ROLES],
        }
        response = redirect("/landing", 303)
        response.delete_cookie(f"state_{state}", path="/lti/")
        return response

    return app


def _from_environment() -> Flask | None:
    path = os.environ.get("BENCH_MINIMAL_CONFIG")
    return create(json.loads(Path(path).read_text())) if path else None


app = _from_environment()
