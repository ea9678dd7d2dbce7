"""The class in counts, computed by the database (GROUP BY), whatever the class size: per
competency how many students sit at each level, per module how many are locked, open, done
or stuck, the LMS content a gated module waits for, and where the passback stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.grading.outbox import LMS_HOLDS_OPEN
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Competency, UnlockState
from lti_tool.models.modules import Module
from lti_tool.services.class_view.counts import CourseCounts, counts_of, course_counts, stuck_of
from lti_tool.services.class_view.levels import LevelStyle
from lti_tool.services.class_view.scope import Scope
from lti_tool.services.course_model import CourseScales

STATUSES = ("locked", "unlocked", "completed", "mastered", "exempt")


@dataclass(frozen=True)
class Bucket:
    """Students at one level of one competency."""

    level: str
    css: str
    count: int


@dataclass
class CompetencySummary:
    id: int
    code: str
    title: str
    style: LevelStyle
    buckets: list[Bucket]
    no_score: int
    average: float | None


@dataclass
class ModuleSummary:
    id: int
    title: str
    counts: dict[str, int]
    stuck: int = 0
    # A module that gates LMS content: how many students have it open here, and how many of
    # those the LMS already has a 1 for in the unlock column (the rest are waiting for it).
    gated: bool = False
    open_in_tool: int = 0
    known_to_lms: int = 0

    @property
    def waiting(self) -> int:
        return self.open_in_tool - self.known_to_lms

    @property
    def row(self) -> tuple[int, ...]:
        """Students per status in the table's order (locked, open, completed, mastered,
        exempt), then stuck: one attribute for the template instead of six look-ups."""
        return (*(self.counts.get(s, 0) for s in STATUSES), self.stuck)


@dataclass
class FailedPost:
    id: int
    student: str
    competency: str
    score: float
    reason: str
    at: datetime


@dataclass
class ClassSummary:
    students: int  # counted (active ones unless inactive are shown)
    hidden_inactive: int
    stuck: int
    competencies: list[CompetencySummary]
    modules: list[ModuleSummary]
    passback: dict[str, int]
    failed: list[FailedPost] = field(default_factory=list)


def class_summary(
    session: Session, scope: Scope, stuck: set[int], left: list[int] | None = None
) -> ClassSummary:
    """`stuck`: the stuck students (Scope.stuck_students), read once for the whole page;
    `left`: Scope.left_out, if read already.
    The counts over the course's states come from `counts` (cached by its stamp), less the
    rows of the people the page leaves out."""
    comps = session.execute(
        select(Competency.id, Competency.code, Competency.title, Competency.scale_id)
        .where(Competency.context_id == scope.context_id)
        .order_by(Competency.position, Competency.id)
    ).all()
    modules = session.execute(
        select(Module.id, Module.title, Module.gates_lms)
        .where(Module.context_id == scope.context_id)
        .order_by(Module.position, Module.id)
    ).all()
    active = Membership.status == "Active"
    seen = dict(
        session.execute(
            select(active, func.count())
            .where(*Scope(scope.context_id, show_inactive=True).members())
            .group_by(active)
        ).all()
    )
    total = seen.get(True, 0) + (seen.get(False, 0) if scope.show_inactive else 0)
    hidden = 0 if scope.show_inactive else seen.get(False, 0)
    scales = CourseScales.load(session, scope.context_id)
    course = course_counts(session, scope.context_id)
    course_stuck = stuck_of(session, scope.context_id, scope.stuck_days, scope.now)
    if left is None:
        left = scope.left_out(session)
    less, less_stuck = counts_of(session, scope.context_id, left, course_stuck)
    return ClassSummary(
        students=total,
        hidden_inactive=hidden,
        stuck=len(stuck),
        competencies=_levels(comps, scales, total, course, less),
        modules=_modules(
            session, scope, modules, total, course, less, course_stuck.per_module, less_stuck
        ),
        passback=dict(
            session.execute(
                select(ScoreOutbox.state, func.count())
                .where(ScoreOutbox.context_id == scope.context_id)
                .group_by(ScoreOutbox.state)
            ).all()
        ),
        failed=_failed(session, scope.context_id, comps, modules),
    )


def _levels(comps, scales, total, course: CourseCounts, less: CourseCounts):
    """Students per stored level, scored ones only; the rest have no score yet."""
    found: dict[int, dict[str | None, tuple[int, float]]] = {}
    for (comp_id, level), (count, sum_) in course.levels.items():
        n, s = less.levels.get((comp_id, level), (0, 0.0))
        if count - n > 0:
            found.setdefault(comp_id, {})[level] = (count - n, sum_ - s)
    out = []
    for comp_id, code, title, scale_id in comps:
        style = LevelStyle.of(scales, scale_id)
        mine = found.get(comp_id, {})
        buckets = [
            Bucket(lv["name"], style.css(lv["name"]), mine.get(lv["name"], (0, 0.0))[0])
            for lv in style.levels
        ]
        named = {lv["name"] for lv in style.levels}
        # a level the scale no longer has (renamed since the last recompute) is still shown
        buckets += [
            Bucket(str(level or "Unnamed level"), "lv-none", n)
            for level, (n, _) in mine.items()
            if level not in named
        ]
        scored = sum(n for n, _ in mine.values())
        average = sum(s for _, s in mine.values()) / scored if scored else None
        out.append(CompetencySummary(comp_id, code, title, style, buckets, total - scored, average))
    return out


def _modules(
    session, scope, modules, total, course, less, stuck_in, less_stuck
) -> list[ModuleSummary]:
    """Counts per module and status; a student without an unlock row counts as locked."""
    counts: dict[int, dict[str, int]] = {}
    for (module_id, status), count in course.modules.items():
        n = count - less.modules.get((module_id, status), 0)
        if n > 0:
            counts.setdefault(module_id, {})[status] = n
    gated = [m.id for m in modules if m.gates_lms]
    known = _known_to_lms(session, scope, gated)
    out = []
    for module_id, title, gates_lms in modules:
        mine = dict(counts.get(module_id, {}))
        mine["locked"] = total - sum(n for s, n in mine.items() if s != "locked")
        stuck = stuck_in.get(module_id, 0) - less_stuck.get(module_id, 0)
        summary = ModuleSummary(module_id, title, mine, stuck, gates_lms)
        if gates_lms:
            summary.open_in_tool = total - mine["locked"]
            summary.known_to_lms = known.get(module_id, 0)
        out.append(summary)
    return out


def _known_to_lms(session: Session, scope: Scope, module_ids: list[int]) -> dict[int, int]:
    """Per gated module: students open here whose unlock column holds a posted 1."""
    if not module_ids:
        return {}
    posted = (
        select(ScoreOutbox.user_id, ScoreOutbox.module_id)
        .where(
            ScoreOutbox.context_id == scope.context_id,
            ScoreOutbox.module_id.in_(module_ids),
            *LMS_HOLDS_OPEN,
        )
        .distinct()
        .subquery()
    )
    return {
        int(m): int(n)
        for m, n in session.execute(
            select(UnlockState.module_id, func.count())
            .join(Membership, Membership.user_id == UnlockState.user_id)
            .join(
                posted,
                (posted.c.user_id == UnlockState.user_id)
                & (posted.c.module_id == UnlockState.module_id),
            )
            .where(
                UnlockState.context_id == scope.context_id,
                UnlockState.module_id.in_(module_ids),
                UnlockState.status != "locked",
                *scope.members(),
            )
            .group_by(UnlockState.module_id)
        )
    }


def _failed(session, context_id, comps, modules) -> list[FailedPost]:
    """The latest 200 scores the gradebook refused, with the student's name."""
    titles = {("c", c.id): c.title for c in comps} | {
        ("m", m.id): f"Unlocked: {m.title}" for m in modules
    }
    rows = session.execute(
        select(
            ScoreOutbox.id,
            ScoreOutbox.user_id,
            User.name,
            ScoreOutbox.competency_id,
            ScoreOutbox.module_id,
            ScoreOutbox.score_given,
            ScoreOutbox.last_error,
            ScoreOutbox.updated_at,
        )
        .outerjoin(User, User.id == ScoreOutbox.user_id)
        .where(ScoreOutbox.context_id == context_id, ScoreOutbox.state == "failed")
        .order_by(ScoreOutbox.updated_at.desc())
        .limit(200)
    ).all()
    return [
        FailedPost(
            row_id,
            name or f"Student {user_id}",
            titles.get(("c", comp_id) if module_id is None else ("m", module_id), "?"),
            score,
            error,
            at,
        )
        for row_id, user_id, name, comp_id, module_id, score, error, at in rows
    ]
