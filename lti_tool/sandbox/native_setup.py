"""What the teacher's forms change in a sandbox course's own content: Moodle activities and their
grade conditions, Canvas modules, items, "score at least N" and prerequisites. Each checks what
the LMS's own form checks and raises `Refused` with the LMS's words; none commits."""

from __future__ import annotations

import math

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxGradeCondition,
    SandboxModule,
    SandboxModuleItem,
    SandboxProgression,
)
from lti_tool.sandbox.native_content import (
    CANVAS_KINDS,
    MOODLE_KINDS,
    course_modules,
    line_items,
    matching_column,
)

TITLE_MAX = 300


class Refused(ValueError):
    """A change the sandbox does not make; the message is shown to the teacher."""


def _title(value: str, what: str = "Title") -> str:
    value = value.strip()
    if not value:
        raise Refused(f"{what} is required.")
    if len(value) > TITLE_MAX or "\x00" in value:
        raise Refused(f"{what} must be at most {TITLE_MAX} characters of text.")
    return value


def _number(value: str | None, error: str) -> float | None:
    """A typed number ("" for none); anything else refused with the LMS's message."""
    value = (value or "").strip()
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise Refused(error) from None
    if not math.isfinite(number):
        raise Refused(error)
    return number


def _next_position(session: Session, column: object, where: object) -> int:
    return int(session.scalar(select(func.coalesce(func.max(column), 0)).where(where)) or 0) + 1


def _column_choice(
    session: Session, course_id: int, line_item_id: str | None, resource_id: str | None
) -> tuple[int | None, str]:
    """(line item id, awaited resourceId) from a form's column select or typed resourceId."""
    items = line_items(session, course_id)
    resource_id = (resource_id or "").strip()
    if resource_id:
        if len(resource_id) > 255:
            raise Refused("A resourceId is at most 255 characters.")
        found = matching_column(items, resource_id)
        return (found.id, "") if found else (None, resource_id)
    try:
        chosen = int(line_item_id or "")
    except ValueError:
        chosen = 0
    if chosen not in items:
        return None, ""
    return chosen, ""


# -- Moodle ------------------------------------------------------------------------------------


def add_activity(
    session: Session, course_id: int, kind: str, title: str, body: str
) -> SandboxActivity:
    if kind not in MOODLE_KINDS:
        raise Refused("Choose a Page or a Quiz.")
    activity = SandboxActivity(
        course_id=course_id,
        kind=kind,
        title=_title(title, "Name"),
        body=body.replace("\x00", ""),
        position=_next_position(
            session, SandboxActivity.position, SandboxActivity.course_id == course_id
        ),
    )
    session.add(activity)
    session.flush()
    return activity


def add_grade_condition(
    session: Session,
    activity: SandboxActivity,
    line_item_id: str | None,
    resource_id: str | None,
    min_percent: str | None,
    max_percent: str | None,
    hidden: bool,
) -> SandboxGradeCondition:
    """Restrict access → Grade, with the checks of Moodle's form (availability_grade)."""
    item_id, waiting = _column_choice(session, activity.course_id, line_item_id, resource_id)
    if item_id is None and not waiting:
        raise Refused("You must select a grade item for the grade condition.")
    invalid = "Grade ranges must be specified with valid percentages."
    low, high = _number(min_percent, invalid), _number(max_percent, invalid)
    if low is not None and high is not None and low >= high:
        raise Refused("When specifying a grade range, the minimum must be lower than the maximum.")
    condition = SandboxGradeCondition(
        activity_id=activity.id,
        line_item_id=item_id,
        waiting_resource_id=waiting,
        min_percent=low,
        max_percent=high,
        shown=not hidden,
    )
    session.add(condition)
    session.flush()
    return condition


# -- Canvas ------------------------------------------------------------------------------------


