"""Roll-up: a parent competency's score from its children's scores."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import ConfigError
from .numbers import as_float, is_number
from .scales import EPSILON, NO_SCORE, Scale


class RollUpKind(StrEnum):
    AVERAGE = "average"
    MINIMUM = "minimum"
    WEIGHTED = "weighted"


@dataclass(frozen=True)
class RollUp:
    """How a parent combines its children; a `required` child below mastery caps the parent.

    Children without a score yet are left out (the parent has no score only if none has one),
    except that an unscored required child is "not mastered" and caps the parent too. The cap is
    the points of the parent scale's level just below mastery.
    """

    kind: RollUpKind = RollUpKind.AVERAGE
    weights: Mapping[str, float] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", RollUpKind(self.kind))
        except ValueError:
            kinds = ", ".join(k.value for k in RollUpKind)
            raise ConfigError(f"rollup.kind: {self.kind!r} is not one of {kinds}") from None
        for code, weight in self.weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ConfigError(f"rollup.weights[{code!r}]: must be a number")
            if not (is_number(weight) and weight > 0 and math.isfinite(as_float(weight))):
                raise ConfigError(f"rollup.weights[{code!r}]: must be more than 0")
        if self.weights and self.kind is not RollUpKind.WEIGHTED:
            raise ConfigError("rollup.weights: only a weighted roll-up takes weights")
        object.__setattr__(self, "weights", dict(sorted(self.weights.items())))
        object.__setattr__(self, "required", tuple(self.required))


#: A combiner: the children's scores (NO_SCORE for none), in child order -> the parent's score.
Combiner = Callable[[tuple[float, ...]], float]


def combiner(
    rollup: RollUp,
    children: Sequence[str],
    child_scales: Sequence[Scale],
    scale: Scale,
) -> Combiner:
    """Compile a roll-up for fixed children: factors, weights and caps are worked out once."""
    unknown = sorted((set(rollup.weights) | set(rollup.required)) - set(children))
    if unknown:
        raise ConfigError(f"rollup: {unknown[0]!r} is not a child of this competency")
    factors = tuple(scale.top_points / s.top_points for s in child_scales)
    weights = tuple(float(rollup.weights.get(code, 1.0)) for code in children)
    required = tuple(
        (i, child_scales[i].mastery_points - EPSILON)
        for i, code in enumerate(children)
        if code in rollup.required
    )
    cap = scale.below_mastery_cap()
    rounded = scale.rounder()
    kind = rollup.kind

    def combine(scores: tuple[float, ...]) -> float:
        scored = [(s * f, w) for s, f, w in zip(scores, factors, weights, strict=True) if s >= 0]
        if not scored:
            return NO_SCORE
        if kind is RollUpKind.MINIMUM:
            value = min(s for s, _ in scored)
        elif kind is RollUpKind.WEIGHTED:
            value = sum(s * w for s, w in scored) / sum(w for _, w in scored)
        else:
            value = sum(s for s, _ in scored) / len(scored)
        for i, floor in required:
            if scores[i] < floor:
                value = min(value, cap)
                break
        return rounded(value)

    return combine


def capped_by(
    rollup: RollUp, children: Sequence[str], child_scales: Sequence[Scale], scores: Sequence[float]
) -> tuple[str, ...]:
    """The required children that are not mastered (they hold the parent below mastery)."""
    return tuple(
        code
        for code, s, sc in zip(children, scores, child_scales, strict=True)
        if code in rollup.required and s < sc.mastery_points - EPSILON
    )
