"""The rule templates page: a chain through the course, a module behind one competency, and a
choice between paths."""

from __future__ import annotations

from typing import Any

from flask import g, request

from lti_tool.ids import row_id
from lti_tool.lti.roles import TEACHER
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_templates as write
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, render, saved


def _templates_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    return render(
        "setup/templates.html",
        status,
        mods=svc.modules(db, g.context.id),
        comps=svc.competencies(db, g.context.id),
        errors=kw.pop("errors", {}),
        **kw,
    )


def _refused(refused: SetupRefused) -> tuple[str, int]:
    return _templates_page(422, errors={refused.field: refused.message})


@bp.get("/c/<launch_id>/setup/templates")
@requires(TEACHER)
def templates(launch_id: str) -> Page:
    return _templates_page()


@bp.post("/c/<launch_id>/setup/templates/chain")
@requires(TEACHER)
def template_chain(launch_id: str) -> Page:
    try:
        count = write.chain(request_db(), g.context.id, g.user.id)
    except SetupRefused as refused:
        return _refused(refused)
    return saved(
        f"Each of the {count} modules now unlocks when the one before it is mastered "
        "(or finished, where it has no competencies).",
        ".modules",
    )


@bp.post("/c/<launch_id>/setup/templates/competency")
@requires(TEACHER)
def template_competency(launch_id: str) -> Page:
    db = request_db()
    raw_m, raw_c = request.form.get("module") or "", request.form.get("competency") or ""
    m = db.get(Module, mid) if (mid := row_id(raw_m)) else None
    c = db.get(Competency, cid) if (cid := row_id(raw_c)) else None
    if m is None or m.context_id != g.context.id or c is None or c.context_id != g.context.id:
        return _templates_page(422, errors={"competency": "Pick a module and a competency."})
    keep = request.form.get("keep") == "on"
    try:
        level = write.behind_competency(db, m, c, g.user.id, keep)
    except SetupRefused as refused:
        return _refused(refused)
    return saved(
        f'"{m.title}" now unlocks when a student reaches {level} in "{c.title}".',
        ".rule",
        module_id=m.id,
    )


@bp.post("/c/<launch_id>/setup/templates/choice")
@requires(TEACHER)
def template_choice(launch_id: str) -> Page:
    options = [row_id(v) for v in request.form.getlist("options")]
    title = (request.form.get("title") or "").strip() or "Choose a path"
    try:
        choice, chosen = write.choice(request_db(), g.context.id, g.user.id, options, title)
    except SetupRefused as refused:
        return _refused(refused)
    names = ", ".join(f'"{m.title}"' for m in chosen)
    return saved(
        f'Made "{choice.title}": finishing any one of {names} completes it.',
        ".edit_module",
        module_id=choice.id,
    )
