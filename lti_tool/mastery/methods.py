"""Calculation methods: how a series of scores becomes one score on the competency's scale.

Each method is a frozen dataclass that validates its parameters when built and hands out a
`calculator(scale)`: a plain function of the ordered score tuple, with every constant worked out
once, because a class of 1,000 students calls it 30,000 times.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from operator import mul
from typing import Any, ClassVar

from .errors import ConfigError
from .numbers import is_number, show_number
from .scales import Scale

#: A calculator: the ordered scores (oldest first, never empty) -> a score, or None for "no score".
Calculator = Callable[[tuple[float, ...]], float | None]


def _number(owner: str, name: str, value: object, low: float, high: float) -> float:
    if not is_number(value):
        raise ConfigError(f"{owner}.{name}: must be a number from {low:g} to {high:g}")
    assert isinstance(value, int | float)  # for the type checker: is_number said so
    if not low <= value <= high:
        raise ConfigError(f"{owner}.{name}: {show_number(value)} is outside {low:g}–{high:g}")
    return float(value)


def _mean(scores: tuple[float, ...]) -> float:
    return sum(scores) / len(scores)


@dataclass(frozen=True)
class Latest:
    """The most recent score: what the student can do now."""

    kind: ClassVar[str] = "latest"

    def calculator(self, scale: Scale) -> Calculator:
        return _latest


def _latest(scores: tuple[float, ...]) -> float:
    return scores[-1]


@dataclass(frozen=True)
class Highest:
    """The best score ever shown."""

    kind: ClassVar[str] = "highest"

    def calculator(self, scale: Scale) -> Calculator:
        return max


@dataclass(frozen=True)
class Average:
    """The plain mean of every score."""

    kind: ClassVar[str] = "average"

    def calculator(self, scale: Scale) -> Calculator:
        return _mean


@dataclass(frozen=True)
class Mode:
    """The most common score; a tie goes to the higher score, in the student's favour."""

    kind: ClassVar[str] = "mode"

    def calculator(self, scale: Scale) -> Calculator:
        return _mode


def _mode(scores: tuple[float, ...]) -> float:
    counts = Counter(scores)
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


@dataclass(frozen=True)
class WeightedAverage:
    """w × latest + (1 − w) × mean of the earlier scores (Canvas' old "decaying average")."""

    kind: ClassVar[str] = "weighted_average"
    w: float = 0.65

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", _number(self.kind, "w", self.w, 0.01, 0.99))

    def calculator(self, scale: Scale) -> Calculator:
        w, rest = self.w, 1.0 - self.w

        def weighted(scores: tuple[float, ...]) -> float:
            n = len(scores)
            if n == 1:
                return scores[0]
            return w * scores[-1] + rest * (sum(scores) - scores[-1]) / (n - 1)

        return weighted


@dataclass(frozen=True)
class DecayingAverage:
    """D₁ = s₁, Dₖ = (1 − w)·Dₖ₋₁ + w·sₖ: recent scores count most, old ones never vanish."""

    kind: ClassVar[str] = "decaying_average"
    w: float = 0.65

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", _number(self.kind, "w", self.w, 0.5, 0.99))

    def calculator(self, scale: Scale) -> Calculator:
        weights = _decay_weights(self.w)

        def decaying(scores: tuple[float, ...]) -> float:
            # The recurrence unrolled into fixed weights per length: one C-level sum, no loop.
            return sum(map(mul, weights(len(scores)), scores))

        return decaying


@lru_cache(maxsize=64)
def _decay_weights(w: float) -> Callable[[int], tuple[float, ...]]:
    @lru_cache(maxsize=256)
    def for_length(n: int) -> tuple[float, ...]:
        keep = 1.0 - w
        return (keep ** (n - 1),) + tuple(w * keep ** (n - k) for k in range(2, n + 1))

    return for_length


@dataclass(frozen=True)
class NTimes:
    """Mastery shown n times: scores below mastery are dropped; fewer than n left is no score."""

    kind: ClassVar[str] = "n_times"
    n: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= 10:
            raise ConfigError(f"{self.kind}.n: must be a whole number from 1 to 10")

    def calculator(self, scale: Scale) -> Calculator:
        n, floor = self.n, scale.mastery_points - 1e-9

        def n_times(scores: tuple[float, ...]) -> float | None:
            kept = [s for s in scores if s >= floor]
            return sum(kept) / len(kept) if len(kept) >= n else None

        return n_times


