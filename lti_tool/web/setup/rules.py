"""The unlock rule page: the builder (or JSON) read into a draft, the engine's sentence for it
or where each mistake is, live as the teacher edits, and the rule saved."""

from __future__ import annotations

import json
from typing import Any

from flask import g, jsonify, request
from werkzeug.wrappers import Response

from lti_tool import mastery
from lti_tool.lti.roles import TEACHER
from lti_tool.models.mastery import DEFAULT_LEVELS
from lti_tool.models.modules import Module
from lti_tool.services import setup_course as svc
from lti_tool.services import setup_rules as rules
from lti_tool.services.setup_modules import save_rule
from lti_tool.services.setup_tx import SetupRefused
from lti_tool.web.binding import requires
from lti_tool.web.context import request_db
from lti_tool.web.setup.common import Page, bp, own, render, saved


def _draft(m: Module) -> tuple[Any, bool, str | None]:
    """(rule draft, sticky, problem) from the posted builder or JSON, or the saved rule."""
    form = request.form
    defaults = svc.builder_defaults(request_db(), g.context.id, m.id)
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


def _place(judged: dict[str, Any], draft: Any, path: str, message: str) -> None:
    """A mistake next to the builder node its path names, else at the top."""
    node, _field = rules.locate(path)
    if node is not None and node in rules.paths(draft):
        judged["errors"][node] = message
    else:
        judged["top"].append(message)


def _read(m: Module) -> tuple[Any, bool, dict[str, Any], bool]:
    """(draft, sticky, the engine's reading, whether the form itself could not be read)."""
    draft, sticky, problem = _draft(m)
    judged = _judge(m, draft, sticky)
    if problem:
        judged["top"].insert(0, problem)
    return draft, sticky, judged, problem is not None


def _judge(m: Module, draft: Any, sticky: bool) -> dict[str, Any]:
    """The engine's reading of a draft: its sentence, or where each mistake is."""
    cat = svc.catalog(request_db(), g.context.id)
    doc = {"mode": "sticky" if sticky else "reevaluated", "rule": draft}
    out: dict[str, Any] = {"doc": doc, "errors": {}, "top": [], "sentence": None, "outline": []}
    try:
        unlock = mastery.parse_unlock(doc, cat, module=str(m.id))
    except mastery.RuleError as exc:
        _place(out, draft, exc.path, str(exc))
        return out
    out["sentence"] = mastery.render(unlock, cat)
    out["outline"] = mastery.render_outline(unlock.rule, cat)
    return out


def _rule_page(
    m: Module, draft: Any, sticky: bool, judged: dict[str, Any], status: int = 200, **kw: Any
) -> tuple[str, int]:
    db = request_db()
    comps = svc.competencies(db, g.context.id)
    levels = {c.code: [(lv.name, lv.name) for lv in svc.scale_of(db, c).levels] for c in comps}
    others = [o for o in svc.modules(db, g.context.id) if o.id != m.id]
    items = svc.line_items(db, g.context.id)
    return render(
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
    m: Module = own(Module, module_id)
    draft, sticky, judged, unreadable = _read(m)
    if unreadable:
        return _rule_page(m, draft, sticky, judged, 422)
    if request.method == "GET" or request.form.get("action") != "save" or request.form.get("op"):
        return _rule_page(m, draft, sticky, judged)
    if judged["errors"] or judged["top"]:
        return _rule_page(m, draft, sticky, judged, 422)
    doc = judged["doc"] if draft is not None or sticky else None
    try:
        save_rule(request_db(), m, g.user.id, doc, sticky)
    except SetupRefused as refused:
        _place(judged, draft, refused.message.split(": ", 1)[0], refused.message)
        judged["sentence"] = None
        return _rule_page(m, draft, sticky, judged, 422)
    return saved(f'Saved the rule of "{m.title}": {judged["sentence"]}.', ".rule", module_id=m.id)


@bp.post("/c/<launch_id>/setup/modules/<int:module_id>/rule/preview.json")
@requires(TEACHER)
def rule_preview(launch_id: str, module_id: int) -> Response:
    """The builder's live sentence and mistakes, for the page's script (nothing is saved)."""
    judged = _read(own(Module, module_id))[2]
    return jsonify(
        sentence=judged["sentence"],
        outline=judged["outline"],
        errors=judged["errors"],
        top=judged["top"],
        json=json.dumps(judged["doc"], indent=2, ensure_ascii=False),
    )
