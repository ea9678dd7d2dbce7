"""Course setup for teachers: competencies, scale and method, modules, alignments, rules.

Thin views: read the form, change rows, let the engine check the whole course (a refusal rolls
the request back and shows the engine's message where the mistake is), recompute, redirect.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_tool import mastery as engine
from lti_tool.ids import row_id
from lti_tool.lti.roles import TEACHER
from lti_tool.mastery.methods import METHODS
from lti_tool.models.mastery import DEFAULT_LEVELS, Alignment, Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.runtime import runtime
from lti_tool.services import competency_import as csv_import
from lti_tool.services import framework_formats as formats
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_rules as rules
from lti_tool.web import error_summary
from lti_tool.web.binding import requires

bp = Blueprint("setup", __name__)

Page = str | tuple[str, int] | Response


def _url(endpoint: str, **kw: Any) -> str:
    return url_for(endpoint, launch_id=g.binding.launch_id, **kw)


def _render(template: str, status: int = 200, **kw: Any) -> tuple[str, int]:
    summary = error_summary.summary(template, kw) if status >= 400 else []
    return render_template(template, context=g.context, summary=summary, **kw), status


def _changed(what: str, message: str, endpoint: str, **kw: Any) -> Response:
    """Recompute so students see the change at their next click, then show where it landed."""
    svc.recompute(runtime().db(), g.context.id, g.user.id, what)
    flash(message)
    return redirect(_url(endpoint, **kw))


def _own(model: type[Any], pk: int) -> Any:
    row = runtime().db().get(model, pk)
    if row is None or row.context_id != g.context.id:
        abort(404)
    return row


# -- overview ----------------------------------------------------------------------------------


@bp.get("/c/<launch_id>/setup")
@requires(TEACHER)
def index(launch_id: str) -> Page:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    mods = svc.modules(db, g.context.id)
    links = svc.alignments(db, g.context.id)
    ruled = sum(1 for m in mods if m.unlock_rule and m.unlock_rule.get("rule") is not None)
    return _render(
        "setup/index.html",
        comps=comps,
        mods=mods,
        aligned=len(links),
        ruled=ruled,
        default_method=svc.method_label(svc.course_default_method(comps)),
        platform=_platform_kind(),
    )


def _platform_kind() -> str:
    from lti_tool.models.platform import Registration

    reg = runtime().db().get(Registration, g.binding.registration_id)
    issuer = (reg.issuer if reg else "").lower()
    if "canvas" in issuer or "instructure" in issuer:
        return "canvas"
    if "moodle" in issuer:
        return "moodle"
    return ""


# -- competencies ------------------------------------------------------------------------------


def _competency_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    by_id = {c.id: c for c in comps}
    return _render(
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
    return _competency_page()


def _competency_fields(
    form: Any, comps: list[Competency], editing: Competency | None
) -> tuple[dict[str, Any], dict[str, str]]:
    code = (form.get("code") or "").strip()
    title = (form.get("title") or "").strip()
    parent_code = (form.get("parent") or "").strip()
    description = (form.get("description") or "").strip()
    errors: dict[str, str] = {}
    by_code = {c.code: c for c in comps}
    if not code:
        errors["code"] = "Give the competency a short code, such as FRAC-1."
    elif len(code) > csv_import.MAX_CODE:
        errors["code"] = f"At most {csv_import.MAX_CODE} characters."
    elif code in by_code and by_code[code] is not editing:
        errors["code"] = f'"{code}" is already used by "{by_code[code].title}".'
    if not title:
        errors["title"] = "Give the competency a title students will read."
    elif len(title) > csv_import.MAX_TITLE:
        errors["title"] = f"At most {csv_import.MAX_TITLE} characters."
    parent = by_code.get(parent_code) if parent_code else None
    if parent_code and parent is None:
        errors["parent"] = f'No competency with code "{parent_code}".'
    elif parent is not None and editing is not None:
        seen, cur = set(), parent
        while cur is not None and cur.id not in seen:
            if cur.id == editing.id:
                errors["parent"] = "A competency cannot sit inside itself or its own children."
                break
            seen.add(cur.id)
            cur = next((c for c in comps if c.id == cur.parent_id), None)
    values = {"code": code, "title": title, "parent": parent, "description": description}
    return values, errors


@bp.post("/c/<launch_id>/setup/competencies")
@requires(TEACHER)
def add_competency(launch_id: str) -> Page:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    values, errors = _competency_fields(request.form, comps, None)
    if errors:
        return _competency_page(422, form=request.form, errors=errors)
    position = max((c.position for c in comps), default=0) + 1
    parent = values["parent"]
    db.add(
        Competency(
            context_id=g.context.id,
            code=values["code"],
            title=values["title"],
            description=values["description"],
            parent_id=parent.id if parent else None,
            method=svc.course_default_method(comps),
            position=position,
        )
    )
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _competency_page(422, form=request.form, errors={"form": problem})
    return _changed(
        "competency added",
        f'Added "{values["title"]}" ({values["code"]}).',
        ".competencies",
    )


@bp.post("/c/<launch_id>/setup/competencies/import")
@requires(TEACHER)
def import_competencies(launch_id: str) -> Page:
    db = runtime().db()
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
        return _competency_page(
            422, problems=[str(p) for p in refused.problems], csv_text=request.form.get("csv_text")
        )
    by_code = {c.code: c for c in comps}
    added = updated = 0
    position = max((c.position for c in comps), default=0)
    default_method = svc.course_default_method(comps)
    for row in rows:
        comp = by_code.get(row.code)
        if comp is None:
            position += 1
            comp = Competency(
                context_id=g.context.id,
                code=row.code,
                title=row.title,
                description=row.description or "",
                method=dict(default_method),
                position=position,
            )
            db.add(comp)
            by_code[row.code] = comp
            added += 1
        else:
            comp.title = row.title
            if row.description is not None:
                comp.description = row.description
            comp.updated_at = utcnow()
            updated += 1
    db.flush()
    for row in rows:
        parent = by_code.get(row.parent) if row.parent else None
        by_code[row.code].parent_id = parent.id if parent else None
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _competency_page(422, problems=[f"Nothing was imported: {problem}"])
    source = "" if fmt == formats.PLAIN else f" from a {fmt}"
    return _changed(
        "competencies imported",
        f"Imported {len(rows)} competencies{source}: {added} added, {updated} updated.",
        ".competencies",
    )


def _edit_competency_page(comp: Competency, status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    scale = svc.scale_of(db, comp)
    doc = kw.pop("method_doc", None) or comp.method
    series, series_error = svc.parse_series(request.values.get("series"))
    return _render(
        "setup/competency.html",
        status,
        comp=comp,
        comps=comps,
        parents=[c for c in comps if c.id != comp.id],
        scales=svc.scales(db, g.context.id),
        method_doc=doc,
        example=svc.example(doc, scale, series),
        series=", ".join(f"{s:g}" for s in series),
        series_error=series_error,
        default_levels=DEFAULT_LEVELS,
        form=kw.pop("form", None),
        errors=kw.pop("errors", {}),
        method_errors=kw.pop("method_errors", {}),
        **_method_context(),
        **kw,
    )


def _method_context() -> dict[str, Any]:
    return {
        "methods": list(METHODS),
        "method_names": svc.METHOD_NAMES,
        "method_help": svc.METHOD_HELP,
        "params": svc.PARAMS,
    }


@bp.route("/c/<launch_id>/setup/competencies/<int:comp_id>", methods=["GET", "POST"])
@requires(TEACHER)
def edit_competency(launch_id: str, comp_id: int) -> Page:
    comp: Competency = _own(Competency, comp_id)
    if request.method == "GET":
        return _edit_competency_page(comp)
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    values, errors = _competency_fields(request.form, comps, comp)
    method_doc, method_errors = svc.method_from_form(request.form)
    scale_id: int | None = None
    raw_scale = request.form.get("scale") or ""
    if raw_scale:
        scale_row = db.get(Scale, sid) if (sid := row_id(raw_scale)) else None
        if scale_row is None or scale_row.context_id != g.context.id:
            errors["scale"] = "Pick one of the scales."
        else:
            scale_id = scale_row.id
    try:
        min_evidence = int(request.form.get("min_evidence") or 1)
        if not 1 <= min_evidence <= 100:
            raise ValueError
    except ValueError:
        errors["min_evidence"] = "A whole number from 1 to 100."
        min_evidence = comp.min_evidence
    order_by = request.form.get("order_by") or "graded"
    if order_by not in ("graded", "submitted"):
        errors["order_by"] = "Pick graded or submitted."
    if errors or method_errors:
        return _edit_competency_page(
            comp,
            422,
            form=request.form,
            errors=errors,
            method_errors=method_errors,
            method_doc=method_doc,
        )
    old_code = comp.code
    renamed = 0
    if values["code"] != old_code:
        renamed = svc.rename_in_rules(db, g.context.id, old_code, values["code"])
    parent = values["parent"]
    comp.code, comp.title, comp.description = values["code"], values["title"], values["description"]
    comp.parent_id = parent.id if parent else None
    comp.scale_id = scale_id
    comp.method = method_doc
    comp.min_evidence, comp.order_by = min_evidence, order_by
    comp.updated_at = utcnow()
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        comp = _own(Competency, comp_id)
        return _edit_competency_page(
            comp, 422, form=request.form, errors={"form": problem}, method_doc=method_doc
        )
    note = f" {renamed} unlock rules now use the new code." if renamed else ""
    return _changed(
        "competency changed", f'Saved "{comp.title}".{note}', ".edit_competency", comp_id=comp.id
    )


@bp.post("/c/<launch_id>/setup/competencies/<int:comp_id>/delete")
@requires(TEACHER)
def delete_competency(launch_id: str, comp_id: int) -> Page:
    comp: Competency = _own(Competency, comp_id)
    db = runtime().db()
    if request.form.get("confirm") != "on":
        return _edit_competency_page(
            comp, 422, delete_errors=["Tick the box to confirm the deletion."]
        )
    refusals = svc.refusals_without(db, g.context.id, competency=comp.id)
    if refusals:
        return _edit_competency_page(
            comp,
            409,
            delete_errors=[
                f'"{comp.title}" cannot be deleted yet.',
                *refusals,
                "Change those rules first.",
            ],
        )
    title = comp.title
    db.delete(comp)
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _edit_competency_page(_own(Competency, comp_id), 409, delete_errors=[problem])
    return _changed("competency deleted", f'Deleted "{title}".', ".competencies")


# -- methods -----------------------------------------------------------------------------------


@bp.get("/c/<launch_id>/setup/methods")
@requires(TEACHER)
def methods(launch_id: str) -> Page:
    return _methods_page()


def _methods_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    doc = kw.pop("method_doc", None) or svc.course_default_method(comps)
    series, series_error = svc.parse_series(request.values.get("series"))
    scale = svc.scale_of(db, comps[0]) if comps else svc.default_scale()
    used = {c.scale_id for c in comps}
    current_scale = next(
        (
            key
            for key, (name, _levels) in svc.SCALE_PRESETS.items()
            if used == {svc.preset_scale_id(db, g.context.id, key)}
        ),
        None,
    )
    return _render(
        "setup/methods.html",
        status,
        comps=comps,
        scale=scale,
        presets=svc.SCALE_PRESETS,
        current_scale=current_scale,
        scale_error=kw.pop("scale_error", ""),
        method_doc=doc,
        method_label=svc.method_label,
        example=svc.example(doc, scale, series),
        examples=svc.all_examples(scale, series),
        series=", ".join(f"{s:g}" for s in series),
        series_error=series_error,
        method_errors=kw.pop("method_errors", {}),
        **_method_context(),
        **kw,
    )


@bp.post("/c/<launch_id>/setup/methods")
@requires(TEACHER)
def set_default_method(launch_id: str) -> Page:
    db = runtime().db()
    doc, errors = svc.method_from_form(request.form)
    if errors:
        return _methods_page(422, method_doc=doc, method_errors=errors)
    comps = svc.competencies(db, g.context.id)
    for c in comps:
        c.method = dict(doc)
        c.updated_at = utcnow()
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _methods_page(422, method_doc=doc, method_errors={"method": problem})
    return _changed(
        "course method changed",
        f"Every competency ({len(comps)}) now uses {svc.method_label(doc)}.",
        ".methods",
    )


@bp.post("/c/<launch_id>/setup/scale")
@requires(TEACHER)
def set_scale(launch_id: str) -> Page:
    """One scale for the whole course, picked from the presets."""
    key = request.form.get("preset", "")
    if key not in svc.SCALE_PRESETS:
        return _methods_page(422, scale_error="Pick one of the scales.")
    db = runtime().db()
    svc.use_scale_preset(db, g.context.id, key)
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _methods_page(422, scale_error=problem)
    name = svc.SCALE_PRESETS[key][0]
    return _changed(
        "course scale changed", f"Every competency now uses the scale {name}.", ".methods"
    )


@bp.get("/c/<launch_id>/setup/method-example.json")
@requires(TEACHER)
def method_example(launch_id: str) -> Response:
    """The live example, for the page's script to refresh as the teacher types."""
    db = runtime().db()
    doc, errors = svc.method_from_form(request.args)
    series, series_error = svc.parse_series(request.args.get("series"))
    scale = svc.default_scale()
    comp_id = request.args.get("competency", "")
    if (cid := row_id(comp_id)) is not None:
        comp = db.get(Competency, cid)
        if comp is not None and comp.context_id == g.context.id:
            scale = svc.scale_of(db, comp)
    if errors:
        message = next(iter(errors.values()))
        return jsonify(ok=False, errors=errors, text=f"No example until this is fixed: {message}")
    out = svc.example(doc, scale, series)
    if series_error:
        out["series_error"] = series_error
    return jsonify(errors={}, **out)


