"""The sandbox platform as its own WSGI app, mounted at /sandbox (demo and tests only).

It has its own session cookie and talks to the tool only as an LMS would: browser form posts
and HTTP calls to the tool's public URLs.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

import jwt
from flask import Flask, abort, g, jsonify, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.clients.http import RequestsHttpClient
from lti_tool.runtime import Runtime
from lti_tool.sandbox.faults import FAULTY_ENDPOINTS
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxLineItem,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import (
    SHAPES,
    PlatformUrls,
    id_token_claims,
    login_initiation_params,
    platform_jwks,
    sign,
    signing_key,
)
from lti_tool.sandbox.services import Sandbox, tool_key
from lti_tool.settings import Settings
from lti_tool.store import DatabaseStore

log = logging.getLogger("lti_tool.sandbox")
HINT_SECONDS = 300
TOKEN_SECONDS = 3600
ROLE_ORDER = {"teacher": 0, "ta": 1, "student": 2, "mentor": 3}


def create_sandbox_app(settings: Settings, rt: Runtime) -> Flask:
    app = Flask("lti_tool.sandbox", template_folder="templates")
    secret = hashlib.sha256(("sandbox:" + settings.secret_key).encode()).hexdigest()
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="sandbox_platform_session",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_HTTPONLY=True,
    )
    hints = URLSafeTimedSerializer(secret, salt="lti-message-hint")
    http = RequestsHttpClient(settings.http_timeout_seconds)
    sb = Sandbox(settings, rt, http)

    def db() -> Session:
        return sb.db()

    @app.after_request
    def commit(response: Response) -> Response:
        if "db" in g:
            g.db.commit()
        return response

    @app.teardown_request
    def close(_exc: BaseException | None) -> None:
        s = g.pop("db", None)
        if s is not None:
            s.close()

    def platform_or_404(slug: str) -> SandboxPlatform:
        platform = db().scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
        if platform is None:
            abort(404)
        return platform

    def urls(platform: SandboxPlatform) -> PlatformUrls:
        return PlatformUrls(settings.sandbox_base_url, platform)

    def current_user(platform: SandboxPlatform) -> SandboxUser | None:
        user_id = session.get(f"user:{platform.slug}")
        user = db().get(SandboxUser, user_id) if user_id else None
        return user if user is not None and user.platform_id == platform.id else None

    def failure(status: int, message: str) -> tuple[str, int]:
        log.warning("sandbox refused %s %s: %s", request.method, request.path, message)
        return render_template("sandbox/error.html", message=message, status=status), status

    # -- pages a person sees -------------------------------------------------------------

    @app.get("/")
    def index() -> str:
        platforms = list(db().scalars(select(SandboxPlatform).order_by(SandboxPlatform.id)))
        courses = {
            p.id: list(db().scalars(select(SandboxCourse).where(SandboxCourse.platform_id == p.id)))
            for p in platforms
        }
        return render_template("sandbox/index.html", platforms=platforms, courses=courses)

    def course_people(course: SandboxCourse) -> list[tuple[SandboxEnrollment, SandboxUser]]:
        rows = (
            db()
            .execute(
                select(SandboxEnrollment, SandboxUser)
                .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
                .where(SandboxEnrollment.course_id == course.id)
            )
            .all()
        )
        return sorted(
            ((e, u) for e, u in rows),
            key=lambda eu: (ROLE_ORDER.get(eu[0].role, 9), eu[1].family_name, eu[1].given_name),
        )

    def course_or_404(platform: SandboxPlatform, course_id: int) -> SandboxCourse:
        course = db().get(SandboxCourse, course_id)
        if course is None or course.platform_id != platform.id:
            abort(404)
        return course

    @app.get("/<slug>/courses/<int:course_id>")
    def course_page(slug: str, course_id: int) -> str:
        platform = platform_or_404(slug)
        course = course_or_404(platform, course_id)
        links = list(
            db().scalars(
                select(SandboxLink)
                .where(SandboxLink.course_id == course.id)
                .order_by(SandboxLink.id)
            )
        )
        line_items: dict[int, list[SandboxLineItem]] = {}
        for item in db().scalars(
            select(SandboxLineItem)
            .where(SandboxLineItem.course_id == course.id, SandboxLineItem.link_id.is_not(None))
            .order_by(SandboxLineItem.id)
        ):
            line_items.setdefault(item.link_id or 0, []).append(item)
        return render_template(
            "sandbox/course.html",
            platform=platform,
            course=course,
            people=course_people(course),
            links=links,
            line_items=line_items,
            chosen_link_id=request.args.get("link", type=int),
            user=current_user(platform),
        )

    @app.post("/<slug>/courses/<int:course_id>/launch-as")
    def launch_as(slug: str, course_id: int) -> Response:
        platform = platform_or_404(slug)
        course = course_or_404(platform, course_id)
        user = db().get(SandboxUser, request.form.get("user_id", type=int) or 0)
        link = db().get(SandboxLink, request.form.get("link_id", type=int) or 0)
        if user is None or user.platform_id != platform.id or link is None:
            abort(400)
        if link.course_id != course.id:
            abort(400)
        session[f"user:{slug}"] = user.id
        return redirect(url_for("link_page", slug=slug, course_id=course.id, link_id=link.id))

    @app.get("/<slug>/courses/<int:course_id>/links/<int:link_id>")
    def link_page(slug: str, course_id: int, link_id: int) -> Any:
        platform = platform_or_404(slug)
        course = course_or_404(platform, course_id)
        link = db().get(SandboxLink, link_id)
        if link is None or link.course_id != course.id:
            abort(404)
        user = current_user(platform)
        if user is None:
            return redirect(url_for("course_page", slug=slug, course_id=course_id))
        return render_template(
            "sandbox/link.html", platform=platform, course=course, link=link, user=user
        )

    @app.get("/<slug>/links/<int:link_id>/initiate")
    def initiate(slug: str, link_id: int) -> Any:
        """What the LMS puts in the iframe: an auto-submitting login initiation form."""
        platform = platform_or_404(slug)
        link = db().get(SandboxLink, link_id)
        user = current_user(platform)
        if link is None or user is None:
            return failure(401, "Log in to the sandbox platform first (launch as someone).")
        tool = db().get(SandboxTool, link.tool_id)
        assert tool is not None
        hint = hints.dumps({"link": link.id, "user": user.id})
        params = login_initiation_params(platform, tool, link, user, hint)
        return render_template("sandbox/autopost.html", action=tool.login_url, params=params)

    # -- the OIDC authorization endpoint ---------------------------------------------------

    def platform_of_shape(slug: str, shape: str) -> SandboxPlatform:
        platform = platform_or_404(slug)
        if platform.shape != shape:
            abort(404)
        return platform

    def authorize(slug: str, shape: str) -> Any:
        platform = platform_of_shape(slug, shape)
        p = request.values
        tool = db().scalar(
            select(SandboxTool).where(
                SandboxTool.platform_id == platform.id,
                SandboxTool.client_id == p.get("client_id", ""),
            )
        )
        if tool is None:
            return failure(400, f"unknown client_id {p.get('client_id')!r}")
        redirect_uri = p.get("redirect_uri", "")
        if redirect_uri not in tool.redirect_uris:
            return failure(400, f"redirect_uri {redirect_uri!r} is not registered for this tool")

        def refuse(error: str, description: str) -> str:
            log.warning("sandbox auth error %s: %s", error, description)
            return render_template(
                "sandbox/autopost.html",
                action=redirect_uri,
                params={
                    "error": error,
                    "error_description": description,
                    "state": p.get("state", ""),
                },
            )

        if "openid" not in p.get("scope", "").split():
            return refuse("invalid_scope", "scope must include openid")
        if p.get("response_type") != "id_token":
            return refuse("unsupported_response_type", "response_type must be id_token")
        if p.get("response_mode") != "form_post":
            return refuse("invalid_request", "response_mode must be form_post")
        if p.get("prompt") != "none":
            return refuse("invalid_request", "prompt must be none")
        if not p.get("nonce"):
            return refuse("invalid_request", "nonce is required")
        user = current_user(platform)
        if user is None or p.get("login_hint") != user.lti_sub:
            return refuse("login_required", "the login_hint is not the user logged in")
        try:
            hint = hints.loads(p.get("lti_message_hint", ""), max_age=HINT_SECONDS)
        except BadSignature:
            return refuse("invalid_request", "lti_message_hint is invalid or expired")
        link = db().get(SandboxLink, hint.get("link"))
        if link is None or link.tool_id != tool.id or hint.get("user") != user.id:
            return refuse("invalid_request", "lti_message_hint does not match")
        enrollment = db().scalar(
            select(SandboxEnrollment).where(
                SandboxEnrollment.course_id == link.course_id,
                SandboxEnrollment.user_id == user.id,
                SandboxEnrollment.status == "Active",
            )
        )
        if enrollment is None:
            return refuse("access_denied", "the user is not enrolled in this course")
        claims = id_token_claims(
            db(), platform, urls(platform), tool, link, user, enrollment, p["nonce"]
        )
        token = sign(signing_key(db(), platform), claims)
        params = {"id_token": token, "state": p.get("state", "")}
        if platform.shape == "canvas":
            params["lti_storage_target"] = "post_message_forwarding"
        return render_template("sandbox/autopost.html", action=redirect_uri, params=params)

    def jwks(slug: str, shape: str) -> Response:
        return jsonify(platform_jwks(db(), platform_of_shape(slug, shape)))

    # -- OAuth2 client credentials (LTI Advantage security, 1EdTech Security Framework §4) --

    def token(slug: str, shape: str) -> Any:
        platform = platform_of_shape(slug, shape)

        def oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
            log.warning("sandbox token refused: %s (%s)", error, description)
            return jsonify({"error": error, "error_description": description}), status

        f = request.form
        if f.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
        if f.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return oauth_error("invalid_request", "client_assertion_type must be jwt-bearer")
        assertion = f.get("client_assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            kid = jwt.get_unverified_header(assertion).get("kid")
        except jwt.InvalidTokenError:
            return oauth_error("invalid_client", "client_assertion is not a JWT")
        tool = db().scalar(
            select(SandboxTool).where(
                SandboxTool.platform_id == platform.id,
                SandboxTool.client_id == str(unverified.get("iss", "")),
            )
        )
        if tool is None:
            return oauth_error("invalid_client", "unknown client", 401)
        key = tool_key(tool, kid, http)
        if key is None:
            return oauth_error("invalid_client", f"kid {kid!r} not in the tool's JWKS", 401)
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256"],
                audience=urls(platform).token,
                issuer=tool.client_id,
                options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"]},
                leeway=5,
            )
        except jwt.InvalidTokenError as exc:
            return oauth_error("invalid_client", f"client_assertion refused: {exc}", 401)
        if claims["sub"] != tool.client_id:
            return oauth_error("invalid_client", "sub must be the client id", 401)
        store = DatabaseStore(db())
        if store.get(f"sandbox_jti:{claims['jti']}") is not None:
            return oauth_error("invalid_client", "client_assertion jti already used", 401)
        store.put(f"sandbox_jti:{claims['jti']}", 1, 3600)
        asked = f.get("scope", "").split()
        granted = [s for s in asked if s in tool.scopes]
        if not granted:
            return oauth_error("invalid_scope", f"none of the scopes {asked} is granted")
        access_token = secrets.token_urlsafe(32)
        store.put(
            f"sandbox_token:{access_token}", {"tool": tool.id, "scopes": granted}, TOKEN_SECONDS
        )
        return jsonify(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "scope": " ".join(granted),
            }
        )

    for shape in SHAPES.values():
        kind = {"shape": shape.name}
        app.add_url_rule(
            f"/<slug>{shape.auth_path}",
            f"auth_{shape.name}",
            authorize,
            methods=["GET", "POST"],
            defaults=kind,
        )
        app.add_url_rule(f"/<slug>{shape.jwks_path}", f"jwks_{shape.name}", jwks, defaults=kind)
        app.add_url_rule(
            f"/<slug>{shape.token_path}",
            f"token_{shape.name}",
            token,
            methods=["POST"],
            defaults=kind,
        )
        FAULTY_ENDPOINTS.add(f"token_{shape.name}")

    from lti_tool.sandbox import ags, deep_linking, faults, gradebook, nrps

    faults.register(app, sb)
    nrps.register(app, sb)
    ags.register(app, sb)
    deep_linking.register(app, sb)
    gradebook.register(app, sb)
    return app