@dataclass(frozen=True)
class PowerLaw:
    """Marzano's power law: fit s = a·tᵇ over attempts t = 1…n and report a·nᵇ.

    ln 0 does not exist, so scores are raised to 1 % of the scale's top before the fit; with
    fewer than 3 scores there is no trend to fit and the plain average is reported.
    """

    kind: ClassVar[str] = "power_law"

    def calculator(self, scale: Scale) -> Calculator:
        low, high = scale.bottom_points, scale.top_points
        floor = high / 100.0
        log = math.log

        def power_law(scores: tuple[float, ...]) -> float:
            n = len(scores)
            if n < 3:
                return sum(scores) / n
            xs, sx, sxx, ln_n = _log_attempts(n)
            ys = [log(s) if s > floor else log(floor) for s in scores]
            sy = sum(ys)
            b = (n * sum(map(mul, xs, ys)) - sx * sy) / (n * sxx - sx * sx)
            ln_a = (sy - b * sx) / n
            value = math.exp(min(ln_a + b * ln_n, 700.0))
            return min(max(value, low), high)

        return power_law


@lru_cache(maxsize=256)
def _log_attempts(n: int) -> tuple[tuple[float, ...], float, float, float]:
    xs = tuple(math.log(t) for t in range(1, n + 1))
    return xs, sum(xs), sum(x * x for x in xs), math.log(n)


@dataclass(frozen=True)
class BKT:
    """Bayesian Knowledge Tracing: the probability the skill is learned, updated per attempt.

    A score at or above `correct_at` (default: the scale's mastery points) counts as correct.
    The reported score is mastery points × min(1, P(L) / mastered_at), so P(L) ≥ 0.95 lands exactly
    on the mastery level and never above it: BKT knows "learned", not "exceeds".
    """

    kind: ClassVar[str] = "bkt"
    p_init: float = 0.3
    p_transit: float = 0.1
    p_guess: float = 0.2
    p_slip: float = 0.1
    mastered_at: float = 0.95
    correct_at: float | None = None

    def __post_init__(self) -> None:
        k = self.kind
        object.__setattr__(self, "p_init", _number(k, "p_init", self.p_init, 0.0, 1.0))
        object.__setattr__(self, "p_transit", _number(k, "p_transit", self.p_transit, 0.0, 1.0))
        # Guess and slip stay strictly inside (0, 0.5): at 0 a surprise answer divides by zero,
        # at 0.5 or more a correct answer stops being evidence of learning.
        for name in ("p_guess", "p_slip"):
            value = _number(k, name, getattr(self, name), 0.0, 0.5)
            if not 0.0 < value < 0.5:
                raise ConfigError(f"{k}.{name}: must be more than 0 and less than 0.5")
            object.__setattr__(self, name, value)
        value = _number(k, "mastered_at", self.mastered_at, 0.0, 1.0)
        if value <= 0.0:
            raise ConfigError(f"{k}.mastered_at: must be more than 0")
        object.__setattr__(self, "mastered_at", value)
        if self.correct_at is not None:
            object.__setattr__(
                self, "correct_at", _number(k, "correct_at", self.correct_at, 0.0, 1e9)
            )

    def probability(self, scores: tuple[float, ...], scale: Scale) -> float:
        """P(learned) after the given attempts, oldest first."""
        correct_at = scale.mastery_points if self.correct_at is None else self.correct_at
        correct_at -= 1e-9
        p, t, g, s = self.p_init, self.p_transit, self.p_guess, self.p_slip
        for score in scores:
            if score >= correct_at:
                known = p * (1.0 - s)
                p = known / (known + (1.0 - p) * g)
            else:
                known = p * s
                p = known / (known + (1.0 - p) * (1.0 - g))
            p += (1.0 - p) * t
        return p

    def calculator(self, scale: Scale) -> Calculator:
        points, mastered_at = scale.mastery_points, self.mastered_at
        probability = self.probability

        def bkt(scores: tuple[float, ...]) -> float:
            return points * min(1.0, probability(scores, scale) / mastered_at)

        return bkt


Method = (
    Latest | Highest | Average | Mode | WeightedAverage | DecayingAverage | NTimes | PowerLaw | BKT
)

METHODS: dict[str, type[Method]] = {
    cls.kind: cls
    for cls in (
        Latest,
        Highest,
        Average,
        Mode,
        WeightedAverage,
        DecayingAverage,
        NTimes,
        PowerLaw,
        BKT,
    )
}


def method_from_json(data: Mapping[str, Any]) -> Method:
    """`{"method": "decaying_average", "w": 0.65}` → a validated method (ConfigError if not)."""
    if not isinstance(data, Mapping):
        raise ConfigError('method: must be an object such as {"method": "latest"}')
    kind = data.get("method")
    cls = METHODS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(f"method: {kind!r} is not one of {', '.join(METHODS)}")
    allowed = {f.name for f in fields(cls)}
    extra = sorted(set(data) - allowed - {"method"})
    if extra:
        raise ConfigError(f"{kind}: unknown parameter {extra[0]!r}")
    return cls(**{k: v for k, v in data.items() if k != "method"})


def method_to_json(method: Method) -> dict[str, Any]:
    return {"method": method.kind, **{f.name: getattr(method, f.name) for f in fields(method)}}
