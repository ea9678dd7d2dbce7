"""Setup forms read into values for the services, with a message next to each field a teacher
must fix (the services then check the course as a whole)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import g

from lti_tool.ids import row_id
from lti_tool.mastery.graph import parent_cycle
from lti_tool.models.mastery import Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module
from lti_tool.services import competency_import as csv_import
from lti_tool.services import setup_course as svc
from lti_tool.services.setup_competencies import Calculation, CompetencyValues
from lti_tool.services.setup_modules import ModuleValues
from lti_tool.web.context import request_db

Errors = dict[str, str]


def competency_fields(
    form: Any, comps: list[Competency], editing: Competency | None
) -> tuple[CompetencyValues, Errors]:
    code = (form.get("code") or "").strip()
    title = (form.get("title") or "").strip()
    parent_code = (form.get("parent") or "").strip()
    description = (form.get("description") or "").strip()
    errors: Errors = {}
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
        code_of = {c.id: c.code for c in comps}
        parent_of = {c.code: code_of.get(c.parent_id or 0) for c in comps}
        parent_of[editing.code] = parent.code
        if parent_cycle(editing.code, parent_of):
            errors["parent"] = "A competency cannot sit inside itself or its own children."
    values = CompetencyValues(code, title, description, parent.id if parent else None)
    return values, errors


def calculation_fields(
    form: Any, comp: Competency, method: dict[str, Any]
) -> tuple[Calculation, Errors]:
    """The competency's scale, minimum evidence and order (its method is read beside them)."""
    errors: Errors = {}
    scale_id: int | None = None
    raw_scale = form.get("scale") or ""
    if raw_scale:
        scale_row = request_db().get(Scale, sid) if (sid := row_id(raw_scale)) else None
        if scale_row is None or scale_row.context_id != g.context.id:
            errors["scale"] = "Pick one of the scales."
        else:
            scale_id = scale_row.id
    try:
        min_evidence = int(form.get("min_evidence") or 1)
        if not 1 <= min_evidence <= 100:
            raise ValueError
    except ValueError:
        errors["min_evidence"] = "A whole number from 1 to 100."
        min_evidence = comp.min_evidence
    order_by = form.get("order_by") or "graded"
    if order_by not in ("graded", "submitted"):
        errors["order_by"] = "Pick graded or submitted."
    return Calculation(scale_id, method, min_evidence, order_by), errors


def web_address(text: str) -> bool:
    """An http(s) address with a host and no spaces, at most 1,000 characters."""
    if len(text) > 1000 or any(c.isspace() for c in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def module_fields(form: Any, module: Module | None) -> tuple[ModuleValues, Errors]:
    db = request_db()
    errors: Errors = {}
    title = (form.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the module a title."
    elif len(title) > 300:
        errors["title"] = "At most 300 characters."
    lineitem_url: str | None = None
    raw_item = form.get("line_item") or ""
    if raw_item == "keep" and module is not None:
        lineitem_url = module.lineitem_url
    elif raw_item:
        item = db.get(CourseLineItem, iid) if (iid := row_id(raw_item)) else None
        if item is None or item.context_id != g.context.id:
            errors["line_item"] = "Pick one of the course's gradebook columns."
        else:
            lineitem_url = item.url
    numbers: dict[str, float | None] = {}
    for name, low, high in (("complete_at_percent", 0, 100), ("score_maximum", 0.01, 10000)):
        raw = (form.get(name) or "").strip()
        numbers[name] = None
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            errors[name] = f'"{raw}" is not a number.'
            continue
        if not low <= number <= high:
            errors[name] = f"A number from {low:g} to {high:g}."
        numbers[name] = number
    own = {m.id for m in svc.modules(db, g.context.id)}
    choice = [i for v in form.getlist("choice_of") if (i := row_id(v)) in own]
    if module is not None and module.id in choice:
        errors["choice_of"] = "A choice cannot offer itself."
    if len(choice) == 1:
        errors["choice_of"] = "A choice needs at least two modules to choose from."
    target_title = (form.get("lms_target_title") or "").strip()
    target_url = (form.get("lms_target_url") or "").strip()
    if len(target_title) > 300:
        errors["lms_target_title"] = "At most 300 characters."
    if target_url and not web_address(target_url):
        errors["lms_target_url"] = (
            "An address starting with https:// or http://, e.g. the quiz's address in your LMS."
        )
    elif target_url and not target_title:
        errors["lms_target_title"] = "Give it a name students recognise, e.g. “Quiz 3”."
    values = ModuleValues(
        title=title,
        description=(form.get("description") or "").strip(),
        content=(form.get("content") or "").strip(),
        sticky=form.get("sticky") == "on",
        lineitem_url=lineitem_url,
        complete_at_percent=numbers["complete_at_percent"],
        score_maximum=numbers["score_maximum"],
        choice_of=choice,
        gates_lms=form.get("gates_lms") == "on",
        lms_target_title=target_title,
        lms_target_url=target_url,
    )
    return values, errors
