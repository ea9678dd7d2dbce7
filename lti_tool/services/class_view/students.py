"""The students of the class view, a page at a time: found, filtered and sorted by the
database (name search, stuck, a competency's level or score), then only the page on screen
read cell by cell, as plain tuples (no ORM object per cell)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session

from lti_tool.mastery.rule_render import number
from lti_tool.models.course import Membership, User
from lti_tool.models.mastery import Competency, MasteryState, UnlockState
from lti_tool.models.modules import Module
from lti_tool.services.class_view.levels import LevelStyle
from lti_tool.services.class_view.scope import Scope
from lti_tool.services.course_model import CourseScales

PER_PAGE = 50
NO_SCORE = "none"  # the level filter for students without a score yet
SORTS = ("name", "stuck", "score", "-score")
MODULE_WORDS = (
    ("unlocked", "open"),
    ("completed", "completed"),
    ("mastered", "mastered"),
    ("exempt", "exempt"),
    ("locked", "locked"),
)


@dataclass(frozen=True)
class Query:
    """What the teacher asked the list for; parsed and bounded by the web layer."""

    search: str = ""
    only_stuck: bool = False
    sort: str = "name"
    competency_id: int | None = None  # the competency a level filter or score sort reads
    level: str = ""  # a level name, NO_SCORE, or "" for any
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class Cell:
    css: str
    label: str | None  # None: no score yet
    short: str


@dataclass
class StudentRow:
    user_id: int
    name: str
    status: str
    cells: list[Cell]
    modules: dict[str, int]  # status -> how many of the course's modules
    stuck: list[str] = field(default_factory=list)

    @property
    def modules_text(self) -> str:
        """ "3 open · 1 completed · 96 locked": the modules column in words, zeros left out."""
        parts = [
            f"{self.modules[status]} {word}"
            for status, word in MODULE_WORDS
            if self.modules.get(status)
        ]
        return " · ".join(parts) or "No modules"


@dataclass
class StudentPage:
    rows: list[StudentRow]
    matching: int
    page: int
    pages: int
    per_page: int


def display_name(name: str | None, given: str | None, family: str | None, uid: int) -> str:
    return name or " ".join(p for p in (given, family) if p) or f"Student {uid}"


def matching(scope: Scope, query: Query, stuck_ids: set[int]) -> Any:
    """SELECT of the students the query asks for, sorted: (id, name, given, family, status).
    `stuck_ids`: Scope.stuck_students, read once for the page."""
    stmt = (
        select(User.id, User.name, User.given_name, User.family_name, Membership.status)
        .join(Membership, Membership.user_id == User.id)
        .where(*scope.members())
    )
    if query.search:
        needle = query.search.lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(col).contains(needle, autoescape=True)
                    for col in (User.name, User.given_name, User.family_name)
                )
            )
        )
    stuck = User.id.in_(sorted(stuck_ids)) if stuck_ids else literal(False)
    if query.only_stuck:
        stmt = stmt.where(stuck)
    score = None
    if query.competency_id is not None and (query.level or query.sort in ("score", "-score")):
        stmt = stmt.outerjoin(
            MasteryState,
            (MasteryState.user_id == User.id) & (MasteryState.competency_id == query.competency_id),
        )
        score = MasteryState.score
        if query.level == NO_SCORE:
            stmt = stmt.where(MasteryState.score.is_(None))
        elif query.level:
            stmt = stmt.where(MasteryState.level == query.level, MasteryState.score.is_not(None))
    by_name = (User.family_name, User.given_name, User.name, User.id)
    if query.sort == "stuck":
        stmt = stmt.order_by(case((stuck, 0), else_=1), *by_name)
    elif query.sort == "score" and score is not None:
        stmt = stmt.order_by(score.asc().nulls_first(), *by_name)
    elif query.sort == "-score" and score is not None:
        stmt = stmt.order_by(score.desc().nulls_last(), *by_name)
    else:
        stmt = stmt.order_by(*by_name)
    return stmt


def student_page(session: Session, scope: Scope, query: Query, stuck: set[int]) -> StudentPage:
    stmt = matching(scope, query, stuck)
    count = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())))
    pages = max(1, -(-count // query.per_page))
    page = min(max(1, query.page), pages)
    people = session.execute(stmt.limit(query.per_page).offset((page - 1) * query.per_page)).all()
    rows = page_rows(session, scope, people, stuck)
    return StudentPage(rows, count, page, pages, query.per_page)


def competency_styles(session: Session, context_id: int) -> list[tuple[int, LevelStyle]]:
    """The course's competencies in order, each with its scale worked out once."""
    scales = CourseScales.load(session, context_id)
    return [
        (cid, LevelStyle.of(scales, scale_id))
        for cid, scale_id in session.execute(
            select(Competency.id, Competency.scale_id)
            .where(Competency.context_id == context_id)
            .order_by(Competency.position, Competency.id)
        )
    ]


