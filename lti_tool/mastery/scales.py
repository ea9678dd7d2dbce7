"""Mastery scales: ordered levels, and how a score or a grade lands on one."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ConfigError
from .numbers import as_float, is_number

#: Internal marker for "no score yet" in score columns; scales only use points >= 0.
NO_SCORE = -1.0
#: Comparisons allow this much float noise, so 80 % of 9 points is reached by 7.2.
EPSILON = 1e-9

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def round_score(value: float) -> float:
    """Round half up to 2 decimals, as gradebooks do (`round()` rounds half to even)."""
    return math.floor(value * 100.0 + 0.5 + EPSILON) / 100.0


@dataclass(frozen=True, slots=True)
class Level:
    """One rung of a scale; colour is never shown alone, so the name is required."""

    name: str
    points: float
    colour: str
    mastery: bool = False


@dataclass(frozen=True)
class Scale:
    """Levels from highest to lowest points; exactly one of them is the mastery level."""

    levels: tuple[Level, ...]
    _ascending: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        levels = tuple(self.levels)
        object.__setattr__(self, "levels", levels)
        if not levels:
            raise ConfigError("a scale needs at least one level")
        names: set[str] = set()
        for i, level in enumerate(levels):
            where = f"levels[{i}]"
            if not isinstance(level, Level):
                raise ConfigError(f"{where}: not a Level")
            if not level.name.strip():
                raise ConfigError(f"{where}.name: a level needs a name")
            if level.name in names:
                raise ConfigError(f"{where}.name: {level.name!r} is used twice")
            names.add(level.name)
            if not _COLOUR.match(level.colour):
                raise ConfigError(f"{where}.colour: {level.colour!r} is not a #RRGGBB colour")
            if (
                not is_number(level.points)
                or level.points < 0
                or math.isinf(as_float(level.points))
            ):
                raise ConfigError(f"{where}.points: must be a number of at least 0")
            if i and level.points >= levels[i - 1].points:
                raise ConfigError(
                    f"{where}.points: points must strictly decrease "
                    f"({level.points:g} after {levels[i - 1].points:g})"
                )
        flagged = [lv.name for lv in levels if lv.mastery]
        if len(flagged) != 1:
            raise ConfigError(
                f"exactly one level must be the mastery level, not {len(flagged)}"
                + (f" ({', '.join(flagged)})" if flagged else "")
            )
        object.__setattr__(self, "_ascending", tuple(lv.points for lv in reversed(levels)))

    @property
    def top_points(self) -> float:
        return self.levels[0].points

    @property
    def bottom_points(self) -> float:
        return self.levels[-1].points

    @property
    def mastery_level(self) -> Level:
        return next(lv for lv in self.levels if lv.mastery)

    @property
    def mastery_points(self) -> float:
        return self.mastery_level.points

    def level_named(self, name: str) -> Level | None:
        return next((lv for lv in self.levels if lv.name == name), None)

    def level_for(self, score: float | None) -> Level | None:
        """The highest level whose points the score reaches; below every level, the lowest."""
        if score is None or score < 0:
            return None
        i = bisect_right(self._ascending, score + EPSILON) - 1
        return self.levels[-1 - max(i, 0)]

    def rounded(self, value: float) -> float:
        """`value` to 2 decimals, but never rounded into a level it does not reach (2.996 is not
        Mastery at 3): the level, the mastered flag and the posted score agree with the value."""
        return self.rounder()(value)

    def rounder(self) -> Callable[[float], float]:
        """`rounded` as a plain function, for the 30,000 scores of a class evaluation."""
        ascending, level_for = self._ascending, self.level_for
        floor = math.floor

        def rounded(value: float) -> float:
            r = floor(value * 100.0 + 0.5 + EPSILON) / 100.0
            if bisect_right(ascending, r + EPSILON) == bisect_right(ascending, value + EPSILON):
                return r  # no level boundary between the value and its rounding
            level = level_for(value)
            for candidate in (r, floor(value * 100.0) / 100.0):
                if level_for(candidate) is level:
                    return candidate
            return value

        return rounded

    def below_mastery_cap(self) -> float:
        """The score a capped parent gets: the points of the level just below mastery."""
        below = [lv.points for lv in self.levels if lv.points < self.mastery_points]
        return below[0] if below else 0.0

    def from_percent(self, percent: float) -> float:
        """A percentage grade as points on this scale (clamped, so extra credit tops out)."""
        if not math.isfinite(percent):
            raise ConfigError(f"percent must be a finite number, not {percent!r}")
        return min(max(percent, 0.0), 100.0) / 100.0 * self.top_points

    def from_points(self, points: float, max_points: float) -> float:
        """Points out of a line item's maximum as points on this scale."""
        if not (math.isfinite(max_points) and max_points > 0):
            raise ConfigError(f"max_points must be more than 0, not {max_points!r}")
        if not math.isfinite(points):
            raise ConfigError(f"points must be a finite number, not {points!r}")
        return self.from_percent(points / max_points * 100.0)


#: Canvas' default scale and colours, which teachers already know.
DEFAULT_SCALE = Scale(
    (
        Level("Exceeds Mastery", 4.0, "#0374B5"),
        Level("Mastery", 3.0, "#0B874B", mastery=True),
        Level("Near Mastery", 2.0, "#FAB901"),
        Level("Below Mastery", 1.0, "#D97900"),
        Level("No Evidence", 0.0, "#E0061F"),
    )
)
