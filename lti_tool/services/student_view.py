"""What one student's pages show, read live from the engine: each module's state with the
reasons, each competency's standing with the evidence behind it, and progress towards goals.

Live, not the stored states: a grade synced a second ago shows at the next click, and the
explanation always agrees with the verdict because both come from one evaluation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import bindparam, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.grading.outbox import LMS_HOLDS_OPEN
from lti_tool.mastery.rule_render import Reader, has_time, level_label, number
from lti_tool.mastery.scales import EPSILON
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Goal, Override, UnlockState
from lti_tool.models.types import utcnow
from lti_tool.services.class_view import level_class
from lti_tool.services.course_model import (
    STUDENT_OVERRIDES,
    STUDENT_STICKY,
    CourseSnapshot,
    course_model,
    evaluate_student,
    load_facts,
    student_evidence,
)

STATUS_WORDS = {
    mastery.Status.LOCKED: "Locked",
    mastery.Status.UNLOCKED: "Unlocked",
    mastery.Status.COMPLETED: "Completed",
    mastery.Status.MASTERED: "Mastered",
    mastery.Status.EXEMPT: "Exempt",
}


@dataclass(frozen=True)
class ConditionLine:
    """One condition as a line of the checklist, indented under its group."""

    depth: int
    text: str
    holds: bool
    progress: float
    detail: str
    group: bool


@dataclass(frozen=True)
class ModuleLine:
    id: int
    title: str
    description: str
    status: str  # locked | unlocked | completed | mastered | exempt
    status_word: str
    summary: str
    conditions: tuple[ConditionLine, ...]
    next_steps: tuple[str, ...]
    options: tuple[ModuleLine, ...]  # a choice: its options, each with its own reasons
    competencies: tuple[str, ...]
    has_times: bool = False  # its rule names a date: the page says once which zone times are in
    # It gates LMS content: what it opens there, and whether the LMS already has it open
    # for this student (the tool's 1 is posted) or is still waiting to be told.
    lms_gated: bool = False
    lms_target: str = ""
    lms_target_url: str = ""
    lms_knows_open: bool = False

    @property
    def is_open(self) -> bool:
        return self.status != "locked"

    @property
    def mentions_times(self) -> bool:
        return self.has_times or any(o.has_times for o in self.options)


@dataclass(frozen=True)
class EvidenceLine:
    at: datetime
    source: str
    score: float
    level: str | None
    note: str


@dataclass(frozen=True)
class CompetencyLine:
    id: int
    code: str
    title: str
    description: str
    score: float | None
    level: str | None  # the engine's level (its colour); `label` is what people read
    label: str | None
    css: str
    mastered: bool
    mastery_points: float
    top_points: float
    evidence: tuple[EvidenceLine, ...]
    depth: int = 0

    @property
    def shown_score(self) -> str:
        """ "2.6 of 4": out of the scale's top (a score past the top shows as the top)."""
        if self.score is None:
            return ""
        return f"{number(min(self.score, self.top_points))} of {number(self.top_points)}"

    @property
    def progress(self) -> float:
        if self.score is None or self.mastery_points <= 0:
            return 0.0
        return min(1.0, self.score / self.mastery_points)


@dataclass(frozen=True)
class GoalLine:
    id: int
    text: str
    progress: float
    detail: str
    reached: bool
    due: datetime | None
    overdue: bool
    suggested: bool
    note: str


@dataclass
class StudentView:
    user_id: int
    name: str | None = None  # set when a teacher or mentor reads about the student
    modules: list[ModuleLine] = field(default_factory=list)
    competencies: list[CompetencyLine] = field(default_factory=list)
    goals: list[GoalLine] = field(default_factory=list)
    # markup drawn from these very module lines, kept as long as they are (None: the lines
    # were made for this request alone)
    drawings: Drawings | None = None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.modules:
            out[m.status] = out.get(m.status, 0) + 1
        return out

    @property
    def mentions_times(self) -> bool:
        return any(m.mentions_times for m in self.modules)


