"""The bridge between a course's rows and the pure engine: rows in, engine values out.

Engine names: a competency is its code, a module and a line item their row id as text, a
student their user id as text.

The course model (every rule parsed, every competency, scale, module, alignment and column
read) is built once per course version and cached per process and database; one tiny query
for `Context.model_version` tells a reader whether it still holds (models/model_version.py
bumps it in every writer's transaction). Facts are read per request, only the students'
asked for, as plain tuples.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, func, literal_column, select
from sqlalchemy.orm import Session

from lti_tool import mastery
from lti_tool.lti.roles import STUDENT
from lti_tool.models.bulk import plain_rows
from lti_tool.models.course import Context, Membership
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
from lti_tool.models.model_version import EVERY_COURSE, changed_courses
from lti_tool.models.modules import Module
from lti_tool.services.stamped_cache import PerDatabase, StampedCache


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


@dataclass(frozen=True, slots=True)
class CompetencyRow:
    """What the pages and the recompute read of a competency: plain data a cached model can
    hold across sessions (an ORM row would be bound to the session that read it)."""

    id: int
    code: str
    title: str
    description: str
    parent_id: int | None
    scale_id: int | None


@dataclass(frozen=True, slots=True)
class ModuleRow:
    """What the pages and the recompute read of a module, as plain data (see CompetencyRow)."""

    id: int
    title: str
    description: str
    gates_lms: bool
    lms_target_title: str
    lms_target_url: str
    unlock_rule: dict[str, Any] | None


@dataclass(frozen=True)
class CourseSnapshot:
    """A course as the engine sees it, with the maps back to rows. Shared between requests
    once cached: read it, never change it."""

    model: mastery.CourseModel
    competencies: dict[str, CompetencyRow]  # code -> row
    scales: dict[str, mastery.Scale]  # code -> scale
    modules: dict[str, ModuleRow]  # engine id -> row
    students: tuple[str, ...]
    course_scales: CourseScales
    aligned_items: dict[int, list[CompetencyRow]]  # line item id -> its competencies
    item_labels: dict[int, str]  # line item id -> its label, gone ones too


class ModelCache(StampedCache[int, CourseSnapshot]):
    """Context id -> (model version, snapshot)."""


model_cache = PerDatabase(ModelCache)


# A student's page runs these on every request: built once, as SQLAlchemy builds a statement
# in about the time PostgreSQL answers it.
_VERSION = select(Context.model_version).where(Context.id == bindparam("context"))


def course_model(session: Session, context_id: int) -> CourseSnapshot:
    """The course's model without its students: from the cache while the course's version
    stands, else built and cached. A transaction that changed the course itself builds it
    fresh and caches nothing (it may yet roll back under a number another one reuses)."""
    version = session.scalar(_VERSION, {"context": context_id})
    # read after the version query: its autoflush is what bumps a pending change
    mine = changed_courses(session)
    if version is None or context_id in mine or EVERY_COURSE in mine:
        return build_model(session, context_id)
    cache = model_cache(session)
    cached = cache.get(context_id, version)
    if cached is None:
        cached = build_model(session, context_id)
        cache.put(context_id, version, cached)
    return cached


def course_students(session: Session, context_id: int) -> tuple[str, ...]:
    """The course's students, as the engine names them."""
    return tuple(
        str(uid)
        for uid in session.scalars(
            select(Membership.user_id)
            .where(Membership.context_id == context_id, Membership.role == STUDENT)
            .order_by(Membership.user_id)
        )
    )


def load_model(session: Session, context_id: int) -> CourseSnapshot:
    """The course's model with every student of the course."""
    return replace(course_model(session, context_id), students=course_students(session, context_id))


def _competency_row(c: Competency) -> CompetencyRow:
    return CompetencyRow(c.id, c.code, c.title, c.description or "", c.parent_id, c.scale_id)


def _module_row(m: Module) -> ModuleRow:
    return ModuleRow(
        m.id,
        m.title,
        m.description or "",
        bool(m.gates_lms),
        m.lms_target_title or "",
        m.lms_target_url or "",
        m.unlock_rule,
    )


