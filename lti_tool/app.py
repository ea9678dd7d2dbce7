"""The app factory: settings -> database -> clients -> blueprints -> sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from lti_tool.bundled import bundled_dir
from lti_tool.clients.http import HttpClient
from lti_tool.runtime import Runtime
from lti_tool.settings import Settings, load_settings
from lti_tool.web import context as web_context
from lti_tool.web.framing import FramePolicy, frame_src
from lti_tool.wiring import build_runtime, configure_logging

csrf = CSRFProtect()


def create_app(
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    http: HttpClient | None = None,
) -> Flask:
    settings = settings or load_settings(overrides=overrides)
    configure_logging(settings)
    app = Flask(
        "lti_tool",
        static_folder=str(bundled_dir("static")),
        template_folder="templates",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="lti_tool_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_REFRESH_EACH_REQUEST=False,  # the binding carries its own expiry
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.launch_session_seconds),
        WTF_CSRF_TIME_LIMIT=settings.launch_session_seconds,
        WTF_CSRF_SSL_STRICT=False,  # no Referer inside LMS iframes; the token does the work
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )

    from lti_tool.web.session_cookie import LaunchSessionInterface

    app.session_interface = LaunchSessionInterface()
    rt = build_runtime(settings, http)
    web_context.init_app(app, rt)  # one transaction per request
    _security_headers(app, settings, rt)
    _error_pages(app)

    from lti_tool.web import (
        classview,
        course_copy,
        guards,
        launch_token,
        learner,
        lti,
        pages,
        placement,
        registration,
        setup,
    )

    guards.init_app(app)  # before the blueprints: their <int:...> ids use its converter

    csrf.init_app(app)
    csrf.exempt(lti.bp)  # platforms POST login and launch; the id_token is the proof
    launch_token.init_app(app)  # cookie-less launches: CSRF bound to the launch token
    app.register_blueprint(lti.bp)
    # The LMS opens it cross-site without a session; the invite and its token are the proof.
    csrf.exempt(registration.bp)
    app.register_blueprint(registration.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(course_copy.bp)  # teachers: next term's setup copied
    app.register_blueprint(placement.bp)
    app.register_blueprint(setup.bp)  # teachers: competencies, modules, rules
    app.register_blueprint(classview.bp)  # teachers: the class, overrides, passback
    app.register_blueprint(learner.bp)  # students and mentors: path, profile, goals
    from lti_tool.web.limits import init_limits

    init_limits(app, settings, rt.redis)  # per-client limits on the LTI login and launch

    if settings.sandbox_enabled:
        from lti_tool.sandbox.app import create_sandbox_app

        sandbox = create_sandbox_app(settings, rt)
        app.extensions["lti_tool_sandbox"] = sandbox
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sandbox": sandbox.wsgi_app})  # type: ignore[method-assign]
    if settings.trusted_proxy_count:
        hops = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    return app


def _security_headers(app: Flask, settings: Settings, rt: Runtime) -> None:
    base = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action *; base-uri 'none'; object-src 'none'; "
        + frame_src(settings)
        + "frame-ancestors "
    )
    framing = FramePolicy(settings, rt.session_factory)

    hsts = settings.base_url.startswith("https://")

    @app.after_request
    def headers(response: Response) -> Response:
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith("/sandbox"):
            return response
        if request.path.startswith("/c/"):
            # Every launch page shows course or student data: no copy in a shared cache or
            # on a school computer's disk (a page that may be cached says so itself).
            response.headers.setdefault("Cache-Control", "no-store")
        binding = g.get("binding")
        # A launch's pages may be framed only by the LMS it came from; the registration page
        # by the LMS registering; other pages by the registered LMSs (web/framing.py).
        ancestors = framing.ancestors(
            binding.frame_origins if binding else g.get("frame_origins", ())
        )
        response.headers.setdefault("Content-Security-Policy", base + ancestors)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response


def _error_pages(app: Flask) -> None:
    messages = {
        401: (
            "Your session has ended",
            "Open the tool again from your course in the LMS to continue.",
        ),
        403: (
            "This page is not for your role",
            "Your role in this course does not give access to this page.",
        ),
        404: ("Page not found", "There is nothing at this address."),
        405: ("Not allowed", "This address does not accept that kind of request."),
    }

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        app.logger.warning("CSRF refused at %s: %s", request.path, exc.description)
        return (
            render_template(
                "error.html",
                title="The form expired",
                explanation="Reload the page and try again.",
                status=400,
            ),
            400,
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
        code = exc.code or 500
        if code not in messages:
            return exc
        title, explanation = messages[code]
        return render_template(
            "error.html", title=title, explanation=explanation, status=code
        ), code
