"""Deep linking: the teacher picks modules in the LMS's "add content" dialog, and the tool
answers with a signed LtiDeepLinkingResponse form-posted back to the platform."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from lti_tool import keys
from lti_tool.ids import row_id
from lti_tool.lti.deep_linking import PlacementError, resource_link_item, response_jwt
from lti_tool.lti.message import DL
from lti_tool.lti.roles import TEACHER
from lti_tool.models.platform import Registration
from lti_tool.services.placements import never_placed, record_placed
from lti_tool.services.setup_modules import ModuleValues, add_module
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web import launch_token
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db, request_store, runtime
from lti_tool.web.pages import course_modules

bp = Blueprint("placement", __name__)


def _request_claims(launch_id: str) -> dict | None:
    return request_store().get(launch_token.store_key(launch_id))  # type: ignore[no-any-return]


@bp.get("/c/<launch_id>/place")
@requires(TEACHER)
def picker(launch_id: str) -> str | tuple[str, int]:
    claims = _request_claims(launch_id)
    if claims is None:
        return render_template(
            "error.html",
            title="This placement is finished",
            explanation="The modules were already sent to your LMS, or the dialog expired. "
            "Open the LMS's add-content dialog again to place more.",
            status=410,
        ), 410
    settings = claims.get(DL + "deep_linking_settings") or {}
    multiple = settings.get("accept_multiple", True) is not False
    modules = course_modules(g.context.id)
    return render_template(
        "teacher/place.html",
        context=g.context,
        modules=modules,
        multiple=multiple,
        # Ticked from the start: the modules never placed yet, which is what a teacher adds.
        preselected=never_placed(request_db(), modules) if multiple else set(),
        error=request.args.get("error"),
    )


@bp.post("/c/<launch_id>/place/new-module")
@requires(TEACHER)
def new_module(launch_id: str) -> Response:
    title = (request.form.get("title") or "").strip()
    if not title:
        return redirect(
            url_for(".picker", launch_id=launch_id, error="Give the new module a title.")
        )
    graded = request.form.get("graded") == "on"
    try:
        points = float(request.form.get("points") or 100)
    except ValueError:
        return redirect(url_for(".picker", launch_id=launch_id, error="Points must be a number."))
    if graded and not 0 < points <= 10000:
        return redirect(
            url_for(".picker", launch_id=launch_id, error="Points must be between 0 and 10000.")
        )
    values = ModuleValues(
        title=title[:300],
        description=(request.form.get("description") or "").strip(),
        score_maximum=points if graded else None,
    )
    try:
        add_module(request_db(), g.context.id, g.user.id, values)
    except SetupRefused as refused:
        return redirect(url_for(".picker", launch_id=launch_id, error=refused.message))
    return redirect(url_for(".picker", launch_id=launch_id))


@bp.post("/c/<launch_id>/place")
@requires(TEACHER)
def send(launch_id: str) -> Response | str:
    rt = runtime()
    db = request_db()
    claims = _request_claims(launch_id)
    if claims is None:
        return redirect(url_for(".picker", launch_id=launch_id))
    ids = [i for v in request.form.getlist("module") if (i := row_id(v)) is not None]
    chosen = [
        m
        for m in course_modules(g.context.id)
        if m.id in ids  # only this course's modules, whatever was posted
    ]
    if not chosen:
        return redirect(url_for(".picker", launch_id=launch_id, error="Pick at least one module."))
    reg = db.get(Registration, g.binding.registration_id)
    assert reg is not None
    launch_url = rt.settings.url("/lti/launch")
    items = [
        resource_link_item(m.title, launch_url, m.id, m.description, m.score_maximum)
        for m in chosen
    ]
    kid, private = keys.signing_key(db, rt.settings.key_encryption_key)
    try:
        token = response_jwt(claims, reg.client_id, kid, private, items)
    except PlacementError as exc:
        return redirect(url_for(".picker", launch_id=launch_id, error=str(exc)))
    request_store().delete(launch_token.store_key(launch_id))  # one answer per dialog
    record_placed(db, g.context.id, g.user.id, chosen)
    return_url = claims[DL + "deep_linking_settings"]["deep_link_return_url"]
    return render_template(
        "teacher/send_placement.html", action=return_url, jwt=token, count=len(items)
    )