def _lines(cond: mastery.Condition | None, depth: int = 0) -> list[ConditionLine]:
    if cond is None:
        return []
    group = bool(cond.children)
    out = [
        ConditionLine(
            depth, cond.text, cond.holds, max(0.0, min(1.0, cond.progress)), cond.detail, group
        )
    ]
    for child in cond.children:
        out.extend(_lines(child, depth + 1))
    return out


def student_view(
    session: Session,
    context_id: int,
    user_id: int,
    now: datetime | None = None,
    name: str | None = None,
) -> StudentView:
    """`name`: a teacher or mentor reads about this student ("Ava is at ..."), not "you"."""
    now = now or utcnow()
    evidence = student_evidence(session, context_id, user_id)
    marks = student_marks(session, context_id, user_id)
    snapshot, state = evaluate_student(
        session, context_id, user_id, now, evidence, marks.overrides, marks.sticky
    )
    student = str(user_id)
    reader = _reader(name)
    view = StudentView(user_id=user_id, name=reader.name)
    view.modules = _modules(snapshot, state, student, reader=reader, lms_open=marks.lms_open)
    view.competencies = _competencies(snapshot, state, student, evidence)
    view.goals = _goals(session, context_id, user_id, snapshot, state, student, view, now)
    return view


def student_path(
    session: Session, context_id: int, user_id: int, now: datetime | None = None
) -> StudentView:
    """The path page's view: the modules alone (no competency table, no goals), their lines
    kept per course model and student facts (`_model_memo`), so a page the facts have not
    moved since is not evaluated and explained again, nor drawn again (`view.drawings`)."""
    now = now or utcnow()
    snapshot = replace(course_model(session, context_id), students=(str(user_id),))
    evidence = student_evidence(session, context_id, user_id)
    marks = student_marks(session, context_id, user_id)
    gating = any(m.gates_lms for m in snapshot.modules.values())
    lms_open = marks.lms_open if gating else frozenset()
    view = StudentView(user_id=user_id)
    # a rule naming a date reads the clock: nothing to keep
    memo = None if snapshot.model.uses_dates else _model_memo(snapshot.model, "path lines", 512)
    # the rows the facts are made of (what the model makes of them is the memo's own), as
    # plain tuples: a reload that finds its lines makes no facts
    key = (tuple(map(tuple, evidence)), marks.overrides, marks.sticky, lms_open)
    lines = memo.get(key) if memo is not None else None
    if lines is None:
        facts = load_facts(
            session, context_id, snapshot, user_id, evidence, marks.overrides, marks.sticky
        )
        state = mastery.evaluate_class(snapshot.model, facts, now)
        lines = tuple(_modules(snapshot, state, str(user_id), lms_open=lms_open))
        if memo is not None:
            memo.put(key, lines)
    view.modules = list(lines)
    if memo is not None:
        # fewer than the lines: a drawing of a hundred cards weighs more than their lines
        view.drawings = Drawings(_model_memo(snapshot.model, "path drawings", 64), key)
    return view


V = TypeVar("V")


class _Recent(Generic[V]):
    """Key -> value for one course model, the least recently used dropped past `size` (a
    class of a few hundred reloading their paths)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


@dataclass(frozen=True)
class Drawings:
    """A page's markup drawn from one student's module lines, by `shape` (what else the
    markup depends on): keyed with the facts the lines were explained from, in the course
    model's memo, so a drawing is never older than the lines it shows."""

    memo: _Recent[str]
    facts: Hashable

    def get(self, shape: Hashable) -> str | None:
        return self.memo.get((self.facts, shape))

    def put(self, shape: Hashable, markup: str) -> None:
        self.memo.put((self.facts, shape), markup)


_MEMO_LOCK = threading.Lock()


def _model_memo(model: mastery.CourseModel, name: str, size: int) -> _Recent[Any]:
    """A memo living in the model's own memo: it goes when a new course version does."""
    found = model.memo.get(name)
    if found is None:
        with _MEMO_LOCK:
            found = model.memo.setdefault(name, _Recent(size))
    return found  # type: ignore[no-any-return]


