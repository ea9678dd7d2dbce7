"""What a launch costs: the tool's full login + launch (in-process WSGI) on SQLite and
PostgreSQL, against the floor and the stock pylti1p3 Flask launch path, measured in one run.

    .venv/bin/python bench/launch.py [--n 300]

The floor is what any launch must do: one RS256 verify, one bare Flask request, three small
database writes. Platform-side work (signing the id_token) is done outside the timed part.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt  # noqa: E402
import scratch_db  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from lti_tool import migrate  # noqa: E402
from lti_tool.app import create_app  # noqa: E402
from lti_tool.cli import prepare  # noqa: E402
from lti_tool.db import make_engine  # noqa: E402
from lti_tool.sandbox.models import (  # noqa: E402
    SandboxEnrollment,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import (  # noqa: E402
    PlatformUrls,
    _loaded,
    id_token_claims,
    platform_jwks,
    signing_key,
)
from lti_tool.sandbox.seed import seed_demo  # noqa: E402
from lti_tool.settings import load_settings  # noqa: E402


class Wsgi:
    """Calls a WSGI app with an environ built beforehand: only the app's work is timed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @staticmethod
    def environ(
        method: str, path: str, form: dict[str, str] | None = None, cookies: str = ""
    ) -> dict:
        from werkzeug.test import EnvironBuilder

        headers = {"Cookie": cookies} if cookies else {}
        builder = EnvironBuilder(
            path=path, method=method, data=form, headers=headers, base_url="http://127.0.0.1:5000"
        )
        try:
            return builder.get_environ()
        finally:
            builder.close()

    def call(self, environ: dict) -> tuple[str, dict[str, list[str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        body = b"".join(self.app(environ, start_response))
        headers: dict[str, list[str]] = {}
        for k, v in captured["headers"]:
            headers.setdefault(k.lower(), []).append(v)
        return captured["status"], headers, body


def cookie_pairs(headers: dict[str, list[str]]) -> str:
    return "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))


class InProcessHttp:
    """Serves the sandbox JWKS from the database: no network in an in-process benchmark."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def get_json(self, url: str) -> Any:
        assert self.app is not None
        rt = self.app.extensions["lti_tool"]
        slug = urlsplit(url).path.split("/")[2]
        with rt.session_factory() as s:
            platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
            return platform_jwks(s, platform)


class Platform:
    """The sandbox's Moodle shape, signing id_tokens for one student outside the timing."""

    def __init__(self, app: Flask) -> None:
        rt = app.extensions["lti_tool"]
        self.settings = rt.settings
        with rt.session_factory() as s:
            self.platform = s.scalar(
                select(SandboxPlatform).where(SandboxPlatform.slug == "moodle")
            )
            self.tool = s.scalar(
                select(SandboxTool).where(SandboxTool.platform_id == self.platform.id)
            )
            self.link = s.scalar(
                select(SandboxLink).where(
                    SandboxLink.tool_id == self.tool.id,
                    SandboxLink.message_type == "LtiResourceLinkRequest",
                )
            )
            self.enrollment, self.user = s.execute(
                select(SandboxEnrollment, SandboxUser)
                .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
                .where(SandboxEnrollment.role == "student")
                .where(SandboxEnrollment.course_id == self.link.course_id)
            ).first()
            self.key = signing_key(s, self.platform)
            self.base_claims = id_token_claims(
                s,
                self.platform,
                PlatformUrls(self.settings.sandbox_base_url, self.platform),
                self.tool,
                self.link,
                self.user,
                self.enrollment,
                "x",
            )
            s.expunge_all()
        self.private = _loaded(self.key.private_pem)

    def login_params(self) -> dict[str, str]:
        return {
            "iss": self.platform.issuer,
            "login_hint": self.user.lti_sub,
            "target_link_uri": self.tool.target_link_uri,
            "lti_message_hint": "1",
            "client_id": self.tool.client_id,
            "lti_deployment_id": self.tool.deployment_id,
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {**self.base_claims, "nonce": nonce, "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.key.kid})


def tool_app(database_url: str) -> tuple[Flask, Platform]:
    http = InProcessHttp()
    settings = load_settings(
        environ={},
        overrides={
            "environment": "test",
            "sandbox_enabled": True,
            "database_url": database_url,
            "log_level": "ERROR",
            # the limiter runs (its cost is part of a launch) but never refuses the bench
            "rate_limit_login": "10000000/minute",
            "rate_limit_launch": "10000000/minute",
        },
    )
    app = create_app(settings, http=http)
    http.app = app
    rt = app.extensions["lti_tool"]
    prepare(rt)
    with rt.session_factory() as s:
        seed_demo(s, settings)
        s.commit()
    return app, Platform(app)


def time_tool_launches(
    app: Flask, platform: Platform, n: int, launch_only: list[float] | None = None
) -> list[float]:
    w = Wsgi(app)
    samples = []
    for i in range(n + 20):
        login_env = w.environ("POST", "/lti/login", platform.login_params())
        t0 = time.perf_counter()
        status, headers, _ = w.call(login_env)
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(headers["location"][0]).query)
        token = platform.id_token(q["nonce"][0])  # the platform's work: not timed
        launch_env = w.environ(
            "POST",
            "/lti/launch",
            {"id_token": token, "state": q["state"][0]},
            cookie_pairs(headers),
        )
        t2 = time.perf_counter()
        status, _, body = w.call(launch_env)
        t3 = time.perf_counter()
        assert status.startswith("303"), body[:500]
        if i >= 20:  # warm-up
            samples.append((t1 - t0) + (t3 - t2))
            if launch_only is not None:
                launch_only.append(t3 - t2)
    return samples


def time_floor(database_url: str, platform: Platform, n: int) -> list[float]:
    """One RS256 verify + one bare Flask request + three small DB writes."""
    bare = Flask("floor")

    @bare.get("/")
    def hello() -> str:
        return "ok"

    w = Wsgi(bare)
    bare_env = w.environ("GET", "/")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_floor"))
        conn.execute(text("CREATE TABLE bench_floor (k VARCHAR(64) PRIMARY KEY, v VARCHAR(64))"))
    public = platform.private.public_key()
    samples = []
    for i in range(n + 20):
        token = platform.id_token(uuid.uuid4().hex)
        start = time.perf_counter()
        jwt.decode(
            token,
            public,
            algorithms=["RS256"],
            audience=platform.tool.client_id,
            issuer=platform.platform.issuer,
        )
        w.call(dict(bare_env))
        with engine.begin() as conn:
            for _ in range(3):
                conn.execute(
                    text("INSERT INTO bench_floor (k, v) VALUES (:k, 'v')"), {"k": uuid.uuid4().hex}
                )
        end = time.perf_counter()
        if i >= 20:
            samples.append(end - start)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_floor"))
    engine.dispose()
    return samples


def time_stock_pylti1p3(platform: Platform, n: int) -> list[float]:
    """pylti1p3's Flask login + launch, its registration given the platform's key set."""
    from pylti1p3.contrib.flask import (
        FlaskCookieService,
        FlaskMessageLaunch,
        FlaskOIDCLogin,
        FlaskRequest,
        FlaskSessionService,
    )
    from pylti1p3.tool_config import ToolConfDict

    jwks = {"keys": [dict(platform.key.public_jwk)]}
    conf = ToolConfDict(
        {
            platform.platform.issuer: [
                {
                    "default": True,
                    "client_id": platform.tool.client_id,
                    "auth_login_url": "http://localhost/auth",
                    "auth_token_url": "http://localhost/token",
                    "key_set_url": None,
                    "key_set": jwks,
                    "deployment_ids": [platform.tool.deployment_id],
                }
            ]
        }
    )
    app = Flask("stock")
    app.secret_key = "bench"
    launch_url = platform.tool.target_link_uri

    @app.route("/login", methods=["POST"])
    def login() -> Any:
        req = FlaskRequest()
        oidc = FlaskOIDCLogin(
            req,
            conf,
            session_service=FlaskSessionService(req),
            cookie_service=FlaskCookieService(req),
        )
        return oidc.redirect(launch_url)

    @app.route("/launch", methods=["POST"])
    def launch() -> Any:
        req = FlaskRequest()
        ml = FlaskMessageLaunch(
            req,
            conf,
            session_service=FlaskSessionService(req),
            cookie_service=FlaskCookieService(req),
        )
        data = ml.get_launch_data()
        return f"hello {data['sub']}"

    w = Wsgi(app)
    samples = []
    for i in range(n + 20):
        login_env = w.environ("POST", "/login", platform.login_params())
        t0 = time.perf_counter()
        _, headers, _ = w.call(login_env)
        t1 = time.perf_counter()
        q = parse_qs(urlsplit(headers["location"][0]).query)
        token = platform.id_token(q["nonce"][0])
        launch_env = w.environ(
            "POST", "/launch", {"id_token": token, "state": q["state"][0]}, cookie_pairs(headers)
        )
        t2 = time.perf_counter()
        status, _, body = w.call(launch_env)
        t3 = time.perf_counter()
        assert status.startswith("200"), body[:300]
        if i >= 20:
            samples.append((t1 - t0) + (t3 - t2))
    return samples


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="launches per measurement")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    backends = [("SQLite", f"sqlite:///{tmp}/bench.db")]
    scratch = scratch_db.create()
    pg = scratch[0] if scratch else None
    if pg:
        backends.append(("PostgreSQL", pg))
    rows = []
    stock = None
    try:
        for name, url in backends:
            engine = make_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            app, platform = tool_app(url)
            alone: list[float] = []
            tool = ms(time_tool_launches(app, platform, args.n, alone))
            floor = ms(time_floor(url, platform, args.n))
            if stock is None:
                stock = ms(time_stock_pylti1p3(platform, args.n))
            rows.append((name, tool, floor, ms(alone)))
            app.extensions["lti_tool"].engine.dispose()
    finally:
        if scratch:
            scratch_db.drop(scratch[1])

    print(f"\nLogin + launch, median of {args.n} (in-process WSGI, id_token signing excluded)\n")
    print(
        f"{'database':<12}{'tool':>10}{'floor':>10}{'tool/floor':>12}"
        f"{'launch request alone':>22}{'/floor':>8}"
    )
    for name, tool, floor, alone in rows:
        print(
            f"{name:<12}{tool:>8.2f}ms{floor:>8.2f}ms{tool / floor:>11.2f}x"
            f"{alone:>20.2f}ms{alone / floor:>7.2f}x"
        )
    assert stock is not None
    print(f"\nstock pylti1p3 Flask login + launch (no database, key set given): {stock:.2f} ms")
    for name, tool, _, _ in rows:
        print(f"  tool on {name} / stock pylti1p3: {tool / stock:.2f}x")
    print("\nTarget: tool <= 2x the floor on each database.")


if __name__ == "__main__":
    main()
