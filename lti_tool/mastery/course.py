"""Whole-class evaluation and incremental updates: every student × module at once, then only
what one new fact can reach through the dependency graph.

States are values: `apply` returns a new state that shares every untouched column with the old one
(a changed column is copied once, ~1,000 entries), so callers may keep, compare or discard them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from .columns import Frame, module_status, rows_holding
from .errors import EvidenceError
from .evidence import EMPTY_SERIES, Evidence, EvidenceRemoved, LineItemScore, Series, timestamp
from .facts import ClassFacts, Completion, GroupMembership, Override, OverrideKind, Status
from .methods import BKT
from .model import TIME, CourseModel, Source
from .numbers import as_float, is_number
from .rollup import capped_by
from .scales import EPSILON, NO_SCORE, Level

T = TypeVar("T")

Change = Evidence | EvidenceRemoved | LineItemScore | Completion | Override | GroupMembership


@dataclass(frozen=True, slots=True)
class MasteryResult:
    """One student's standing on one competency."""

    competency: str
    score: float | None
    level: Level | None
    mastered: bool
    evidence_count: int
    probability: float | None = None
    capped_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MasteryChange:
    student: str
    competency: str
    before: float | None
    after: float | None
    level_before: str | None
    level_after: str | None

    @property
    def level_changed(self) -> bool:
        return self.level_before != self.level_after


@dataclass(frozen=True, slots=True)
class ModuleChange:
    student: str
    module: str
    before: Status
    after: Status

    @property
    def lock_changed(self) -> bool:
        """Locked ↔ open: what students are notified about."""
        return (self.before == Status.LOCKED) != (self.after == Status.LOCKED)


@dataclass(frozen=True)
class Changes:
    """What moved: scores to pass back, statuses to notify, sticky unlocks to remember."""

    mastery: tuple[MasteryChange, ...] = ()
    modules: tuple[ModuleChange, ...] = ()
    sticky_added: tuple[tuple[str, str], ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.mastery or self.modules or self.sticky_added)

    def __add__(self, other: Changes) -> Changes:
        return Changes(
            self.mastery + other.mastery,
            self.modules + other.modules,
            self.sticky_added + other.sticky_added,
        )


class ClassState:
    """A class evaluated at `now`: facts and results as columns (one list per competency, line
    item, group and module; one entry per student). Treat it as immutable."""

    __slots__ = (
        "model",
        "students",
        "index",
        "now",
        "now_ts",
        "series",
        "scores",
        "points",
        "groups",
        "completions",
        "overrides",
        "memory",
        "status",
    )

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            setattr(self, name, values[name])

    model: CourseModel
    students: tuple[str, ...]
    index: dict[str, int]
    now: datetime
    now_ts: float
    series: list[list[Series]]
    scores: list[list[float]]
    points: list[list[float]]
    groups: list[list[bool]]
    completions: list[frozenset[int]]
    overrides: list[dict[int, OverrideKind]]
    memory: list[frozenset[int]]
    status: list[list[int]]

    def replace(self, **values: object) -> ClassState:
        return ClassState(**{n: values.get(n, getattr(self, n)) for n in self.__slots__})

    # -- reading results -------------------------------------------------------------------
    def _student(self, student: str) -> int:
        try:
            return self.index[student]
        except KeyError:
            raise EvidenceError(f"no student {student!r} in this class") from None

    def module_status(self, student: str, module: str) -> Status:
        return Status(self.status[self._module(module)][self._student(student)])

    def statuses(self, student: str) -> dict[str, Status]:
        si = self._student(student)
        return {m.id: Status(self.status[i][si]) for i, m in enumerate(self.model.modules)}

    def _module(self, module: str) -> int:
        try:
            return self.model.module_index[module]
        except KeyError:
            raise EvidenceError(f"no module {module!r} in this course") from None

    def _competency(self, code: str) -> int:
        try:
            return self.model.comp_index[code]
        except KeyError:
            raise EvidenceError(f"no competency {code!r} in this course") from None

    def score(self, student: str, code: str) -> float | None:
        value = self.scores[self._competency(code)][self._student(student)]
        return None if value < 0 else value

    def mastery(self, student: str, code: str) -> MasteryResult:
        ci, si = self._competency(code), self._student(student)
        model = self.model
        comp = model.competencies[ci]
        raw = self.scores[ci][si]
        score = None if raw < 0 else raw
        probability = None
        capped: tuple[str, ...] = ()
        children = model.children[ci]
        if children:
            capped = capped_by(
                comp.rollup,
                [model.competencies[k].code for k in children],
                [model.competencies[k].scale for k in children],
                [self.scores[k][si] for k in children],
            )
        elif isinstance(comp.method, BKT) and score is not None:
            probability = comp.method.probability(self.series[ci][si].scores, comp.scale)
        return MasteryResult(
            competency=code,
            score=score,
            level=comp.scale.level_for(score),
            mastered=score is not None and score >= comp.scale.mastery_points - EPSILON,
            evidence_count=self._evidence_count(ci, si),
            probability=probability,
            capped_by=capped,
        )

    def _evidence_count(self, ci: int, si: int) -> int:
        children = self.model.children[ci]
        if not children:
            return len(self.series[ci][si])
        return sum(self._evidence_count(k, si) for k in children)

    def sticky_unlocked(self) -> frozenset[tuple[str, str]]:
        """Every remembered sticky unlock, to store and pass back in next time."""
        return frozenset(
            (self.students[si], m.id)
            for m, rows in zip(self.model.modules, self.memory, strict=True)
            for si in rows
        )

    def override(self, student: str, module: str) -> OverrideKind | None:
        return self.overrides[self._module(module)].get(self._student(student))


