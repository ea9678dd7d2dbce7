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
from .model import CourseModel
from .rule_render import (
    YOU,
    Reader,
    clause,
    describe,
    format_time,
    number,
    plain,
    points,
    standing,
    standing_sentence,
)
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


def explain(state: ClassState, student: str, module: str, reader: Reader = YOU) -> Explanation:
    """The verdict for one student and module, with its reasons; always equal to the state's.

    The reasons walk the rule with each `not` pushed down to the facts (`plain`): the same
    verdict, read without double negatives. `reader` names the student for a teacher or mentor.
    """
    si, mi = state._student(student), state._module(module)
    model = state.model
    mod = model.modules[mi]
    rule = _plain(model, mi) if mod.unlock.rule is not None else None
    condition = _condition(state, si, rule, "rule", reader) if rule is not None else None
    held = condition.holds if condition is not None else True
    kept = mod.unlock.mode is UnlockMode.STICKY and not held and si in state.memory[mi]
    override = state.overrides[mi].get(si)
    completed, mastered = _completion(state, si, mi, mod)
    options = [Status(state.status[model.module_index[o]][si]) for o in mod.choice_of]
    open_options = sum(1 for o in options if o is not Status.LOCKED)
    choice_open = not options or open_options > 0
    if override is OverrideKind.EXEMPT:
        status = Status.EXEMPT
    elif override is OverrideKind.LOCK:
        status = Status.LOCKED
    elif override is OverrideKind.UNLOCK or ((held or kept) and choice_open):
        status = Status.MASTERED if mastered else Status.COMPLETED if completed else Status.UNLOCKED
    else:
        status = Status.LOCKED
    summary = _summary(
        status, override, held or kept, kept, rule is None, condition, reader, options
    )
    steps = _next_steps(state, si, mod, status, override, condition, reader, rule)
    if status is Status.LOCKED and override is None and not steps and options:
        steps = _option_steps(state, student, mod, reader)
    return Explanation(student, module, status, summary, override, held, kept, condition, steps)


def _plain(model: CourseModel, mi: int) -> Rule:
    """Module `mi`'s rule with each `not` pushed down, made once per model."""
    key = ("plain", mi)
    found = model.memo.get(key)
    if found is None:
        found = model.memo[key] = plain(model.modules[mi].unlock.rule)  # type: ignore[arg-type]
    return found  # type: ignore[return-value]


def _describe(model: CourseModel, rule: Rule, reader: Reader) -> str:
    """A condition's words, kept per model for the student's own reading (a rule node of a
    kept plain rule lives as long as the model, so its id names it); a named reader's are
    made each time, or a teacher reading every student would grow the memo by the class."""
    if reader.name is not None:
        return describe(rule, model.catalog, reader)
    key = ("text", id(rule))
    found = model.memo.get(key)
    if found is None:
        found = model.memo[key] = describe(rule, model.catalog, reader)
    return found  # type: ignore[return-value]


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
    status: Status,
    override: OverrideKind | None,
    held: bool,
    kept: bool,
    open_rule: bool,
    condition: Condition | None,
    reader: Reader,
    options: list[Status],
) -> str:
    teacher = reader.teacher
    if override is OverrideKind.EXEMPT:
        return f"Exempt: {teacher} excused {reader.object} from this module."
    if override is OverrideKind.LOCK:
        return f"Locked by {teacher}."
    if status is Status.LOCKED:
        if held and options:
            return "Locked: none of its options is open yet."
        return "Locked: " + _unmet(condition)
    word = {
        Status.UNLOCKED: "Unlocked",
        Status.COMPLETED: "Completed",
        Status.MASTERED: "Mastered",
    }[status]
    if override is OverrideKind.UNLOCK:
        for_whom = "" if reader.name is None else f" for {reader.name}"
        return f"{word}: {teacher} unlocked this module{for_whom}."
    if options:
        you = reader.subject
        if status is Status.MASTERED:
            return f"Mastered: {you} mastered one of its options."
        if status is Status.COMPLETED:
            return f"Completed: {you} finished one of its options."
        n_open = sum(1 for o in options if o is not Status.LOCKED)
        verb = "is" if n_open == 1 else "are"
        return f"Unlocked: {n_open} of its {len(options)} options {verb} open."
    if open_rule:
        return f"{word}: open from the start."
    if kept:
        return f"{word}: it was unlocked before and stays unlocked."
    return f"{word}: the unlock conditions are met."


def _unmet(condition: Condition | None) -> str:
    """Why a rule does not hold, in the words of its top group ("any" is not "not all")."""
    if condition is None or not condition.children or condition.kind == "not":
        return "the condition below is not met yet."
    met = int(condition.current or 0)
    if condition.kind == "any":
        return "none of the conditions below is met yet; any one of them opens it."
    need = "all are" if condition.kind == "all" else f"{int(condition.needed or 0)} are"
    of = f"the {len(condition.children)} conditions below"
    if met == 0:
        return f"none of {of} is met yet; {need} needed."
    return f"{met} of {of} {'is' if met == 1 else 'are'} met; {need} needed."


