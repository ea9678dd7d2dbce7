"""A sandbox course's own content as one person sees it, read from the sandbox's tables and its
gradebook only and evaluated by `native.py` on every page load (nothing is cached, so a score
posted a moment ago counts at the student's next page load, as in both LMSs). Functions take the
session and never commit: the request does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lti_tool.sandbox import native
from lti_tool.sandbox.gradebook import shown_grade
from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxEnrollment,
    SandboxGradeCondition,
    SandboxLineItem,
    SandboxModule,
    SandboxModuleItem,
    SandboxProgression,
    SandboxResult,
)

# What each shape calls its kinds of content (a "column" is an assignment that is a gradebook
# column, made by the tool through AGS or by the teacher).
MOODLE_KINDS = {"page": "Page", "quiz": "Quiz"}
CANVAS_KINDS = {"page": "Page", "quiz": "Quiz", "assignment": "Assignment", "column": "Assignment"}


def viewer_role(session: Session, course_id: int, user_id: int | None) -> str | None:
    """The person's role in the course (teacher, ta, student, mentor), or None."""
    if user_id is None:
        return None
    return session.scalar(
        select(SandboxEnrollment.role).where(
            SandboxEnrollment.course_id == course_id,
            SandboxEnrollment.user_id == user_id,
            SandboxEnrollment.status == "Active",
        )
    )


def line_items(session: Session, course_id: int) -> dict[int, SandboxLineItem]:
    """The course's gradebook columns by id, oldest first."""
    return {
        i.id: i
        for i in session.scalars(
            select(SandboxLineItem)
            .where(SandboxLineItem.course_id == course_id)
            .order_by(SandboxLineItem.id)
        )
    }


def grades_of(
    session: Session, items: dict[int, SandboxLineItem], user_id: int
) -> dict[int, native.Grade]:
    """The student's grade in each column, in the column's points, as the gradebook shows it."""
    if not items:
        return {}
    grades = {}
    for r in session.scalars(
        select(SandboxResult).where(
            SandboxResult.line_item_id.in_(items), SandboxResult.user_id == user_id
        )
    ):
        item = items[r.line_item_id]
        posted = not item.post_manually or r.posted_at is not None
        grades[r.line_item_id] = native.Grade(
            shown_grade(r, item.score_maximum), item.score_maximum, posted
        )
    return grades


class _Waiting(Protocol):
    line_item_id: int | None
    waiting_resource_id: str


def matching_column(items: dict[int, SandboxLineItem], resource_id: str) -> SandboxLineItem | None:
    """The course's first column with this resourceId (or, ending in ":", starting with it)."""
    for item in items.values():
        if item.resource_id == resource_id or (
            resource_id.endswith(":") and item.resource_id.startswith(resource_id)
        ):
            return item
    return None


def bind_waiting(rows: Iterable[_Waiting], items: dict[int, SandboxLineItem]) -> None:
    """A condition or item awaiting a column gets it once the column exists, for good: a column
    deleted later leaves it without one, as a deleted grade item does in the LMS."""
    for row in rows:
        if row.waiting_resource_id:
            found = matching_column(items, row.waiting_resource_id)
            if found is not None:
                row.line_item_id, row.waiting_resource_id = found.id, ""


# -- Moodle: activities with "Restrict access → Grade" -------------------------------------------


@dataclass
class ConditionView:
    id: int
    rule: native.GradeCondition
    waiting: str

    @property
    def sentence(self) -> str:
        return native.grade_condition_text(self.rule)


@dataclass
class ActivityView:
    id: int
    kind: str
    title: str
    body: str
    conditions: list[ConditionView]
    # For a student: their availability; for staff: always available.
    availability: native.Availability

    @property
    def kind_name(self) -> str:
        return MOODLE_KINDS.get(self.kind, self.kind)


def moodle_content(session: Session, course_id: int, student_id: int | None) -> list[ActivityView]:
    """Every activity with its conditions; evaluated for `student_id` when given (staff else)."""
    items = line_items(session, course_id)
    activities = list(
        session.scalars(
            select(SandboxActivity)
            .where(SandboxActivity.course_id == course_id)
            .order_by(SandboxActivity.position, SandboxActivity.id)
        )
    )
    conditions = list(
        session.scalars(
            select(SandboxGradeCondition)
            .where(SandboxGradeCondition.activity_id.in_([a.id for a in activities]))
            .order_by(SandboxGradeCondition.id)
        )
    )
    bind_waiting(conditions, items)
    grades = grades_of(session, items, student_id) if student_id is not None else {}
    views = []
    for activity in activities:
        shown = []
        for c in conditions:
            if c.activity_id != activity.id:
                continue
            item = items.get(c.line_item_id) if c.line_item_id is not None else None
            rule = native.GradeCondition(
                item.id if item else None,
                item.label if item else native.MISSING_ITEM,
                c.min_percent,
                c.max_percent,
                c.shown,
            )
            shown.append(ConditionView(c.id, rule, c.waiting_resource_id))
        availability = (
            native.moodle_availability([c.rule for c in shown], grades)
            if student_id is not None
            else native.Availability(True, True)
        )
        views.append(
            ActivityView(
                activity.id, activity.kind, activity.title, activity.body, shown, availability
            )
        )
    return views


