"""Why a module is open or locked, for one student: each condition with its live value, the
target and the progress towards it, and the cheapest next steps first.

This walks the rule tree directly instead of reusing the column programs: two independent
readings of the same rule, which the property tests hold to the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import Module
from .course import ClassState
from .facts import OverrideKind, Status
from .rule_render import clause, describe, format_time, number
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
    UnlockMode,
)
from .scales import EPSILON


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of the rule as it stands for this student.

    `current`/`needed` are numbers where the condition has them (scores, points, percent) and
    status or time strings otherwise; `detail` says both in words ("Near Mastery, 2.6 of 3").
    """

    path: str
    kind: str
    text: str
    holds: bool
    progress: float
    current: float | str | None
    needed: float | str | None
    detail: str
    children: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class NextStep:
    text: str
    path: str
    cost: float


@dataclass(frozen=True)
class Explanation:
    student: str
    module: str
    status: Status
    summary: str
    override: OverrideKind | None
    rule_holds: bool
    kept_open_by_sticky: bool
    condition: Condition | None
    next_steps: tuple[NextStep, ...]


def explain(state: ClassState, student: str, module: str) -> Explanation:
    """The verdict for one student and module, with its reasons; always equal to the state's."""
    si, mi = state._student(student), state._module(module)
    model = state.model
    mod = model.modules[mi]
    rule = mod.unlock.rule
    condition = _condition(state, si, rule, "rule") if rule is not None else None
    held = condition.holds if condition is not None else True
    kept = mod.unlock.mode is UnlockMode.STICKY and not held and si in state.memory[mi]
    override = state.overrides[mi].get(si)
    completed, mastered = _completion(state, si, mi, mod)
    if override is OverrideKind.EXEMPT:
        status = Status.EXEMPT
    elif override is OverrideKind.LOCK:
        status = Status.LOCKED
    elif override is OverrideKind.UNLOCK or held or kept:
        status = Status.MASTERED if mastered else Status.COMPLETED if completed else Status.UNLOCKED
    else:
        status = Status.LOCKED
    summary = _summary(status, override, held, kept, rule is None)
    steps = _next_steps(state, si, mod, status, override, condition)
    return Explanation(student, module, status, summary, override, held, kept, condition, steps)


def _completion(state: ClassState, si: int, mi: int, mod: Module) -> tuple[bool, bool]:
    model = state.model
    if mod.choice_of:
        best = max(state.status[model.module_index[o]][si] for o in mod.choice_of)
        return best >= Status.COMPLETED, best >= Status.MASTERED
    completed = si in state.completions[mi]
    if mod.line_item is not None:
        li = model.line_item_index[mod.line_item]
        points = state.points[li][si]
        if points >= 0:
            percent = mod.complete_at_percent or 0.0
            completed = (
                completed or points >= percent / 100 * model.line_items[li].max_points - EPSILON
            )
    if not mod.competencies:
        return completed, False
    mastered = True
    for code in mod.competencies:
        ci = model.comp_index[code]
        if state.scores[ci][si] < model.competencies[ci].scale.mastery_points - EPSILON:
            mastered = False
    return completed, mastered


def _summary(
    status: Status, override: OverrideKind | None, held: bool, kept: bool, open_rule: bool
) -> str:
    if override is OverrideKind.EXEMPT:
        return "Exempt: your teacher excused you from this module."
    if override is OverrideKind.LOCK:
        return "Locked by your teacher."
    if status is Status.LOCKED:
        return "Locked: the conditions below are not all met yet."
    word = {
        Status.UNLOCKED: "Unlocked",
        Status.COMPLETED: "Completed",
        Status.MASTERED: "Mastered",
    }[status]
    if override is OverrideKind.UNLOCK:
        return f"{word}: your teacher unlocked this module."
    if open_rule:
        return f"{word}: open from the start."
    if kept:
        return f"{word}: it was unlocked before and stays unlocked."
    return f"{word}: the unlock conditions are met."