# -- whole class -----------------------------------------------------------------------------


def evaluate_class(model: CourseModel, facts: ClassFacts, now: datetime) -> ClassState:
    """Load a class's facts and evaluate every student × competency and student × module."""
    return reevaluate(load_class(model, facts, now))


def load_class(model: CourseModel, facts: ClassFacts, now: datetime) -> ClassState:
    """Index and order the facts into columns, without computing (see `reevaluate`)."""
    students = tuple(facts.students)
    index = {s: i for i, s in enumerate(students)}
    if len(index) != len(students):
        raise EvidenceError("a student is listed twice")
    n = len(students)

    def who(student: str, what: str) -> int:
        si = index.get(student)
        if si is None:
            raise EvidenceError(f"{what}: no student {student!r} in this class")
        return si

    comps = model.competencies
    order_by = [c.order_by for c in comps]
    tops = [c.scale.top_points for c in comps]
    buckets: list[dict[int, list[tuple[float, str, float]]]] = [{} for _ in comps]
    for e in facts.evidence:
        ci = model.comp_index.get(e.competency)
        if ci is None:
            raise EvidenceError(f"evidence {e.id!r}: no competency {e.competency!r}")
        si = who(e.student, f"evidence {e.id!r}")
        buckets[ci].setdefault(si, []).append(
            (e.order_time(order_by[ci]), e.id, e.points_on(tops[ci]))
        )
    series = [
        [Series.build(b[si]) if si in b else EMPTY_SERIES for si in range(n)] for b in buckets
    ]

    points = [[NO_SCORE] * n for _ in model.line_items]
    for item in facts.line_item_scores:
        li = model.line_item_index.get(item.line_item)
        if li is not None:
            points[li][who(item.student, f"score on {item.line_item!r}")] = _points(item)

    groups = [[False] * n for _ in model.groups]
    for gm in facts.groups:
        gi = model.group_index.get(gm.group)
        if gi is not None:
            groups[gi][who(gm.student, f"group {gm.group!r}")] = bool(gm.member)

    n_mod = len(model.modules)
    completions: list[set[int]] = [set() for _ in range(n_mod)]
    for c in facts.completions:
        mi = _module_of(model, c.module)
        si = who(c.student, f"completion of {c.module!r}")
        (completions[mi].add if c.completed else completions[mi].discard)(si)
    overrides: list[dict[int, OverrideKind]] = [{} for _ in range(n_mod)]
    for o in facts.overrides:
        mi = _module_of(model, o.module)
        si = who(o.student, f"override on {o.module!r}")
        if o.kind is None:
            overrides[mi].pop(si, None)
        else:
            overrides[mi][si] = OverrideKind(o.kind)
    memory: list[set[int]] = [set() for _ in range(n_mod)]
    for student, module in facts.sticky_unlocked:
        # Stored memory may name students who left or modules since deleted: skip those.
        si, mi = index.get(student), model.module_index.get(module)
        if si is not None and mi is not None:
            memory[mi].add(si)

    return ClassState(
        model=model,
        students=students,
        index=index,
        now=now,
        now_ts=timestamp(now, "now"),
        series=series,
        scores=[[] for _ in comps],
        points=points,
        groups=groups,
        completions=[frozenset(s) for s in completions],
        overrides=overrides,
        memory=[frozenset(s) for s in memory],
        status=[[] for _ in range(n_mod)],
    )


