"""What course setup reads: the course's competencies, modules, columns and alignments, the
names a rule may use, and the references that keep an edit from breaking another module's rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module
from lti_tool.services.course_model import (  # noqa: F401 - default_scale: the pages' too
    default_scale,
    scale_of,
)
from lti_tool.services.setup_rules import Defaults


def competencies(session: Session, context_id: int) -> list[Competency]:
    return list(session.scalars(_in_order(Competency, context_id)))


def modules(session: Session, context_id: int) -> list[Module]:
    return list(session.scalars(_in_order(Module, context_id)))


def _in_order(model: type[Competency] | type[Module], context_id: int) -> Any:
    """The course's rows as the teacher ordered them (ties by age)."""
    return select(model).where(model.context_id == context_id).order_by(model.position, model.id)


def line_items(session: Session, context_id: int) -> list[CourseLineItem]:
    return list(
        session.scalars(
            select(CourseLineItem)
            .where(CourseLineItem.context_id == context_id, CourseLineItem.gone_at.is_(None))
            .order_by(CourseLineItem.label, CourseLineItem.id)
        )
    )


def scales(session: Session, context_id: int) -> list[Scale]:
    return list(session.scalars(select(Scale).where(Scale.context_id == context_id)))


def catalog(
    session: Session,
    context_id: int,
    *,
    without_competency: int | None = None,
    without_module: int | None = None,
) -> mastery.Catalog:
    """The names rules may use, built leniently (a broken method never hides the builder)."""
    comps = []
    for c in competencies(session, context_id):
        if c.id == without_competency:
            continue
        comps.append(
            mastery.CompetencySpec(code=c.code, title=c.title or c.code, scale=scale_of(session, c))
        )
    mods = [
        mastery.Module(str(m.id), m.title or f"Module {m.id}")
        for m in modules(session, context_id)
        if m.id != without_module
    ]
    items = [
        mastery.LineItem(str(li.id), li.label or li.url, li.score_maximum or 100.0)
        for li in line_items(session, context_id)
    ]
    return mastery.Catalog.of(comps, mods, items)


def builder_defaults(session: Session, context_id: int, module_id: int | None) -> Defaults:
    comps = competencies(session, context_id)
    others = [m for m in modules(session, context_id) if m.id != module_id]
    items = line_items(session, context_id)
    level = scale_of(session, comps[0]).mastery_level.name if comps else "Mastery"
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    return Defaults(
        module=str(others[0].id) if others else "",
        competency=comps[0].code if comps else "",
        level=level,
        line_item=str(items[0].id) if items else "",
        when=today,
    )


def refusals_without(
    session: Session, context_id: int, *, competency: int | None = None, module: int | None = None
) -> list[str]:
    """Why deleting this competency or module would break the course: each module rule that
    still names it (the engine's parser finds the exact place) and each choice offering it."""
    cat = catalog(session, context_id, without_competency=competency, without_module=module)
    out = []
    for m in modules(session, context_id):
        if m.id == module:
            continue
        if module is not None and module in (m.choice_of or []):
            out.append(f'The choice "{m.title}" offers it as one of its paths.')
        if m.unlock_rule is None:
            continue
        try:
            mastery.parse_unlock(m.unlock_rule, cat, module=str(m.id))
        except mastery.RuleError as exc:
            missing = "no competency with code" in exc.message or "no module with id" in exc.message
            if missing:
                out.append(f'The unlock rule of "{m.title}" uses it ({exc.path}: {exc.message}).')
    return out


def rename_in_rules(session: Session, context_id: int, old: str, new: str) -> int:
    """A competency's new code written into every rule and roll-up that named the old one."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            if out.get("competency") == old:
                out["competency"] = new
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    changed = 0
    for m in modules(session, context_id):
        if m.unlock_rule is not None:
            updated = walk(m.unlock_rule)
            if updated != m.unlock_rule:
                m.unlock_rule = updated
                changed += 1
    for c in competencies(session, context_id):
        roll = dict(c.rollup or {})
        if old in (roll.get("required") or []) or old in (roll.get("weights") or {}):
            roll["required"] = [new if r == old else r for r in roll.get("required") or []]
            roll["weights"] = {
                (new if k == old else k): w for k, w in (roll.get("weights") or {}).items()
            }
            c.rollup = roll
    return changed


def alignments(session: Session, context_id: int) -> list[Alignment]:
    return list(session.scalars(select(Alignment).where(Alignment.context_id == context_id)))


def can_master(session: Session, context_id: int) -> set[str]:
    """Modules a rule may ask to be mastered: they list competencies (or a choice's option does)."""
    listed = {a.module_id for a in alignments(session, context_id) if a.module_id is not None}
    rows = modules(session, context_id)
    out = {str(m.id) for m in rows if m.id in listed}
    for m in rows:
        if any(str(o) in out for o in m.choice_of or []):
            out.add(str(m.id))
    return out
