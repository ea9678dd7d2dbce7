"""The LTI endpoints platforms call: login initiation, launch, JWKS, and the config pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from lti_tool import keys
from lti_tool.lti.context_history import PARAM as HISTORY_PARAM
from lti_tool.lti.context_history import VARIABLE as HISTORY_VARIABLE
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import ValidLaunch, validate_launch
from lti_tool.lti.login import STATE_COOKIE_PREFIX, start_login
from lti_tool.lti.roles import TEACHER
from lti_tool.lti.storage_launch import finish as finish_storage_launch
from lti_tool.lti.storage_launch import remember as remember_storage_login
from lti_tool.lti.storage_launch import without_cookie
from lti_tool.models.course import roster_stale
from lti_tool.models.types import utcnow
from lti_tool.services import course_copy
from lti_tool.services.launches import record_launch
from lti_tool.web import launch_token, storage_pages
from lti_tool.web.binding import bind
from lti_tool.web.context import after_this_request_commit, request_db, request_store, runtime
from lti_tool.web.cookies import delete_tool_cookie, set_tool_cookie

log = logging.getLogger("lti_tool.launch")
bp = Blueprint("lti", __name__)


@bp.errorhandler(LaunchError)
def refused(exc: LaunchError) -> Response:
    log.warning(
        "refused %s %s from %s: %s", request.method, request.path, request.remote_addr, exc.reason
    )
    response = make_response(
        render_template(
            "error.html", title=exc.title, explanation=exc.explanation, status=exc.status
        ),
        exc.status,
    )
    state = request.form.get("state", "") if request.path == "/lti/launch" else ""
    if state and STATE_COOKIE_PREFIX + state in request.cookies:
        delete_tool_cookie(response, STATE_COOKIE_PREFIX + state, path="/lti/")
    return response


@bp.route("/lti/login", methods=["GET", "POST"])
@bp.route("/lti/login/<registration_uuid>", methods=["GET", "POST"])
def login(registration_uuid: str | None = None) -> Response:
    rt = runtime()
    params = request.form if request.method == "POST" else request.args
    target = start_login(
        params, request_db(), rt.login_states, rt.settings, rt.registrations, registration_uuid
    )
    if target.storage_target:  # the LMS offers platform storage: store state and nonce there
        remember_storage_login(request_store(), target)
        response = storage_pages.login_page(target)
    else:
        response = redirect(target.url, code=302)
    set_tool_cookie(response, target.cookie_name, target.cookie_value, target.max_age, path="/lti/")
    return response


@bp.post("/lti/launch")
def launch() -> Response:
    rt = runtime()
    db = request_db()
    blocked = without_cookie(
        request.form, request.cookies, request_store(), rt.login_states, rt.settings
    )
    if blocked is not None:  # no state cookie came back: platform storage, or a way out
        return storage_pages.launch_page(blocked)
    valid = validate_launch(
        request.form,
        request.cookies,
        db,
        request_store(),
        rt.platform_keys,
        rt.settings,
        rt.login_states,
    )
    return complete_launch(valid)


@bp.post("/lti/launch/storage")
def launch_by_storage() -> Response:
    """The state and nonce read back from the LMS's storage, for a launch without cookies."""
    valid = finish_storage_launch(
        request.form,
        request.headers.get("Origin"),
        request_db(),
        request_store(),
        runtime().settings,
    )
    return complete_launch(valid, cookieless=True)


