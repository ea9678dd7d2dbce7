"""The course model's version stamp, bumped by every write to what the model is built from.

The engine's course model (services/course_model.py) is built once per course version and
cached in each process. Rather than trusting every writer to remember the bump, the session
bumps `Context.model_version` itself, in the writer's own transaction: after a flush that
added, deleted or changed a model-relevant field of a competency, scale, module, alignment
or gradebook column, and before an ORM bulk statement on those tables (whose course it cannot
tell: it bumps every course, a rare and safe over-reach). A commit publishes the new number
with the change; a rollback takes both back.

The session remembers the courses it bumped (`session.info[CHANGED]`, cleared when its
transaction ends): their model is read fresh, never from or into the cache, since what it
sees may yet be rolled back under a number another transaction will reuse.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, update
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from lti_tool.models.course import Context
from lti_tool.models.mastery import Alignment, Competency, CourseLineItem, Scale
from lti_tool.models.modules import Module

# The session `info` key holding the context ids whose model this transaction changed.
CHANGED = "lti_tool.model_changed"
# In CHANGED: a bulk statement changed some course's model, which one is unknown.
EVERY_COURSE = -1
# Set in a session's `info` to write without bumping: only for a database whose schema is
# older than the version column (a migration test laying rows at an old revision).
UNVERSIONED = "lti_tool.model_unversioned"

# Per table, the fields the course model reads (None: all of them). Other fields change
# without touching it: a column's last read, a competency's own LMS column, a module's content.
MODEL_FIELDS: dict[type, frozenset[str] | None] = {
    Competency: frozenset(
        {
            "code",
            "title",
            "description",
            "parent_id",
            "scale_id",
            "method",
            "min_evidence",
            "order_by",
            "rollup",
            "position",
        }
    ),
    Scale: frozenset({"levels"}),
    CourseLineItem: frozenset({"url", "label", "score_maximum", "gone_at"}),
    Module: frozenset(
        {
            "title",
            "description",
            "position",
            "unlock_rule",
            "sticky",
            "choice_of",
            "lineitem_url",
            "complete_at_percent",
            "gates_lms",
            "lms_target_title",
            "lms_target_url",
        }
    ),
    Alignment: None,
}


def changed_courses(session: Session) -> set[int]:
    """The courses whose model this session's open transaction changed (EVERY_COURSE: any)."""
    return session.info.get(CHANGED) or set()


def bump(session: Session, context_ids: set[int]) -> None:
    """Move the courses' model versions on, in the session's transaction."""
    if session.info.get(UNVERSIONED):
        return
    stmt = update(Context.__table__).values(model_version=Context.__table__.c.model_version + 1)
    if EVERY_COURSE not in context_ids:
        stmt = stmt.where(Context.__table__.c.id.in_(sorted(context_ids)))
    session.connection().execute(stmt)
    session.info.setdefault(CHANGED, set()).update(context_ids)


def _touches_model(obj: Any) -> bool:
    fields = MODEL_FIELDS[type(obj)]
    if fields is None:
        return True
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Why here: the flushed rows and their history are both still at hand."""
    courses: set[int] = set()
    for obj in (*session.new, *session.deleted):
        if type(obj) in MODEL_FIELDS:
            courses.add(obj.context_id if obj.context_id is not None else EVERY_COURSE)
    for obj in session.dirty:
        if type(obj) in MODEL_FIELDS and _touches_model(obj):
            courses.add(obj.context_id if obj.context_id is not None else EVERY_COURSE)
    if courses:
        bump(session, courses)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    """An ORM bulk INSERT, UPDATE or DELETE on a model table: which course is not known."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in MODEL_FIELDS:
        bump(state.session, {EVERY_COURSE})


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_over(session: Session) -> None:
    """Committed or gone: either way the cache may be read again."""
    session.info.pop(CHANGED, None)