def _reader(name: str | None) -> Reader:
    """The student reads "you"; anyone else reads the student's name (or "the student")."""
    return Reader(None) if name is None else Reader(name.strip() or "the student")


@dataclass(frozen=True)
class StudentMarks:
    """What a teacher or the LMS has set for one student besides evidence, read together."""

    overrides: tuple[tuple[int, int, str], ...]  # (user, module, kind) standing
    sticky: tuple[tuple[int, int], ...]  # (user, module) kept open
    lms_open: frozenset[int]  # gated modules whose LMS column holds the student's posted 1


def student_marks(session: Session, context_id: int, user_id: int) -> StudentMarks:
    """A student's overrides, sticky unlocks and modules the LMS holds open, in one round trip:
    every path and profile page reads all three."""
    overrides, sticky, lms_open = [], [], set()
    for what, module_id, kind in session.execute(
        _STUDENT_MARKS, {"context": context_id, "user": user_id}
    ):
        if what == "override":
            overrides.append((user_id, module_id, kind))
        elif what == "sticky":
            sticky.append((user_id, module_id))
        else:
            lms_open.add(module_id)
    return StudentMarks(tuple(overrides), tuple(sticky), frozenset(lms_open))


# built once: every path page runs it
_STUDENT_MARKS = union_all(
    STUDENT_OVERRIDES.with_only_columns(
        literal_column("'override'"), Override.module_id, Override.kind
    ),
    STUDENT_STICKY.with_only_columns(literal_column("'sticky'"), UnlockState.module_id, null()),
    select(literal_column("'lms'"), ScoreOutbox.module_id, null()).where(
        ScoreOutbox.context_id == bindparam("context"),
        ScoreOutbox.user_id == bindparam("user"),
        *LMS_HOLDS_OPEN,
    ),
)


def module_line(
    session: Session, context_id: int, user_id: int, module_id: int, now: datetime | None = None
) -> ModuleLine | None:
    """One module's state and reasons for one student: what opening a module costs."""
    marks = student_marks(session, context_id, user_id)
    snapshot, state = evaluate_student(
        session, context_id, user_id, now or utcnow(), None, marks.overrides, marks.sticky
    )
    found = _modules(snapshot, state, str(user_id), only=str(module_id), lms_open=marks.lms_open)
    return found[0] if found else None


def _modules(
    snapshot: CourseSnapshot,
    state: Any,
    student: str,
    only: str | None = None,
    reader: Reader | None = None,
    lms_open: frozenset[int] = frozenset(),
) -> list[ModuleLine]:
    reader = reader or Reader()
    made: dict[str, ModuleLine] = {}

    def line(key: str) -> ModuleLine:
        # A choice lists its options with their own reasons; the model has no cycles.
        if key in made:
            return made[key]
        row = snapshot.modules[key]
        why = mastery.explain(state, student, key, reader)
        status = why.status
        module = snapshot.model.modules[snapshot.model.module_index[key]]
        made[key] = ModuleLine(
            id=row.id,
            title=row.title,
            description=row.description or "",
            status=status.name.lower(),
            status_word=STATUS_WORDS[status],
            summary=why.summary,
            conditions=tuple(_lines(why.condition)),
            next_steps=tuple(step.text for step in why.next_steps),
            options=tuple(line(o) for o in module.choice_of if o in snapshot.modules),
            competencies=tuple(
                snapshot.competencies[c].title
                for c in module.competencies
                if c in snapshot.competencies
            ),
            has_times=has_time(module.unlock.rule),
            lms_gated=row.gates_lms,
            lms_target=row.lms_target_title or "",
            lms_target_url=row.lms_target_url or "",
            lms_knows_open=row.id in lms_open,
        )
        return made[key]

    return [line(key) for key in snapshot.modules if only is None or key == only]


