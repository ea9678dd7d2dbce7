"""No evidence on a competency with sub-competencies: the engine rolls its score up from its
children alone, so grades or ratings put on it would silently not count (docs/decisions.md)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from lti_tool.models.mastery import Alignment, Competency, CourseLineItem


def _children(session: Session, comp: Competency) -> list[Competency]:
    return list(
        session.scalars(
            select(Competency)
            .where(Competency.parent_id == comp.id)
            .order_by(Competency.position, Competency.id)
        )
    )


def _named(children: list[Competency]) -> str:
    shown = ", ".join(f"{c.code} {c.title}" for c in children[:5])
    return shown + (f" and {len(children) - 5} more" if len(children) > 5 else "")


def column_problem(session: Session, context_id: int) -> str | None:
    """The first gradebook column aligned to a competency that has sub-competencies."""
    session.flush()
    child = aliased(Competency)
    found = session.execute(
        select(CourseLineItem, Competency)
        .join(Alignment, Alignment.line_item_id == CourseLineItem.id)
        .join(Competency, Competency.id == Alignment.competency_id)
        .where(
            Alignment.context_id == context_id,
            select(child.id).where(child.parent_id == Alignment.competency_id).exists(),
        )
        .order_by(Competency.position, Competency.id, CourseLineItem.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    column, comp = found
    label = column.label or column.url
    return (
        f'"{label}" is aligned to "{comp.title}" ({comp.code}), which has sub-competencies '
        f"({_named(_children(session, comp))}): its score comes from them, so these grades "
        f'would not count. Align "{label}" to a sub-competency instead.'
    )


def rating_problem(session: Session, comp: Competency) -> str | None:
    """A rating of a competency with sub-competencies would not count: say which to rate."""
    children = _children(session, comp)
    if not children:
        return None
    return (
        f'"{comp.title}" has sub-competencies ({_named(children)}): its score comes from them, '
        "so rate one of them."
    )


def leaves(session: Session, context_id: int, comp_ids: list[int]) -> list[int]:
    """The competencies that take evidence for these: each one, or where it has
    sub-competencies, those of its descendants that have none (a placed module's grade on a
    parent counts for every part of it)."""
    children: dict[int, list[int]] = {}
    for cid, parent_id in session.execute(
        select(Competency.id, Competency.parent_id)
        .where(Competency.context_id == context_id)
        .order_by(Competency.position, Competency.id)
    ):
        if parent_id is not None:
            children.setdefault(parent_id, []).append(cid)
    out: list[int] = []
    stack, seen = list(reversed(comp_ids)), set()
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        if cid in children:
            stack.extend(reversed(children[cid]))
        else:
            out.append(cid)
    return out
