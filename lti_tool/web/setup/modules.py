"""Setup pages for modules: the list with its add form, one module's edit page, moving and
deleting."""

from __future__ import annotations

from typing import Any

from flask import g, request

from lti_tool import mastery
from lti_tool.lti.roles import TEACHER
from lti_tool.models.modules import Module
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_modules as write
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, own, render, saved
from lti_tool.web.setup.forms import module_fields


def _modules_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    mods = svc.modules(db, g.context.id)
    cat = svc.catalog(db, g.context.id)
    sentences = {}
    for m in mods:
        try:
            sentences[m.id] = mastery.render(
                mastery.parse_unlock(_doc(m), cat, module=str(m.id)), cat
            )
        except mastery.MasteryError as exc:
            sentences[m.id] = f"The rule needs fixing: {exc}"
    return render(
        "setup/modules.html",
        status,
        mods=mods,
        sentences=sentences,
        titles={m.id: m.title for m in mods},
        items=svc.line_items(db, g.context.id),
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
        **kw,
    )


def _doc(m: Module) -> dict[str, Any] | None:
    doc = dict(m.unlock_rule) if m.unlock_rule else None
    if m.sticky:
        doc = {**(doc or {"rule": None}), "mode": "sticky"}
    return doc


@bp.get("/c/<launch_id>/setup/modules")
@requires(TEACHER)
def modules(launch_id: str) -> Page:
    return _modules_page()


@bp.post("/c/<launch_id>/setup/modules")
@requires(TEACHER)
def add_module(launch_id: str) -> Page:
    values, errors = module_fields(request.form, None)
    if errors:
        return _modules_page(422, form=request.form, errors=errors)
    try:
        m = write.add_module(request_db(), g.context.id, g.user.id, values)
    except SetupRefused as refused:
        return _modules_page(422, form=request.form, errors={"form": refused.message})
    return saved(f'Added the module "{m.title}".', ".modules")


def _module_page(m: Module, status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    items = svc.line_items(db, g.context.id)
    return render(
        "setup/module.html",
        status,
        m=m,
        others=[o for o in svc.modules(db, g.context.id) if o.id != m.id],
        items=items,
        own_column=bool(m.lineitem_url) and m.lineitem_url not in {i.url for i in items},
        item_of_url={i.url: i.id for i in items},
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
        **kw,
    )


@bp.route("/c/<launch_id>/setup/modules/<int:module_id>", methods=["GET", "POST"])
@requires(TEACHER)
def edit_module(launch_id: str, module_id: int) -> Page:
    m: Module = own(Module, module_id)
    if request.method == "GET":
        return _module_page(m)
    values, errors = module_fields(request.form, m)
    if errors:
        return _module_page(m, 422, form=request.form, errors=errors)
    try:
        write.save_module(request_db(), m, g.user.id, values)
    except SetupRefused as refused:
        return _module_page(m, 422, form=request.form, errors={"form": refused.message})
    return saved(f'Saved "{m.title}".', ".edit_module", module_id=m.id)


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/move")
@requires(TEACHER)
def move_module(launch_id: str, module_id: int) -> Page:
    m: Module = own(Module, module_id)
    up = request.form.get("direction") == "up"
    number = write.move_module(request_db(), m, g.user.id, up)
    return saved(f'"{m.title}" is now number {number}.', ".modules", _anchor=f"module-{m.id}")


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/delete")
@requires(TEACHER)
def delete_module(launch_id: str, module_id: int) -> Page:
    m: Module = own(Module, module_id)
    if request.form.get("confirm") != "on":
        return _module_page(m, 422, delete_errors=["Tick the box to confirm the deletion."])
    title = m.title
    try:
        write.delete_module(request_db(), m, g.user.id)
    except SetupRefused as refused:
        return _module_page(m, 409, delete_errors=refused.details or [refused.message])
    return saved(f'Deleted the module "{title}".', ".modules")
