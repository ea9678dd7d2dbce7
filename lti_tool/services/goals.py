"""Goals a student sets or a teacher suggests: a competency level or a module, by a date.
One place checks them, so a student's and a teacher's goal obey the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time

from sqlalchemy.orm import Session

from lti_tool.ids import row_id
from lti_tool.models.mastery import Competency, Goal
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.services.class_view import course_levels


class GoalError(ValueError):
    """What is wrong with the goal, in words for the form."""


def goal_levels(session: Session, context_id: int) -> tuple[list[str], str]:
    """The levels a goal can aim at (the course's scale, above zero) and its mastery level."""
    levels = course_levels(session, context_id)
    names = [lv["name"] for lv in sorted(levels, key=lambda lv: -lv["points"]) if lv["points"] > 0]
    mastery = next((lv["name"] for lv in levels if lv.get("mastery")), names[0] if names else "")
    return names, mastery


def add_goal(
    session: Session,
    context_id: int,
    user_id: int,
    set_by_user_id: int,
    target: str,
    level: str,
    due: str,
    note: str,
) -> Goal:
    """Check the form's values and add the goal (no commit); GoalError says what to fix."""
    goal = Goal(
        context_id=context_id, user_id=user_id, set_by_user_id=set_by_user_id, created_at=utcnow()
    )
    kind, _, raw_id = target.partition(":")
    pk = row_id(raw_id)
    if kind == "competency" and pk is not None:
        comp = session.get(Competency, pk)
        if comp is None or comp.context_id != context_id:
            raise GoalError("That competency is not in this course.")
        names, _ = goal_levels(session, context_id)
        if level not in names:
            raise GoalError(f"Choose a level from the list ({', '.join(names)}).")
        goal.competency_id, goal.level = comp.id, level
    elif kind == "module" and pk is not None:
        module = session.get(Module, pk)
        if module is None or module.context_id != context_id:
            raise GoalError("That module is not in this course.")
        goal.module_id = module.id
    else:
        raise GoalError("Choose what the goal is about.")
    due = due.strip()
    if due:
        try:
            day = datetime.strptime(due, "%Y-%m-%d").date()
        except ValueError:
            raise GoalError(f"The date {due!r} is not a date like 2026-12-31.") from None
        goal.due = datetime.combine(day, time(23, 59), UTC)
    goal.note = note.strip()[:500]
    session.add(goal)
    return goal


def add_goal_from_form(
    session: Session,
    context_id: int,
    user_id: int,
    set_by_user_id: int,
    form: Mapping[str, str],
) -> Goal:
    """`add_goal` with the goal form's fields (target, level, due, note)."""
    target, level, due, note = (form.get(name, "") for name in ("target", "level", "due", "note"))
    return add_goal(session, context_id, user_id, set_by_user_id, target, level, due, note)
