"""Rules compiled to column programs: one pass per condition over a whole class at once.

A frame holds one column (a list, one entry per student row) per competency score, line item,
group and module status. A compiled rule turns a frame into a column of booleans with list
comprehensions and `map(and_, ...)`, so a class of 1,000 costs a few C-level loops per condition
instead of 1,000 tree walks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import compress
from operator import and_, or_

from .facts import OverrideKind, Status
from .rules import (
    AllOf,
    AnyOf,
    AtLeastOf,
    CompetencyAtLeast,
    InGroup,
    LineItemAtLeast,
    ModuleCompleted,
    ModuleMastered,
    Not,
    OnOrAfter,
    Rule,
)
from .scales import EPSILON

LOCKED, UNLOCKED, COMPLETED, MASTERED, EXEMPT = (int(s) for s in Status)


class Frame:
    """Columns for the whole class (row = student index)."""

    __slots__ = ("n", "scores", "points", "groups", "status", "now")

    def __init__(
        self,
        n: int,
        scores: list[list[float]],
        points: list[list[float]],
        groups: list[list[bool]],
        status: list[list[int]],
        now: float,
    ) -> None:
        self.n = n
        self.scores = scores
        self.points = points
        self.groups = groups
        self.status = status
        self.now = now


Program = Callable[[Frame], list[bool]]


@dataclass(frozen=True)
class Index:
    """Positions of everything a rule can name (built once per course model)."""

    competencies: Mapping[str, int]
    thresholds: Callable[[CompetencyAtLeast], float]
    line_items: Mapping[str, int]
    max_points: Sequence[float]
    groups: Mapping[str, int]
    modules: Mapping[str, int]


def compile_rule(rule: Rule, ix: Index) -> Program:
    if isinstance(rule, CompetencyAtLeast):
        c, t = ix.competencies[rule.competency], ix.thresholds(rule) - EPSILON
        return lambda f: [s >= t for s in f.scores[c]]
    if isinstance(rule, LineItemAtLeast):
        li = ix.line_items[rule.line_item]
        if rule.percent is not None:
            t = rule.percent / 100.0 * ix.max_points[li] - EPSILON
        else:
            t = (rule.points or 0.0) - EPSILON
        return lambda f: [p >= t for p in f.points[li]]
    if isinstance(rule, ModuleCompleted):
        m = ix.modules[rule.module]
        return lambda f: [s >= COMPLETED for s in f.status[m]]
    if isinstance(rule, ModuleMastered):
        m = ix.modules[rule.module]
        return lambda f: [s >= MASTERED for s in f.status[m]]
    if isinstance(rule, OnOrAfter):
        ts = rule.when.timestamp()
        return lambda f: [f.now >= ts] * f.n
    if isinstance(rule, InGroup):
        g = ix.groups.get(rule.group)
        if g is None:
            return lambda f: [False] * f.n
        return lambda f: f.groups[g]  # read-only: nothing mutates a program's result
    if isinstance(rule, Not):
        inner = compile_rule(rule.condition, ix)
        return lambda f: [not h for h in inner(f)]
    if isinstance(rule, AllOf | AnyOf):
        parts = [compile_rule(c, ix) for c in rule.conditions]
        if len(parts) == 1:
            return parts[0]
        op = and_ if isinstance(rule, AllOf) else or_
        if len(parts) == 2:
            a, b = parts
            return lambda f: list(map(op, a(f), b(f)))
        return lambda f: reduce(lambda x, y: list(map(op, x, y)), [p(f) for p in parts])
    if isinstance(rule, AtLeastOf):
        parts = [compile_rule(c, ix) for c in rule.conditions]
        k = rule.k
        return lambda f: [sum(row) >= k for row in zip(*[p(f) for p in parts], strict=True)]
    raise TypeError(f"not a rule: {rule!r}")


@dataclass(frozen=True)
class ModuleProgram:
    """Everything needed to compute one module's status column."""

    index: int
    rule: Program | None
    sticky: bool
    options: tuple[int, ...]
    line_item: int | None
    complete_at: float
    mastery: tuple[tuple[int, float], ...]


def module_status(
    f: Frame,
    mp: ModuleProgram,
    completions: Iterable[int],
    overrides: Mapping[int, OverrideKind],
    memory: Iterable[int],
) -> tuple[list[int], list[bool]]:
    """(status column, rule-holds column) for one module."""
    n = f.n
    held = mp.rule(f) if mp.rule is not None else [True] * n
    unlocked = held
    if mp.sticky:
        if memory:
            unlocked = list(held)
            for r in memory:
                unlocked[r] = True
    if mp.options:
        best = [max(row) for row in zip(*[f.status[o] for o in mp.options], strict=True)]
        completed = [s >= COMPLETED for s in best]
        mastered = [s >= MASTERED for s in best]
        # A choice is open only while one of its options can be opened.
        unlocked = [u and s > LOCKED for u, s in zip(unlocked, best, strict=True)]
    else:
        if mp.line_item is not None:
            t = mp.complete_at
            completed = [p >= t for p in f.points[mp.line_item]]
        else:
            completed = [False] * n
        for r in completions:
            completed[r] = True
        if mp.mastery:
            cols = [[s >= t for s in f.scores[c]] for c, t in mp.mastery]
            mastered = (
                cols[0] if len(cols) == 1 else reduce(lambda x, y: list(map(and_, x, y)), cols)
            )
        else:
            mastered = [False] * n
    status = [
        (MASTERED if m else COMPLETED if c else UNLOCKED) if u else LOCKED
        for u, c, m in zip(unlocked, completed, mastered, strict=True)
    ]
    for r, kind in overrides.items():
        if kind is OverrideKind.EXEMPT:
            status[r] = EXEMPT
        elif kind is OverrideKind.LOCK:
            status[r] = LOCKED
        else:
            status[r] = MASTERED if mastered[r] else COMPLETED if completed[r] else UNLOCKED
    return status, held


def rows_holding(held: list[bool]) -> frozenset[int]:
    return frozenset(compress(range(len(held)), held))
