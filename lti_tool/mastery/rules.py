"""Unlock rules as a tree of plain values: leaves test one fact, nodes combine them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .errors import RuleError


class UnlockMode(StrEnum):
    """Re-evaluated rules can lock again (a lowered grade); sticky ones, once open, stay open."""

    REEVALUATED = "reevaluated"
    STICKY = "sticky"


@dataclass(frozen=True, slots=True)
class ModuleCompleted:
    module: str


@dataclass(frozen=True, slots=True)
class ModuleMastered:
    module: str


@dataclass(frozen=True, slots=True)
class CompetencyAtLeast:
    """At or above a named level of the competency's scale, or at or above a score."""

    competency: str
    level: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class LineItemAtLeast:
    """At or above a percentage, or a number of points, on a line item."""

    line_item: str
    percent: float | None = None
    points: float | None = None


@dataclass(frozen=True, slots=True)
class OnOrAfter:
    when: datetime

    def __post_init__(self) -> None:
        # A naive time would be read in the server's zone: a guess, so it is refused.
        if not isinstance(self.when, datetime) or self.when.utcoffset() is None:
            raise RuleError(
                "on_or_after", f"{self.when!r} needs a time zone, e.g. 2025-03-01T00:00:00Z"
            )


@dataclass(frozen=True, slots=True)
class InGroup:
    group: str


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Rule


@dataclass(frozen=True, slots=True)
class AtLeastOf:
    k: int
    conditions: tuple[Rule, ...]


Leaf = ModuleCompleted | ModuleMastered | CompetencyAtLeast | LineItemAtLeast | OnOrAfter | InGroup
Node = AllOf | AnyOf | Not | AtLeastOf
Rule = Leaf | Node
LEAVES = (ModuleCompleted, ModuleMastered, CompetencyAtLeast, LineItemAtLeast, OnOrAfter, InGroup)

#: The rule vocabulary as JSON spells it, read by the parser, the schema and the builder:
#: the kinds that hold conditions, then each leaf kind with the keys it takes beside its own
#: (exactly one of them).
NODE_KINDS = ("all", "any", "not", "at_least")
LEAF_KINDS: dict[str, tuple[str, ...]] = {
    "module_completed": (),
    "module_mastered": (),
    "competency": ("level", "score"),
    "line_item": ("percent", "points"),
    "on_or_after": (),
    "group": (),
}
KINDS = (*NODE_KINDS, *LEAF_KINDS)


@dataclass(frozen=True, slots=True)
class Unlock:
    """A module's unlock rule; `rule=None` means open from the start."""

    rule: Rule | None = None
    mode: UnlockMode = UnlockMode.REEVALUATED


def children(rule: Rule) -> tuple[Rule, ...]:
    if isinstance(rule, AllOf | AnyOf | AtLeastOf):
        return rule.conditions
    if isinstance(rule, Not):
        return (rule.condition,)
    return ()


def walk(rule: Rule | None) -> Iterator[Rule]:
    """Every node and leaf, depth first, parents before children."""
    if rule is None:
        return
    stack = [rule]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def leaves(rule: Rule | None) -> Iterator[Leaf]:
    for node in walk(rule):
        if isinstance(node, LEAVES):
            yield node