# -- modules -----------------------------------------------------------------------------------


def _modules_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    mods = svc.modules(db, g.context.id)
    cat = svc.catalog(db, g.context.id)
    sentences = {}
    for m in mods:
        try:
            sentences[m.id] = engine.render(
                engine.parse_unlock(_doc(m), cat, module=str(m.id)), cat
            )
        except engine.MasteryError as exc:
            sentences[m.id] = f"The rule needs fixing: {exc}"
    return _render(
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


def _module_fields(form: Any, module: Module | None) -> tuple[dict[str, Any], dict[str, str]]:
    db = runtime().db()
    errors: dict[str, str] = {}
    title = (form.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the module a title."
    elif len(title) > 300:
        errors["title"] = "At most 300 characters."
    values: dict[str, Any] = {
        "title": title,
        "description": (form.get("description") or "").strip(),
        "sticky": form.get("sticky") == "on",
    }
    raw_item = form.get("line_item") or ""
    if raw_item == "keep" and module is not None:
        values["lineitem_url"] = module.lineitem_url
    elif raw_item:
        item = db.get(CourseLineItem, iid) if (iid := row_id(raw_item)) else None
        if item is None or item.context_id != g.context.id:
            errors["line_item"] = "Pick one of the course's gradebook columns."
        else:
            values["lineitem_url"] = item.url
    else:
        values["lineitem_url"] = None
    for name, low, high in (("complete_at_percent", 0, 100), ("score_maximum", 0.01, 10000)):
        raw = (form.get(name) or "").strip()
        if not raw:
            values[name] = None
            continue
        try:
            number = float(raw)
        except ValueError:
            errors[name] = f'"{raw}" is not a number.'
            continue
        if not low <= number <= high:
            errors[name] = f"A number from {low:g} to {high:g}."
        values[name] = number
    own = {m.id for m in svc.modules(db, g.context.id)}
    choice = [i for v in form.getlist("choice_of") if (i := row_id(v)) in own]
    if module is not None and module.id in choice:
        errors["choice_of"] = "A choice cannot offer itself."
    if len(choice) == 1:
        errors["choice_of"] = "A choice needs at least two modules to choose from."
    values["choice_of"] = choice
    return values, errors


def _apply_module(m: Module, values: dict[str, Any]) -> None:
    m.title, m.description, m.sticky = values["title"], values["description"], values["sticky"]
    m.lineitem_url = values["lineitem_url"]
    m.complete_at_percent = values["complete_at_percent"]
    m.score_maximum = values["score_maximum"]
    m.choice_of = values["choice_of"]
    if m.unlock_rule is not None or m.sticky:
        m.unlock_rule = {
            "mode": "sticky" if m.sticky else "reevaluated",
            "rule": (m.unlock_rule or {}).get("rule"),
        }


@bp.post("/c/<launch_id>/setup/modules")
@requires(TEACHER)
def add_module(launch_id: str) -> Page:
    db = runtime().db()
    values, errors = _module_fields(request.form, None)
    if errors:
        return _modules_page(422, form=request.form, errors=errors)
    position = db.scalar(
        select(func.coalesce(func.max(Module.position), 0)).where(Module.context_id == g.context.id)
    )
    m = Module(context_id=g.context.id, position=(position or 0) + 1)
    _apply_module(m, values)
    db.add(m)
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _modules_page(422, form=request.form, errors={"form": problem})
    return _changed("module added", f'Added the module "{m.title}".', ".modules")


def _module_page(m: Module, status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    items = svc.line_items(db, g.context.id)
    return _render(
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
    m: Module = _own(Module, module_id)
    if request.method == "GET":
        return _module_page(m)
    db = runtime().db()
    values, errors = _module_fields(request.form, m)
    if errors:
        return _module_page(m, 422, form=request.form, errors=errors)
    _apply_module(m, values)
    problem = svc.check(db, g.context.id, m.id)
    if problem:
        db.rollback()
        return _module_page(
            _own(Module, module_id), 422, form=request.form, errors={"form": problem}
        )
    return _changed("module changed", f'Saved "{m.title}".', ".edit_module", module_id=m.id)


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/move")
@requires(TEACHER)
def move_module(launch_id: str, module_id: int) -> Page:
    m: Module = _own(Module, module_id)
    mods = svc.modules(runtime().db(), g.context.id)
    i = mods.index(m)
    j = i - 1 if request.form.get("direction") == "up" else i + 1
    if 0 <= j < len(mods):
        mods[i], mods[j] = mods[j], mods[i]
    for position, row in enumerate(mods, start=1):
        row.position = position
    return _changed(
        "module moved",
        f'"{m.title}" is now number {mods.index(m) + 1}.',
        ".modules",
        _anchor=f"module-{m.id}",
    )


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/delete")
@requires(TEACHER)
def delete_module(launch_id: str, module_id: int) -> Page:
    m: Module = _own(Module, module_id)
    db = runtime().db()
    if request.form.get("confirm") != "on":
        return _module_page(m, 422, delete_errors=["Tick the box to confirm the deletion."])
    refusals = svc.refusals_without(db, g.context.id, module=m.id)
    if refusals:
        return _module_page(
            m,
            409,
            delete_errors=[f'"{m.title}" cannot be deleted yet.', *refusals, "Change those first."],
        )
    title = m.title
    db.delete(m)
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _module_page(_own(Module, module_id), 409, delete_errors=[problem])
    return _changed("module deleted", f'Deleted the module "{title}".', ".modules")


# -- unlock rules ------------------------------------------------------------------------------


def _draft(m: Module) -> tuple[Any, bool, str | None]:
    """(rule draft, sticky, problem) from the posted builder or JSON, or the saved rule."""
    form = request.form
    defaults = svc.builder_defaults(runtime().db(), g.context.id, m.id)
    if request.method != "POST":
        return (m.unlock_rule or {}).get("rule"), m.sticky, None
    if form.get("source") == "json":
        text = form.get("rule_json") or ""
        try:
            doc = json.loads(text) if text.strip() else None
        except ValueError as exc:
            return None, m.sticky, f"not valid JSON ({exc})"
        except RecursionError:
            return None, m.sticky, "not valid JSON (nested deeper than the JSON reader allows)"
        if isinstance(doc, dict) and ("rule" in doc or "mode" in doc):
            return doc.get("rule"), doc.get("mode") == "sticky", None
        return doc, m.sticky, None
    draft = rules.from_form(form, defaults)
    op = form.get("op") or ""
    if op:
        draft = rules.apply_op(draft, op, form, defaults)
    return draft, form.get("sticky") == "on", None


def _judge(m: Module, draft: Any, sticky: bool) -> dict[str, Any]:
    """The engine's reading of a draft: its sentence, or where each mistake is."""
    cat = svc.catalog(runtime().db(), g.context.id)
    doc = {"mode": "sticky" if sticky else "reevaluated", "rule": draft}
    out: dict[str, Any] = {"doc": doc, "errors": {}, "top": [], "sentence": None, "outline": []}
    try:
        unlock = engine.parse_unlock(doc, cat, module=str(m.id))
    except engine.RuleError as exc:
        node, _field = rules.locate(exc.path)
        if node is not None and node in rules.paths(draft):
            out["errors"][node] = str(exc)
        else:
            out["top"].append(str(exc))
        return out
    out["sentence"] = engine.render(unlock, cat)
    out["outline"] = engine.render_outline(unlock.rule, cat)
    return out


def _rule_page(
    m: Module, draft: Any, sticky: bool, judged: dict[str, Any], status: int = 200, **kw: Any
) -> tuple[str, int]:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    levels = {c.code: [(lv.name, lv.name) for lv in svc.scale_of(db, c).levels] for c in comps}
    others = [o for o in svc.modules(db, g.context.id) if o.id != m.id]
    items = svc.line_items(db, g.context.id)
    return _render(
        "setup/rule.html",
        status,
        m=m,
        draft=draft,
        sticky=sticky,
        judged=judged,
        comps=comps,
        levels=levels,
        default_levels=[(lv["name"], lv["name"]) for lv in DEFAULT_LEVELS],
        others=others,
        items=items,
        module_options=[(str(o.id), o.title) for o in others],
        comp_options=[(c.code, f"{c.code} {c.title}") for c in comps],
        item_options=[(str(li.id), li.label or li.url) for li in items],
        kind_labels=rules.KIND_LABELS,
        groups=rules.GROUPS,
        leaves=rules.LEAVES,
        kind_of=rules.kind_of,
        children=rules.children,
        iso_to_local=rules.iso_to_local,
        rule_json=json.dumps(judged["doc"], indent=2, ensure_ascii=False),
        **kw,
    )


@bp.route("/c/<launch_id>/setup/modules/<int:module_id>/rule", methods=["GET", "POST"])
@requires(TEACHER)
def rule(launch_id: str, module_id: int) -> Page:
    m: Module = _own(Module, module_id)
    draft, sticky, problem = _draft(m)
    judged = _judge(m, draft, sticky)
    if problem:
        judged["top"].insert(0, problem)
        return _rule_page(m, draft, sticky, judged, 422)
    if request.method == "GET" or request.form.get("action") != "save" or request.form.get("op"):
        return _rule_page(m, draft, sticky, judged)
    if judged["errors"] or judged["top"]:
        return _rule_page(m, draft, sticky, judged, 422)
    db = runtime().db()
    m.unlock_rule = judged["doc"] if draft is not None or sticky else None
    m.sticky = sticky
    refusal = svc.check(db, g.context.id, m.id)
    if refusal:
        db.rollback()
        m = _own(Module, module_id)
        node, _field = rules.locate(refusal.split(": ", 1)[0])
        if node is not None and node in rules.paths(draft):
            judged["errors"][node] = refusal
        else:
            judged["top"].append(refusal)
        judged["sentence"] = None
        return _rule_page(m, draft, sticky, judged, 422)
    return _changed(
        "unlock rule changed",
        f'Saved the rule of "{m.title}": {judged["sentence"]}.',
        ".rule",
        module_id=m.id,
    )


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/rule/preview.json")
@requires(TEACHER)
def rule_preview(launch_id: str, module_id: int) -> Response:
    """The builder's live sentence and mistakes, for the page's script (nothing is saved)."""
    m: Module = _own(Module, module_id)
    draft, sticky, problem = _draft(m)
    judged = _judge(m, draft, sticky)
    if problem:
        judged["top"].insert(0, problem)
    return jsonify(
        sentence=judged["sentence"],
        outline=judged["outline"],
        errors=judged["errors"],
        top=judged["top"],
        json=json.dumps(judged["doc"], indent=2, ensure_ascii=False),
    )


# -- alignments --------------------------------------------------------------------------------


def _alignments_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    current = {
        (("m", a.module_id) if a.module_id else ("li", a.line_item_id), a.competency_id): a.weight
        for a in svc.alignments(db, g.context.id)
    }
    return _render(
        "setup/alignments.html",
        status,
        comps=comps,
        parents={c.parent_id for c in comps if c.parent_id},
        mods=svc.modules(db, g.context.id),
        items=svc.line_items(db, g.context.id),
        current=current,
        errors=kw.pop("errors", {}),
        **kw,
    )


@bp.get("/c/<launch_id>/setup/alignments")
@requires(TEACHER)
def alignments(launch_id: str) -> Page:
    return _alignments_page()


@bp.post("/c/<launch_id>/setup/alignments")
@requires(TEACHER)
def save_alignments(launch_id: str) -> Page:
    db = runtime().db()
    comps = svc.competencies(db, g.context.id)
    sources = [("m", m.id, m.title) for m in svc.modules(db, g.context.id)] + [
        ("li", li.id, li.label or li.url) for li in svc.line_items(db, g.context.id)
    ]
    wanted: dict[tuple[tuple[str, int], int], float] = {}
    errors: dict[str, str] = {}
    for kind, sid, label in sources:
        for c in comps:
            name = f"{kind}-{sid}-{c.id}"
            if request.form.get(name) != "on":
                continue
            raw = (request.form.get(f"{name}.w") or "1").strip()
            try:
                weight = float(raw)
                if not 0 < weight <= 100:
                    raise ValueError
            except ValueError:
                errors[name] = (
                    f'Weight of "{c.title}" for "{label}": "{raw}" is not a number more than 0 '
                    "and at most 100."
                )
                continue
            wanted[((kind, sid), c.id)] = weight
    if errors:
        return _alignments_page(422, errors=errors)
    existing = {
        (("m", a.module_id) if a.module_id else ("li", a.line_item_id), a.competency_id): a
        for a in svc.alignments(db, g.context.id)
    }
    for key, row in existing.items():
        if key not in wanted:
            db.delete(row)
        elif row.weight != wanted[key]:
            row.weight = wanted[key]
    for key, weight in wanted.items():
        if key in existing:
            continue
        (kind, sid), cid = key
        db.add(
            Alignment(
                context_id=g.context.id,
                competency_id=cid,
                module_id=sid if kind == "m" else None,
                line_item_id=sid if kind == "li" else None,
                weight=weight,
            )
        )
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _alignments_page(422, errors={"form": problem})
    return _changed("alignments changed", f"Saved {len(wanted)} alignments.", ".alignments")


# -- templates ---------------------------------------------------------------------------------


def _templates_page(status: int = 200, **kw: Any) -> tuple[str, int]:
    db = runtime().db()
    return _render(
        "setup/templates.html",
        status,
        mods=svc.modules(db, g.context.id),
        comps=svc.competencies(db, g.context.id),
        errors=kw.pop("errors", {}),
        **kw,
    )


@bp.get("/c/<launch_id>/setup/templates")
@requires(TEACHER)
def templates(launch_id: str) -> Page:
    return _templates_page()


@bp.post("/c/<launch_id>/setup/templates/chain")
@requires(TEACHER)
def template_chain(launch_id: str) -> Page:
    db = runtime().db()
    mods = svc.modules(db, g.context.id)
    if len(mods) < 2:
        return _templates_page(422, errors={"chain": "Make at least two modules first."})
    choices = {str(m.id): [str(o) for o in m.choice_of or []] for m in mods if m.choice_of}
    docs = rules.chain_rules([str(m.id) for m in mods], choices, svc.can_master(db, g.context.id))
    for m in mods:
        doc = docs.get(str(m.id))
        if doc is None:
            continue
        m.unlock_rule = {**doc, "mode": "sticky" if m.sticky else "reevaluated"}
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _templates_page(422, errors={"chain": problem})
    return _changed(
        "template: chain",
        f"Each of the {len(mods)} modules now unlocks when the one before it is mastered "
        "(or finished, where it has no competencies).",
        ".modules",
    )


@bp.post("/c/<launch_id>/setup/templates/competency")
@requires(TEACHER)
def template_competency(launch_id: str) -> Page:
    db = runtime().db()
    raw_m, raw_c = request.form.get("module") or "", request.form.get("competency") or ""
    m = db.get(Module, mid) if (mid := row_id(raw_m)) else None
    c = db.get(Competency, cid) if (cid := row_id(raw_c)) else None
    if m is None or m.context_id != g.context.id or c is None or c.context_id != g.context.id:
        return _templates_page(422, errors={"competency": "Pick a module and a competency."})
    level = svc.scale_of(db, c).mastery_level.name
    leaf = {"competency": c.code, "level": level}
    old = (m.unlock_rule or {}).get("rule")
    rule_ = {"all": [old, leaf]} if old is not None and request.form.get("keep") == "on" else leaf
    m.unlock_rule = {"mode": "sticky" if m.sticky else "reevaluated", "rule": rule_}
    problem = svc.check(db, g.context.id, m.id)
    if problem:
        db.rollback()
        return _templates_page(422, errors={"competency": problem})
    return _changed(
        "template: competency",
        f'"{m.title}" now unlocks when a student reaches {level} in "{c.title}".',
        ".rule",
        module_id=m.id,
    )


@bp.post("/c/<launch_id>/setup/templates/choice")
@requires(TEACHER)
def template_choice(launch_id: str) -> Page:
    db = runtime().db()
    mods = {m.id: m for m in svc.modules(db, g.context.id)}
    chosen = [i for v in request.form.getlist("options") if (i := row_id(v)) in mods]
    title = (request.form.get("title") or "").strip() or "Choose a path"
    if len(chosen) < 2:
        return _templates_page(422, errors={"choice": "Pick at least two modules to choose from."})
    position = max(mods[i].position for i in chosen)
    for m in mods.values():
        if m.position > position:
            m.position += 1
    choice = Module(
        context_id=g.context.id, title=title[:300], position=position + 1, choice_of=chosen
    )
    db.add(choice)
    problem = svc.check(db, g.context.id)
    if problem:
        db.rollback()
        return _templates_page(422, errors={"choice": problem})
    names = ", ".join(f'"{mods[i].title}"' for i in chosen)
    return _changed(
        "template: choice",
        f'Made "{choice.title}": finishing any one of {names} completes it.',
        ".edit_module",
        module_id=choice.id,
    )