def complete_launch(valid: ValidLaunch, cookieless: bool = False) -> Response:
    """Record a proven launch and open its landing page."""
    rt = runtime()
    db = request_db()
    message = valid.message
    record = record_launch(db, valid)
    if record.role == TEACHER:
        # Where a copied course came from, for the teacher's "Copy setup from …".
        course_copy.note_history(db, record.context_id, message.custom)
    maybe_sync_roster(rt, record)
    launch_id = bind(
        registration_id=valid.registration_id,
        deployment_id=valid.deployment_pk,
        context_id=record.context_id,
        user_id=record.user_id,
        role=record.role,
        message_type=message.message_type,
        frame_origins=list(message.frame_origins),
        module_id=record.module_id,
        cookieless=cookieless,
    )
    if message.is_deep_linking:
        # Kept for the deep-linking response, which another process may build.
        request_store().put(
            launch_token.store_key(launch_id), message.claims, rt.settings.launch_session_seconds
        )
    log.info(
        "launch %s: %s as %s in context %s (registration %s)",
        launch_token.redact(launch_id),
        message.message_type,
        record.role,
        record.id_on_platform,
        valid.registration_uuid,
    )
    landing = url_for("pages.landing", launch_id=launch_id)
    response = redirect(landing, code=303)
    if not cookieless and request.form.get("lti_storage_target"):
        storage_pages.clear_on_landing(valid)  # the cookie won: the landing drops the copy
    delete_tool_cookie(response, STATE_COOKIE_PREFIX + request.form["state"], path="/lti/")
    return response


def maybe_sync_roster(rt: Any, record: Any) -> None:
    """A launch into a course whose roster is stale starts a sync (roster, then grades) in
    the background."""
    max_age = rt.settings.roster_max_age_seconds
    if not max_age or not record.has_roster_service:
        return
    if not roster_stale(record.roster_synced_at, max_age, utcnow()):
        return
    store = request_store()
    marker = f"roster_sync_started:{record.context_id}"
    if store.get(marker) is not None:  # one sync per course at a time is enough
        return
    store.put(marker, 1, 300)

    # After this request's commit, so the job sees the course row.
    after_this_request_commit(lambda: rt.jobs.enqueue("sync_course", record.context_id))


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(keys.jwks(request_db()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def tool_urls() -> dict[str, str]:
    s = runtime().settings
    return {
        "tool_url": s.url("/lti/launch"),
        "login_url": s.url("/lti/login"),
        "redirect_uris": s.url("/lti/launch"),
        "jwks_url": s.url("/.well-known/jwks.json"),
        "deep_linking_url": s.url("/lti/launch"),
        "canvas_config_url": s.url("/lti/config/canvas.json"),
        "registration_url": s.url("/lti/register"),
    }


@bp.get("/lti/config")
def config_page() -> str:
    return render_template("config.html", urls=tool_urls())


@bp.get("/lti/config/canvas.json")
def canvas_config() -> Response:
    s = runtime().settings
    launch_url = s.url("/lti/launch")
    domain = s.base_url.split("://", 1)[1].split("/", 1)[0]
    placements = [
        {
            "placement": "course_navigation",
            "message_type": "LtiResourceLinkRequest",
            "target_link_uri": launch_url,
            "text": "Mastery path",
            "enabled": True,
        },
        {
            "placement": "link_selection",
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": launch_url,
            "enabled": True,
        },
        {
            "placement": "assignment_selection",
            "message_type": "LtiDeepLinkingRequest",
            "target_link_uri": launch_url,
            "enabled": True,
        },
    ]
    return jsonify(
        {
            "title": "Mastery path",
            "description": "Mastery-based learning: competencies, unlock rules and "
            "competency scores in the gradebook.",
            "oidc_initiation_url": s.url("/lti/login"),
            "target_link_uri": launch_url,
            "public_jwk_url": s.url("/.well-known/jwks.json"),
            "scopes": [
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
            ],
            "custom_fields": {
                "canvas_course_id": "$Canvas.course.id",
                # Where a copied course came from (services/course_copy.py).
                HISTORY_PARAM: HISTORY_VARIABLE,
            },
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "domain": domain,
                    "tool_id": "lti-mastery-tool",
                    "privacy_level": "public",
                    "settings": {
                        "text": "Mastery path",
                        "placements": placements,
                    },
                }
            ],
        }
    )