def _condition(state: ClassState, si: int, rule: Rule, path: str) -> Condition:
    model = state.model
    catalog = model.catalog
    text = describe(rule, catalog)
    if isinstance(rule, AllOf | AnyOf | AtLeastOf):
        kids = tuple(
            _condition(state, si, c, f"{path}.{_key(rule)}[{i}]")
            for i, c in enumerate(rule.conditions)
        )
        met = sum(1 for k in kids if k.holds)
        if isinstance(rule, AllOf):
            holds, progress, need = (
                met == len(kids),
                sum(k.progress for k in kids) / len(kids),
                len(kids),
            )
        elif isinstance(rule, AnyOf):
            holds, progress, need = met >= 1, max(k.progress for k in kids), 1
        else:
            best = sorted((k.progress for k in kids), reverse=True)[: rule.k]
            holds, progress, need = met >= rule.k, sum(best) / rule.k, rule.k
        progress = 1.0 if holds else min(progress, 0.999)
        detail = f"{met} of {len(kids)} met, {need} needed"
        return Condition(
            path, _key(rule), text, holds, progress, float(met), float(need), detail, kids
        )
    if isinstance(rule, Not):
        inner = _condition(state, si, rule.condition, f"{path}.not")
        holds = not inner.holds
        return Condition(
            path,
            "not",
            text,
            holds,
            1.0 if holds else 0.0,
            inner.current,
            inner.needed,
            inner.detail,
            (inner,),
        )
    if isinstance(rule, CompetencyAtLeast):
        ci = model.comp_index[rule.competency]
        comp = model.competencies[ci]
        raw = state.scores[ci][si]
        score = None if raw < 0 else raw
        if rule.level is not None:
            level = comp.scale.level_named(rule.level)
            needed = level.points if level is not None else 0.0
        else:
            needed = float(rule.score or 0.0)
        holds = score is not None and score >= needed - EPSILON
        if score is None:
            detail, progress = f"no score yet, {number(needed)} needed", 0.0
        else:
            level_now = comp.scale.level_for(score)
            name = f"{level_now.name}, " if level_now is not None else ""
            detail = f"{name}{number(score)} of {number(needed)}"
            progress = 1.0 if holds else (min(score / needed, 0.999) if needed > 0 else 0.0)
        return Condition(path, "competency", text, holds, progress, score, needed, detail)
    if isinstance(rule, LineItemAtLeast):
        li = model.line_item_index[rule.line_item]
        item = model.line_items[li]
        raw = state.points[li][si]
        points = None if raw < 0 else raw
        if rule.percent is not None:
            needed = rule.percent / 100 * item.max_points
            current: float | None = None if points is None else points / item.max_points * 100
            target: float = rule.percent
            unit = "%"
        else:
            needed = float(rule.points or 0.0)
            current, target, unit = points, needed, " points"
        holds = points is not None and points >= needed - EPSILON
        if current is None:
            detail, progress = f"no score yet, {number(target)}{unit} needed", 0.0
        else:
            detail = f"{number(round(current, 2))}{unit} of {number(target)}{unit}"
            progress = 1.0 if holds else (min(current / target, 0.999) if target > 0 else 0.0)
        return Condition(path, "line_item", text, holds, progress, current, target, detail)
    if isinstance(rule, ModuleCompleted | ModuleMastered):
        dep = Status(state.status[model.module_index[rule.module]][si])
        floor = Status.COMPLETED if isinstance(rule, ModuleCompleted) else Status.MASTERED
        holds = dep >= floor
        kind = "module_completed" if isinstance(rule, ModuleCompleted) else "module_mastered"
        return Condition(
            path,
            kind,
            text,
            holds,
            1.0 if holds else 0.0,
            dep.label,
            floor.label,
            f"{dep.label}, {floor.label} needed",
        )
    if isinstance(rule, OnOrAfter):
        holds = state.now_ts >= rule.when.timestamp()
        return Condition(
            path,
            "on_or_after",
            text,
            holds,
            1.0 if holds else 0.0,
            format_time(state.now),
            format_time(rule.when),
            f"now {format_time(state.now)}",
        )
    if isinstance(rule, InGroup):
        gi = model.group_index.get(rule.group)
        holds = gi is not None and state.groups[gi][si]
        return Condition(
            path,
            "group",
            text,
            holds,
            1.0 if holds else 0.0,
            "member" if holds else "not a member",
            "member",
            "you are in it" if holds else "you are not in it",
        )
    raise TypeError(f"not a rule: {rule!r}")


