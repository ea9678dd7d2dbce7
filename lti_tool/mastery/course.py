"""Whole-class evaluation: every student × competency and student × module at once, from the
class's facts (the product recomputes a course this way after every change it stores)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .columns import Frame, module_status, rows_holding
from .errors import EvidenceError
from .evidence import EMPTY_SERIES, Evidence, LineItemScore, OrderBy, Series, timestamp
from .facts import ClassFacts, EvidenceRow, OverrideKind, Status
from .methods import BKT
from .model import CourseModel
from .numbers import as_float, is_number
from .rollup import capped_by
from .scales import EPSILON, NO_SCORE, Level


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
    """Index and order the facts into columns, without computing (bench/engine.py times it)."""
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
    _bucket_rows(facts.evidence_rows, model, index, buckets)
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


def reevaluate(state: ClassState) -> ClassState:
    """Every score and status from the state's facts."""
    model = state.model
    n = len(state.students)
    scores: list[list[float]] = [[] for _ in model.competencies]
    for ci in model.leaf_order:
        fn = model.score_fns[ci]
        scores[ci] = [fn(s) for s in state.series[ci]]  # type: ignore[misc]
    for ci in model.parent_order:
        combine = model.combiners[ci]
        cols = [scores[k] for k in model.children[ci]]
        scores[ci] = [combine(row) for row in zip(*cols, strict=True)]  # type: ignore[misc]
    frame = Frame(n, scores, state.points, state.groups, [[] for _ in model.modules], state.now_ts)
    memory = list(state.memory)
    for mi in model.topo_order:
        program = model.programs[mi]
        status, held = module_status(
            frame, program, state.completions[mi], state.overrides[mi], memory[mi]
        )
        frame.status[mi] = status
        if program.sticky:
            memory[mi] = memory[mi] | rows_holding(held)
    return state.replace(scores=scores, status=frame.status, memory=memory)


_INF = math.inf
# a stand-in time for the checks Evidence makes of a row's score (its times are checked apart)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bucket_rows(
    rows: Iterable[EvidenceRow],
    model: CourseModel,
    index: dict[str, int],
    buckets: list[dict[int, list[tuple[float, str, float]]]],
) -> None:
    """Evidence rows into the (time, id, points) buckets load_class fills from Evidence objects,
    in one loop: a row of plain floats is checked inline; anything else (an int, a NaN, an
    unknown name) takes `_row_slowly`, which gives Evidence's own errors and conversions."""
    comp_index = model.comp_index
    by_submitted = [c.order_by is OrderBy.SUBMITTED for c in model.competencies]
    tops = [c.scale.top_points for c in model.competencies]
    inf, real = _INF, float
    for row in rows:
        eid, student, code, score, out_of, graded, submitted = row
        ci = comp_index.get(code)
        si = index.get(student)
        if (
            ci is None
            or si is None
            or type(score) is not real
            or not 0.0 <= score < inf
            or type(graded) is not real
            or not -inf < graded < inf
            or (out_of is not None and (type(out_of) is not real or not 0.0 < out_of < inf))
            or not (submitted is None or (type(submitted) is real and -inf < submitted < inf))
        ):
            ci, si, item = _row_slowly(row, model, index, tops)
        else:
            top = tops[ci]
            item = (
                submitted if submitted is not None and by_submitted[ci] else graded,
                eid,
                min(score, top) if out_of is None else min(score / out_of, 1.0) * top,
            )
        bucket = buckets[ci].get(si)
        if bucket is None:
            buckets[ci][si] = [item]
        else:
            bucket.append(item)


def _row_slowly(
    row: EvidenceRow, model: CourseModel, index: dict[str, int], tops: list[float]
) -> tuple[int, int, tuple[float, str, float]]:
    eid, student, code, score, out_of, graded, submitted = row
    ci = model.comp_index.get(code)
    if ci is None:
        raise EvidenceError(f"evidence {eid!r}: no competency {code!r}")
    si = index.get(student)
    if si is None:
        raise EvidenceError(f"evidence {eid!r}: no student {student!r} in this class")
    for name, when in (("graded_at", graded), ("submitted_at", submitted)):
        if (when is not None or name == "graded_at") and not is_number(when):
            raise EvidenceError(
                f"evidence {eid!r} {name} must be a time in POSIX seconds, not {when!r}"
            )
    checked = Evidence(eid, student, code, score, _EPOCH, None, out_of)
    by_submitted = model.competencies[ci].order_by is OrderBy.SUBMITTED
    when = submitted if submitted is not None and by_submitted else graded
    return ci, si, (as_float(when), eid, checked.points_on(tops[ci]))  # type: ignore[arg-type]


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