def _competencies(
    snapshot: CourseSnapshot, state: Any, student: str, rows: list[Any]
) -> list[CompetencyLine]:
    """Each competency's standing, with the evidence `rows` (student_evidence) behind it."""
    labels = snapshot.item_labels
    evidence: dict[int, list[EvidenceLine]] = {}
    by_id = {c.id: code for code, c in snapshot.competencies.items()}
    for _, _, comp_id, score, out_of, graded_at, _, item, note in rows:
        code = by_id.get(comp_id)
        if code is None:
            continue
        scale = snapshot.scales[code]
        points = scale.from_points(score, out_of)  # evidence is kept as observed
        source = labels.get(item) or "a graded activity" if item is not None else "Teacher rating"
        evidence.setdefault(comp_id, []).append(
            EvidenceLine(graded_at, source, points, level_label(scale, points), note)
        )
    scale_rows = snapshot.course_scales
    code_of = {r.id: code for code, r in snapshot.competencies.items()}
    depth_of: dict[str, int] = {}
    out = []
    for code, row in snapshot.competencies.items():
        parent = code_of.get(row.parent_id) if row.parent_id is not None else None
        depth_of[code] = depth_of.get(parent, -1) + 1 if parent else 0
        result = state.mastery(student, code)
        scale = snapshot.scales[code]
        out.append(
            CompetencyLine(
                id=row.id,
                code=code,
                title=row.title,
                description=row.description or "",
                score=result.score,
                level=result.level.name if result.level else None,
                label=level_label(scale, result.score),
                css=level_class(
                    scale_rows.key(row.scale_id),
                    scale_rows.levels(row.scale_id),
                    result.level.name if result.level else None,
                ),
                mastered=result.mastered,
                mastery_points=scale.mastery_points,
                top_points=scale.top_points,
                evidence=tuple(evidence.get(row.id, [])),
                depth=depth_of[code],
            )
        )
    return out


def _goals(
    session: Session,
    context_id: int,
    user_id: int,
    snapshot: CourseSnapshot,
    state: Any,
    student: str,
    view: StudentView,
    now: datetime,
) -> list[GoalLine]:
    comps = {c.id: c for c in view.competencies}
    modules = {m.id: m for m in view.modules}
    out = []
    for goal in session.scalars(
        select(Goal)
        .where(Goal.context_id == context_id, Goal.user_id == user_id)
        .order_by(Goal.due.is_(None), Goal.due, Goal.id)
    ):
        line = goal_line(goal, comps, modules, snapshot, user_id, now)
        if line is not None:
            out.append(line)
    return out


def goal_line(
    goal: Goal,
    comps: dict[int, CompetencyLine],
    modules: dict[int, ModuleLine],
    snapshot: CourseSnapshot,
    user_id: int,
    now: datetime,
) -> GoalLine | None:
    """A goal with its progress: a competency level reached, or a module completed."""
    suggested = goal.set_by_user_id is not None and goal.set_by_user_id != user_id
    overdue_by = goal.due is not None and goal.due < now
    if goal.competency_id is not None:
        comp = comps.get(goal.competency_id)
        if comp is None:
            return None
        scale = snapshot.scales[comp.code]
        wanted = scale.level_named(goal.level or "") or scale.mastery_level
        have = comp.score or 0.0
        reached = comp.score is not None and have >= wanted.points - EPSILON
        progress = 1.0 if reached else (have / wanted.points if wanted.points > 0 else 0.0)
        text = f"{comp.title}: reach {wanted.name}"
        if comp.score is None:
            detail = f"No evidence yet, {number(wanted.points)} needed"
        else:
            detail = f"{comp.label}, {number(have)} of {number(wanted.points)}"
    elif goal.module_id is not None:
        module = modules.get(goal.module_id)
        if module is None:
            return None
        reached = module.status in ("completed", "mastered", "exempt")
        progress = 1.0 if reached else 0.5 if module.status == "unlocked" else 0.0
        text = f"Complete {module.title}"
        detail = module.status_word
    else:
        return None
    return GoalLine(
        id=goal.id,
        text=text,
        progress=max(0.0, min(1.0, progress)),
        detail=detail,
        reached=reached,
        due=goal.due,
        overdue=overdue_by and not reached,
        suggested=suggested,
        note=goal.note,
    )