def build_model(session: Session, context_id: int) -> CourseSnapshot:
    """Read the course's setup and build its model: every rule parsed (and refused, with
    mastery.RuleError, if the course cannot take it)."""
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
    plain = {c.id: _competency_row(c) for c in rows}
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
    aligned: dict[int, list[CompetencyRow]] = {}
    module_comps: dict[int, list[str]] = {}
    for a in session.scalars(select(Alignment).where(Alignment.context_id == context_id)):
        comp = by_id.get(a.competency_id)
        if comp is None:
            continue
        if a.line_item_id is not None:
            aligned.setdefault(a.line_item_id, []).append(plain[comp.id])
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
    return CourseSnapshot(
        model=mastery.build_course(comps, modules, items),
        competencies={c.code: plain[c.id] for c in rows},
        scales=comp_scales,
        modules={str(m.id): _module_row(m) for m in module_rows},
        students=(),
        course_scales=course_scales,
        aligned_items=aligned,
        item_labels={li.id: li.label for li in columns},
    )


# The evidence columns facts are built from, in this order (student_evidence, _evidence_rows).
EVIDENCE_COLUMNS = (
    Evidence.id,
    Evidence.user_id,
    Evidence.competency_id,
    Evidence.raw_score,
    Evidence.raw_maximum,
    Evidence.graded_at,
    Evidence.submitted_at,
    Evidence.line_item_id,
    Evidence.note,
)


_STUDENT_EVIDENCE = (
    select(*EVIDENCE_COLUMNS)
    .where(
        Evidence.context_id == bindparam("context"),
        Evidence.user_id == bindparam("user"),
        Evidence.withdrawn_at.is_(None),
    )
    .order_by(Evidence.graded_at.desc(), Evidence.id.desc())
)
# one student's standing overrides and sticky unlocks (student_view.student_marks reads both
# in one round trip with these very conditions)
STUDENT_OVERRIDES = select(Override.user_id, Override.module_id, Override.kind).where(
    Override.context_id == bindparam("context"),
    Override.user_id == bindparam("user"),
    Override.cleared_at.is_(None),
)
STUDENT_STICKY = select(UnlockState.user_id, UnlockState.module_id).where(
    UnlockState.context_id == bindparam("context"),
    UnlockState.user_id == bindparam("user"),
    UnlockState.sticky_unlocked.is_(True),
)


def student_evidence(session: Session, context_id: int, user_id: int) -> list[Any]:
    """One student's live evidence, newest first, as tuples in EVIDENCE_COLUMNS order: the
    facts and the profile's evidence list both read it, so a page reads it once."""
    return list(session.execute(_STUDENT_EVIDENCE, {"context": context_id, "user": user_id}))


