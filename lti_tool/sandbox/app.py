"""The sandbox platform as its own WSGI app, mounted at /sandbox (demo and tests only).

It has its own session cookie and talks to the tool only as an LMS would: browser form posts
and HTTP calls to the tool's public URLs. Each area is a blueprint of its own module; the
service ones (token, NRPS, AGS) run the fault switch before each call.
"""

from __future__ import annotations

from flask import Flask, g
from werkzeug.wrappers import Response

from lti_tool.clients.http import RequestsHttpClient
from lti_tool.runtime import Runtime
from lti_tool.sandbox import (
    csrf,
    deep_linking,
    fault_endpoints,
    gradebook,
    line_items,
    native_forms,
    native_pages,
    nrps,
    oidc,
    pages,
    registration_endpoints,
    registration_pages,
    scores,
    storage,
    token_endpoint,
)
from lti_tool.sandbox.services import Sandbox
from lti_tool.settings import Settings
from lti_tool.web.session_cookie import CachedSigningInterface

BLUEPRINTS = (
    pages.bp,
    oidc.bp,
    token_endpoint.bp,
    fault_endpoints.bp,
    nrps.bp,
    line_items.bp,
    scores.bp,
    deep_linking.bp,
    registration_pages.bp,
    registration_endpoints.bp,
    gradebook.bp,
    native_pages.bp,
    native_forms.bp,
    storage.bp,
)


def create_sandbox_app(settings: Settings, rt: Runtime) -> Flask:
    sb = Sandbox(settings, rt, RequestsHttpClient(settings.http_timeout_seconds))
    app = Flask("lti_tool.sandbox", template_folder="templates")
    app.config.update(
        SECRET_KEY=sb.secret,
        SESSION_COOKIE_NAME="sandbox_platform_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_HTTPONLY=True,
    )
    app.session_interface = CachedSigningInterface()
    app.extensions["sandbox"] = sb
    csrf.init_app(app)
    app.after_request(_commit)
    app.teardown_request(_close)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    return app


def _commit(response: Response) -> Response:
    if "db" in g:
        g.db.commit()
    return response


def _close(_exc: BaseException | None) -> None:
    s = g.pop("db", None)
    if s is not None:
        s.close()
    conn = g.pop("autocommit_conn", None)  # Sandbox.autocommit's
    if conn is not None:
        conn.close()
