"""Setup pages for competencies: the list with its add form and import, one competency's edit
page (its scale and method too), and its deletion."""

from __future__ import annotations

from typing import Any

from flask import g, request

from lti_tool.lti.roles import TEACHER
from lti_tool.models.mastery import DEFAULT_LEVELS, Competency
from lti_tool.services import competency_import as csv_import
from lti_tool.services import framework_formats as formats
from lti_tool.services import setup_competencies as write
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_methods as calc
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, own, render, saved
from lti_tool.web.setup.forms import calculation_fields, competency_fields


def competency_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    by_id = {c.id: c for c in comps}
    return render(
        "setup/competencies.html",
        status,
        comps=comps,
        by_id=by_id,
        form=kw.pop("form", {}),
        errors=kw.pop("errors", {}),
        problems=kw.pop("problems", []),
        **kw,
    )


@bp.get("/c/<launch_id>/setup/competencies")
@requires(TEACHER)
def competencies(launch_id: str) -> Page:
    return competency_page()


@bp.post("/c/<launch_id>/setup/competencies")
@requires(TEACHER)
def add_competency(launch_id: str) -> Page:
    db = request_db()
    values, errors = competency_fields(request.form, svc.competencies(db, g.context.id), None)
    if errors:
        return competency_page(422, form=request.form, errors=errors)
    try:
        write.add_competency(db, g.context.id, g.user.id, values)
    except SetupRefused as refused:
        return competency_page(422, form=request.form, errors={"form": refused.message})
    return saved(f'Added "{values.title}" ({values.code}).', ".competencies")


@bp.post("/c/<launch_id>/setup/competencies/import")
@requires(TEACHER)
def import_competencies(launch_id: str) -> Page:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    by_id = {c.id: c for c in comps}
    existing = {c.code: (by_id[c.parent_id].code if c.parent_id in by_id else None) for c in comps}
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read()
    else:
        data = (request.form.get("csv_text") or "").encode("utf-8")
    try:
        # The format comes from the content: a plain CSV, Canvas outcomes, Moodle or CASE.
        fmt, rows = formats.parse_any(data, existing)
    except csv_import.ImportRefused as refused:
        return competency_page(
            422, problems=[str(p) for p in refused.problems], csv_text=request.form.get("csv_text")
        )
    try:
        added, updated = write.import_competencies(db, g.context.id, g.user.id, rows)
    except SetupRefused as refused:
        return competency_page(422, problems=[f"Nothing was imported: {refused.message}"])
    source = "" if fmt == formats.PLAIN else f" from a {fmt}"
    return saved(
        f"Imported {len(rows)} competencies{source}: {added} added, {updated} updated.",
        ".competencies",
    )


def edit_page(comp: Competency, status: int = 200, **kw: Any) -> tuple[str, int]:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    scale = svc.scale_of(db, comp)
    doc = kw.pop("method_doc", None) or comp.method
    series, series_error = calc.parse_series(request.values.get("series"))
    return render(
        "setup/competency.html",
        status,
        comp=comp,
        comps=comps,
        parents=[c for c in comps if c.id != comp.id],
        scales=svc.scales(db, g.context.id),
        method_doc=doc,
        example=calc.example(doc, scale, series),
        series=", ".join(f"{s:g}" for s in series),
        series_error=series_error,
        default_levels=DEFAULT_LEVELS,
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
        method_errors=kw.pop("method_errors", {}),
        **calc.page_context(),
        **kw,
    )


@bp.route("/c/<launch_id>/setup/competencies/<int:comp_id>", methods=["GET", "POST"])
@requires(TEACHER)
def edit_competency(launch_id: str, comp_id: int) -> Page:
    comp: Competency = own(Competency, comp_id)
    if request.method == "GET":
        return edit_page(comp)
    db = request_db()
    values, errors = competency_fields(request.form, svc.competencies(db, g.context.id), comp)
    method_doc, method_errors = calc.method_from_form(request.form)
    calculation, calc_errors = calculation_fields(request.form, comp, method_doc)
    errors.update(calc_errors)
    if errors or method_errors:
        return edit_page(
            comp,
            422,
            form=request.form,
            errors=errors,
            method_errors=method_errors,
            method_doc=method_doc,
        )
    try:
        renamed = write.save_competency(db, comp, g.user.id, values, calculation)
    except SetupRefused as refused:
        return edit_page(
            comp, 422, form=request.form, errors={"form": refused.message}, method_doc=method_doc
        )
    note = f" {renamed} unlock rules now use the new code." if renamed else ""
    return saved(f'Saved "{comp.title}".{note}', ".edit_competency", comp_id=comp.id)


@bp.post("/c/<launch_id>/setup/competencies/<int:comp_id>/delete")
@requires(TEACHER)
def delete_competency(launch_id: str, comp_id: int) -> Page:
    comp: Competency = own(Competency, comp_id)
    if request.form.get("confirm") != "on":
        return edit_page(comp, 422, delete_errors=["Tick the box to confirm the deletion."])
    title = comp.title
    try:
        write.delete_competency(request_db(), comp, g.user.id)
    except SetupRefused as refused:
        return edit_page(comp, 409, delete_errors=refused.details or [refused.message])
    return saved(f'Deleted "{title}".', ".competencies")
