"""Evidence of learning and the ordered score series the calculation methods read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from .errors import EvidenceError
from .numbers import as_float, is_number, show_number


class OrderBy(StrEnum):
    """Which time orders a competency's evidence: when it was graded or when it was handed in."""

    GRADED = "graded"
    SUBMITTED = "submitted"


def timestamp(when: datetime, what: str = "time") -> float:
    """POSIX seconds of a tz-aware time; naive times are refused because their zone is a guess."""
    if not isinstance(when, datetime):
        raise EvidenceError(f"{what} must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise EvidenceError(f"{what} must be timezone-aware (UTC), not naive: {when.isoformat()}")
    return when.timestamp()


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observed score for a student on a competency, kept as it was observed.

    `score` out of `out_of` (a grade's points and its column's maximum, or a rating's points
    and the top of the scale it was given on) is converted to the competency's scale when the
    course is evaluated, proportionally, so a scale changed later reads it correctly. Without
    `out_of`, `score` is already in the competency's scale points. Either way a score above the
    top counts as the top. `id` is stable across re-reads (e.g. the AGS result id), so a
    regraded item replaces the old score instead of counting twice.
    """

    id: str
    student: str
    competency: str
    score: float
    graded_at: datetime
    submitted_at: datetime | None = None
    out_of: float | None = None

    def __post_init__(self) -> None:
        if not is_number(self.score) or self.score < 0:
            raise EvidenceError(
                f"evidence {self.id!r}: score must be a finite number of at least 0, "
                f"not {_shown(self.score)}"
            )
        if self.out_of is not None and (not is_number(self.out_of) or self.out_of <= 0):
            raise EvidenceError(
                f"evidence {self.id!r}: out_of (the maximum it was scored out of) must be a "
                f"finite number more than 0, not {_shown(self.out_of)}"
            )
        for name in ("graded_at", "submitted_at"):
            when = getattr(self, name)
            if (when is not None or name == "graded_at") and not (
                isinstance(when, datetime) and when.utcoffset() is not None
            ):
                timestamp(when, f"evidence {self.id!r} {name}")  # raises the right error

    def order_time(self, order_by: OrderBy) -> float:
        """Submitted time when asked for and known, else graded time."""
        if order_by is OrderBy.SUBMITTED and self.submitted_at is not None:
            return timestamp(self.submitted_at, f"evidence {self.id!r} submitted_at")
        return timestamp(self.graded_at, f"evidence {self.id!r} graded_at")

    def points_on(self, top: float) -> float:
        """The score on a scale whose top is `top`: converted if observed out of a maximum,
        and never above the top (extra credit tops out, as in the gradebook's percentage)."""
        score, out_of = as_float(self.score), self.out_of
        if out_of is not None:
            maximum = as_float(out_of)
            if math.isinf(score) or math.isinf(maximum):  # an int past the float range
                ratio = min(Fraction(self.score) / Fraction(out_of), Fraction(1))
                return float(ratio) * top
            return min(score / maximum, 1.0) * top
        return min(score, top)


def _shown(value: object) -> str:
    if is_number(value):
        return show_number(value)  # type: ignore[arg-type]
    if isinstance(value, float):
        return repr(value)
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class LineItemScore:
    """A student's points on a line item; `points=None` means the score was removed."""

    student: str
    line_item: str
    points: float | None


class Series:
    """One student's evidence on one competency, kept in order (time, then id) as three tuples.

    Keeping the scores as a ready tuple is what lets a whole class be computed without sorting or
    copying: the methods read `scores` directly.
    """

    __slots__ = ("times", "ids", "scores")

    def __init__(
        self, times: tuple[float, ...], ids: tuple[str, ...], scores: tuple[float, ...]
    ) -> None:
        self.times = times
        self.ids = ids
        self.scores = scores

    @classmethod
    def build(cls, items: list[tuple[float, str, float]]) -> Series:
        """From (time, id, score) triples with distinct ids; the last triple of an id wins."""
        latest: dict[str, tuple[float, str, float]] = {}
        for item in items:
            latest[item[1]] = item
        ordered = sorted(latest.values())
        if not ordered:
            return EMPTY_SERIES
        times, ids, scores = zip(*ordered, strict=True)
        return cls(times, ids, scores)

    def __len__(self) -> int:
        return len(self.scores)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (self.times, self.ids, self.scores) == (other.times, other.ids, other.scores)

    def __repr__(self) -> str:
        return f"Series(scores={self.scores!r})"


EMPTY_SERIES = Series((), (), ())
