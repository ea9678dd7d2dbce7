"""Stock pylti1p3 2.0.0's Flask login and launch doing the tool's three upserts (user, course,
membership): the baseline `bench/launch.py` runs in a virtual environment of its own.

Imports nothing of the project (the project installs a fork of pylti1p3). Its configuration
is a JSON file named by BENCH_STOCK_CONFIG: the platform's issuer, client and deployment ids,
its key set, and the database URL. `gunicorn stock_pylti1p3_app:app` serves it; run as a
script it times launches in-process on request from its standard input (one JSON line per
round: {"n": 50}), signing each id_token outside the timing with the key the config gives
(`--cpu`: the thread's CPU time instead of wall time).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from flask import Flask
from pylti1p3.contrib.flask import (
    FlaskCookieService,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
    FlaskSessionService,
)
from pylti1p3.tool_config import ToolConfDict
from sqlalchemy import create_engine, event, text

TABLES = (
    "CREATE TABLE IF NOT EXISTS stock_users (iss VARCHAR(255), sub VARCHAR(255), "
    "name VARCHAR(300), email VARCHAR(320), PRIMARY KEY (iss, sub))",
    "CREATE TABLE IF NOT EXISTS stock_contexts (deployment VARCHAR(255), id VARCHAR(255), "
    "title VARCHAR(500), PRIMARY KEY (deployment, id))",
    "CREATE TABLE IF NOT EXISTS stock_memberships (context VARCHAR(255), sub VARCHAR(255), "
    "roles TEXT, PRIMARY KEY (context, sub))",
)
UPSERTS = (
    "INSERT INTO stock_users (iss, sub, name, email) VALUES (:iss, :sub, :name, :email) "
    "ON CONFLICT (iss, sub) DO UPDATE SET name = excluded.name, email = excluded.email",
    "INSERT INTO stock_contexts (deployment, id, title) VALUES (:deployment, :context, :title) "
    "ON CONFLICT (deployment, id) DO UPDATE SET title = excluded.title",
    "INSERT INTO stock_memberships (context, sub, roles) VALUES (:context, :sub, :roles) "
    "ON CONFLICT (context, sub) DO UPDATE SET roles = excluded.roles",
)
CONTEXT = "https://purl.imsglobal.org/spec/lti/claim/context"
ROLES = "https://purl.imsglobal.org/spec/lti/claim/roles"
DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


def make_engine(url: str) -> Any:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=5)
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def wal(dbapi_connection: Any, _record: Any) -> None:  # as the tool's SQLite
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    return engine


def create_app(config: dict[str, Any]) -> Flask:
    conf = ToolConfDict(
        {
            config["issuer"]: [
                {
                    "default": True,
                    "client_id": config["client_id"],
                    "auth_login_url": config["auth_login_url"],
                    "auth_token_url": config["auth_login_url"],
                    "key_set_url": None,
                    "key_set": config["jwks"],
                    "deployment_ids": [config["deployment_id"]],
                }
            ]
        }
    )
    engine = make_engine(config["database_url"])
    with engine.begin() as conn:
        for statement in TABLES:
            conn.execute(text(statement))
    upserts = [text(s) for s in UPSERTS]
    app = Flask("stock")
    app.secret_key = "bench-stock-pylti1p3"
    launch_url = config["launch_url"]

    @app.route("/lti/login", methods=["POST"])
    def login() -> Any:
        req = FlaskRequest()
        oidc = FlaskOIDCLogin(
            req,
            conf,
            session_service=FlaskSessionService(req),
            cookie_service=FlaskCookieService(req),
        )
        return oidc.redirect(launch_url)

    @app.route("/lti/launch", methods=["POST"])
    def launch() -> Any:
        req = FlaskRequest()
        ml = FlaskMessageLaunch(
            req,
            conf,
            session_service=FlaskSessionService(req),
            cookie_service=FlaskCookieService(req),
        )
        data = ml.get_launch_data()
        context = data.get(CONTEXT, {})
        params = {
            "iss": data["iss"],
            "sub": data["sub"],
            "name": data.get("name", ""),
            "email": data.get("email", ""),
            "deployment": data[DEPLOYMENT],
            "context": context.get("id", ""),
            "title": context.get("title", ""),
            "roles": json.dumps(data.get(ROLES, [])),
        }
        with engine.begin() as conn:
            for upsert in upserts:
                conn.execute(upsert, params)
        return f"hello {data['sub']}"

    return app


def _call(app: Flask, environ: dict[str, Any]) -> tuple[str, dict[str, list[str]], bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    body = b"".join(app(environ, start_response))
    headers: dict[str, list[str]] = {}
    for k, v in captured["headers"]:
        headers.setdefault(k.lower(), []).append(v)
    return captured["status"], headers, body


def _environ(path: str, form: dict[str, str], cookies: str = "") -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    headers = {"Cookie": cookies} if cookies else {}
    builder = EnvironBuilder(
        path=path, method="POST", data=form, headers=headers, base_url="http://127.0.0.1:5000"
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def serve_rounds(config: dict[str, Any]) -> None:
    """Time login + launch in-process, a round per line read; id_token signing not timed."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    clock = time.thread_time if "--cpu" in sys.argv else time.perf_counter
    app = create_app(config)
    key = load_pem_private_key(config["private_pem"].encode(), password=None)
    for line in sys.stdin:
        n = json.loads(line)["n"]
        samples = []
        for _ in range(n):
            login_env = _environ("/lti/login", config["login_params"])
            t0 = clock()
            _, headers, _ = _call(app, login_env)
            t1 = clock()
            q = parse_qs(urlsplit(headers["location"][0]).query)
            now = int(time.time())
            claims = {**config["claims"], "nonce": q["nonce"][0], "iat": now, "exp": now + 60}
            token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": config["kid"]})
            cookies = "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))
            launch_env = _environ(
                "/lti/launch", {"id_token": token, "state": q["state"][0]}, cookies
            )
            t2 = clock()
            status, _, body = _call(app, launch_env)
            t3 = clock()
            assert status.startswith("200"), body[:300]
            samples.append((t1 - t0) + (t3 - t2))
        print(json.dumps(samples), flush=True)


def _config() -> dict[str, Any]:
    with open(os.environ["BENCH_STOCK_CONFIG"]) as f:
        return json.load(f)  # type: ignore[no-any-return]


if __name__ == "__main__":
    serve_rounds(_config())
elif "BENCH_STOCK_CONFIG" in os.environ:
    app = create_app(_config())
