"""Rules as the sentences teachers and students read ("Unlocks when you reach Mastery in ...").

What students read must be exact and plain: no scientific notation, "1 point" but "2 points",
no double negatives (a `not` is pushed down to the facts, which have plain negated forms), and
no time zone or comma inside a list of conditions (the page says "Times are in UTC." once).
A teacher or mentor reads about a student in the third person: `Reader("Ava")`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

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
    leaves,
)
from .scales import EPSILON, Scale

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

_THIRD_PERSON = {"are": "is", "have": "has"}


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads about the student: the student ("you") or, with a name, a teacher or mentor."""

    name: str | None = None

    @property
    def subject(self) -> str:
        return "you" if self.name is None else self.name

    @property
    def teacher(self) -> str:
        """Whose teacher: "your teacher" to the student, "the teacher" to anyone else."""
        return "your teacher" if self.name is None else "the teacher"

    @property
    def object(self) -> str:
        return "you" if self.name is None else self.name

    def verb(self, you_form: str) -> str:
        """The verb as it agrees with the subject: "you finish", "Ava finishes"."""
        if self.name is None:
            return you_form
        if you_form in _THIRD_PERSON:
            return _THIRD_PERSON[you_form]
        return you_form + ("es" if you_form.endswith(("s", "sh", "ch", "x", "z", "o")) else "s")


YOU = Reader()


def format_time(when: datetime) -> str:
    """ "3 March 2025 at 00:00" in UTC: English month names whatever the process locale, and
    no comma or zone name, so a date can sit inside a list (pages say "Times are in UTC." once)."""
    t = when.astimezone(UTC)
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year} at {t:%H:%M}"


def format_day(when: date | datetime) -> str:
    """ "3 March 2025": a date as a school writes it (a datetime is read in UTC)."""
    if isinstance(when, datetime):
        when = when.astimezone(UTC) if when.tzinfo else when
    return f"{when.day} {_MONTHS[when.month - 1]} {when.year}"


TIMES_NOTE = "Times are in UTC."


def has_time(rule: Rule | Unlock | None) -> bool:
    """Whether a rule names a date, so the page says once which time zone its times are in."""
    if isinstance(rule, Unlock):
        rule = rule.rule
    return any(isinstance(leaf, OnOrAfter) for leaf in leaves(rule))


def number(value: float) -> str:
    """A plain decimal a school reads: at most 2 places, digits grouped, never "1e-07"."""
    if not math.isfinite(value):
        return "infinity" if value > 0 else "minus infinity" if value < 0 else "not a number"
    if value != 0 and abs(value) < 0.005:
        # A tiny non-zero value is not shown as 0: two significant digits, as far as 12 places.
        places = min(12, 1 - math.floor(math.log10(abs(value))))
        text = f"{value:.{places}f}".rstrip("0").rstrip(".")
        return text if text not in ("0", "-0") else "almost 0"
    if abs(value) >= 1e15:
        # repr keeps the digits the float was written with (1e23, not 99999999999999991611392).
        return f"{Decimal(repr(value)):,f}".split(".")[0]
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def points(value: float) -> str:
    """ "1 point", "0.5 points", "2 points"."""
    shown = number(value)
    return f"{shown} point" + ("" if shown == "1" else "s")


def level_label(scale: Scale, score: float | None) -> str | None:
    """The level name a student's score is shown with: below the lowest level it is "Below
    <lowest>", and a student with evidence is never labelled "No Evidence"."""
    if score is None or score < 0:
        return None
    lowest = scale.levels[-1]
    if score < lowest.points - EPSILON:
        return f"Below {lowest.name}"
    level = scale.level_for(score)
    if level is None:
        return None
    if "no evidence" in level.name.lower():
        return "Some evidence"
    return level.name


def standing(scale: Scale, score: float | None, needed: float) -> str:
    """Where a student stands against a target: "Near Mastery, 2.6 of 3", "Mastery, 3.6 (3
    needed)", "no score yet, 3 needed"."""
    if score is None or score < 0:
        return f"no score yet, {number(needed)} needed"
    label = level_label(scale, score)
    prefix = f"{label}, " if label else ""
    if score >= needed - EPSILON:
        return f"{prefix}{number(score)} ({number(needed)} needed)"
    return f"{prefix}{number(score)} of {number(needed)}"


