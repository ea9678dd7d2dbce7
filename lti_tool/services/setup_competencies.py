"""Competencies written for course setup: added one by one or imported in bulk, edited (a new
code follows into every rule), deleted once nothing names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.models.mastery import Competency
from lti_tool.models.types import utcnow
from lti_tool.services.competency_import import Row
from lti_tool.services.setup_course import competencies, refusals_without, rename_in_rules
from lti_tool.services.setup_methods import course_default_method
from lti_tool.services.setup_tx import delete, refusing


@dataclass(frozen=True)
class CompetencyValues:
    code: str
    title: str
    description: str
    parent_id: int | None


def add_competency(session: Session, context_id: int, by: int, v: CompetencyValues) -> None:
    """A new competency at the end, on the method most of the course uses."""
    with refusing(session, context_id, by, "competency added"):
        comps = competencies(session, context_id)
        session.add(
            Competency(
                context_id=context_id,
                code=v.code,
                title=v.title,
                description=v.description,
                parent_id=v.parent_id,
                method=course_default_method(comps),
                position=max((c.position for c in comps), default=0) + 1,
            )
        )


def import_competencies(
    session: Session, context_id: int, by: int, rows: list[Row]
) -> tuple[int, int]:
    """Rows matched by code: new ones added, known ones retitled; (added, updated)."""
    added = updated = 0
    with refusing(session, context_id, by, "competencies imported", field="import"):
        comps = competencies(session, context_id)
        by_code = {c.code: c for c in comps}
        position = max((c.position for c in comps), default=0)
        default_method = course_default_method(comps)
        for row in rows:
            comp = by_code.get(row.code)
            if comp is None:
                position += 1
                comp = Competency(
                    context_id=context_id,
                    code=row.code,
                    title=row.title,
                    description=row.description or "",
                    method=dict(default_method),
                    position=position,
                )
                session.add(comp)
                by_code[row.code] = comp
                added += 1
            else:
                comp.title = row.title
                if row.description is not None:
                    comp.description = row.description
                comp.updated_at = utcnow()
                updated += 1
        session.flush()
        for row in rows:
            parent = by_code.get(row.parent) if row.parent else None
            by_code[row.code].parent_id = parent.id if parent else None
    return added, updated


@dataclass(frozen=True)
class Calculation:
    scale_id: int | None
    method: dict[str, Any]
    min_evidence: int
    order_by: str


def save_competency(
    session: Session, comp: Competency, by: int, v: CompetencyValues, calc: Calculation
) -> int:
    """The edited competency; how many unlock rules now use its new code."""
    with refusing(session, comp.context_id, by, "competency changed"):
        renamed = 0
        if v.code != comp.code:
            renamed = rename_in_rules(session, comp.context_id, comp.code, v.code)
        comp.code, comp.title, comp.description = v.code, v.title, v.description
        comp.parent_id = v.parent_id
        comp.scale_id, comp.method = calc.scale_id, calc.method
        comp.min_evidence, comp.order_by = calc.min_evidence, calc.order_by
        comp.updated_at = utcnow()
    return renamed


def delete_competency(session: Session, comp: Competency, by: int) -> None:
    """Refused while a rule still names it: each such rule is listed."""
    refusals = refusals_without(session, comp.context_id, competency=comp.id)
    delete(session, comp, by, "competency deleted", refusals, "Change those rules first.")
