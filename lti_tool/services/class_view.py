"""The class at a glance for a teacher, read from the stored states (no engine run, so a
class of a thousand loads as fast as a class of twenty): mastery per student and competency,
unlock counts per module, who is stuck, and where the gradebook passback stands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti.roles import STUDENT
from lti_tool.mastery.rule_render import number
from lti_tool.mastery.scales import EPSILON
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import (
    Competency,
    Evidence,
    MasteryState,
    UnlockState,
)
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.services.course_model import DEFAULT_LEVELS, CourseScales, levels_of


def text_colour(background: str) -> str:
    """Near-black or white, whichever reads on the level's colour (WCAG relative luminance)."""
    try:
        r, g, b = (int(background.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except (ValueError, IndexError):
        return "#1b1b1b"

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    on_white = 1.05 / (lum + 0.05)
    on_black = (lum + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#1b1b1b"


def level_class(scale_id: int | None, levels: list[dict], name: str | None) -> str:
    """The CSS class of a level: the page's CSP allows no inline style, so level colours
    come from the course's level stylesheet (`levels_css`)."""
    for i, lv in enumerate(levels):
        if lv["name"] == name:
            return f"lv-{scale_id or 'd'}-{i}"
    return "lv-none"


def levels_css(session: Session, context_id: int) -> str:
    """One rule per level of every scale of the course (and the default scale): its colour
    and a text colour that reads on it."""
    rules = [".lv-none { background: #f3f3f3; color: #1b1b1b; }"]
    for scale_id, levels in CourseScales.load(session, context_id).all_levels().items():
        for i, lv in enumerate(levels):
            colour = str(lv.get("color") or lv.get("colour") or "#e0e0e0")
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
                colour = "#e0e0e0"
            ink = text_colour(colour)
            rules.append(f".lv-{scale_id or 'd'}-{i} {{ background: {colour}; color: {ink}; }}")
    return "\n".join(rules) + "\n"


@dataclass(frozen=True)
class Cell:
    score: float | None
    level: str | None
    css: str
    mastered: bool
    label: str | None = None  # the level as people read it (see `shown_level`)

    @property
    def short(self) -> str:
        return "—" if self.score is None else number(self.score)


def shown_level(levels: list[dict], level: str | None, score: float | None) -> str | None:
    """A stored level as people read it: below the lowest level it is "Below <lowest>", and a
    student with evidence is never labelled "No Evidence" (the engine's `level_label`)."""
    if score is None or level is None or not levels:
        return level
    lowest = min(levels, key=lambda lv: float(lv["points"]))
    if score < float(lowest["points"]) - EPSILON:
        return f"Below {lowest['name']}"
    return "Some evidence" if "no evidence" in level.lower() else level


@dataclass
class StudentRow:
    user_id: int
    name: str
    status: str
    cells: list[Cell]
    modules: dict[int, str]
    stuck: list[str] = field(default_factory=list)
    last_evidence: datetime | None = None


@dataclass
class ModuleSummary:
    id: int
    title: str
    counts: dict[str, int]
    # A module that gates LMS content: how many students have it open here, and how many of
    # those the LMS already has a 1 for in the unlock column (the rest are waiting for it).
    gated: bool = False
    open_in_tool: int = 0
    known_to_lms: int = 0

    @property
    def waiting(self) -> int:
        return self.open_in_tool - self.known_to_lms


@dataclass
class FailedPost:
    id: int
    student: str
    competency: str
    score: float
    reason: str
    at: datetime


@dataclass
class ClassView:
    competencies: list[Competency]
    students: list[StudentRow]
    modules: list[ModuleSummary]
    passback: dict[str, int]
    failed: list[FailedPost]
    hidden_inactive: int
    stuck_days: int
    averages: list[float | None]


def class_view(
    session: Session,
    context_id: int,
    show_inactive: bool = False,
    stuck_days: int = 7,
    only_stuck: bool = False,
    now: datetime | None = None,
) -> ClassView:
    now = now or utcnow()
    comps = list(
        session.scalars(
            select(Competency)
            .where(Competency.context_id == context_id)
            .order_by(Competency.position, Competency.id)
        )
    )
    modules = list(
        session.scalars(
            select(Module)
            .where(Module.context_id == context_id)
            .order_by(Module.position, Module.id)
        )
    )
    scales = CourseScales.load(session, context_id)
    people = session.execute(
        select(User.id, User.name, User.given_name, User.family_name, Membership.status)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.context_id == context_id, Membership.role == STUDENT)
        .order_by(User.family_name, User.given_name, User.name, User.id)
    ).all()
    states = {
        (m.user_id, m.competency_id): m
        for m in session.scalars(select(MasteryState).where(MasteryState.context_id == context_id))
    }
    unlocks: dict[int, dict[int, UnlockState]] = {}
    for u in session.scalars(select(UnlockState).where(UnlockState.context_id == context_id)):
        unlocks.setdefault(u.user_id, {})[u.module_id] = u
    latest = dict(
        session.execute(
            select(Evidence.user_id, func.max(Evidence.graded_at))
            .where(Evidence.context_id == context_id, Evidence.withdrawn_at.is_(None))
            .group_by(Evidence.user_id)
        ).all()
    )
    titles = {m.id: m.title for m in modules}
    cutoff = now - timedelta(days=stuck_days)
    rows: list[StudentRow] = []
    hidden = 0
    for uid, name, given, family, status in people:
        if status != "Active" and not show_inactive:
            hidden += 1
            continue
        cells = []
        for c in comps:
            st = states.get((uid, c.id))
            level = st.level if st else None
            levels = scales.levels(c.scale_id)
            css = level_class(scales.key(c.scale_id), levels, level)
            score = st.score if st else None
            label = shown_level(levels, level, score)
            cells.append(Cell(score, level, css, bool(st and st.mastered), label))
        mine = unlocks.get(uid, {})
        last = latest.get(uid)
        stuck = [
            titles[mid]
            for mid, u in mine.items()
            if mid in titles
            and u.status == "locked"
            and u.since <= cutoff
            and (last is None or last <= cutoff)
        ]
        row = StudentRow(
            user_id=uid,
            name=name or " ".join(p for p in (given, family) if p) or f"Student {uid}",
            status=status,
            cells=cells,
            modules={m.id: (mine[m.id].status if m.id in mine else "locked") for m in modules},
            stuck=stuck,
            last_evidence=last,
        )
        if only_stuck and not stuck:
            continue
        rows.append(row)
    lms_open = lms_knows_open(session, context_id, [m.id for m in modules if m.gates_lms])
    summaries = []
    for m in modules:
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.modules[m.id]] = counts.get(r.modules[m.id], 0) + 1
        summary = ModuleSummary(m.id, m.title, counts, gated=m.gates_lms)
        if m.gates_lms:
            opened = [r.user_id for r in rows if r.modules[m.id] != "locked"]
            summary.open_in_tool = len(opened)
            summary.known_to_lms = sum(1 for u in opened if (u, m.id) in lms_open)
        summaries.append(summary)
    averages: list[float | None] = []
    for i in range(len(comps)):
        scored = [r.cells[i].score for r in rows if r.cells[i].score is not None]
        averages.append(sum(scored) / len(scored) if scored else None)  # type: ignore[arg-type]
    passback = dict(
        session.execute(
            select(ScoreOutbox.state, func.count())
            .where(ScoreOutbox.context_id == context_id)
            .group_by(ScoreOutbox.state)
        ).all()
    )
    titles = {("c", c.id): c.title for c in comps} | {
        ("m", m.id): f"Unlocked: {m.title}" for m in modules
    }
    names = {uid: name for uid, name, *_ in people}
    failed = [
        FailedPost(
            o.id,
            names.get(o.user_id) or f"Student {o.user_id}",
            titles.get(("c", o.competency_id) if o.module_id is None else ("m", o.module_id), "?"),
            o.score_given,
            o.last_error,
            o.updated_at,
        )
        for o in session.scalars(
            select(ScoreOutbox)
            .where(ScoreOutbox.context_id == context_id, ScoreOutbox.state == "failed")
            .order_by(ScoreOutbox.updated_at.desc())
            .limit(200)
        )
    ]
    return ClassView(comps, rows, summaries, passback, failed, hidden, stuck_days, averages)


def lms_knows_open(
    session: Session, context_id: int, module_ids: list[int]
) -> set[tuple[int, int]]:
    """(student, module) pairs whose unlock column holds a posted 1: open in the LMS too."""
    if not module_ids:
        return set()
    return {
        (int(u), int(m))
        for u, m in session.execute(
            select(ScoreOutbox.user_id, ScoreOutbox.module_id).where(
                ScoreOutbox.context_id == context_id,
                ScoreOutbox.module_id.in_(module_ids),
                ScoreOutbox.state == "posted",
                ScoreOutbox.score_given >= 0.5,
            )
        )
    }


def course_levels(session: Session, context_id: int) -> list[dict]:
    """The levels people pick from in forms: the scale of the course's first competency (a
    course normally has one scale; the server checks each pick against the competency's)."""
    first = session.scalar(
        select(Competency)
        .where(Competency.context_id == context_id)
        .order_by(Competency.position, Competency.id)
        .limit(1)
    )
    return list(levels_of(session, first) if first is not None else DEFAULT_LEVELS)
