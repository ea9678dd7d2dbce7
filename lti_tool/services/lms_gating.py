"""What a teacher needs to gate the LMS's own content on the tool's columns: per gated module
and per competency level, the exact values to enter in their LMS (percentages computed from the
real scale, never written by hand), and which of the tool's columns still count toward the LMS
course total (neither Moodle nor Canvas lets a tool create a column already left out of it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.grading.columns import known_column, label_of, resource_id_of
from lti_tool.mastery.rule_render import number
from lti_tool.models.course import Context
from lti_tool.models.mastery import Competency
from lti_tool.models.modules import Module
from lti_tool.models.platform import Registration
from lti_tool.services.course_model import CourseScales


@dataclass(frozen=True)
class LevelGate:
    """One level of a competency's scale as each LMS's condition: Moodle's "must be ≥ %"
    (grade × 100 / maximum, inclusive) and Canvas' "score at least" (points)."""

    name: str
    points: float
    percent: str
    mastery: bool

    @property
    def points_text(self) -> str:
        return number(self.points)


@dataclass(frozen=True)
class CompetencyGate:
    id: int
    title: str
    label: str
    column_made: bool
    top: float
    levels: list[LevelGate]

    @property
    def top_text(self) -> str:
        return number(self.top)


@dataclass(frozen=True)
class ModuleGate:
    id: int
    title: str
    label: str
    column_made: bool
    target_title: str
    target_url: str


@dataclass
class Guidance:
    family: str  # moodle | canvas | other (show both)
    modules: list[ModuleGate] = field(default_factory=list)
    competencies: list[CompetencyGate] = field(default_factory=list)
    # Labels of the tool's columns in the LMS that the teacher has not said are out of the
    # course total (they count until the teacher changes that in the LMS).
    counting: list[str] = field(default_factory=list)


def percent_text(points: float, top: float) -> str:
    """`points` of `top` as the percentage Moodle compares with `>=`, cut (never rounded up)
    to 2 decimals so a student exactly at the level still passes: 3 of 4 is "75", 2.5 of 3
    is "83.33"."""
    value = math.floor(points * 100.0 / top * 100.0 + 1e-6) / 100.0
    return number(value)


def platform_family(session: Session, registration_id: int) -> str:
    """moodle | canvas, from the launch's `tool_platform` claim or else the issuer; other."""
    row = session.get(Registration, registration_id)
    if row is None:
        return "other"
    if row.platform_family in ("moodle", "canvas"):
        return row.platform_family
    issuer = row.issuer.lower()
    if "canvas" in issuer or "instructure" in issuer:
        return "canvas"
    return "moodle" if "moodle" in issuer else "other"


def tool_columns(session: Session, context_id: int) -> list[tuple[str, str]]:
    """(resourceId, label) of every column the tool has made in the LMS for this course."""
    comps = session.scalars(
        select(Competency)
        .where(Competency.context_id == context_id, Competency.passback_lineitem_url.is_not(None))
        .order_by(Competency.position, Competency.id)
    )
    mods = session.scalars(
        select(Module)
        .where(Module.context_id == context_id, Module.unlock_lineitem_url.is_not(None))
        .order_by(Module.position, Module.id)
    )
    return [(resource_id_of(o), known_column(o)[1] or label_of(o)) for o in [*comps, *mods]]


def counting_columns(session: Session, context: Context) -> list[str]:
    """The tool's columns that still count toward the LMS course total, as far as the tool
    knows: every one the teacher has not said is out of it."""
    out = set(context.columns_out_of_total or [])
    return [label for rid, label in tool_columns(session, context.id) if rid not in out]


def keep_out_of_total(session: Session, context: Context) -> int:
    """The teacher's "I have kept these out of the course total": the columns made so far are
    remembered, so the warning comes back only for a column made later (no commit)."""
    made = [rid for rid, _ in tool_columns(session, context.id)]
    context.columns_out_of_total = sorted(set(context.columns_out_of_total or []) | set(made))
    return len(made)


def guidance(session: Session, context: Context) -> Guidance:
    out = Guidance(platform_family(session, context.registration_id))
    for m in session.scalars(
        select(Module)
        .where(Module.context_id == context.id, Module.gates_lms.is_(True))
        .order_by(Module.position, Module.id)
    ):
        out.modules.append(
            ModuleGate(
                m.id,
                m.title,
                label_of(m),
                bool(m.unlock_lineitem_url),
                m.lms_target_title,
                m.lms_target_url,
            )
        )
    scales = CourseScales.load(session, context.id)
    for c in session.scalars(
        select(Competency)
        .where(Competency.context_id == context.id)
        .order_by(Competency.position, Competency.id)
    ):
        levels = scales.levels(c.scale_id)
        top = float(levels[0]["points"])
        gates = [
            LevelGate(
                str(lv["name"]),
                float(lv["points"]),
                percent_text(float(lv["points"]), top),
                bool(lv.get("mastery")),
            )
            for lv in levels
            if float(lv["points"]) > 0
        ]
        out.competencies.append(
            CompetencyGate(c.id, c.title, label_of(c), bool(c.passback_lineitem_url), top, gates)
        )
    out.counting = counting_columns(session, context)
    return out
