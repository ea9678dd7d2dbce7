"""Setup pages for the course's calculation method and scale, with the live example."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from werkzeug.wrappers import Response

from lti_tool.ids import row_id
from lti_tool.lti.roles import TEACHER
from lti_tool.models.mastery import Competency
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_methods as calc
from lti_tool.services import setup_scales as scales
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, render, saved


@bp.get("/c/<launch_id>/setup/methods")
@requires(TEACHER)
def methods(launch_id: str) -> Page:
    return _methods_page()


def _methods_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    doc = kw.pop("method_doc", None) or calc.course_default_method(comps)
    series, series_error = calc.parse_series(request.values.get("series"))
    scale = svc.scale_of(db, comps[0]) if comps else svc.default_scale()
    used = {c.scale_id for c in comps}
    current_scale = next(
        (
            key
            for key in scales.SCALE_PRESETS
            if used == {scales.preset_scale_id(db, g.context.id, key)}
        ),
        None,
    )
    return render(
        "setup/methods.html",
        status,
        comps=comps,
        scale=scale,
        presets=scales.SCALE_PRESETS,
        current_scale=current_scale,
        scale_error=kw.pop("scale_error", ""),
        method_doc=doc,
        method_label=calc.method_label,
        example=calc.example(doc, scale, series),
        examples=calc.all_examples(scale, series),
        series=", ".join(f"{s:g}" for s in series),
        series_error=series_error,
        method_errors=kw.pop("method_errors", {}),
        **calc.page_context(),
        **kw,
    )


@bp.post("/c/<launch_id>/setup/methods")
@requires(TEACHER)
def set_default_method(launch_id: str) -> Page:
    doc, errors = calc.method_from_form(request.form)
    if errors:
        return _methods_page(422, method_doc=doc, method_errors=errors)
    try:
        count = calc.set_course_method(request_db(), g.context.id, g.user.id, doc)
    except SetupRefused as refused:
        return _methods_page(422, method_doc=doc, method_errors={"method": refused.message})
    return saved(
        f"Every competency ({count}) now uses {calc.method_label(doc)}.",
        ".methods",
    )


@bp.post("/c/<launch_id>/setup/scale")
@requires(TEACHER)
def set_scale(launch_id: str) -> Page:
    """One scale for the whole course, picked from the presets."""
    key = request.form.get("preset", "")
    try:
        name = scales.set_course_scale(request_db(), g.context.id, g.user.id, key)
    except SetupRefused as refused:
        return _methods_page(422, scale_error=refused.message)
    return saved(f"Every competency now uses the scale {name}.", ".methods")


@bp.get("/c/<launch_id>/setup/method-example.json")
@requires(TEACHER)
def method_example(launch_id: str) -> Response:
    """The live example, for the page's script to refresh as the teacher types."""
    db = request_db()
    doc, errors = calc.method_from_form(request.args)
    series, series_error = calc.parse_series(request.args.get("series"))
    scale = svc.default_scale()
    comp_id = request.args.get("competency", "")
    if (cid := row_id(comp_id)) is not None:
        comp = db.get(Competency, cid)
        if comp is not None and comp.context_id == g.context.id:
            scale = svc.scale_of(db, comp)
    if errors:
        message = next(iter(errors.values()))
        return jsonify(ok=False, errors=errors, text=f"No example until this is fixed: {message}")
    out = calc.example(doc, scale, series)
    if series_error:
        out["series_error"] = series_error
    return jsonify(errors={}, **out)