def reevaluate(state: ClassState, now: datetime | None = None) -> ClassState:
    """Recompute every score and status from the state's facts (the full, reference path)."""
    model = state.model
    now = state.now if now is None else now
    n = len(state.students)
    scores: list[list[float]] = [[] for _ in model.competencies]
    for ci in model.leaf_order:
        fn = model.score_fns[ci]
        scores[ci] = [fn(s) for s in state.series[ci]]  # type: ignore[misc]
    for ci in model.parent_order:
        combine = model.combiners[ci]
        cols = [scores[k] for k in model.children[ci]]
        scores[ci] = [combine(row) for row in zip(*cols, strict=True)]  # type: ignore[misc]
    frame = Frame(
        n,
        None,
        scores,
        state.points,
        state.groups,
        [[] for _ in model.modules],
        timestamp(now, "now"),
    )
    memory = list(state.memory)
    for mi in model.topo_order:
        program = model.programs[mi]
        status, held = module_status(
            frame, program, state.completions[mi], state.overrides[mi], memory[mi]
        )
        frame.status[mi] = status
        if program.sticky:
            memory[mi] = memory[mi] | rows_holding(held)
    return state.replace(
        now=now, now_ts=frame.now, scores=scores, status=frame.status, memory=memory
    )


# -- incremental -----------------------------------------------------------------------------


def apply(
    state: ClassState, change: Change, now: datetime | None = None
) -> tuple[ClassState, Changes]:
    """One new fact → (new state, what changed), touching only what the fact can reach.

    With a `now` later than the state's, date conditions are brought up to date first.
    """
    changes = Changes()
    if now is not None and timestamp(now, "now") != state.now_ts:
        state, changes = advance_time(state, now)
    model = state.model
    sources: list[Source] = []
    comp: int | None = None
    if isinstance(change, Evidence | EvidenceRemoved):
        ci = model.comp_index.get(change.competency)
        if ci is None:
            raise EvidenceError(f"evidence {change.id!r}: no competency {change.competency!r}")
        si = state._student(change.student)
        old = state.series[ci][si]
        if isinstance(change, Evidence):
            time = change.order_time(model.competencies[ci].order_by)
            top = model.competencies[ci].scale.top_points
            new = old.with_item(time, change.id, change.points_on(top))
        else:
            new = old.without(change.id)
        if new == old:
            return state, changes
        series = list(state.series)
        series[ci] = _set(series[ci], si, new)
        state = state.replace(series=series)
        comp = ci
    elif isinstance(change, LineItemScore):
        li = model.line_item_index.get(change.line_item)
        if li is None:
            return state, changes
        si = state._student(change.student)
        points = list(state.points)
        points[li] = _set(points[li], si, _points(change))
        state = state.replace(points=points)
        sources.append(("line_item", li))
    elif isinstance(change, Completion | Override):
        mi = state._module(change.module)
        si = state._student(change.student)
        if isinstance(change, Completion):
            completions = list(state.completions)
            rows = completions[mi]
            completions[mi] = rows | {si} if change.completed else rows - {si}
            state = state.replace(completions=completions)
        else:
            overrides = list(state.overrides)
            by_student = dict(overrides[mi])
            if change.kind is None:
                by_student.pop(si, None)
            else:
                by_student[si] = OverrideKind(change.kind)
            overrides[mi] = by_student
            state = state.replace(overrides=overrides)
        sources.append(("module", mi))
    elif isinstance(change, GroupMembership):
        gi = model.group_index.get(change.group)
        si = state._student(change.student)
        if gi is None:
            return state, changes
        groups = list(state.groups)
        groups[gi] = _set(groups[gi], si, bool(change.member))
        state = state.replace(groups=groups)
        sources.append(("group", gi))
    else:
        raise EvidenceError(f"not a change the engine knows: {type(change).__name__}")
    state, more = _propagate(state, si, comp, sources)
    return state, changes + more


def _set(column: list[T], row: int, value: T) -> list[T]:
    copy = list(column)
    copy[row] = value
    return copy


def _points(item: LineItemScore) -> float:
    p = item.points
    if p is None:
        return NO_SCORE
    if not is_number(p) or p < 0:
        raise EvidenceError(f"score on {item.line_item!r}: points must be a number of at least 0")
    # An int past the float range is simply more than any column's maximum.
    return min(as_float(p), sys.float_info.max)


def _module_of(model: CourseModel, module: str) -> int:
    mi = model.module_index.get(module)
    if mi is None:
        raise EvidenceError(f"no module {module!r} in this course")
    return mi


def _level_name(model: CourseModel, ci: int, score: float) -> str | None:
    level = model.competencies[ci].scale.level_for(None if score < 0 else score)
    return None if level is None else level.name


