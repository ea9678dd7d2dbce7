"""The page an LMS opens to register the tool by LTI Dynamic Registration (`/lti/register`,
or `/lti/register/<invite>` with an admin's invite): a confirmation, then the exchange, what
was registered and the message that closes the LMS's dialog.

It may be framed by the LMS doing the registering, known only from its openid_configuration
URL. Platforms open it cross-site without the tool's session, so there is no CSRF cookie to
check: the invite (or `registration_open`) and the LMS's own registration token are the
proof.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, g, render_template, request
from werkzeug.wrappers import Response

from lti_tool.clients.registration_http import RequestsRegistrationHttp
from lti_tool.lti.message import origin
from lti_tool.lti.registration_invites import why_refused
from lti_tool.services.dynamic_registration import (
    RegistrationRefused,
    fetch_configuration,
    register,
)
from lti_tool.web.context import request_db, runtime

log = logging.getLogger("lti_tool.registration")
bp = Blueprint("registration", __name__)


@bp.after_request
def not_kept(response: Response) -> Response:
    """The confirmation carries the LMS's token: no copy in a cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(RegistrationRefused)
def refused(exc: RegistrationRefused) -> tuple[str, int]:
    log.warning("registration refused from %s: %s", request.remote_addr, exc.detail)
    if "_db" in g:
        request_db().rollback()  # nothing half-stored
    html = render_template(
        "registration/refused.html",
        title=exc.title,
        explanation=exc.explanation,
        status=exc.status,
    )
    return html, exc.status


def _params() -> tuple[str, str]:
    values = request.form if request.method == "POST" else request.args
    return values.get("openid_configuration", ""), values.get("registration_token", "")


def _open_to(invite: str | None) -> None:
    """Refused unless the invite is good or registration is open; the LMS may frame the
    page that says so."""
    openid_configuration, _token = _params()
    platform = origin(openid_configuration)
    if platform:
        g.frame_origins = [platform]
    if invite is None:
        if runtime().settings.registration_open:
            return
        raise RegistrationRefused(
            "Registration needs an invite",
            "This tool registers with an LMS only through a registration link from its "
            "administrator. Ask them to run `lti-tool registration invite` and paste the "
            "link it prints into your LMS.",
            "registration: closed and no invite",
            403,
        )
    problem = why_refused(request_db(), invite)
    if problem:
        raise RegistrationRefused(
            "This registration link cannot be used",
            problem + " Ask the tool's administrator for a new one "
            "(`lti-tool registration invite`).",
            f"registration: invite refused: {problem}",
            403,
        )


@contextmanager
def _http() -> Iterator[RequestsRegistrationHttp]:
    """A client for one registration (rare enough not to keep a pool), closed after."""
    http = RequestsRegistrationHttp(runtime().settings.http_timeout_seconds)
    try:
        yield http
    finally:
        http.close()


@bp.get("/lti/register")
@bp.get("/lti/register/<invite>")
def confirm(invite: str | None = None) -> str:
    _open_to(invite)
    openid_configuration, token = _params()
    production = runtime().settings.is_production
    with _http() as http:
        config = fetch_configuration(http, openid_configuration, token, production)
    return render_template(
        "registration/confirm.html",
        config=config,
        openid_configuration=openid_configuration,
        registration_token=token,
        action=request.path,
    )


@bp.post("/lti/register")
@bp.post("/lti/register/<invite>")
def run(invite: str | None = None) -> str | Response:
    _open_to(invite)
    openid_configuration, token = _params()
    with _http() as http:
        done = register(request_db(), runtime().settings, http, openid_configuration, token, invite)
    return render_template("registration/done.html", done=done)
