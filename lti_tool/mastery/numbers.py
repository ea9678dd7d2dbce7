"""Numbers from outside the engine: an int past the float range must give the engine's own
error or a capped value, never Python's `OverflowError`."""

from __future__ import annotations

import math


def is_number(value: object) -> bool:
    """An int or a float that is not NaN or infinite (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def as_float(value: int | float) -> float:
    """A number as a float; an int too large for a float becomes ±inf, so comparisons hold."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def show_number(value: int | float) -> str:
    """A number as a message shows it (`%g`); ints too long to print are named by their size."""
    number = as_float(value)
    if math.isfinite(number):
        return f"{number:g}"
    return "a number beyond 1.8e+308" if value > 0 else "a number below -1.8e+308"


def same_score(a: float | None, b: float | None) -> bool:
    """Two stored scores are one when they differ by less than float noise (None only by None)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-9