def _propagate(
    state: ClassState, si: int, comp: int | None, sources: list[Source]
) -> tuple[ClassState, Changes]:
    model = state.model
    student = state.students[si]
    mastery_changes: list[MasteryChange] = []
    if comp is not None and model.score_fns[comp] is not None:
        scores = list(state.scores)
        moved = []
        new = model.score_fns[comp](state.series[comp][si])  # type: ignore[misc]
        for ci in (comp, *model.ancestors[comp]):
            if ci != comp:
                combine = model.combiners[ci]
                new = combine(tuple(scores[k][si] for k in model.children[ci]))  # type: ignore[misc]
            old = scores[ci][si]
            if new == old:
                break  # an unchanged score cannot move anything above it
            scores[ci] = _set(scores[ci], si, new)
            moved.append(ci)
            mastery_changes.append(
                MasteryChange(
                    student,
                    model.competencies[ci].code,
                    None if old < 0 else old,
                    None if new < 0 else new,
                    _level_name(model, ci, old),
                    _level_name(model, ci, new),
                )
            )
        if moved:
            state = state.replace(scores=scores)
            sources = sources + [("competency", ci) for ci in moved]
    affected = model.affected_modules(sources)
    if not affected:
        return state, Changes(mastery=tuple(mastery_changes))
    frame = Frame(
        1,
        si,
        [[col[si]] for col in state.scores],
        [[col[si]] for col in state.points],
        [[col[si]] for col in state.groups],
        [[col[si]] for col in state.status],
        state.now_ts,
    )
    status = list(state.status)
    memory = list(state.memory)
    module_changes: list[ModuleChange] = []
    sticky_added: list[tuple[str, str]] = []
    for mi in affected:
        program = model.programs[mi]
        new_status, held = module_status(
            frame, program, state.completions[mi], state.overrides[mi], memory[mi]
        )
        frame.status[mi] = new_status
        before = status[mi][si]
        if new_status[0] != before:
            status[mi] = _set(status[mi], si, new_status[0])
            module_changes.append(
                ModuleChange(student, model.modules[mi].id, Status(before), Status(new_status[0]))
            )
        if program.sticky and held[0] and si not in memory[mi]:
            memory[mi] = memory[mi] | {si}
            sticky_added.append((student, model.modules[mi].id))
    state = state.replace(status=status, memory=memory)
    return state, Changes(tuple(mastery_changes), tuple(module_changes), tuple(sticky_added))


def advance_time(state: ClassState, now: datetime) -> tuple[ClassState, Changes]:
    """Move the clock: re-evaluate, for every student, the modules date conditions can reach."""
    ts = timestamp(now, "now")
    model = state.model
    affected = model.affected_modules([TIME])
    if ts == state.now_ts or not affected:
        return state.replace(now=now, now_ts=ts), Changes()
    n = len(state.students)
    frame = Frame(n, None, state.scores, state.points, state.groups, list(state.status), ts)
    memory = list(state.memory)
    module_changes: list[ModuleChange] = []
    sticky_added: list[tuple[str, str]] = []
    for mi in affected:
        program = model.programs[mi]
        old = frame.status[mi]
        new, held = module_status(
            frame, program, state.completions[mi], state.overrides[mi], memory[mi]
        )
        frame.status[mi] = new
        mid = model.modules[mi].id
        for si in _differences(old, new):
            module_changes.append(
                ModuleChange(state.students[si], mid, Status(old[si]), Status(new[si]))
            )
        if program.sticky:
            added = rows_holding(held) - memory[mi]
            if added:
                memory[mi] = memory[mi] | added
                sticky_added.extend((state.students[si], mid) for si in sorted(added))
    state = state.replace(now=now, now_ts=ts, status=frame.status, memory=memory)
    return state, Changes((), tuple(module_changes), tuple(sticky_added))


def _differences(old: list[int], new: list[int]) -> Iterator[int]:
    return (i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)


def diff(before: ClassState, after: ClassState) -> Changes:
    """What differs between two evaluations of the same class (e.g. after a full recompute)."""
    if before.students != after.students or before.model is not after.model:
        raise EvidenceError("diff needs two states of the same class and course model")
    model = before.model
    mastery = [
        MasteryChange(
            before.students[si],
            c.code,
            None if old[si] < 0 else old[si],
            None if new[si] < 0 else new[si],
            _level_name(model, ci, old[si]),
            _level_name(model, ci, new[si]),
        )
        for ci, (c, old, new) in enumerate(
            zip(model.competencies, before.scores, after.scores, strict=True)
        )
        for si in _differences(old, new)
    ]
    modules = [
        ModuleChange(before.students[si], m.id, Status(old[si]), Status(new[si]))
        for m, old, new in zip(model.modules, before.status, after.status, strict=True)
        for si in _differences(old, new)
    ]
    sticky = sorted(after.sticky_unlocked() - before.sticky_unlocked())
    return Changes(tuple(mastery), tuple(modules), tuple(sticky))


def changes_for(state: ClassState, items: Iterable[Change]) -> tuple[ClassState, Changes]:
    """Apply several changes in order, summing what changed."""
    total = Changes()
    for item in items:
        state, more = apply(state, item)
        total = total + more
    return state, total