def _condition(
    state: ClassState, si: int, rule: Rule, path: str, reader: Reader = YOU
) -> Condition:
    model = state.model
    text = _describe(model, rule, reader)
    if isinstance(rule, AllOf | AnyOf | AtLeastOf):
        kids = tuple(
            _condition(state, si, c, f"{path}.{_key(rule)}[{i}]", reader)
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
        inner = _condition(state, si, rule.condition, f"{path}.not", reader)
        holds = not inner.holds
        # A negated fact is one line in its negated words; only "fewer than k of" keeps its
        # group, whose members are listed under it (the line of the group itself would repeat).
        return Condition(
            path,
            "not",
            text,
            holds,
            1.0 if holds else 0.0,
            inner.current,
            inner.needed,
            inner.detail,
            inner.children,
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
        detail = standing(comp.scale, score, needed)
        progress = _progress(score, needed, holds)
        return Condition(path, "competency", text, holds, progress, score, needed, detail)
    if isinstance(rule, LineItemAtLeast):
        li = model.line_item_index[rule.line_item]
        item = model.line_items[li]
        raw = state.points[li][si]
        got = None if raw < 0 else raw
        if rule.percent is not None:
            needed = rule.percent / 100 * item.max_points
            current: float | None = None if got is None else got / item.max_points * 100
            target: float = rule.percent
            unit = "%"
        else:
            needed = float(rule.points or 0.0)
            current, target, unit = got, needed, ""
        holds = got is not None and got >= needed - EPSILON
        shown = f"{number(target)}%" if unit else points(target)
        if current is None:
            detail = f"no score yet, {shown} needed"
        elif holds:
            now = f"{number(current)}%" if unit else points(current)
            detail = f"{now} ({number(target)}{unit} needed)"
        else:  # "1 of 6 points", "70% of 80%"
            detail = f"{number(current)}{unit} of {shown}"
        progress = _progress(current, target, holds)
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
            f"{reader.subject} {reader.verb('are')} {'' if holds else 'not '}in it",
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


def _step_text(state: ClassState, cond: Condition, rule: Rule | None, reader: Reader) -> str:
    """A next step in the imperative ("Finish Module 1"), with where the student stands."""
    if cond.kind == "not" or rule is None:
        return f"Only a change by {reader.teacher} can meet this: {cond.text}"
    if isinstance(rule, OnOrAfter):
        return f"Wait until {format_time(rule.when)}"
    if isinstance(rule, InGroup):
        return f"Ask {reader.teacher} about the group {state.model.catalog.group_name(rule.group)}"
    _, predicate = clause(rule, state.model.catalog)
    text = predicate[0].upper() + predicate[1:]
    you, have, are = reader.subject, reader.verb("have"), reader.verb("are")
    if isinstance(rule, CompetencyAtLeast):
        comp = state.model.competencies[state.model.comp_index[rule.competency]]
        score = cond.current if isinstance(cond.current, float) else None
        return f"{text}: {standing_sentence(reader, comp.scale, score, float(cond.needed or 0))}"
    if isinstance(rule, LineItemAtLeast):
        if cond.current is None:
            return f"{text}: {you} {have} no score yet"
        return f"{text}: {you} {are} at {cond.detail}"
    if cond.current == Status.LOCKED.label:
        return f"{text} (it is locked for now)"
    return text


def _option_steps(
    state: ClassState, student: str, mod: Module, reader: Reader
) -> tuple[NextStep, ...]:
    """A choice none of whose options is open: the cheapest way into each option."""
    steps = []
    for option in mod.choice_of:
        title = state.model.catalog.modules[option]
        why = explain(state, student, option, reader)
        if why.next_steps:
            first = why.next_steps[0]
            steps.append(NextStep(f"To open {title}: {first.text}", f"option {option}", first.cost))
        else:
            text = f"Only a change by {reader.teacher} can open {title}"
            steps.append(NextStep(text, f"option {option}", 1.0))
    return tuple(sorted(steps, key=lambda s: s.cost))


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
    reader: Reader,
    rule: Rule | None,
) -> tuple[NextStep, ...]:
    model = state.model
    if status in (Status.EXEMPT, Status.MASTERED) or override is OverrideKind.LOCK:
        return ()
    if status is Status.LOCKED:
        if condition is None or rule is None:
            return ()
        _, leaves = _plan(condition)
        steps = [
            NextStep(
                _step_text(state, c, _find(rule, "rule", c.path), reader),
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
            score = None if raw < 0 else raw
            at = standing_sentence(reader, comp.scale, score, target.points)
            cost = 1.0 if raw < 0 else round(1.0 - raw / target.points, 6) if target.points else 1.0
            steps.append(
                NextStep(
                    f"Reach {target.name} in {comp.title}: {at}",
                    f"competency {code}",
                    cost,
                )
            )
    return tuple(sorted(steps, key=lambda s: s.cost))


def _progress(current: float | None, target: float, holds: bool) -> float:
    """How far along a threshold, 0 to 1: exactly 1 only when the condition holds."""
    if current is None:
        return 0.0
    if holds:
        return 1.0
    return min(current / target, 0.999) if target > 0 else 0.0
