"""The bridge between a course's rows and the pure engine: rows in, engine values out.

Engine names: a competency is its code, a module and a line item their row id as text, a
student their user id as text.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.lti.roles import STUDENT
from lti_tool.models.course import Membership
from lti_tool.models.mastery import (
    DEFAULT_LEVELS,
    Alignment,
    Competency,
    CourseLineItem,
    Evidence,
    Override,
    Scale,
    UnlockState,
)
from lti_tool.models.modules import Module


def engine_scale(levels: list[dict[str, Any]]) -> mastery.Scale:
    return mastery.Scale(
        tuple(
            mastery.Level(
                name=str(lv["name"]),
                points=float(lv["points"]),
                colour=str(lv.get("color") or lv.get("colour") or "#555555"),
                mastery=bool(lv.get("mastery")),
            )
            for lv in levels
        )
    )


@dataclass(frozen=True)
class CourseScales:
    """A course's scales by id. A competency reads its own scale while it exists, else the
    default levels (key None): the one place that rule is written."""

    levels_by_id: dict[int, list[dict[str, Any]]]

    @classmethod
    def load(cls, session: Session, context_id: int) -> CourseScales:
        rows = session.scalars(select(Scale).where(Scale.context_id == context_id))
        return cls({s.id: s.levels for s in rows})

    def key(self, scale_id: int | None) -> int | None:
        return scale_id if scale_id in self.levels_by_id else None

    def levels(self, scale_id: int | None) -> list[dict[str, Any]]:
        key = self.key(scale_id)
        return DEFAULT_LEVELS if key is None else self.levels_by_id[key]

    def all_levels(self) -> dict[int | None, list[dict[str, Any]]]:
        """Every scale of the course and the default (None)."""
        return {**self.levels_by_id, None: DEFAULT_LEVELS}


def levels_of(session: Session, comp: Competency) -> list[dict[str, Any]]:
    """The levels one competency reads (see CourseScales)."""
    row = session.get(Scale, comp.scale_id) if comp.scale_id else None
    return CourseScales({row.id: row.levels} if row else {}).levels(comp.scale_id)


def scale_of(session: Session, comp: Competency) -> mastery.Scale:
    return engine_scale(levels_of(session, comp))


def default_scale() -> mastery.Scale:
    return engine_scale(DEFAULT_LEVELS)


def _rollup(data: dict[str, Any]) -> mastery.RollUp:
    if not data:
        return mastery.RollUp()
    return mastery.RollUp(
        kind=mastery.RollUpKind(data.get("kind", "average")),
        weights=dict(data.get("weights") or {}),
        required=tuple(data.get("required") or ()),
    )


@dataclass
class CourseSnapshot:
    """A course as the engine sees it, with the maps back to rows."""

    model: mastery.CourseModel
    competencies: dict[str, Competency]  # code -> row
    scales: dict[str, mastery.Scale]  # code -> scale
    modules: dict[str, Module]  # engine id -> row
    students: tuple[str, ...]
    aligned_items: dict[int, list[Competency]] = field(default_factory=dict)


def load_model(session: Session, context_id: int) -> CourseSnapshot:
    course_scales = CourseScales.load(session, context_id)
    scales = {key: engine_scale(levels) for key, levels in course_scales.all_levels().items()}
    rows = list(
        session.scalars(
            select(Competency)
            .where(Competency.context_id == context_id)
            .order_by(Competency.position, Competency.id)
        )
    )
    by_id = {c.id: c for c in rows}
    comps = []
    comp_scales: dict[str, mastery.Scale] = {}
    for c in rows:
        scale = scales[course_scales.key(c.scale_id)]
        comp_scales[c.code] = scale
        parent = by_id.get(c.parent_id or 0)
        comps.append(
            mastery.CompetencySpec(
                code=c.code,
                title=c.title,
                parent=parent.code if parent else None,
                scale=scale,
                method=mastery.method_from_json(c.method),
                min_evidence=c.min_evidence,
                order_by=mastery.OrderBy(c.order_by),
                rollup=_rollup(c.rollup),
                description=c.description,
            )
        )
    columns = list(
        session.scalars(select(CourseLineItem).where(CourseLineItem.context_id == context_id))
    )
    items = [
        mastery.LineItem(str(li.id), li.label or li.url, li.score_maximum or 100.0)
        for li in columns
        if li.gone_at is None
    ]
    module_rows = list(
        session.scalars(
            select(Module)
            .where(Module.context_id == context_id)
            .order_by(Module.position, Module.id)
        )
    )
    aligned: dict[int, list[Competency]] = {}
    module_comps: dict[int, list[str]] = {}
    for a in session.scalars(select(Alignment).where(Alignment.context_id == context_id)):
        comp = by_id.get(a.competency_id)
        if comp is None:
            continue
        if a.line_item_id is not None:
            aligned.setdefault(a.line_item_id, []).append(comp)
        if a.module_id is not None:
            module_comps.setdefault(a.module_id, []).append(comp.code)
    item_of_url = {li.url: str(li.id) for li in columns}
    bare = [mastery.Module(str(m.id), m.title) for m in module_rows]
    catalog = mastery.Catalog.of(comps, bare, items)
    modules = []
    for m in module_rows:
        unlock = mastery.parse_unlock(m.unlock_rule, catalog, module=str(m.id))
        if m.sticky and unlock.mode is not mastery.UnlockMode.STICKY:
            unlock = mastery.Unlock(rule=unlock.rule, mode=mastery.UnlockMode.STICKY)
        line_item = item_of_url.get(m.lineitem_url or "")
        modules.append(
            mastery.Module(
                id=str(m.id),
                title=m.title,
                unlock=unlock,
                competencies=tuple(module_comps.get(m.id, [])),
                line_item=line_item,
                complete_at_percent=m.complete_at_percent if line_item else None,
                choice_of=tuple(str(i) for i in m.choice_of or []),
                position=m.position,
            )
        )
    students = tuple(
        str(uid)
        for uid in session.scalars(
            select(Membership.user_id)
            .where(Membership.context_id == context_id, Membership.role == STUDENT)
            .order_by(Membership.user_id)
        )
    )
    return CourseSnapshot(
        model=mastery.build_course(comps, modules, items),
        competencies={c.code: c for c in rows},
        scales=comp_scales,
        modules={str(m.id): m for m in module_rows},
        students=students,
        aligned_items=aligned,
    )


def load_facts(
    session: Session,
    context_id: int,
    snapshot: CourseSnapshot,
    only: int | Collection[int] | None = None,
) -> mastery.ClassFacts:
    """The course's facts, or only some students' (`only`): a page for one student, or a
    recompute after new evidence for a few, reads only theirs."""
    who = [only] if isinstance(only, int) else list(only) if only is not None else None
    code_of = {c.id: code for code, c in snapshot.competencies.items()}
    students = set(snapshot.students)
    evidence = []
    scores: dict[tuple[str, str], mastery.LineItemScore] = {}
    live = select(Evidence).where(
        Evidence.context_id == context_id, Evidence.withdrawn_at.is_(None)
    )
    if who is not None:
        live = live.where(Evidence.user_id.in_(who))
    for e in session.scalars(live):
        student = str(e.user_id)
        if student not in students or e.competency_id not in code_of:
            continue
        evidence.append(
            mastery.Evidence(
                id=str(e.id),
                student=student,
                competency=code_of[e.competency_id],
                score=e.raw_score,
                out_of=e.raw_maximum,
                graded_at=e.graded_at,
                submitted_at=e.submitted_at,
            )
        )
        if e.line_item_id is not None and e.raw_score is not None:
            scores[(student, str(e.line_item_id))] = mastery.LineItemScore(
                student=student,
                line_item=str(e.line_item_id),
                points=e.raw_score,
            )
    overrides = [
        mastery.Override(str(o.user_id), str(o.module_id), mastery.OverrideKind(o.kind))
        for o in session.scalars(
            select(Override).where(
                Override.context_id == context_id,
                Override.cleared_at.is_(None),
                *([Override.user_id.in_(who)] if who is not None else []),
            )
        )
        if str(o.user_id) in students and str(o.module_id) in snapshot.modules
    ]
    sticky = [
        (str(u.user_id), str(u.module_id))
        for u in session.scalars(
            select(UnlockState).where(
                UnlockState.context_id == context_id,
                UnlockState.sticky_unlocked.is_(True),
                *([UnlockState.user_id.in_(who)] if who is not None else []),
            )
        )
        if str(u.user_id) in students and str(u.module_id) in snapshot.modules
    ]
    return mastery.ClassFacts(
        students=snapshot.students,
        evidence=evidence,
        line_item_scores=list(scores.values()),
        overrides=overrides,
        sticky_unlocked=sticky,
    )


def evaluate(
    session: Session,
    context_id: int,
    now: datetime,
    only: Collection[int] | None = None,
    snapshot: CourseSnapshot | None = None,
) -> tuple[CourseSnapshot, Any]:
    """The course's state; with `only`, just those students' (the incremental update after new
    evidence: a student's mastery and unlocks depend on their own facts alone). A caller that
    already loaded the course passes its `snapshot`."""
    snapshot = snapshot or load_model(session, context_id)
    if only is not None:
        keep = {str(u) for u in only}
        snapshot = replace(snapshot, students=tuple(s for s in snapshot.students if s in keep))
    facts = load_facts(session, context_id, snapshot, only=only)
    return snapshot, mastery.evaluate_class(snapshot.model, facts, now)


def evaluate_student(
    session: Session, context_id: int, user_id: int, now: datetime
) -> tuple[CourseSnapshot, Any]:
    """One student's state, from their facts only: what a page load costs for one person."""
    snapshot = replace(load_model(session, context_id), students=(str(user_id),))
    facts = load_facts(session, context_id, snapshot, only=user_id)
    return snapshot, mastery.evaluate_class(snapshot.model, facts, now)