def page_rows(
    session: Session, scope: Scope, people: list[Any], stuck_ids: set[int]
) -> list[StudentRow]:
    """Cells, module counts and stuck modules of these students only. The states are found
    through their (competency, user) and (module, user) unique indexes: both lists given."""
    ids = [p[0] for p in people]
    if not ids:
        return []
    comps = competency_styles(session, scope.context_id)
    module_ids = list(
        session.scalars(select(Module.id).where(Module.context_id == scope.context_id))
    )
    states = {
        (uid, cid): (score, level)
        for uid, cid, score, level in session.execute(
            select(
                MasteryState.user_id,
                MasteryState.competency_id,
                MasteryState.score,
                MasteryState.level,
            ).where(
                MasteryState.competency_id.in_([cid for cid, _ in comps]),
                MasteryState.user_id.in_(ids),
            )
        )
    }
    n_modules = len(module_ids)
    modules: dict[int, dict[str, int]] = {}
    for uid, status, n in session.execute(
        select(UnlockState.user_id, UnlockState.status, func.count())
        .where(UnlockState.module_id.in_(module_ids), UnlockState.user_id.in_(ids))
        .group_by(UnlockState.user_id, UnlockState.status)
    ):
        modules.setdefault(uid, {})[status] = int(n)
    stuck: dict[int, list[str]] = {}
    on_page = [uid for uid in ids if uid in stuck_ids]
    if on_page:
        for uid, title in session.execute(
            select(UnlockState.user_id, Module.title)
            .join(Module, Module.id == UnlockState.module_id)
            .where(
                UnlockState.module_id.in_(module_ids),
                UnlockState.user_id.in_(on_page),
                UnlockState.status == "locked",
                UnlockState.since <= scope.cutoff,
            )
            .order_by(Module.position, Module.id)
        ):
            stuck.setdefault(uid, []).append(title)
    rows = []
    none = (None, None)
    for uid, name, given, family, status in people:
        cells = []
        for cid, style in comps:
            score, level = states.get((uid, cid), none)
            if score is None or level is None:
                cells.append(Cell("lv-none", None, "—"))
            else:
                cells.append(Cell(style.css(level), style.label(level, score), number(score)))
        mine = modules.get(uid, {})
        mine["locked"] = n_modules - sum(n for s, n in mine.items() if s != "locked")
        rows.append(
            StudentRow(
                uid,
                display_name(name, given, family, uid),
                status,
                cells,
                mine,
                stuck.get(uid, []),
            )
        )
    return rows


def all_rows(session: Session, scope: Scope, query: Query) -> tuple[list[Any], Any, Any]:
    """Every matching student (no paging) as plain tuples, for the export: people, their
    (user, competency) -> (score, level) and (user, module) -> status."""
    stuck = scope.stuck_students(session) if query.only_stuck or query.sort == "stuck" else set()
    people = session.execute(matching(scope, query, stuck)).all()
    states = {
        (uid, cid): (score, level)
        for uid, cid, score, level in session.execute(
            select(
                MasteryState.user_id,
                MasteryState.competency_id,
                MasteryState.score,
                MasteryState.level,
            ).where(MasteryState.context_id == scope.context_id)
        )
    }
    unlocks = {
        (uid, mid): status
        for uid, mid, status in session.execute(
            select(UnlockState.user_id, UnlockState.module_id, UnlockState.status).where(
                UnlockState.context_id == scope.context_id
            )
        )
    }
    return people, states, unlocks
