"""What a course is made of: competencies, line items and modules, as plain definitions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ConfigError
from .evidence import OrderBy
from .methods import DecayingAverage, Method
from .numbers import as_float, is_number
from .rollup import RollUp
from .rules import Unlock
from .scales import DEFAULT_SCALE, Scale

T = TypeVar("T")


@dataclass(frozen=True)
class CompetencySpec:
    """A skill: leaves are scored from evidence with `method`, parents by `rollup` only.

    Evidence aligned to a parent is kept but not used: align evidence to the leaves.
    """

    code: str
    title: str
    parent: str | None = None
    scale: Scale = DEFAULT_SCALE
    method: Method = field(default_factory=DecayingAverage)
    min_evidence: int = 1
    order_by: OrderBy = OrderBy.GRADED
    rollup: RollUp = field(default_factory=RollUp)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.code or not self.code.strip():
            raise ConfigError("competency.code: must not be empty")
        if not self.title.strip():
            raise ConfigError(f"competency {self.code!r}: title must not be empty")
        n = self.min_evidence
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100:
            raise ConfigError(f"competency {self.code!r}: min_evidence must be 1–100")
        object.__setattr__(self, "order_by", OrderBy(self.order_by))


@dataclass(frozen=True)
class LineItem:
    """A gradebook column the rules can test (percent or points of `max_points`)."""

    id: str
    label: str
    max_points: float

    def __post_init__(self) -> None:
        m = self.max_points
        if not is_number(m) or m <= 0 or math.isinf(as_float(m)):
            raise ConfigError(f"line item {self.id!r}: max_points must be more than 0")


@dataclass(frozen=True)
class Module:
    """A unit of content that a rule unlocks.

    Completed: a score on `line_item` at or above `complete_at_percent` (any score when None), or
    a recorded completion. Mastered: every competency in `competencies` at mastery (a module
    that lists none can be completed but never mastered, so rules may not ask for its mastery).
    A *choice* module (`choice_of`) is completed or mastered when any one of its options is: how a
    student picks a path.
    """

    id: str
    title: str
    unlock: Unlock = field(default_factory=Unlock)
    competencies: tuple[str, ...] = ()
    line_item: str | None = None
    complete_at_percent: float | None = None
    choice_of: tuple[str, ...] = ()
    position: int = 0

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise ConfigError("module.id: must not be empty")
        if not self.title.strip():
            raise ConfigError(f"module {self.id!r}: title must not be empty")
        object.__setattr__(self, "competencies", tuple(self.competencies))
        object.__setattr__(self, "choice_of", tuple(self.choice_of))
        p = self.complete_at_percent
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100
        ):
            raise ConfigError(f"module {self.id!r}: complete_at_percent must be 0–100")
        if self.choice_of and (self.line_item or self.competencies):
            raise ConfigError(
                f"module {self.id!r}: a choice is completed through its options, "
                "so it takes no line item or competencies of its own"
            )
        if self.id in self.choice_of:
            raise ConfigError(f"module {self.id!r}: a choice cannot offer itself")


@dataclass(frozen=True)
class Catalog:
    """Names rules may refer to; `groups=None` accepts any group id (groups come from the LMS)."""

    competencies: Mapping[str, CompetencySpec]
    modules: Mapping[str, str]
    line_items: Mapping[str, LineItem]
    groups: Mapping[str, str] | None = None

    @classmethod
    def of(
        cls,
        competencies: Iterable[CompetencySpec] = (),
        modules: Iterable[Module] = (),
        line_items: Iterable[LineItem] = (),
        groups: Mapping[str, str] | None = None,
    ) -> Catalog:
        comps = _unique("competency", ((c.code, c) for c in competencies))
        mods = _unique("module", ((m.id, m.title) for m in modules))
        items = _unique("line item", ((li.id, li) for li in line_items))
        return cls(comps, mods, items, dict(groups) if groups is not None else None)

    def group_name(self, group: str) -> str:
        return (self.groups or {}).get(group, group)


def _unique(what: str, pairs: Iterable[tuple[str, T]]) -> dict[str, T]:
    out: dict[str, T] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"{what} {key!r} is defined twice")
        out[key] = value
    return out
