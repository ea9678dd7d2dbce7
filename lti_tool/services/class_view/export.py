"""The whole grid as spreadsheet rows (the CSV export): every matching student, a score and
a level per competency, a status per module, read as plain tuples in three queries."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.services.class_view.scope import Scope
from lti_tool.services.class_view.students import Query, all_rows, display_name


def grid_rows(session: Session, scope: Scope, query: Query) -> Iterator[list[object]]:
    """The header, then one row a student: name, status, score and level per competency,
    the status of each module."""
    comps = session.execute(
        select(Competency.id, Competency.code)
        .where(Competency.context_id == scope.context_id)
        .order_by(Competency.position, Competency.id)
    ).all()
    modules = session.execute(
        select(Module.id, Module.title)
        .where(Module.context_id == scope.context_id)
        .order_by(Module.position, Module.id)
    ).all()
    head: list[object] = ["student", "status"]
    for _, code in comps:
        head += [f"{code} score", f"{code} level"]
    head += [title for _, title in modules]
    yield head
    people, states, unlocks = all_rows(session, scope, query)
    none = (None, None)
    for uid, name, given, family, status in people:
        line: list[object] = [display_name(name, given, family, uid), status]
        for cid, _ in comps:
            score, level = states.get((uid, cid), none)
            line += ["" if score is None else round(score, 2), level or ""]
        line += [unlocks.get((uid, mid), "locked") for mid, _ in modules]
        yield line