def standing_sentence(reader: Reader, scale: Scale, score: float | None, needed: float) -> str:
    """The same as a sentence: "you are at Near Mastery, 2.6 of 3", "Ava has no score yet"."""
    subject = reader.subject
    if score is None or score < 0:
        return f"{subject} {reader.verb('have')} no score yet"
    label = level_label(scale, score)
    of = f"{number(score)} of {number(needed)}"
    if label is None:
        return f"{subject} {reader.verb('are')} at {of}"
    if label.startswith("Below "):
        return f"{subject} {reader.verb('are')} below {label[6:]}, at {of}"
    if label == "Some evidence":
        return f"{subject} {reader.verb('have')} some evidence, {of}"
    return f"{subject} {reader.verb('are')} at {label}, {of}"


def plain(rule: Rule, negate: bool = False) -> Rule:
    """The same rule with each `not` pushed down to the facts, which read naturally negated
    ("none of: not finished A" becomes "you finish A and ..."); "at least 1 of" is "any of" and
    "at least n of n" is "all of". Only "fewer than k of n" (1 < k < n) keeps its group."""
    if isinstance(rule, Not):
        return plain(rule.condition, not negate)
    if isinstance(rule, AllOf | AnyOf):
        kids = tuple(plain(c, negate) for c in rule.conditions)
        return AllOf(kids) if isinstance(rule, AllOf) != negate else AnyOf(kids)
    if isinstance(rule, AtLeastOf):
        n = len(rule.conditions)
        if rule.k == 1:
            return plain(AnyOf(rule.conditions), negate)
        if rule.k == n:
            return plain(AllOf(rule.conditions), negate)
        inner = AtLeastOf(rule.k, tuple(plain(c) for c in rule.conditions))
        return Not(inner) if negate else inner
    return Not(rule) if negate else rule


def clause(
    leaf: Rule, catalog: Catalog, negated: bool = False, reader: Reader = YOU
) -> tuple[str, str]:
    """(subject, predicate) of a leaf, so runs of "you ..." can share one subject."""
    you, v = reader.subject, reader.verb
    if isinstance(leaf, ModuleCompleted | ModuleMastered):
        title = catalog.modules.get(leaf.module, leaf.module)
        if isinstance(leaf, ModuleCompleted):
            done = f"{v('have')} not finished" if negated else v("finish")
        else:
            done = f"{v('have')} not mastered" if negated else v("master")
        return you, f"{done} {title}"
    if isinstance(leaf, CompetencyAtLeast):
        comp = catalog.competencies.get(leaf.competency)
        title = comp.title if comp else leaf.competency
        target = leaf.level if leaf.level is not None else f"a score of {number(leaf.score or 0)}"
        if negated:
            return you, f"{v('are')} below {target} in {title}"
        return you, f"{v('reach')} {target} in {title}"
    if isinstance(leaf, LineItemAtLeast):
        item = catalog.line_items.get(leaf.line_item)
        label = item.label if item else leaf.line_item
        percent = leaf.percent
        amount = f"{number(percent)}%" if percent is not None else points(leaf.points or 0)
        if negated:
            return you, f"{v('have')} not scored at least {amount} on {label}"
        return you, f"{v('score')} at least {amount} on {label}"
    if isinstance(leaf, OnOrAfter):
        when = format_time(leaf.when)
        return "it", (f"is before {when}" if negated else f"is {when} or later")
    if isinstance(leaf, InGroup):
        name = catalog.group_name(leaf.group)
        if negated:
            return you, f"{v('are')} not in the group {name}"
        return you, f"{v('are')} in the group {name}"
    raise TypeError(f"not a leaf: {leaf!r}")


def describe(rule: Rule, catalog: Catalog, reader: Reader = YOU) -> str:
    """One condition as a clause without "Unlocks when" (used per line in explanations)."""
    return _phrase(rule, catalog, reader)


def render(rule: Rule | Unlock | None, catalog: Catalog) -> str:
    """The whole rule as one sentence; a rule with dates says once, at the end, they are UTC."""
    unlock = rule if isinstance(rule, Unlock) else Unlock(rule)
    if unlock.rule is None:
        return "Unlocked from the start"
    text = "Unlocks when " + _phrase(plain(unlock.rule), catalog, YOU)
    if unlock.mode is UnlockMode.STICKY:
        text += ", and then stays unlocked"
    return text + " (times in UTC)" if has_time(unlock.rule) else text


