"""The pages of a launch by LTI platform storage (lti/storage_launch.py): the login's, the
launch's, the one that clears the stored copy after a cookie launch, and the way out when
neither a cookie nor storage works. Their script is static/js/platform_storage.js."""

from __future__ import annotations

import logging

from flask import make_response, render_template, request, session
from werkzeug.wrappers import Response

from lti_tool.lti.launch import ValidLaunch
from lti_tool.lti.login import LoginRedirect
from lti_tool.lti.message import origin
from lti_tool.lti.storage_launch import WithoutCookie, nonce_key, state_key
from lti_tool.lti.storage_launch import begin as begin_storage_launch
from lti_tool.models.platform import Registration
from lti_tool.web.context import request_db, request_store, runtime

log = logging.getLogger("lti_tool.launch")


def no_store(response: Response) -> Response:
    """A page of one launch (a state, a parked launch's id, storage keys): never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


def login_page(target: LoginRedirect) -> Response:
    """Stores state and nonce in the LMS's storage, then goes on to the auth endpoint."""
    page = render_template(
        "lti/storage_login.html",
        login=target,
        state_key=state_key(target.state),
        nonce_key=nonce_key(target.nonce),
    )
    return no_store(make_response(page))


def launch_page(blocked: WithoutCookie) -> Response:
    """The id_token checked now; the page then proves the state by the LMS's storage, or
    (no storage offered) says how to open the tool in a new window."""
    if not blocked.storage_target:
        log.warning(
            "refused %s %s from %s: state cookie missing and no platform storage "
            "(cookies blocked in the LMS frame)",
            request.method,
            request.path,
            request.remote_addr,
        )
        page = render_template("lti/cookies_blocked.html", launch_url=blocked.target_link_uri)
        return no_store(make_response(page, 400))
    rt = runtime()
    proof = begin_storage_launch(
        request.form, request_store(), rt.platform_keys, rt.settings, rt.login_states
    )
    page = render_template(
        "lti/storage_launch.html", proof=proof, launch_url=blocked.target_link_uri
    )
    return no_store(make_response(page))


def clear_on_landing(valid: ValidLaunch) -> None:
    """A launch proven by its cookie whose login also stored state and nonce in the LMS's
    storage (Canvas posts `lti_storage_target` back): the landing page clears those keys
    (base.html), or each launch would leave two behind (Canvas: 4,096 characters a tool). No
    page of its own: one more cross-site hop in the frame is one more thing to go wrong."""
    reg = request_db().get(Registration, valid.registration_id)
    auth_origin = (origin(reg.auth_login_url) if reg is not None else None) or ""
    session["lti_storage_clear"] = {
        "target": request.form["lti_storage_target"],
        "origin": auth_origin,
        "keys": [state_key(request.form["state"]), nonce_key(str(valid.message.claims["nonce"]))],
    }
