"""Rules as the sentences teachers and students read ("Unlocks when you reach Mastery in ...")."""

from __future__ import annotations

from datetime import UTC, datetime

from .catalog import Catalog
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
    Unlock,
    UnlockMode,
)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_time(when: datetime) -> str:
    """ "3 March 2025, 00:00 UTC": English month names whatever the process locale."""
    t = when.astimezone(UTC)
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year}, {t:%H:%M} UTC"


def number(value: float) -> str:
    return f"{value:g}"


def _points(value: float) -> str:
    return f"{number(value)} point" + ("" if value == 1 else "s")


def clause(leaf: Rule, catalog: Catalog, negated: bool = False) -> tuple[str, str]:
    """(subject, predicate) of a leaf, so runs of "you ..." can share one subject."""
    if isinstance(leaf, ModuleCompleted | ModuleMastered):
        title = catalog.modules.get(leaf.module, leaf.module)
        if isinstance(leaf, ModuleCompleted):
            return "you", (f"have not finished {title}" if negated else f"finish {title}")
        return "you", (f"have not mastered {title}" if negated else f"master {title}")
    if isinstance(leaf, CompetencyAtLeast):
        comp = catalog.competencies.get(leaf.competency)
        title = comp.title if comp else leaf.competency
        target = leaf.level if leaf.level is not None else f"a score of {number(leaf.score or 0)}"
        return "you", (
            f"are below {target} in {title}" if negated else f"reach {target} in {title}"
        )
    if isinstance(leaf, LineItemAtLeast):
        item = catalog.line_items.get(leaf.line_item)
        label = item.label if item else leaf.line_item
        amount = (
            f"{number(leaf.percent)}%" if leaf.percent is not None else _points(leaf.points or 0)
        )
        if negated:
            return "you", f"have not scored at least {amount} on {label}"
        return "you", f"score at least {amount} on {label}"
    if isinstance(leaf, OnOrAfter):
        when = format_time(leaf.when)
        return "it", (f"is before {when}" if negated else f"is {when} or later")
    if isinstance(leaf, InGroup):
        name = catalog.group_name(leaf.group)
        return "you", (f"are not in the group {name}" if negated else f"are in the group {name}")
    raise TypeError(f"not a leaf: {leaf!r}")


def describe(rule: Rule, catalog: Catalog) -> str:
    """One condition as a clause without "Unlocks when" (used per line in explanations)."""
    return _phrase(rule, catalog)


def render(rule: Rule | Unlock | None, catalog: Catalog) -> str:
    """The whole rule as one sentence."""
    if isinstance(rule, Unlock):
        text = render(rule.rule, catalog)
        if rule.mode is UnlockMode.STICKY and rule.rule is not None:
            text += ", and then stays unlocked"
        return text
    if rule is None:
        return "Unlocked from the start"
    return "Unlocks when " + _phrase(rule, catalog)


def _is_leaf_like(rule: Rule) -> bool:
    if isinstance(rule, Not):
        return _is_leaf_like(rule.condition)
    if isinstance(rule, AllOf | AnyOf):
        return len(rule.conditions) == 1 and _is_leaf_like(rule.conditions[0])
    return not isinstance(rule, AtLeastOf)


def _leaf_clause(rule: Rule, catalog: Catalog) -> tuple[str, str]:
    negated = False
    while isinstance(rule, Not | AllOf | AnyOf):
        if isinstance(rule, Not):
            negated = not negated
            rule = rule.condition
        else:
            rule = rule.conditions[0]
    return clause(rule, catalog, negated)


def _join(parts: list[str], word: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _list(conditions: tuple[Rule, ...], catalog: Catalog, word: str) -> str:
    """Clauses joined with "and"/"or", one "you" per run, compound parts in parentheses."""
    parts: list[str] = []
    previous = None
    for condition in conditions:
        if _is_leaf_like(condition):
            subject, predicate = _leaf_clause(condition, catalog)
            parts.append(predicate if subject == previous == "you" else f"{subject} {predicate}")
            previous = subject
        else:
            parts.append(f"({_phrase(condition, catalog)})")
            previous = None
    return _join(parts, word)


def _header_list(header: str, conditions: tuple[Rule, ...], catalog: Catalog) -> str:
    return header + ": " + "; ".join(_nested(c, catalog) for c in conditions)


def _nested(rule: Rule, catalog: Catalog) -> str:
    text = _phrase(rule, catalog)
    return text if _is_leaf_like(rule) else f"({text})"


def _phrase(rule: Rule, catalog: Catalog) -> str:
    if _is_leaf_like(rule):
        subject, predicate = _leaf_clause(rule, catalog)
        return f"{subject} {predicate}"
    if isinstance(rule, AllOf):
        return _list(rule.conditions, catalog, "and")
    if isinstance(rule, AnyOf):
        return _list(rule.conditions, catalog, "or")
    if isinstance(rule, AtLeastOf):
        return _header_list(f"at least {rule.k} of these hold", rule.conditions, catalog)
    inner = rule.condition if isinstance(rule, Not) else rule
    if isinstance(inner, Not):
        return _phrase(inner.condition, catalog)
    if isinstance(inner, AnyOf):
        return _header_list("none of these hold", inner.conditions, catalog)
    if isinstance(inner, AllOf):
        return _header_list("not all of these hold", inner.conditions, catalog)
    if isinstance(inner, AtLeastOf):
        return _header_list(f"fewer than {inner.k} of these hold", inner.conditions, catalog)
    raise TypeError(f"not a rule: {rule!r}")


def render_outline(rule: Rule | None, catalog: Catalog) -> list[tuple[int, str]]:
    """Moodle's shape, one line per condition: [(depth, text)], e.g. (0, "Unlocks when any of:")."""
    if rule is None:
        return [(0, "Unlocked from the start")]
    lines: list[tuple[int, str]] = []
    _outline(rule, catalog, 0, lines, top=True)
    return lines


def _group_header(rule: Rule) -> tuple[str, tuple[Rule, ...]] | None:
    if isinstance(rule, AllOf) and len(rule.conditions) > 1:
        return "all of", rule.conditions
    if isinstance(rule, AnyOf) and len(rule.conditions) > 1:
        return "any of", rule.conditions
    if isinstance(rule, AtLeastOf):
        return f"at least {rule.k} of", rule.conditions
    if isinstance(rule, Not) and isinstance(rule.condition, AllOf | AnyOf | AtLeastOf):
        inner = rule.condition
        if isinstance(inner, AnyOf):
            return "none of", inner.conditions
        if isinstance(inner, AllOf):
            return "not all of", inner.conditions
        return f"fewer than {inner.k} of", inner.conditions
    if isinstance(rule, AllOf | AnyOf) and not _is_leaf_like(rule):
        return _group_header(rule.conditions[0])
    if isinstance(rule, Not) and isinstance(rule.condition, Not):
        return _group_header(rule.condition.condition)
    return None


def _outline(
    rule: Rule, catalog: Catalog, depth: int, lines: list[tuple[int, str]], top: bool = False
) -> None:
    group = _group_header(rule)
    if group is None:
        text = _phrase(rule, catalog)
        lines.append((depth, f"Unlocks when {text}" if top else text))
        return
    header, conditions = group
    lines.append((depth, f"Unlocks when {header}:" if top else f"{header[0].upper()}{header[1:]}:"))
    for condition in conditions:
        _outline(condition, catalog, depth + 1, lines)