def load_facts(
    session: Session,
    context_id: int,
    snapshot: CourseSnapshot,
    only: int | Collection[int] | None = None,
    evidence: Iterable[Any] | None = None,
    overrides: Iterable[Any] | None = None,
    sticky: Iterable[Any] | None = None,
) -> mastery.ClassFacts:
    """The course's facts, or only some students' (`only`): a page for one student, or a
    recompute after new evidence for a few, reads only theirs. Plain tuples, not ORM rows: a
    course's 150,000 evidence rows load in a fraction of the time. `evidence`, `overrides`,
    `sticky`: one student's rows already read (student_evidence, student_marks)."""
    who = [only] if isinstance(only, int) else list(only) if only is not None else None
    code_of = {c.id: code for code, c in snapshot.competencies.items()}
    students = set(snapshot.students)
    one = {"context": context_id, "user": only} if isinstance(only, int) else None
    if evidence is None and one is not None:
        evidence = session.execute(_STUDENT_EVIDENCE, one)
    facts = []
    rows: list[mastery.EvidenceRow] = []
    scores: dict[tuple[str, int], mastery.LineItemScore] = {}
    if evidence is None:
        # many students: plain rows (times as POSIX seconds), no object per row, and only the
        # scores of the line items the course's rules read
        read = {int(item) for item in snapshot.model.line_items_read}
        name_of = {int(s): s for s in students}
        for e_id, user_id, comp_id, score, out_of, graded, submitted, item in _evidence_rows(
            session, context_id, who
        ):
            student = name_of.get(user_id)
            code = code_of.get(comp_id)
            if code is None or student is None:
                continue
            rows.append((e_id, student, code, score, out_of, graded, submitted))
            if item in read and score is not None:
                scores[(student, item)] = mastery.LineItemScore(student, str(item), score)
    else:
        make = mastery.Evidence
        for e_id, user_id, comp_id, score, out_of, graded, submitted, item, *_ in evidence:
            student = str(user_id)
            code = code_of.get(comp_id)
            if code is None or student not in students:
                continue
            facts.append(make(str(e_id), student, code, score, graded, submitted, out_of))
            if item is not None and score is not None:
                scores[(student, item)] = mastery.LineItemScore(student, str(item), score)
    if one is not None:
        override_rows = overrides
        if override_rows is None:
            override_rows = session.execute(STUDENT_OVERRIDES, one)
        sticky_rows = sticky if sticky is not None else session.execute(STUDENT_STICKY, one)
    else:
        mine = [Override.user_id.in_(who)] if who is not None else []
        override_rows = session.execute(
            select(Override.user_id, Override.module_id, Override.kind).where(
                Override.context_id == context_id, Override.cleared_at.is_(None), *mine
            )
        )
        held = [UnlockState.user_id.in_(who)] if who is not None else []
        sticky_rows = session.execute(
            select(UnlockState.user_id, UnlockState.module_id).where(
                UnlockState.context_id == context_id, UnlockState.sticky_unlocked.is_(True), *held
            )
        )
    overrides = [
        mastery.Override(str(user_id), str(module_id), mastery.OverrideKind(kind))
        for user_id, module_id, kind in override_rows
        if str(user_id) in students and str(module_id) in snapshot.modules
    ]
    sticky = [
        (str(user_id), str(module_id))
        for user_id, module_id in sticky_rows
        if str(user_id) in students and str(module_id) in snapshot.modules
    ]
    return mastery.ClassFacts(
        students=snapshot.students,
        evidence=facts,
        evidence_rows=rows,
        line_item_scores=list(scores.values()),
        overrides=overrides,
        sticky_unlocked=sticky,
    )


def _evidence_rows(
    session: Session, context_id: int, who: list[int] | None
) -> list[tuple[Any, ...]]:
    """Live evidence as (id as text, user, competency, score, maximum, graded_at, submitted_at,
    line item), the times in POSIX seconds: PostgreSQL computes them, so no datetime is made."""
    live = [Evidence.context_id == context_id, Evidence.withdrawn_at.is_(None)]
    if who is not None:
        live.append(Evidence.user_id.in_(who))
    if session.connection().dialect.name == "postgresql":
        epoch = literal_column("'epoch'")
        return plain_rows(
            session,
            select(
                cast(Evidence.id, String),
                Evidence.user_id,
                Evidence.competency_id,
                Evidence.raw_score,
                Evidence.raw_maximum,
                func.date_part(epoch, Evidence.graded_at),
                func.date_part(epoch, Evidence.submitted_at),
                Evidence.line_item_id,
            ).where(*live),
        )
    return [
        (str(e_id), user, comp, score, top, graded.timestamp(), sent and sent.timestamp(), item)
        for e_id, user, comp, score, top, graded, sent, item in session.execute(
            select(*EVIDENCE_COLUMNS[:8]).where(*live)
        )
    ]


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
    session: Session,
    context_id: int,
    user_id: int,
    now: datetime,
    evidence: Iterable[Any] | None = None,
    overrides: Iterable[Any] | None = None,
    sticky: Iterable[Any] | None = None,
) -> tuple[CourseSnapshot, Any]:
    """One student's state, from the cached model and their facts only: what a page load
    costs for one person. `evidence`, `overrides`, `sticky`: their rows already read."""
    snapshot = replace(course_model(session, context_id), students=(str(user_id),))
    facts = load_facts(
        session, context_id, snapshot, user_id, evidence, overrides=overrides, sticky=sticky
    )
    return snapshot, mastery.evaluate_class(snapshot.model, facts, now)