def _key(rule: Rule) -> str:
    return {AllOf: "all", AnyOf: "any", AtLeastOf: "at_least.of"}[type(rule)]  # type: ignore[index]


# -- next steps ------------------------------------------------------------------------------

Plan = tuple[float, tuple[Condition, ...]]


def _plan(cond: Condition) -> Plan:
    """The cheapest set of unmet leaves whose meeting would make `cond` hold."""
    if cond.holds:
        return 0.0, ()
    if cond.kind in ("all", "any", "at_least.of"):
        plans = [_plan(k) for k in cond.children if not k.holds]
        if cond.kind == "all":
            chosen = plans
        else:
            missing = 1 if cond.kind == "any" else int(cond.needed or 0) - int(cond.current or 0)
            chosen = sorted(plans, key=lambda p: p[0])[:missing]
        return sum(p[0] for p in chosen), tuple(c for p in chosen for c in p[1])
    return 1.0 - cond.progress, (cond,)


def _step_text(state: ClassState, cond: Condition, rule: Rule | None) -> str:
    if cond.kind == "not" or rule is None:
        return f"Only a change by your teacher can meet this: {cond.text}"
    if isinstance(rule, OnOrAfter):
        return f"Wait until {format_time(rule.when)}"
    if isinstance(rule, InGroup):
        return f"Ask your teacher about the group {state.model.catalog.group_name(rule.group)}"
    _, predicate = clause(rule, state.model.catalog)
    text = predicate[0].upper() + predicate[1:]
    if isinstance(rule, CompetencyAtLeast | LineItemAtLeast):
        if cond.current is None:
            return f"{text}: you have no score yet"
        return f"{text}: you are at {cond.detail}"
    if cond.current == Status.LOCKED.label:
        return f"{text} (it is locked for now)"
    return text


def _find(rule: Rule, path: str, target: str) -> Rule | None:
    if path == target:
        return rule
    if isinstance(rule, Not):
        return _find(rule.condition, f"{path}.not", target)
    if isinstance(rule, AllOf | AnyOf | AtLeastOf):
        for i, c in enumerate(rule.conditions):
            found = _find(c, f"{path}.{_key(rule)}[{i}]", target)
            if found is not None:
                return found
    return None


def _next_steps(
    state: ClassState,
    si: int,
    mod: Module,
    status: Status,
    override: OverrideKind | None,
    condition: Condition | None,
) -> tuple[NextStep, ...]:
    model = state.model
    if status in (Status.EXEMPT, Status.MASTERED) or override is OverrideKind.LOCK:
        return ()
    if status is Status.LOCKED:
        if condition is None or mod.unlock.rule is None:
            return ()
        _, leaves = _plan(condition)
        steps = [
            NextStep(
                _step_text(state, c, _find(mod.unlock.rule, "rule", c.path)),
                c.path,
                round(1.0 - c.progress, 6),
            )
            for c in leaves
        ]
        return tuple(sorted(steps, key=lambda s: s.cost))
    steps = []
    if status is Status.UNLOCKED:
        if mod.choice_of:
            names = [model.catalog.modules[o] for o in mod.choice_of]
            steps.append(NextStep("Finish any one of: " + ", ".join(names), "module", 1.0))
        else:
            steps.append(NextStep(f"Finish {mod.title}", "module", 1.0))
    for code in mod.competencies:
        ci = model.comp_index[code]
        comp = model.competencies[ci]
        target = comp.scale.mastery_level
        raw = state.scores[ci][si]
        if raw < target.points - EPSILON:
            at = "no score yet" if raw < 0 else f"{comp.scale.level_for(raw).name}, {number(raw)}"  # type: ignore[union-attr]
            cost = 1.0 if raw < 0 else round(1.0 - raw / target.points, 6) if target.points else 1.0
            steps.append(
                NextStep(
                    f"Reach {target.name} in {comp.title}: you are at {at} of "
                    f"{number(target.points)}",
                    f"competency {code}",
                    cost,
                )
            )
    return tuple(sorted(steps, key=lambda s: s.cost))