def add_module(session: Session, course_id: int, name: str) -> SandboxModule:
    module = SandboxModule(
        course_id=course_id,
        name=_title(name, "Module name"),
        position=_next_position(
            session, SandboxModule.position, SandboxModule.course_id == course_id
        ),
        prerequisite_ids=[],
    )
    session.add(module)
    session.flush()
    return module


def remove_module(session: Session, module: SandboxModule) -> None:
    """The module goes, and with it every other module's prerequisite on it."""
    for other in course_modules(session, module.course_id):
        if module.id in other.prerequisite_ids:
            other.prerequisite_ids = [p for p in other.prerequisite_ids if p != module.id]
    session.delete(module)
    session.flush()


def add_item(
    session: Session,
    module: SandboxModule,
    kind: str,
    title: str,
    body: str,
    line_item_id: str | None = None,
    resource_id: str | None = None,
) -> SandboxModuleItem:
    """A native Page, Quiz or Assignment, or a gradebook column (kind "column") as an item."""
    if kind not in CANVAS_KINDS:
        raise Refused("Choose what to add.")
    item_id, waiting = None, ""
    if kind == "column":
        item_id, waiting = _column_choice(session, module.course_id, line_item_id, resource_id)
        if item_id is None and not waiting:
            raise Refused("Choose a gradebook column (or the resourceId the tool will give it).")
        named = line_items(session, module.course_id)[item_id].label if item_id else waiting
        title = title.strip() or named
    item = SandboxModuleItem(
        module_id=module.id,
        kind=kind,
        title=_title(title),
        body=body.replace("\x00", ""),
        position=_next_position(
            session, SandboxModuleItem.position, SandboxModuleItem.module_id == module.id
        ),
        line_item_id=item_id,
        waiting_resource_id=waiting,
    )
    session.add(item)
    session.flush()
    return item


def set_min_score(session: Session, item: SandboxModuleItem, min_score: str | None) -> None:
    """The item's requirement "score at least N" (points), or none; a new or changed one
    relocks the module, as Canvas' relock does."""
    if item.kind != "column":
        raise Refused("Only an assignment that is a gradebook column can require a score.")
    score = _number(min_score, "Enter the score as a number of points.")
    if score is not None and score < 0:
        raise Refused("The score cannot be negative.")
    changed = score is not None and score != item.min_score
    item.min_score = score
    session.flush()
    if changed:
        module = session.get(SandboxModule, item.module_id)
        assert module is not None
        relock(session, module)


def add_prerequisite(session: Session, module: SandboxModule, prerequisite_id: str | None) -> None:
    """Only a module above this one may be its prerequisite (Canvas offers no other)."""
    modules = course_modules(session, module.course_id)
    order = [m.id for m in modules]
    try:
        wanted = int(prerequisite_id or "")
    except ValueError:
        wanted = 0
    if wanted not in order or order.index(wanted) >= order.index(module.id):
        raise Refused("A prerequisite must be a module above this one.")
    if wanted not in module.prerequisite_ids:
        module.prerequisite_ids = [*module.prerequisite_ids, wanted]
        session.flush()
        relock(session, module)


def remove_prerequisite(session: Session, module: SandboxModule, prerequisite_id: int) -> None:
    """Removing a prerequisite never relocks (Canvas asks only when one is added)."""
    module.prerequisite_ids = [p for p in module.prerequisite_ids if p != prerequisite_id]
    session.flush()


def relock(session: Session, module: SandboxModule) -> None:
    """Forget the students' unlocks of the module and of every module that depends on it, so
    each is evaluated afresh (Canvas' relock_progressions, which it offers after such a change)."""
    modules = course_modules(session, module.course_id)
    affected = {module.id}
    grew = True
    while grew:
        before = len(affected)
        affected |= {m.id for m in modules if affected & set(m.prerequisite_ids)}
        grew = len(affected) > before
    session.execute(delete(SandboxProgression).where(SandboxProgression.module_id.in_(affected)))