# -- Canvas: modules, items, requirements, prerequisites ----------------------------------------


@dataclass
class ItemView:
    id: int
    kind: str
    title: str
    body: str
    line_item_id: int | None
    waiting: str
    min_score: float | None
    met: bool = False

    @property
    def kind_name(self) -> str:
        return CANVAS_KINDS.get(self.kind, self.kind)

    @property
    def gone(self) -> bool:
        """A column item whose column was deleted: Canvas deletes the item with it."""
        return self.kind == "column" and self.line_item_id is None and not self.waiting

    @property
    def requirement(self) -> str:
        if self.min_score is None:
            return ""
        return native.min_score_text(self.min_score, self.met)


@dataclass
class ModuleView:
    id: int
    name: str
    prerequisites: list[tuple[int, str]]
    items: list[ItemView]
    # For a student: their progression; for staff: None.
    progression: native.Progression | None

    @property
    def prerequisites_text(self) -> str:
        names = [name for _id, name in self.prerequisites]
        return native.prerequisites_text(names) if names else ""

    @property
    def has_requirements(self) -> bool:
        return any(i.min_score is not None and not i.gone for i in self.items)


def canvas_content(session: Session, course_id: int, student_id: int | None) -> list[ModuleView]:
    """Every module with its items; for `student_id`, their progressions, and the modules that
    unlocked for them now remembered (Canvas keeps them unlocked)."""
    items = line_items(session, course_id)
    modules = course_modules(session, course_id)
    module_items = list(
        session.scalars(
            select(SandboxModuleItem)
            .where(SandboxModuleItem.module_id.in_([m.id for m in modules]))
            .order_by(SandboxModuleItem.position, SandboxModuleItem.id)
        )
    )
    bind_waiting(module_items, items)
    names = {m.id: m.name for m in modules}
    views: dict[int, ModuleView] = {
        m.id: ModuleView(
            m.id,
            m.name,
            [(p, names[p]) for p in m.prerequisite_ids if p in names],
            [],
            None,
        )
        for m in modules
    }
    for i in module_items:
        line_item_id = i.line_item_id if i.line_item_id in items else None
        views[i.module_id].items.append(
            ItemView(
                i.id,
                i.kind,
                items[line_item_id].label if line_item_id else i.title,
                i.body,
                line_item_id,
                i.waiting_resource_id,
                i.min_score if i.kind == "column" else None,
            )
        )
    if student_id is None:
        return list(views.values())
    rules = [
        native.Module(
            v.id,
            v.name,
            tuple(p for p, _name in v.prerequisites),
            tuple(
                native.MinScore(i.id, i.line_item_id, i.min_score, i.gone)
                for i in v.items
                if i.min_score is not None
            ),
        )
        for v in views.values()
    ]
    unlocked = set(
        session.scalars(
            select(SandboxProgression.module_id).where(
                SandboxProgression.user_id == student_id,
                SandboxProgression.module_id.in_(views),
            )
        )
    )
    progressions = native.canvas_progressions(
        rules, grades_of(session, items, student_id), unlocked
    )
    remember_unlocked(session, student_id, [m for m, p in progressions.items() if p.newly_unlocked])
    for module_id, view in views.items():
        view.progression = progressions[module_id]
        for item in view.items:
            item.met = item.id in view.progression.met
    return list(views.values())


def course_modules(session: Session, course_id: int) -> list[SandboxModule]:
    return list(
        session.scalars(
            select(SandboxModule)
            .where(SandboxModule.course_id == course_id)
            .order_by(SandboxModule.position, SandboxModule.id)
        )
    )


def remember_unlocked(session: Session, user_id: int, module_ids: Sequence[int]) -> None:
    """Record modules as unlocked for the student; a row another request wrote first stays."""
    if not module_ids:
        return
    dialect = session.get_bind().dialect.name
    rows = [{"module_id": m, "user_id": user_id} for m in module_ids]
    if dialect == "postgresql":
        stmt = postgresql.insert(SandboxProgression).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(SandboxProgression).on_conflict_do_nothing()
    else:  # pragma: no cover - the sandbox runs on these two
        stmt = insert(SandboxProgression)
    session.execute(stmt, rows)


# -- the course page's view ------------------------------------------------------------------

STAFF = ("teacher", "ta")


@dataclass
class CourseContent:
    """What the course page shows of the course's own content to the person viewing it."""

    shape: str
    role: str | None
    activities: list[ActivityView]
    modules: list[ModuleView]
    # For staff's forms: the gradebook's columns, by label.
    columns: list[SandboxLineItem]

    @property
    def staff(self) -> bool:
        return self.role in STAFF

    @property
    def student(self) -> bool:
        return self.role == "student"


def course_content(
    session: Session, shape: str, course_id: int, user_id: int | None
) -> CourseContent:
    """Staff see everything with its rules; a student what the shape shows them; others none."""
    role = viewer_role(session, course_id, user_id)
    if role not in (*STAFF, "student"):
        return CourseContent(shape, role, [], [], [])
    student = user_id if role == "student" else None
    activities = moodle_content(session, course_id, student) if shape == "moodle" else []
    modules = canvas_content(session, course_id, student) if shape == "canvas" else []
    columns = list(line_items(session, course_id).values()) if role in STAFF else []
    return CourseContent(shape, role, activities, modules, columns)