def _is_leaf_like(rule: Rule) -> bool:
    if isinstance(rule, Not):
        return _is_leaf_like(rule.condition)
    if isinstance(rule, AllOf | AnyOf):
        return len(rule.conditions) == 1 and _is_leaf_like(rule.conditions[0])
    return not isinstance(rule, AtLeastOf)


def _leaf_clause(rule: Rule, catalog: Catalog, reader: Reader) -> tuple[str, str]:
    negated = False
    while isinstance(rule, Not | AllOf | AnyOf):
        if isinstance(rule, Not):
            negated = not negated
            rule = rule.condition
        else:
            rule = rule.conditions[0]
    return clause(rule, catalog, negated, reader)


def _join(parts: list[str], word: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _list(conditions: tuple[Rule, ...], catalog: Catalog, word: str, reader: Reader) -> str:
    """Clauses joined with "and"/"or", one subject per run, compound parts in parentheses."""
    parts: list[str] = []
    previous = None
    for condition in conditions:
        if _is_leaf_like(condition):
            subject, predicate = _leaf_clause(condition, catalog, reader)
            shared = subject == previous and subject != "it"
            parts.append(predicate if shared else f"{subject} {predicate}")
            previous = subject
        else:
            parts.append(f"({_phrase(condition, catalog, reader)})")
            previous = None
    return _join(parts, word)


def _header_list(
    header: str, conditions: tuple[Rule, ...], catalog: Catalog, reader: Reader
) -> str:
    return header + ": " + "; ".join(_nested(c, catalog, reader) for c in conditions)


def _nested(rule: Rule, catalog: Catalog, reader: Reader) -> str:
    text = _phrase(rule, catalog, reader)
    return text if _is_leaf_like(rule) else f"({text})"


def _these(k: int) -> str:
    """ "at least 2 of these hold", "at least one of these holds"."""
    return "at least one of these holds" if k == 1 else f"at least {k} of these hold"


def _phrase(rule: Rule, catalog: Catalog, reader: Reader = YOU) -> str:
    if _is_leaf_like(rule):
        subject, predicate = _leaf_clause(rule, catalog, reader)
        return f"{subject} {predicate}"
    if isinstance(rule, AllOf):
        return _list(rule.conditions, catalog, "and", reader)
    if isinstance(rule, AnyOf):
        return _list(rule.conditions, catalog, "or", reader)
    if isinstance(rule, AtLeastOf):
        return _header_list(_these(rule.k), rule.conditions, catalog, reader)
    inner = rule.condition if isinstance(rule, Not) else rule
    if isinstance(inner, Not):
        return _phrase(inner.condition, catalog, reader)
    if isinstance(inner, AnyOf):
        return _header_list("none of these hold", inner.conditions, catalog, reader)
    if isinstance(inner, AllOf):
        return _header_list("not all of these hold", inner.conditions, catalog, reader)
    if isinstance(inner, AtLeastOf):
        header = "none of these hold" if inner.k == 1 else f"fewer than {inner.k} of these hold"
        return _header_list(header, inner.conditions, catalog, reader)
    raise TypeError(f"not a rule: {rule!r}")


def render_outline(rule: Rule | None, catalog: Catalog) -> list[tuple[int, str]]:
    """Moodle's shape, one line per condition: [(depth, text)], e.g. (0, "Unlocks when any of:");
    a rule with dates ends with a line saying they are in UTC."""
    if rule is None:
        return [(0, "Unlocked from the start")]
    lines: list[tuple[int, str]] = []
    _outline(rule, catalog, 0, lines, top=True)
    if has_time(rule):
        lines.append((0, TIMES_NOTE))
    return lines


def _group_header(rule: Rule) -> tuple[str, tuple[Rule, ...]] | None:
    if isinstance(rule, AllOf) and len(rule.conditions) > 1:
        return "all of", rule.conditions
    if isinstance(rule, AnyOf) and len(rule.conditions) > 1:
        return "any of", rule.conditions
    if isinstance(rule, AtLeastOf):
        return ("any of" if rule.k == 1 else f"at least {rule.k} of"), rule.conditions
    if isinstance(rule, Not) and isinstance(rule.condition, AllOf | AnyOf | AtLeastOf):
        inner = rule.condition
        if isinstance(inner, AnyOf) or (isinstance(inner, AtLeastOf) and inner.k == 1):
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
